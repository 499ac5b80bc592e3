"""BehaviorLabels: bouts <-> frames, not-annotated vs negative, single-label view."""

import numpy as np
import pytest

from vpbehavior.core import UNANNOTATED, BehaviorLabels, Bout, Pose, Recording


def random_labels(seed: int, n_frames=50, subjects=("m1", "m2"), classes=("attack", "chase", "groom")):
    rng = np.random.default_rng(seed)
    values = (rng.random((n_frames, len(subjects), len(classes))) < 0.3).astype(np.int8)
    values[rng.random((n_frames, len(subjects))) < 0.2] = UNANNOTATED
    return BehaviorLabels(values, classes, subjects)


@pytest.mark.parametrize("seed", range(5))
def test_random_labels_round_trip_through_bouts_and_annotated_mask(seed):
    labels = random_labels(seed)
    rebuilt = BehaviorLabels.from_bouts(
        labels.to_bouts(), labels.n_frames, labels.classes, labels.subjects, annotated=labels.annotated_mask()
    )
    assert rebuilt == labels


def test_bout_ending_on_last_frame_and_starting_on_first():
    bouts = [Bout(0, 3, "all", "a"), Bout(7, 10, "all", "a")]
    labels = BehaviorLabels.from_bouts(bouts, 10)
    assert labels.values[:, 0, 0].tolist() == [1, 1, 1, 0, 0, 0, 0, 1, 1, 1]
    assert labels.to_bouts() == bouts


def test_overlapping_bouts_of_different_classes_are_multilabel():
    bouts = [Bout(2, 8, "m1", "chase"), Bout(5, 6, "m1", "attack"), Bout(0, 4, "m2", "chase")]
    labels = BehaviorLabels.from_bouts(bouts, 10, classes=["attack", "chase"], subjects=["m1", "m2"])
    assert labels.positive[5, 0].tolist() == [True, True]
    assert sorted(labels.to_bouts()) == sorted(bouts)
    assert labels.label_counts() == {"attack": 1, "chase": 10}


def test_empty_labels_have_no_bouts_and_keep_vocabulary():
    labels = BehaviorLabels.from_bouts([], 20, classes=["a", "b"], subjects=["x"])
    assert labels.to_bouts() == []
    assert labels.classes == ("a", "b")
    assert (labels.values == 0).all()
    unlabeled = BehaviorLabels.empty(20, ["a"], ["x"])
    assert not unlabeled.annotated.any()
    assert unlabeled.label_counts() == {"a": 0}


def test_unannotated_stretches_stay_distinct_from_negatives():
    mask = np.ones(12, bool)
    mask[4:9] = False
    labels = BehaviorLabels.from_bouts([Bout(0, 2, "all", "a")], 12, annotated=mask)
    assert (labels.values[4:9] == UNANNOTATED).all()
    assert (labels.values[2:4] == 0).all()
    assert labels.annotated_intervals() == [(0, 4, "all"), (9, 12, "all")]
    # positives inside an otherwise unannotated stretch are annotated for that class only
    labels2 = BehaviorLabels.from_bouts([Bout(5, 6, "all", "a")], 12, annotated=False)
    assert labels2.values[:, 0, 0].tolist() == [-1] * 5 + [1] + [-1] * 6


def test_bad_bouts_raise_clear_errors():
    with pytest.raises(ValueError, match="stop"):
        Bout(5, 3, "m1", "attack")
    with pytest.raises(ValueError, match="last frame"):
        BehaviorLabels.from_bouts([Bout(5, 11, "all", "a")], 10)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        BehaviorLabels.from_bouts([Bout(0, 1, "all", "zzz")], 10, classes=["a"])
    with pytest.raises(ValueError, match="duplicate class"):
        BehaviorLabels.empty(3, ["a", "a"])


def test_single_label_view_adds_explicit_background():
    labels = BehaviorLabels.from_bouts([Bout(1, 3, "all", "a"), Bout(5, 6, "all", "b")], 8, annotated=np.arange(8) < 7)
    ids, names = labels.to_single_label()
    assert names == ("background", "a", "b")
    assert ids[:, 0].tolist() == [0, 1, 1, 0, 0, 2, 0, -1]
    back = BehaviorLabels.from_single_label(ids[:, 0], names, background="background")
    assert back.with_classes(labels.classes).positive.tolist() == labels.positive.tolist()


def test_single_label_uses_vocabulary_background_and_detects_conflicts():
    ids = np.array([3, 0, 0, 1, 3, -1])
    labels = BehaviorLabels.from_single_label(ids, ["attack", "investigation", "mount", "other"], background="other")
    assert labels.foreground_classes == ("attack", "investigation", "mount")
    ids_back, names = labels.to_single_label()
    assert names == labels.classes and ids_back[:, 0].tolist() == ids.tolist()
    multi = BehaviorLabels.from_bouts([Bout(0, 2, "all", "a"), Bout(1, 2, "all", "b")], 3)
    with pytest.raises(ValueError, match="several behaviors"):
        multi.to_single_label()
    assert multi.to_single_label(on_conflict="first")[0][:, 0].tolist() == [1, 1, 0]


def test_with_classes_marks_new_classes_unannotated():
    labels = BehaviorLabels.from_bouts([Bout(0, 2, "all", "a")], 4)
    wider = labels.with_classes(["z", "a"])
    assert (wider.values[:, 0, 0] == UNANNOTATED).all()
    assert wider.values[:, 0, 1].tolist() == [1, 1, 0, 0]


def test_recording_validates_shapes_and_derives_boxes():
    points = np.zeros((5, 2, 3, 2), np.float32)
    points[:, 0, :, 0] = [1, 2, 3]
    points[:, 0, :, 1] = [4, 6, 5]
    points[2, 1] = np.nan
    pose = Pose(points, ["a", "b", "c"], ["m1", "m2"])
    rec = Recording("r", n_frames=5, subjects=["m1", "m2"], pose=pose)
    boxes = rec.subject_boxes()
    assert boxes[0, 0].tolist() == [1, 4, 3, 6]
    assert np.isnan(boxes[2, 1]).all()
    with pytest.raises(ValueError, match="labels cover"):
        Recording("r", n_frames=6, labels=BehaviorLabels.empty(5, ["a"]))
    with pytest.raises(ValueError, match="pose covers"):
        Recording("r", n_frames=6, subjects=["m1", "m2"], pose=pose)


def test_subject_boxes_follow_recording_subjects_by_name():
    points = np.zeros((3, 2, 2, 2), np.float32)
    points[:, 1] = 5.0
    pose = Pose(points, ["a", "b"], ["t1", "t2"])
    rec = Recording("r", n_frames=3, subjects=["t2", "all", "t1"], pose=pose)
    boxes = rec.subject_boxes()
    assert boxes.shape == (3, 3, 4)
    assert boxes[0, 0].tolist() == [5, 5, 5, 5] and boxes[0, 2].tolist() == [0, 0, 0, 0]
    assert np.isnan(boxes[:, 1]).all()
