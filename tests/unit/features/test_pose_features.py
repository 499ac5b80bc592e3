"""Pose features: geometry, invariances, missing keypoints, subject alignment."""

import numpy as np
import pytest

from vpbehavior.core import BehaviorLabels, Pose, Recording
from vpbehavior.features.pose_features import (
    PoseFeatureConfig,
    interpolate_missing,
    pose_features,
    recording_pose_features,
)

NAMES = ("head", "neck", "thorax", "tail_base", "tail_tip")


def _walker(t=60, speed=(2.0, 0.0), offset=(100.0, 100.0), heading=0.0):
    """Two 5-keypoint animals; animal 0 walks at ``speed`` px/frame, animal 1 sits still."""
    axis = np.array([np.cos(heading), np.sin(heading)])
    body = np.array([0.45, 0.25, 0.0, -0.4, -0.8])[:, None] * 20 * axis
    pts = np.zeros((t, 2, 5, 2))
    pts[:, 0] = np.asarray(offset) + np.arange(t)[:, None, None] * np.asarray(speed) + body
    pts[:, 1] = np.asarray(offset) + np.array([60.0, 30.0]) + body  # off the walking line: no collision
    return Pose(pts, NAMES, ("a", "b"))


def _col(names, name):
    return names.index(name)


def test_speed_distance_and_units():
    pose = _walker()
    feats, names = pose_features(pose, fps=10, config=PoseFeatureConfig(windows=(5,)))
    assert feats.shape == (60, 2, len(names)) and feats.dtype == np.float32
    body = 20 * 1.25  # first-to-last keypoint distance
    speed = feats[5:, :, _col(names, "speed_centroid")]
    np.testing.assert_allclose(speed[:, 0], 2.0 * 10 / body, rtol=1e-4)  # body lengths per second
    np.testing.assert_allclose(speed[:, 1], 0.0, atol=1e-6)
    # distance to the partner changes at the walking speed (animal 0 approaches animal 1)
    centroids = pose.points.mean(2)
    dist = np.linalg.norm(centroids[:, 1] - centroids[:, 0], axis=-1) / body
    np.testing.assert_allclose(
        feats[5:, 0, _col(names, "social_dist_rate")], np.diff(dist)[4:] * 10, rtol=1e-3, atol=1e-5
    )
    # facing angle: cos of the angle between the heading (+x for both) and the vector to the other
    c = pose.points[10].mean(1)
    to_other = c[1] - c[0]
    expected = to_other[0] / np.linalg.norm(to_other)
    assert feats[10, 0, _col(names, "social_facing_cos")] == pytest.approx(expected, abs=1e-4)
    assert feats[10, 1, _col(names, "social_facing_cos")] == pytest.approx(-expected, abs=1e-4)
    # window statistics: the rolling mean of a constant is the constant
    np.testing.assert_allclose(feats[10:50, 0, _col(names, "speed_centroid_mean5")], speed[5:45, 0], rtol=1e-4)


def test_rotation_and_scale_invariance():
    pose = _walker()
    a, _ = pose_features(pose, fps=30)
    angle = np.pi / 3
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    b, _ = pose_features(Pose(pose.points @ rot.T, NAMES, ("a", "b")), fps=30)
    np.testing.assert_allclose(a, b, atol=2e-3)
    c, _ = pose_features(Pose(pose.points * 3.0, NAMES, ("a", "b")), fps=30)
    np.testing.assert_allclose(a, c, atol=2e-3)


def test_missing_keypoints_are_interpolated():
    pose = _walker()
    gap = pose.points.copy()
    gap[20:25, 0, 0] = np.nan
    gap[:, 1, 4] = np.nan  # a never-seen keypoint
    filled = interpolate_missing(gap)
    np.testing.assert_allclose(filled[20:25, 0, 0], pose.points[20:25, 0, 0], atol=1e-4)
    assert np.isfinite(filled).all()
    feats, _ = pose_features(Pose(gap, NAMES, ("a", "b")), fps=30)
    assert np.isfinite(feats).all()


def test_recording_alignment():
    pose = _walker(t=30)
    labels = BehaviorLabels.empty(30, ["x"], ("b", "a"), annotated=True)
    rec = Recording("r", n_frames=30, fps=30, subjects=("b", "a"), pose=pose, labels=labels)
    feats = recording_pose_features(rec)
    own, _ = pose_features(pose, 30)
    np.testing.assert_array_equal(feats[:, 0], own[:, 1])  # subject order follows the labels
    frame_level = Recording("f", n_frames=30, fps=30, pose=pose, labels=BehaviorLabels.empty(30, ["x"], annotated=True))
    assert recording_pose_features(frame_level).shape == (30, 1, 2 * own.shape[-1])
    with pytest.raises(ValueError, match="no pose"):
        recording_pose_features(Recording("n", n_frames=30))


def test_many_keypoints_do_not_build_all_pairs():
    pts = np.random.default_rng(0).normal(size=(20, 2, 40, 2)) * 10 + 100
    pose = Pose(pts, [f"k{i}" for i in range(40)], ("a", "b"))
    feats, names = pose_features(pose, config=PoseFeatureConfig(windows=(), max_pairs=45))
    assert not any(n.startswith("dist_k0_k1") for n in names)
    assert feats.shape[-1] < 40 * 39 / 2


def test_frame_level_subject_beside_pose_tracks_gets_mean_features():
    from vpbehavior.core import Pose, Recording
    from vpbehavior.features.pose_features import recording_pose_features

    rng = np.random.default_rng(0)
    pose = Pose(rng.uniform(0, 50, (40, 2, 3, 2)), ["head", "thorax", "tail"], ["t1", "t2"])
    rec = Recording("r", n_frames=40, fps=30.0, subjects=["t1", "t2", "all"], pose=pose)
    feats = recording_pose_features(rec)
    own = recording_pose_features(Recording("r", n_frames=40, fps=30.0, subjects=["t1", "t2"], pose=pose))
    assert feats.shape[:2] == (40, 3)
    np.testing.assert_allclose(feats[:, :2], own)
    np.testing.assert_allclose(feats[:, 2], np.nanmean(own, axis=1))
