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
