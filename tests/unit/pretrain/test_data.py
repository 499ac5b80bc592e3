"""Clip data: masks, captions, manifests, sampling order, augmentation and the dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vpbehavior.core import BehaviorLabels, Bout, Recording
from vpbehavior.pretrain.data import (
    ClipDataset,
    ClipSampling,
    MaskSpec,
    StepSampler,
    augment_clip,
    caption_from_labels,
    collect_sources,
    frame_targets,
    make_loader,
    manifest_items,
    read_manifest,
    window_items,
)
from vpbehavior.pretrain.masking import block_mask, n_visible, shuffle_permutation, tube_mask


@pytest.mark.parametrize("grid", [(3, 3), (4, 4), (16, 16)])
def test_masks_keep_exact_visible_counts(grid):
    n = grid[0] * grid[1]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        for draw, ratio in ((tube_mask, 0.5), (block_mask, 0.65)):
            vis = draw(grid, ratio, rng)
            assert len(vis) == n_visible(n, ratio) and len(set(vis.tolist())) == len(vis)
            assert np.all(np.diff(vis) > 0) and vis.min() >= 0 and vis.max() < n


def test_block_mask_masks_blocks_not_scattered_patches():
    # on a 16 x 16 grid a BEVT mask is a few rectangles: masked patches have masked neighbours
    rng = np.random.default_rng(0)
    neighbours = []
    for _ in range(10):
        masked = np.ones(256, bool)
        masked[block_mask((16, 16), 0.65, rng)] = False
        m = masked.reshape(16, 16)
        padded = np.pad(m, 1)
        count = sum(np.roll(np.roll(padded, dy, 0), dx, 1)[1:-1, 1:-1] for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)))
        neighbours.append(count[m].mean())
    assert np.mean(neighbours) > 3.0  # random dropping at 0.65 gives ~2.6


def test_shuffle_is_a_permutation():
    rng = np.random.default_rng(0)
    perms = [shuffle_permutation(36, rng) for _ in range(5)]
    for p in perms:
        assert sorted(p.tolist()) == list(range(36))
    assert len({tuple(p) for p in perms}) == 5


def _labelled_recording():
    bouts = [Bout(0, 5, "resident", "attack", target="intruder"), Bout(5, 10, "resident", "investigation"),
             Bout(10, 12, "intruder", "grooming")]  # fmt: skip
    labels = BehaviorLabels.from_bouts(
        bouts, 14, classes=["attack", "investigation", "grooming", "other"], subjects=["resident", "intruder"],
        background="other",
    )  # fmt: skip
    values = labels.values.copy()
    values[12, 0, 3] = 1  # frame 12: the resident only "other"
    values[13] = -1  # frame 13: not annotated
    labels = BehaviorLabels(values, labels.classes, labels.subjects, "other", labels.targets)
    return Recording("m1", n_frames=14, subjects=["resident", "intruder"], labels=labels)


def test_captions_from_labels_name_subject_behavior_and_target():
    rec = _labelled_recording()
    assert caption_from_labels(rec, 2, "mouse") == "the resident mouse attacks the intruder"
    assert caption_from_labels(rec, 7) == "the resident shows investigation"
    assert caption_from_labels(rec, 11) == "the intruder is grooming"
    assert caption_from_labels(rec, 12) == "the resident shows other"
    assert caption_from_labels(rec, 13) is None
    frame_level = Recording(
        "f", n_frames=3, labels=BehaviorLabels.from_bouts([Bout(0, 3, "all", "chase")], 3, subjects=["all"])
    )
    assert caption_from_labels(frame_level, 1) == "an animal chases"
    assert caption_from_labels(frame_level, 1, "fly") == "a fly chases"


def test_frame_targets_keep_not_annotated_apart():
    rec = _labelled_recording()
    np.testing.assert_array_equal(frame_targets(rec, 2, ["attack", "grooming", "absent"]), [1, 0, -1])
    np.testing.assert_array_equal(frame_targets(rec, 13, ["attack", "grooming"]), [-1, -1])


def test_manifest_csv_and_jsonl(tmp_path, videos):
    video = sorted(videos.glob("*.mp4"))[0]
    (tmp_path / "caps.csv").write_text(f"video,start,end,text\n{video},0,20,a mouse grooms\n{video},30,,chasing\n")
    (tmp_path / "caps.jsonl").write_text(json.dumps({"video": str(video), "start": 5, "end": 40, "text": "x"}) + "\n\n")
    entries = read_manifest(tmp_path / "caps.csv")
    assert [(e.start, e.end, e.text) for e in entries] == [(0, 20, "a mouse grooms"), (30, None, "chasing")]
    assert read_manifest(tmp_path / "caps.jsonl")[0].end == 40
    sampling = ClipSampling(frames=4, frame_step=2, size=36)
    sources = []
    items = manifest_items(entries, sources, sampling)  # the video is added as a source
    assert len(sources) == 1 and [(i.lo, i.hi, i.end) for i in items] == [(0, 13, 20), (30, 57, 64)]
    (tmp_path / "bad.csv").write_text("video,start,end,text\nnope.mp4,5,3,x\n")
    with pytest.raises(ValueError, match="start < end"):
        read_manifest(tmp_path / "bad.csv")


def test_sampler_is_a_function_of_the_step():
    full = list(StepSampler(10, 4, seed=1, total_steps=7))
    assert len(full) == 28
    epoch0 = [k for k in full if k < 10]
    assert sorted(epoch0) == list(range(10))  # each item once per epoch
    resumed = list(StepSampler(10, 4, seed=1, start_step=3, total_steps=7))
    assert resumed == full[12:]
    ranks = [list(StepSampler(10, 4, seed=1, rank=r, world=2, total_steps=7)) for r in range(2)]
    for step in range(7):  # the two processes' halves of a step make the one-process step
        assert ranks[0][2 * step : 2 * step + 2] + ranks[1][2 * step : 2 * step + 2] == full[4 * step : 4 * step + 4]


def test_whole_frame_crop_is_the_extraction_resize():
    from vpbehavior.features.extract import _resize

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 40, 60, 3), dtype=np.uint8)
    plain = ClipSampling(frames=3, size=36, min_crop=1.0, crop_aspect=1.0)
    out = augment_clip(frames, plain, rng)
    np.testing.assert_array_equal(out, np.stack([_resize(f, 36) for f in frames]))
    jitter = ClipSampling(frames=3, size=36, min_crop=0.3, crop_aspect=1.5, hflip=True, vflip=True)
    outs = [augment_clip(frames, jitter, np.random.default_rng(s)) for s in range(4)]
    assert all(o.shape == (3, 36, 36, 3) and o.dtype == np.uint8 for o in outs)
    assert len({o.tobytes() for o in outs}) == 4


def test_dataset_samples_are_pure_functions_of_their_key(videos):
    sources = collect_sources([videos])
    assert len(sources) == 3 and all(s.recording is not None and s.n_frames == 64 for s in sources)
    sampling = ClipSampling(frames=4, frame_step=2, size=36, min_crop=0.5, crop_aspect=1.3, hflip=True)
    items = window_items(sources, sampling)
    assert len(items) == 3 * 9  # windows of 7 frames at 0, 7, ..., 56
    ds = ClipDataset(sources, items, sampling, seed=3, mask=MaskSpec("block", 0.65, (3, 3)), shuffle=True,
                     classes=("attack", "idle"))  # fmt: skip
    a, b = ds[5], ds[5]
    assert a["video"].dtype == torch.uint8 and a["video"].shape == (4, 36, 36, 3)
    for key in a:
        assert torch.equal(a[key], b[key])
    assert a["visible"].shape == (3,) and sorted(a["perm"].tolist()) == list(range(36))
    assert not torch.equal(ds[5]["video"], ds[5 + len(ds)]["video"])  # another epoch, another draw
    # decoded in a worker process (readers opened there) == decoded here
    sampler = StepSampler(len(ds), 4, seed=0, total_steps=2)
    loader = make_loader(ds, sampler, micro_batch=4, workers=1)
    batches = list(loader)
    keys = list(StepSampler(len(ds), 4, seed=0, total_steps=2))
    for i, k in enumerate(keys):
        assert torch.equal(batches[i // 4]["video"][i % 4], ds[k]["video"])
        assert torch.equal(batches[i // 4]["key"][i % 4], torch.tensor(k))


def test_collect_sources_takes_videos_and_plain_folders(tmp_path, videos):
    import shutil

    plain = tmp_path / "plain"
    (plain / "day1").mkdir(parents=True)
    for v in sorted(videos.glob("*.mp4"))[:2]:
        shutil.copy(v, plain / "day1" / v.name)
    found = collect_sources([plain, sorted(videos.glob("*.mp4"))[2]])
    assert len(found) == 3 and all(s.n_frames == 64 for s in found)
    with pytest.raises(FileNotFoundError):
        collect_sources([tmp_path / "nope"])
