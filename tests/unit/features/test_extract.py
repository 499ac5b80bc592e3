"""Feature extraction: clip plan, exact per-frame alignment, subjects, cache provenance and resume."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from vpbehavior.core import BehaviorLabels, Recording
from vpbehavior.features import cache as fcache
from vpbehavior.features.extract import (
    ExtractConfig,
    Prefetcher,
    box_cells,
    extract_recording,
    load_encoder,
    plan_clips,
)
from vpbehavior.io.video import open_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    "n,length,stride,step", [(50, 8, 4, 1), (50, 8, 8, 1), (23, 4, 3, 1), (5, 8, 4, 1), (61, 4, 2, 5), (7, 4, 2, 3)]
)
def test_every_frame_owned_once(n, length, stride, step):
    clips = plan_clips(n, length, stride, step)
    owned = np.concatenate([c.frames[c.owned] for c in clips])
    np.testing.assert_array_equal(np.sort(owned), np.arange(n))
    for c in clips:
        assert len(c.frames) == length
        assert (np.diff(c.frames[c.valid]) == step).all()  # frames inside a clip are frame_step apart
        assert c.frames.max() < n
    last = [int(c.frames.max()) for c in clips]
    assert last == sorted(last)  # decoding order


def test_owner_is_the_most_central_clip():
    clips = plan_clips(40, 8, 4)
    for c in clips[1:-1]:
        pos = np.flatnonzero(c.owned)
        assert pos.min() >= 2 and pos.max() <= 5  # interior clips own their middle frames


def test_box_cells():
    cells = box_cells(np.array([[0.0, 0.0, 10.0, 10.0], [np.nan] * 4, [30, 30, 30, 30]]), (1.0, 1.0), 12, 4)
    assert cells[0].sum() == 1 and cells[0, 0, 0]
    assert cells[1].sum() == 0  # no box, no cells
    assert cells[2].sum() == 1 and cells[2, 2, 2]  # a point box covers its patch


def test_prefetcher_propagates_errors():
    def gen():
        yield 1
        raise RuntimeError("decoder broke")

    with pytest.raises(RuntimeError, match="decoder broke"):
        list(Prefetcher(gen()))


@pytest.fixture(scope="module")
def gray_video(tmp_path_factory):
    """A video whose frames are flat gray levels (distinct per frame), plus two subject boxes."""
    from vpbehavior.io.video import write_video

    folder = tmp_path_factory.mktemp("video")
    rng = np.random.default_rng(0)
    levels = rng.integers(20, 235, 37)
    frames = [np.full((48, 64, 3), v, np.uint8) for v in levels]
    for t, f in enumerate(frames):  # a bright square in the top-left corner in even frames
        if t % 2 == 0:
            f[:12, :16] = 255
    path = folder / "gray.mp4"
    write_video(path, frames, fps=10, codec="mp4v")
    boxes = np.zeros((37, 2, 4), np.float32)
    boxes[:, 0] = [0, 0, 15, 11]
    boxes[:, 1] = [40, 30, 63, 47]
    boxes[30:, 1] = np.nan
    labels = BehaviorLabels.empty(37, ["x"], ("a", "b"), annotated=True)
    return Recording("gray", video=path, n_frames=37, fps=10, subjects=("a", "b"), boxes=boxes, labels=labels)


def test_features_match_direct_encoding(gray_video, tmp_path, monkeypatch):
    monkeypatch.setenv("VPBEHAVIOR_CPU_BF16", "0")  # float32 on both sides, also on CPUs with native bf16
    model = load_encoder("random:tiny")
    cfg = ExtractConfig(clip_length=4, stride=2, size=36, token_grid=3)
    path = extract_recording(gray_video, model, tmp_path, replace(cfg, batch_size=3), progress=False)
    feats = fcache.read_features(path)
    assert feats["frame"].shape == (37, 32) and feats["tokens"].shape == (37, 9, 32)
    assert feats["subjects"] == ("a", "b")
    assert np.isnan(feats["subject"][30:, 1]).all() and np.isfinite(feats["subject"][:30]).all()
    # recompute every owned frame directly from decoded frames
    reader = open_video(gray_video.video)
    import cv2

    frames = np.stack([cv2.resize(reader[i], (36, 36), interpolation=cv2.INTER_AREA) for i in range(37)])
    for clip in plan_clips(37, 4, 2):
        with torch.no_grad():
            out = model(torch.from_numpy(frames[clip.frames]).float()[None] / 255).embeddings
        tokens = out.reshape(4, 3, 3, -1)
        for p in np.flatnonzero(clip.owned):
            t = clip.frames[p]
            np.testing.assert_allclose(feats["frame"][t], tokens[p].mean((0, 1)).numpy(), atol=2e-2)
            # subject "a" (top-left box) = the top-left token only
            np.testing.assert_allclose(feats["subject"][t, 0], tokens[p, 0, 0].numpy(), atol=2e-2)
    prov = fcache.read_provenance(path)
    assert prov["encoder"]["model"] == "random:tiny:seed0" and prov["video"]["size"] > 0


def test_resume_and_staleness(gray_video, tmp_path):
    model = load_encoder("random:tiny")
    cfg = ExtractConfig(clip_length=4, stride=2, size=36, token_grid=0, subjects=False)
    partial = extract_recording(gray_video, model, tmp_path, replace(cfg, batch_size=2), progress=False, max_clips=4)
    assert partial.name.endswith(".partial") and not fcache.cache_path(tmp_path, "gray", gray_video.video).exists()
    with pytest.raises(FileNotFoundError, match="unfinished"):
        fcache.read_features(fcache.cache_path(tmp_path, "gray", gray_video.video))
    final = extract_recording(gray_video, model, tmp_path, replace(cfg, batch_size=2), progress=False)
    fresh = extract_recording(gray_video, model, tmp_path / "b", replace(cfg, batch_size=5), progress=False)
    np.testing.assert_array_equal(fcache.read_features(final)["frame"], fcache.read_features(fresh)["frame"])
    assert fcache.read_features(final)["tokens"] is None
    mtime = final.stat().st_mtime_ns
    assert extract_recording(gray_video, model, tmp_path, cfg, progress=False) == final
    assert final.stat().st_mtime_ns == mtime  # fresh cache reused
    other = load_encoder("random:tiny", seed=1)
    extract_recording(gray_video, other, tmp_path, cfg, progress=False)
    assert fcache.read_provenance(final)["encoder"]["model"] == "random:tiny:seed1"  # stale cache replaced
    assert "encoder" in fcache.stale_reason(final, {**fcache.read_provenance(final), "encoder": {}})


def test_bad_inputs(gray_video, tmp_path):
    model = load_encoder("random:tiny")
    with pytest.raises(ValueError, match="multiple of the model's patch size"):
        ExtractConfig(size=40).resolved(model)
    with pytest.raises(ValueError, match="no video"):
        extract_recording(Recording("novideo", n_frames=5), model, tmp_path, progress=False)
    junk = tmp_path / "junk.features.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="junk.features.h5"):
        fcache.read_features(junk)


def test_vocabulary_and_single_label_targets():
    from vpbehavior.classify.data import targets_for, vocabulary

    full = BehaviorLabels.from_single_label(np.array([0, 1, 1, -1]), ["walk", "rest"])
    rec = Recording("a", n_frames=4, labels=full)
    assert vocabulary([rec], single_label=True) == (("walk", "rest"), None)  # every frame has a behavior
    sparse = BehaviorLabels.from_bouts([], 4, classes=["walk", "rest"], annotated=True)  # annotated, nothing shown
    rec2 = Recording("b", n_frames=4, labels=sparse)
    classes, bg = vocabulary([rec, rec2], single_label=True)
    assert classes == ("background", "walk", "rest") and bg == "background"
    t = targets_for(rec, classes, True, bg)[:, 0]
    np.testing.assert_array_equal(t, [[0, 1, 0], [0, 0, 1], [0, 0, 1], [-1, -1, -1]])
    np.testing.assert_array_equal(targets_for(rec2, classes, True, bg)[:, 0, 0], 1)
    multi = targets_for(rec, ("rest", "walk", "fly"), False, None)[:, 0]
    np.testing.assert_array_equal(multi[:, 2], -1)  # a class these labels never annotated


def test_same_name_recordings_do_not_share_a_cache(tmp_path):
    (tmp_path / "day1").mkdir()
    (tmp_path / "day2").mkdir()
    a, b = tmp_path / "day1" / "m1.mp4", tmp_path / "day2" / "m1.mp4"
    assert fcache.cache_path(tmp_path, "m1", a) != fcache.cache_path(tmp_path, "m1", b)
    assert fcache.cache_path(tmp_path, "m1", a) == fcache.cache_path(tmp_path, "m1", a.parent / "." / a.name)
