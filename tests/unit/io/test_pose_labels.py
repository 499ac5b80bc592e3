"""sleap-io bridge (pose, behavior events) and our .behavior.json label files."""

import json

import numpy as np
import pytest
import sleap_io as sio

from vpbehavior.core import BehaviorLabels, Bout, DataError, MissingFileError, Pose
from vpbehavior.io.labels_file import load_labels, save_labels
from vpbehavior.io.pose import (
    events_to_bouts,
    events_to_labels,
    labels_to_events,
    load_pose_file,
    pose_from_sleap,
    pose_to_sleap,
)


@pytest.fixture
def two_mice():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (12, 2, 3, 2)).astype(np.float32)
    points[4, 1] = np.nan  # subject missing in one frame
    pose = Pose(points, ["nose", "body", "tail"], ["m1", "m2"])
    labels = BehaviorLabels.from_bouts(
        [Bout(0, 3, "m1", "attack"), Bout(2, 12, "m2", "chase"), Bout(5, 6, "m1", "chase")],
        12,
        classes=["attack", "chase", "idle"],
        subjects=["m1", "m2"],
    )
    return pose, labels


def test_events_round_trip_through_slp_file(tmp_path, two_mice):
    pose, labels = two_mice
    sleap_labels = pose_to_sleap(pose, tmp_path / "v.mp4")
    labels_to_events(labels, sleap_labels)
    path = tmp_path / "v.slp"
    sio.save_slp(sleap_labels, str(path))

    loaded = sio.load_slp(str(path))
    # sleap-io events are inclusive; ours are stop-exclusive
    chase_m2 = [e for e in loaded.events if e.type.name == "chase" and e.subject.name == "m2"]
    assert [(e.start_frame, e.end_frame) for e in chase_m2] == [(2, 11)]
    assert all(isinstance(e, sio.UserEvent) for e in loaded.events)
    assert events_to_labels(loaded, 12, subjects=["m1", "m2"]) == labels  # vocabulary incl. unused "idle"
    back = pose_from_sleap(loaded, n_frames=12)
    assert back.subjects == ("m1", "m2") and back.keypoint_names == ("nose", "body", "tail")
    np.testing.assert_allclose(back.points, pose.points, rtol=0, atol=1e-4)


def test_predicted_events_carry_framewise_scores(two_mice):
    pose, labels = two_mice
    scores = np.linspace(0, 1, 12 * 2 * 3).reshape(12, 2, 3).astype(np.float32)
    sleap_labels = pose_to_sleap(pose)
    labels_to_events(labels, sleap_labels, predicted=True, scores=scores)
    attack = next(e for e in sleap_labels.events if e.type.name == "attack")
    assert isinstance(attack, sio.PredictedEvent)
    np.testing.assert_allclose(attack.scores, scores[0:3, 0, 0])
    bouts = events_to_bouts(sleap_labels)
    assert Bout(0, 3, "m1", "attack") in [Bout(b.start, b.stop, b.subject, b.behavior) for b in bouts]


def test_frame_level_labels_become_subjectless_events():
    labels = BehaviorLabels.from_bouts([Bout(3, 5, "all", "rear")], 10)
    sleap_labels = pose_to_sleap(Pose(np.zeros((10, 1, 1, 2)), ["c"], ["m"]))
    labels_to_events(labels, sleap_labels)
    assert sleap_labels.events[0].subject is None
    assert events_to_labels(sleap_labels, 10) == labels


def test_real_sleap_predictions_become_pose(shared_dir):
    labels = load_pose_file(shared_dir / "recordings/sleap_fly_pair/centered_pair_predictions.slp")
    pose = pose_from_sleap(labels, n_frames=1100)
    assert pose.points.shape == (1100, 27, 24, 2)
    assert pose.keypoint_names[:3] == ("head", "neck", "thorax")
    visible = ~np.isnan(pose.points[..., 0])
    assert visible[:, :2].mean() > 0.5  # the two main tracks are mostly present
    assert np.nanmax(pose.points) <= 384


def test_pose_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.slp"):
        load_pose_file(tmp_path / "missing.slp")
    bad = tmp_path / "broken.slp"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="broken.slp"):
        load_pose_file(bad)


