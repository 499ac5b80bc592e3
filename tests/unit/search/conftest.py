"""Fixtures of the search tests: the tiny LvT parity model, a tokenizer trained on the fly, short videos.

The tiny LvT model (random official weights, `tiny_lvt_params.npz`) takes 4-frame clips at 36 x 36
px; its rankings mean nothing, but every number can be recomputed from `encode_video` and
`encode_text`.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="session")
def lvt(tiny_lvt):
    return tiny_lvt


@pytest.fixture(scope="session")
def spm(lvt_tokenizer) -> Path:
    return lvt_tokenizer


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Path:
    """Two labelled synthetic recordings, 40 frames at 8 fps, 48 x 48 px."""
    from vpbehavior.api import make_experiment

    folder = tmp_path_factory.mktemp("search_videos")
    make_experiment(folder, n_videos=2, seed=3, height=48, width=48, n_frames=40, fps=8, body_length=9)
    return folder


@pytest.fixture
def config():
    from vpbehavior.api import SearchConfig

    return SearchConfig(size=36, top=5, batch_size=3)


class EncodeCounter:
    """Counts the clips ``model.encode_video`` is called on (patched on the instance)."""

    def __init__(self, model, monkeypatch) -> None:
        self.clips = 0
        original = model.encode_video

        def counted(video, *args, **kwargs):
            self.clips += int(video.shape[0])
            return original(video, *args, **kwargs)

        monkeypatch.setattr(model, "encode_video", counted)


@pytest.fixture
def count_clips(lvt, monkeypatch) -> EncodeCounter:
    return EncodeCounter(lvt, monkeypatch)
