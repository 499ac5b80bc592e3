"""Zero-shot calls are predictions files like `score`'s, and `evaluate_predictions` measures them against labels."""

from __future__ import annotations

import numpy as np
import pytest

import vpbehavior as vpb
from vpbehavior.search.embeddings import ClipEmbeddings
from vpbehavior.search.run import pick_hits

BEHAVIORS = ["grooming", "approach", "circling"]


def test_zero_shot_writes_predictions_files_that_read_back(lvt, spm, videos, tmp_path, config):
    out = tmp_path / "zs"
    preds, failures = vpb.zero_shot(videos, BEHAVIORS, lvt, tokenizer=spm, config=config, cache=tmp_path / "c", out=out)
    assert not failures and [p.recording for p in preds] == ["synthetic_00", "synthetic_01"]
    for p in preds:
        assert p.subjects == ("all",) and p.classes == tuple(BEHAVIORS)
        assert p.scores.shape == (40, 1, 3) and p.presence.all()
        np.testing.assert_allclose(p.scores.sum(-1), 1.0, atol=1e-5)  # a softmax over the behaviors
        assert (p.calls.sum(-1) == 1).all() and (p.calls[:, 0].argmax(-1) == p.scores[:, 0].argmax(-1)).all()
        back = vpb.read_predictions(out / f"{p.recording}.predictions.h5")
        np.testing.assert_array_equal(back.scores, p.scores)
        assert back.provenance["kind"] == "zero-shot"
        assert back.provenance["queries"]["grooming"][:2] == ["grooming", "a video of grooming"]
    assert (out / "zero_shot.json").is_file() and not (out / "failures.csv").exists()


def test_zero_shot_probabilities_follow_the_similarity_trace(lvt, spm, videos, tmp_path, config):
    engine = vpb.TextSearch(lvt, spm, config, cache=tmp_path)
    rec = vpb.load(videos).recordings[0]
    pred = engine.zero_shot(rec, BEHAVIORS, templates=None)
    trace = engine.trace(rec, BEHAVIORS).astype(np.float64)
    logits = trace / config.temperature
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(pred.scores[:, 0], expected, atol=1e-5)


def _oracle(rec, frame_level: bool) -> vpb.Predictions:
    """Predictions that are exactly the labels (any animal, for frame-level)."""
    values = rec.labels.values
    if frame_level:
        truth = (values == 1).any(1, keepdims=True)
        subjects = ("all",)
    else:
        truth, subjects = values == 1, rec.labels.subjects
    classes = [c.upper() for c in rec.labels.classes]  # matched by name, whatever the case
    presence = np.ones(truth.shape[:2], bool)
    return vpb.Predictions(rec.name, truth.astype(np.float32), truth, classes, subjects, presence, rec.fps)


@pytest.mark.parametrize("frame_level", [True, False])
def test_evaluate_predictions_gives_a_perfect_score_to_the_labels_themselves(videos, tmp_path, frame_level):
    data = vpb.load(videos)
    oracle = [_oracle(r, frame_level) for r in data.recordings]
    for p in oracle:
        vpb.write_predictions(tmp_path / f"{p.recording}.predictions.h5", p)
    report = vpb.evaluate_predictions(tmp_path, data.recordings)
    scored = [c for c in report.per_class if c["support"]]
    assert scored and all(c["ap"] == pytest.approx(1.0) and c["f1"] == pytest.approx(1.0) for c in scored)
    assert report.metrics["recordings"] == ["synthetic_00", "synthetic_01"]
    # shuffled in time, the same scores are far from perfect: the metric looks at the frames
    rng = np.random.default_rng(0)
    shuffled = [
        vpb.Predictions(
            p.recording, p.scores[rng.permutation(p.n_frames)], p.calls, p.classes, p.subjects, p.presence, p.fps
        )  # fmt: skip
        for p in oracle
    ]
    assert vpb.evaluate_predictions(shuffled, data.recordings).mAP < 0.9


def test_evaluate_predictions_mismatches_are_clear(videos, tmp_path):
    data = vpb.load(videos)
    p = _oracle(data.recordings[0], True)
    short = vpb.Predictions(p.recording, p.scores[:10], p.calls[:10], p.classes, p.subjects, p.presence[:10], p.fps)
    with pytest.raises(vpb.DataError, match="cover 10 frames, the recording 40"):
        vpb.evaluate_predictions([short], data.recordings)
    stranger = vpb.Predictions("elsewhere", p.scores, p.calls, p.classes, p.subjects, p.presence, p.fps)
    with pytest.warns(UserWarning, match="no labelled recording"), pytest.raises(vpb.DataError, match="none of"):
        vpb.evaluate_predictions([stranger], data.recordings)
    with pytest.raises(vpb.DataError, match="no predictions files"):
        vpb.evaluate_predictions(tmp_path, data.recordings)


def test_pick_hits_suppresses_overlapping_clips():
    clips = ClipEmbeddings("r", np.array([0, 2, 4, 6, 8]), np.array([4, 6, 8, 10, 12]), np.zeros((5, 2)), 12, 10.0)
    other = ClipEmbeddings("s", np.array([0, 4]), np.array([4, 8]), np.zeros((2, 2)), 8, 10.0)
    hits = pick_hits([np.array([0.9, 0.95, 0.1, 0.8, 0.3]), np.array([0.5, 0.96])], [clips, other], "q", top=10)
    # 0.96 (s 4-8), 0.95 (r 2-6), then r 0-4 and r 4-8 overlap r 2-6; 0.8 (r 6-10), 0.5 (s 0-4); r 8-12 overlaps 6-10
    assert [(h.recording, h.start, h.score) for h in hits] == [("s", 4, 0.96), ("r", 2, 0.95), ("r", 6, 0.8),
                                                                ("s", 0, 0.5)]  # fmt: skip
    assert [h.rank for h in hits] == [1, 2, 3, 4] and hits[0].start_s == 0.4
    assert len(pick_hits([np.array([0.9, 0.95, 0.1, 0.8, 0.3])], [clips], "q", top=1)) == 1