def test_behavior_file_round_trip_keeps_unannotated_and_background(tmp_path):
    mask = np.ones((30, 2), bool)
    mask[10:20, 1] = False
    labels = BehaviorLabels.from_bouts(
        [Bout(0, 5, "a", "other"), Bout(5, 30, "a", "groom"), Bout(0, 10, "b", "groom")],
        30,
        ["groom", "other"],
        ["a", "b"],
        annotated=mask,
        background="other",
    )
    path = save_labels(labels, tmp_path / "x.behavior.json")
    assert not list(tmp_path.glob("*.tmp"))
    assert load_labels(path) == labels


def test_behavior_file_errors(tmp_path):
    path = tmp_path / "t.behavior.json"
    labels = BehaviorLabels.from_bouts([Bout(0, 2, "all", "a")], 4)
    save_labels(labels, path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="t.behavior.json.*invalid JSON"):
        load_labels(path)
    obj = json.loads(text)
    obj["bouts"] = [[3, 1, "all", "a"]]
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="t.behavior.json"):
        load_labels(path)


def test_fragmented_tracks_keep_one_column_per_track():
    """A tracker's output where no frame holds two instances still gives one subject per track."""
    skeleton = sio.Skeleton(["head", "tail"])
    tracks = [sio.Track("track_0"), sio.Track("track_1")]
    video = sio.Video(filename="fly.mp4", open_backend=False)
    frames = [
        sio.LabeledFrame(
            video=video,
            frame_idx=t,
            instances=[sio.Instance.from_numpy(np.full((2, 2), float(t)), skeleton=skeleton, track=tracks[t >= 3])],
        )
        for t in range(6)
    ]
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=tracks)
    pose = pose_from_sleap(labels, n_frames=7)
    assert pose.subjects == ("track_0", "track_1")
    assert np.array_equal(pose.points[:3, 0, 0, 0], [0, 1, 2]) and np.isnan(pose.points[3:, 0]).all()
    assert np.array_equal(pose.points[3:6, 1, 0, 0], [3, 4, 5]) and np.isnan(pose.points[:3, 1]).all()


def test_behavior_file_structural_errors_name_the_file(tmp_path):
    path = tmp_path / "s.behavior.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="s.behavior.json.*not a vpbehavior behavior file"):
        load_labels(path)
    obj = {
        "format": "vpbehavior.behavior",
        "version": 1,
        "n_frames": 4,
        "classes": ["a"],
        "subjects": ["m"],
        "background": None,
        "bouts": [],
        "unannotated": [[0, 2, "ghost"]],
    }
    path.write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="s.behavior.json.*ghost"):
        load_labels(path)


# ----------------------------------------------------------------------------- Bout.target round trips
@pytest.fixture
def directed():
    """Two mice; m1's attack is directed at m2, m2's groom is undirected, one frame-level stimulus."""
    bouts = [
        Bout(0, 4, "m1", "attack", target="m2"),
        Bout(6, 9, "m1", "attack", target="m2"),
        Bout(2, 5, "m2", "groom"),
        Bout(7, 10, "all", "light"),
    ]
    return BehaviorLabels.from_bouts(bouts, 10, ["attack", "groom", "light"], ["m1", "m2", "all"])


def test_targets_round_trip_through_slp_events(tmp_path, directed):
    pose = Pose(np.ones((10, 2, 2, 2)), ["a", "b"], ["m1", "m2"], edges=[(0, 1)])
    sleap_labels = pose_to_sleap(pose, tmp_path / "v.mp4")
    labels_to_events(directed, sleap_labels)
    path = tmp_path / "v.slp"
    sio.save_slp(sleap_labels, str(path))
    loaded = sio.load_slp(str(path))
    attack = [e for e in loaded.events if e.type.name == "attack"]
    assert [(e.subject.name, e.target.name) for e in attack] == [("m1", "m2"), ("m1", "m2")]  # sleap-io's own fields
    groom = next(e for e in loaded.events if e.type.name == "groom")
    assert groom.target is None and not groom.is_directed
    assert next(e for e in loaded.events if e.type.name == "light").subject is None
    bouts = events_to_bouts(loaded)
    assert sorted(bouts) == sorted(directed.to_bouts())
    assert Bout(0, 4, "m1", "attack", target="m2") in bouts
    assert events_to_labels(loaded, 10, subjects=["m1", "m2", "all"]) == directed
    assert pose_from_sleap(loaded, n_frames=10).edges == ((0, 1),)  # the skeleton's edges come back


