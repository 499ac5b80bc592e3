"""The clip planner: ownership in linear time and memory, identical to the nearest-centre rule."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from vpbehavior.features.extract import plan_clips


def reference_plan(n_frames: int, length: int, stride: int, frame_step: int = 1) -> list[tuple]:
    """The original planner: nearest centre from a frames x clips distance table (ties -> earlier clip)."""
    clips = []
    for phase in range(min(frame_step, n_frames)):
        idx = np.arange(phase, n_frames, frame_step)
        n = idx.size
        if n <= length:
            pos = np.minimum(np.arange(length), n - 1)
            clips.append((idx[pos], np.arange(length) < n, np.arange(length) < n))
            continue
        starts = list(range(0, n - length + 1, stride))
        if starts[-1] + length < n:
            starts.append(n - length)
        centers = np.array(starts) + (length - 1) / 2
        owner = np.abs(np.arange(n)[:, None] - centers[None, :]).argmin(1)
        for k, s in enumerate(starts):
            pos = np.arange(s, s + length)
            clips.append((idx[pos], np.ones(length, bool), owner[pos] == k))
    clips.sort(key=lambda c: (int(c[0].max()), int(c[0].min())))
    return clips


def combinations():
    rng = np.random.default_rng(0)
    out = [(1, 16, 8, 1), (16, 16, 8, 1), (17, 16, 8, 1), (33, 16, 16, 1), (100, 16, 1, 1), (5, 4, 2, 7)]
    for _ in range(200):
        length = int(rng.integers(1, 20))
        stride = int(rng.integers(1, length + 1))
        step = int(rng.choice([1, 1, 2, 3, 5]))
        n = int(rng.integers(1, 400))
        out.append((n, length, stride, step))
    return out


def test_same_plan_as_the_distance_table():
    for n, length, stride, step in combinations():
        got = plan_clips(n, length, stride, step)
        want = reference_plan(n, length, stride, step)
        assert len(got) == len(want), (n, length, stride, step)
        for c, (frames, valid, owned) in zip(got, want):
            np.testing.assert_array_equal(c.frames, frames, err_msg=str((n, length, stride, step)))
            np.testing.assert_array_equal(c.valid, valid)
            np.testing.assert_array_equal(c.owned, owned, err_msg=str((n, length, stride, step)))


@pytest.mark.parametrize("length,stride", [(16, 8), (16, 16), (8, 3)])
def test_one_hour_plans_fast_in_little_memory(length, stride):
    n = 108_000  # one hour at 30 fps
    t = time.perf_counter()
    clips = plan_clips(n, length, stride)
    elapsed = time.perf_counter() - t
    assert elapsed < 0.5, f"{elapsed:.2f} s"
    owned = np.concatenate([c.frames[c.owned] for c in clips])
    np.testing.assert_array_equal(np.sort(owned), np.arange(n))
    del clips
    tracemalloc.start()
    plan_clips(n, length, stride)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # a few arrays of n and of clips x length; the frames x clips table was ~10 GB here
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.0f} MiB"
