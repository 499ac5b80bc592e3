"""Post-processing: thresholds, smoothing, bout rules, bouts tables."""

import csv

import numpy as np
import pytest

from vpbehavior.classify import postprocess as P
from vpbehavior.classify.metrics import precision_recall_f1


def test_best_threshold_maximizes_f1():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    scores = np.clip(y * 0.4 + rng.random(300) * 0.7, 0, 1)
    t = P.best_f1_threshold(y, scores)
    f1_at = precision_recall_f1(y[:, None], (scores >= t)[:, None])["f1"][0]
    for other in np.linspace(0.01, 0.99, 50):
        assert precision_recall_f1(y[:, None], (scores >= other)[:, None])["f1"][0] <= f1_at + 1e-12
    assert P.best_f1_threshold(np.zeros(10, int), rng.random(10), default=0.7) == 0.7


def test_choose_thresholds_ignores_unannotated():
    y = np.array([[1], [1], [0], [0], [-1], [-1]])
    s = np.array([[0.9], [0.8], [0.2], [0.1], [0.5], [0.55]])
    t = P.choose_thresholds(y, s)[0]
    assert 0.2 < t <= 0.8


def test_gap_merge_and_min_bout():
    m = np.zeros(20, bool)
    m[2:6] = m[8:12] = True  # gap of 2
    m[15] = True  # single frame
    merged = P.merge_gaps(m, 2)
    assert merged[2:12].all() and merged[15] and not merged[13]
    assert not P.merge_gaps(m, 1)[6:8].any()
    cleaned = P.remove_short_bouts(merged, 3)
    assert cleaned[2:12].all() and not cleaned[15]
    # leading / trailing gaps are not bouts gaps
    edge = np.array([False, True, True, False])
    assert not P.merge_gaps(edge, 5)[0] and not P.merge_gaps(edge, 5)[3]


def test_median_and_majority_smoothing():
    s = np.zeros((11, 1), np.float32)
    s[5] = 1.0  # one spike
    assert P.median_smooth(s, 3).max() == 0.0
    ids = np.array([0, 0, 0, 1, 0, 0, 2, 2, 2, 2])
    sm = P.majority_smooth(ids, 3, 3)
    assert sm[3] == 0 and (sm[6:] == 2).all()


def test_absorb_short_runs():
    ids = np.array([0] * 5 + [1] + [2] * 6)
    out = P.absorb_short_runs(ids, 2)
    assert (out == np.array([0] * 5 + [2] * 7)).all() or (out == np.array([0] * 6 + [2] * 6)).all()
    assert len(np.unique(out)) == 2


def test_postprocessor_roundtrip_and_apply():
    pp = P.PostProcessor(thresholds=[0.5, 0.2], window=3, min_bout=2, max_gap=1)
    assert P.PostProcessor.from_dict(pp.to_dict()) == pp
    scores = np.zeros((12, 2), np.float32)
    scores[2:8, 0] = 0.9
    scores[4, 0] = 0.1  # a dip the median filter removes
    scores[10, 1] = 0.3  # short bout dropped
    calls = pp.apply(scores)
    assert calls[2:8, 0].all() and not calls[:, 1].any()
    with pytest.raises(ValueError):
        P.PostProcessor(smoothing="majority")
    with pytest.raises(ValueError):
        P.PostProcessor.from_dict({"bogus": 1})
    single = P.PostProcessor(single_label=True, smoothing="majority", window=3)
    calls = single.apply(np.eye(3)[[0, 0, 1, 0, 0, 2, 2, 2]])
    assert (calls.sum(1) == 1).all() and calls[2, 0]


def test_bouts_table_csv(tmp_path):
    calls = np.zeros((10, 2), bool)
    calls[1:4, 0] = True
    calls[5:9, 1] = True
    scores = calls * 0.8
    rows = P.bouts_table(calls, ["walk", "other"], "rec1", "fly1", scores, fps=10, background="other")
    assert len(rows) == 1 and rows[0]["start_frame"] == 1 and rows[0]["stop_frame"] == 4
    assert rows[0]["start_s"] == pytest.approx(0.1) and rows[0]["mean_score"] == pytest.approx(0.8)
    path = P.write_csv(tmp_path / "bouts.csv", rows)
    read = list(csv.DictReader(path.open()))
    assert read[0]["behavior"] == "walk" and int(read[0]["n_frames"]) == 3


def _absorb_reference(ids, min_bout):
    """The obvious algorithm: repeatedly give the shortest short run its longer neighbor's id."""
    ids = np.asarray(ids, np.int64).copy()
    while True:
        edges = np.flatnonzero(np.diff(ids)) + 1
        starts, stops = np.r_[0, edges], np.r_[edges, ids.size]
        lengths = stops - starts
        short = np.flatnonzero(lengths < min_bout)
        if short.size == 0 or lengths.size == 1:
            return ids
        k = short[np.argmin(lengths[short])]
        left = lengths[k - 1] if k > 0 else -1
        right = lengths[k + 1] if k + 1 < lengths.size else -1
        ids[starts[k] : stops[k]] = ids[starts[k - 1] if left >= right else starts[k + 1]]


def test_absorb_short_runs_matches_the_reference_algorithm():
    from vpbehavior.classify.postprocess import absorb_short_runs

    rng = np.random.default_rng(1)
    for _ in range(500):
        n = int(rng.integers(1, 40))
        ids = np.repeat(rng.integers(0, 4, n), rng.integers(1, 5, n))
        for min_bout in (2, 3, 6):
            np.testing.assert_array_equal(absorb_short_runs(ids, min_bout), _absorb_reference(ids, min_bout))
