"""The predictions file contract: layout, round trip to `Predictions`, versions, and no half-written file."""

from __future__ import annotations

import json
import math
import os

import h5py
import numpy as np
import pytest

from vpbehavior.core import DataError, MissingFileError, Predictions
from vpbehavior.io import predictions as pf

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


def _predictions(n=50, fps=25.0, background="other") -> Predictions:
    rng = np.random.default_rng(0)
    classes = ("other", "walk", "groom")
    subjects = ("f1", "f2")
    presence = np.ones((n, 2), bool)
    presence[10:20, 1] = False
    scores = rng.random((n, 2, 3)).astype(np.float32)
    scores[~presence] = np.nan
    calls = np.zeros((n, 2, 3), bool)
    calls[2:7, 0, 1] = True
    calls[30:45, 0, 2] = True
    calls[0:3, 1, 1] = True
    calls[25:26, 1, 2] = True
    calls[:, :, 0] = ~calls[:, :, 1:].any(2)
    calls[~presence] = False
    return Predictions("m1", scores, calls, classes, subjects, presence, fps, background, {"classifier_sha256": "ab"})


def test_round_trip_keeps_every_field(tmp_path):
    pred = _predictions()
    path = pf.write_predictions(tmp_path / "m1.predictions.h5", pred, {"inputs": {"video": None}}, chunk_frames=16)
    back = pf.read_predictions(path)
    np.testing.assert_array_equal(back.scores, pred.scores)  # NaN where absent, float32 exactly
    np.testing.assert_array_equal(back.calls, pred.calls)
    np.testing.assert_array_equal(back.presence, pred.presence)
    assert (back.recording, back.classes, back.subjects, back.fps, back.background) == (
        "m1", pred.classes, pred.subjects, 25.0, "other",
    )  # fmt: skip
    assert back.provenance["classifier_sha256"] == "ab" and back.provenance["inputs"] == {"video": None}
    assert [(b.start, b.stop, b.subject, b.behavior) for b in back.bouts()] == [
        (b.start, b.stop, b.subject, b.behavior) for b in pred.bouts()
    ]


def test_layout_is_the_documented_one(tmp_path):
    path = pf.write_predictions(tmp_path / "m1.predictions.h5", _predictions(), chunk_frames=16)
    with h5py.File(path, "r") as fh:
        assert fh.attrs["format"] == "vpbehavior-predictions" and fh.attrs["format_version"] == 1
        assert bool(fh.attrs["complete"]) and fh.attrs["n_frames"] == 50 and fh.attrs["fps"] == 25.0
        assert json.loads(fh.attrs["provenance"])["classifier_sha256"] == "ab"
        assert [v.decode() for v in fh["classes"][()]] == ["other", "walk", "groom"]
        assert fh["scores"].shape == (50, 2, 3) and fh["scores"].dtype == np.float32
        assert fh["scores"].chunks == (16, 2, 3)  # chunked along time, written chunk by chunk
        assert fh["calls"].dtype == np.uint8 and fh["presence"].dtype == np.uint8 and fh["presence"].shape == (50, 2)
        bouts = {k: fh["bouts"][k][()] for k in fh["bouts"]}
    assert sorted(bouts) == ["behavior", "max_score", "mean_score", "start", "stop", "subject"]
    # bouts exclude the background class; stop is exclusive; mean and max over the bout's frames
    pred = _predictions()
    rows = list(zip(bouts["start"], bouts["stop"], bouts["subject"], bouts["behavior"]))
    assert rows == [(0, 3, 1, 1), (2, 7, 0, 1), (25, 26, 1, 2), (30, 45, 0, 2)]
    assert bouts["mean_score"][1] == pytest.approx(float(pred.scores[2:7, 0, 1].mean()), rel=1e-6)
    assert bouts["max_score"][3] == pytest.approx(float(pred.scores[30:45, 0, 2].max()), rel=1e-6)


def test_read_bouts_and_header_without_the_arrays(tmp_path):
    path = pf.write_predictions(tmp_path / "m1.predictions.h5", _predictions(fps=None, background=None))
    head = pf.read_header(path)
    assert head["fps"] is None and head["background"] is None and head["n_frames"] == 50
    bouts = pf.read_bouts(path)
    assert {b.behavior for b in bouts} == {"other", "walk", "groom"}  # no background: every class has bouts
    assert all(b.max_score >= b.mean_score for b in bouts)


def test_an_interrupted_write_leaves_nothing_under_the_name(tmp_path):
    target = tmp_path / "m1.predictions.h5"
    pred = _predictions()
    with pytest.raises(KeyboardInterrupt):
        with pf.PredictionsWriter(
            target, recording="m1", classes=pred.classes, subjects=pred.subjects, n_frames=50, fps=25.0
        ) as writer:
            writer.write(0, pred.scores[:16], pred.calls[:16], pred.presence[:16])
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # neither the file nor its hidden temporary
    writer = pf.PredictionsWriter(target, recording="m1", classes=pred.classes, subjects=pred.subjects, n_frames=50)
    assert not target.exists()  # only once finished
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_refuses_newer_incomplete_and_foreign_files(tmp_path):
    path = pf.write_predictions(tmp_path / "m1.predictions.h5", _predictions())
    with h5py.File(path, "r+") as fh:
        fh.attrs["format_version"] = 2
    with pytest.raises(DataError, match="v2 is newer"):
        pf.read_predictions(path)
    with h5py.File(path, "r+") as fh:
        fh.attrs["format_version"] = 1
        fh.attrs["complete"] = False
    with pytest.raises(DataError, match="incomplete"):
        pf.read_header(path)
    assert not pf.is_complete(path)
    other = tmp_path / "x.h5"
    with h5py.File(other, "w") as fh:
        fh.attrs["format"] = "vpbehavior-features"
    with pytest.raises(DataError, match="not a vpbehavior predictions file"):
        pf.read_predictions(other)
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(DataError, match="not a readable HDF5"):
        pf.read_predictions(tmp_path / "text.h5")
    with pytest.raises(MissingFileError):
        pf.read_predictions(tmp_path / "nowhere.predictions.h5")


def test_absent_subject_scores_are_nan_and_never_called(tmp_path):
    path = pf.write_predictions(tmp_path / "m1.predictions.h5", _predictions())
    back = pf.read_predictions(path)
    assert np.isnan(back.scores[10:20, 1]).all() and not back.calls[10:20, 1].any()
    assert all(not math.isnan(b.mean_score) for b in pf.read_bouts(path))