def test_identity_as_event_target():
    skeleton = sio.Skeleton(["h"])
    video = sio.Video(filename="v.mp4", open_backend=False)
    track, mouse = sio.Track("m1"), sio.Identity(name="intruder")
    labels = sio.Labels(videos=[video], skeletons=[skeleton], tracks=[track])
    labels.events.append(
        sio.UserEvent(type="chase", video=video, start_frame=1, end_frame=2, subject=track, target=mouse)
    )
    assert events_to_bouts(labels) == [Bout(1, 3, "m1", "chase", target="intruder")]


def test_behavior_file_v2_keeps_targets_and_v1_still_reads(tmp_path, directed):
    path = save_labels(directed, tmp_path / "v.behavior.json")
    obj = json.loads(path.read_text())
    assert (
        obj["version"] == 2
        and [0, 4, "m1", "attack", "m2"] in obj["bouts"]
        and [2, 5, "m2", "groom", None] in obj["bouts"]
    )
    back = load_labels(path)
    assert back == directed and back.targets == {("m1", "attack"): "m2"}
    # a version 1 file (written before targets existed): 4-element bouts
    v1 = {
        "format": "vpbehavior.behavior",
        "version": 1,
        "n_frames": 6,
        "classes": ["attack", "other"],
        "subjects": ["m1", "m2"],
        "background": "other",
        "bouts": [[0, 2, "m1", "attack"], [2, 6, "m1", "other"]],
        "unannotated": [[0, 6, "m2"]],
    }
    path.write_text(json.dumps(v1))
    old = load_labels(path)
    assert old.to_bouts() == [Bout(0, 2, "m1", "attack"), Bout(2, 6, "m1", "other")] and not old.targets
    assert (old.values[:, 1] == -1).all() and old.background == "other"
    v1["bouts"][0].append("m2")  # a target in a version 1 file is malformed
    path.write_text(json.dumps(v1))
    with pytest.raises(DataError, match=r"v\.behavior\.json.*bouts\[0\].*version 1"):
        load_labels(path)
    path.write_text(json.dumps({**v1, "version": 9}))
    with pytest.raises(DataError, match="version 9"):
        load_labels(path)


def test_conflicting_targets_are_a_data_error():
    bouts = [Bout(0, 2, "m1", "chase", target="m2"), Bout(4, 5, "m1", "chase", target="m3")]
    with pytest.raises(DataError, match="directed at both"):
        BehaviorLabels.from_bouts(bouts, 6, subjects=["m1", "m2", "m3"])


def test_pose_errors_are_data_errors(tmp_path):
    bad = tmp_path / "broken.slp"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(DataError) as info:
        load_pose_file(bad)
    assert info.value.path == bad
    with pytest.raises(MissingFileError):
        load_pose_file(tmp_path / "missing.slp")


def test_label_file_matches_names_by_the_core_rule(tmp_path):
    import json

    from vpbehavior.io.labels_file import load_labels

    path = tmp_path / "m.behavior.json"
    path.write_text(json.dumps({
        "format": "vpbehavior.behavior", "version": 2, "n_frames": 10, "classes": ["attack", "wing threat"],
        "subjects": ["animal1", "animal2"], "background": None,
        "bouts": [[0, 3, "Animal1", "Attack ", "ANIMAL2"], [4, 6, "animal2", "Wing  Threat", None]],
    }))  # fmt: skip
    labels = load_labels(path)
    assert labels.classes == ("attack", "wing threat")
    assert [(b.subject, b.behavior, b.target) for b in labels.to_bouts()] == [
        ("animal1", "attack", "animal2"),
        ("animal2", "wing threat", None),
    ]
