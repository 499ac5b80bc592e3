"""Shared fixtures of the pretraining tests: tiny synthetic videos and a tokenizer trained on the fly.

Everything runs on the tiny configs (``tiny`` / ``tiny_lvt``: 12 px patches, width 32) with 4-frame
clips of 36-48 px, on one torch thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: Words of the captions made from the synthetic labels, for the test tokenizer.
CAPTION_WORDS = (
    "the animal0 animal1 animal2 is idle grooming approaches retreats circling chases flees attacks and shows a an"
)


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Path:
    """A folder of 3 labelled synthetic recordings (48 x 48 px, 64 frames at 8 fps: many bouts, two animals)."""
    from vpbehavior.api import make_experiment

    folder = tmp_path_factory.mktemp("pretrain_videos")
    make_experiment(folder, n_videos=3, seed=5, progress=False, height=48, width=48, n_frames=64, body_length=9, fps=8)
    return folder


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory) -> Path:
    """A SentencePiece model (36 pieces, BOS 1) trained on caption words; fits tiny_lvt's 64 embeddings."""
    pytest.importorskip("sentencepiece")
    from vpbehavior.testing.tokenizer import train_sentencepiece

    words = CAPTION_WORDS.split()
    lines = [" ".join(np.random.default_rng(i).permutation(words)) + "." for i in range(300)]
    return train_sentencepiece(lines, tmp_path_factory.mktemp("spm"), vocab_size=40)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models on a shared 2-core machine: one torch thread is fastest."""
    yield


@pytest.fixture
def tiny() -> dict:
    """Config fields of a tiny, fast run: 4-frame 48 px clips, batch 4, decoding in the main process."""
    return dict(frames=4, size=48, workers=0, batch_size=4, warmup_steps=1, log_every=1, resume=True)
