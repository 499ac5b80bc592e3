"""The frozen data model: validated once, never changed in place, short reprs, presence."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from vpbehavior.core import (
    FRAME_LEVEL,
    BehaviorLabels,
    Bout,
    DataError,
    Dataset,
    Pose,
    Predictions,
    Recording,
    match_name,
    name_key,
)


def _pose(t=10, tracks=("a", "b")):
    points = np.random.default_rng(0).random((t, len(tracks), 3, 2)).astype(np.float32) * 50
    return Pose(points, ["nose", "body", "tail"], tracks, edges=[(0, 1), (1, 2)])


def _recording(**changes):
    labels = BehaviorLabels.from_bouts([Bout(0, 4, "a", "chase", target="b")], 10, ["chase", "rest"], ["a", "b"])
    fields = dict(name="m1", n_frames=10, fps=30, subjects=("a", "b"), pose=_pose(), labels=labels)
    return Recording(**{**fields, **changes})


def test_fields_cannot_change_after_validation():
    rec = _recording()
    with pytest.raises(AttributeError):
        rec.n_frames = 5
    with pytest.raises(ValueError):
        rec.pose.points[0, 0, 0, 0] = 1.0  # read-only array
    with pytest.raises(TypeError):
        rec.metadata["x"] = 1
    with pytest.raises(AttributeError):
        rec.labels.classes = ("x",)
    with pytest.raises(ValueError):
        rec.labels.values[0, 0, 0] = 0
    with pytest.raises(ValueError):
        rec.presence[0, 0] = False


def test_arrays_are_private_copies():
    values = np.zeros((10, 1, 2), np.int8)
    labels = BehaviorLabels(values, ["a", "b"])
    values[0, 0, 0] = 5  # the caller's array changes; the validated labels do not
    assert labels.values[0, 0, 0] == 0
    points = np.zeros((10, 1, 3, 2), np.float32)
    pose = Pose(points, ["x", "y", "z"], ["a"])
    points[:] = np.nan
    assert np.isfinite(pose.points).all()


def test_replace_validates_again_and_derives_presence_again():
    rec = _recording()
    assert rec.presence.all()
    hidden = np.array(rec.pose.points)
    hidden[:, 1] = np.nan
    hidden[2:4, 1] = rec.pose.points[2:4, 1]
    changed = rec.replace(pose=Pose(hidden, rec.pose.keypoint_names, rec.pose.subjects))
    assert changed.presence[:, 0].all() and changed.presence[:, 1].tolist() == [False] * 2 + [True] * 2 + [False] * 6
    assert rec.replace(pose=None).presence.all()  # no pose: present everywhere
    given = rec.replace(presence=np.zeros((10, 2), bool))
    assert not given.replace(split="test").presence.any()  # given presence is kept
    with pytest.raises(DataError, match="labels cover 10 frames"):
        rec.replace(n_frames=11, pose=None)


def test_pose_tracks_must_be_subjects_unless_frame_level():
    with pytest.raises(DataError, match="not among the subjects"):
        _recording(subjects=("a", "c"), labels=None)
    frame_level = Recording("f", n_frames=10, pose=_pose())
    assert frame_level.subjects == (FRAME_LEVEL,) and frame_level.presence.shape == (10, 1)
    with pytest.raises(TypeError, match="must be a vpbehavior Pose"):
        Recording("x", n_frames=10, pose=object())


def test_reprs_are_short():
    rec = _recording(split="train")
    assert repr(rec) == "Recording('m1', 10 frames @ 30 fps, 2 subjects, pose 3 nodes, labels 2 classes, split 'train')"
    assert repr(rec.pose) == "Pose(10 frames, 2 subjects, 3 nodes)"
    assert repr(rec.labels) == "BehaviorLabels(10 frames, 2 subjects, 2 classes)"
    ds = Dataset([rec], "folder", "/data")
    assert repr(ds) == "Dataset('folder', 1 recordings, splits ['train'], root='/data')"
    assert len(repr(ds)) < 100 and "array" not in repr(rec)


def test_everything_pickles_and_copies():
    rec = _recording(metadata={"source": "x.slp"})
    for clone in (pickle.loads(pickle.dumps(rec)), copy.deepcopy(rec)):
        assert clone.labels == rec.labels and clone.labels.targets == {("a", "chase"): "b"}
        assert dict(clone.metadata) == {"source": "x.slp"} and np.array_equal(clone.presence, rec.presence)


def test_targets_round_trip_through_bouts():
    rec = _recording()
    assert rec.labels.to_bouts() == [Bout(0, 4, "a", "chase", target="b")]
    with pytest.raises(DataError, match="own target"):
        Bout(0, 1, "a", "chase", target="a")


def test_one_name_rule():
    assert name_key("  Wing   Threat ") == name_key("wing threat")
    assert match_name("Head UP", ["Head Up", "walk"]) == "Head Up"
    assert match_name("run", ["walk"]) is None


def test_predictions_are_checked():
    presence = np.ones((5, 1), bool)
    presence[3:] = False
    calls = np.zeros((5, 1, 2), bool)
    calls[0:2, 0, 0] = True
    pred = Predictions("m", np.full((5, 1, 2), 0.5), calls, ["a", "b"], ["all"], presence, fps=10)
    assert pred.bouts() == [Bout(0, 2, "all", "a", score=0.5)]
    assert pred.to_labels().values[3:].tolist() == [[[-1, -1]]] * 2
    calls[4, 0, 1] = True
    with pytest.raises(DataError, match="absent"):
        Predictions("m", np.zeros((5, 1, 2)), calls, ["a", "b"], ["all"], presence)
    with pytest.raises(DataError, match="duplicate class"):
        Predictions("m", np.zeros((5, 1, 2)), np.zeros((5, 1, 2), bool), ["a", "a"], ["all"], presence)


def test_dataset_rejects_duplicate_names():
    with pytest.raises(DataError, match="share the names"):
        Dataset([Recording("x", n_frames=1), Recording("x", n_frames=2)], "folder")
