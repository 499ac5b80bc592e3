"""pytest fixtures shared by the test suite (loaded through ``pytest_plugins`` in tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def find_shared_dir() -> Path | None:
    """The project's shared reference data (``$VPBEHAVIOR_SHARED``, else ``../shared`` beside the checkout)."""
    candidate = Path(os.environ.get("VPBEHAVIOR_SHARED", REPO_ROOT.parent / "shared"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared reference data; tests that need it skip only when it is absent."""
    path = find_shared_dir()
    if path is None:
        pytest.skip("../shared (reference data) is not present")
    return path


@pytest.fixture
def one_torch_thread():
    """Run torch on one thread: tiny models on a shared 2-core machine are much faster so."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: Words the test tokenizer of `lvt_tokenizer` is trained on (the test queries use them).
SEARCH_WORDS = "a the mouse fly flies two animals grooming fighting running zebra video of clip behavior in an".split()


@pytest.fixture(scope="session")
def tiny_lvt_file(shared_dir) -> Path:
    """The tiny LvT parity checkpoint (official modules, random weights): 4-frame clips at 36 x 36 px."""
    return shared_dir / "fixtures" / "videoprism_parity" / "tiny_lvt_params.npz"


@pytest.fixture(scope="session")
def tiny_lvt(tiny_lvt_file):
    """The tiny LvT model loaded through the official-checkpoint converter."""
    from vpbehavior.models import VideoPrism

    model = VideoPrism.from_flax(tiny_lvt_file)
    model.origin = "tiny_lvt_fixture"
    return model


@pytest.fixture(scope="session")
def lvt_tokenizer(tmp_path_factory) -> Path:
    """A SentencePiece model (40 pieces, BOS 1) that fits the tiny LvT's 64 text embeddings."""
    import numpy as np

    from vpbehavior.testing.tokenizer import train_sentencepiece

    lines = [" ".join(np.random.default_rng(i).permutation(SEARCH_WORDS)) for i in range(300)]
    return train_sentencepiece(lines, tmp_path_factory.mktemp("lvt_tokenizer"), vocab_size=40)
