"""Experiment-folder loader and label file formats (BORIS exports, per-frame CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vpbehavior
from vpbehavior.core import FRAME_LEVEL, BehaviorLabels, Bout, DataError, Pose
from vpbehavior.io import label_formats as lf
from vpbehavior.io.labels_file import save_labels
from vpbehavior.io.registry import detect_format
from vpbehavior.reporting import DataWarning

FPS = 10.0


def _video(path: Path, n: int = 20) -> Path:
    from vpbehavior.io.video import write_video

    return write_video(path, (np.full((24, 32, 3), 9 * i % 255, np.uint8) for i in range(n)), fps=FPS, codec="mp4v")


def _boris_v8(rows, media="m1.mp4", fps="10.000"):
    head = (
        "Observation id\tObservation date\tDescription\tObservation duration\tObservation type\tSource\t"
        "Time offset (s)\tMedia duration (s)\tFPS\tSubject\tBehavior\tBehavioral category\tBehavior type\tTime\t"
        "Media file name\tImage index\tImage file path\tComment"
    )
    lines = [head]
    for subject, behavior, status, time in rows:
        lines.append(
            f"obs1\t2024-01-01\t\t2.0\tMedia file(s)\tplayer #1:{media}\t0.000\t2.000\t{fps}\t{subject}\t"
            f"{behavior}\t\t{status}\t{time}\t{media}\tNA\tNA\t"
        )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- label formats
def test_boris_tabular_events_v8(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text(
        _boris_v8(
            [
                ("a", " walk ", "START", 0.3),
                ("a", "walk", "STOP", 0.8),
                ("b", "groom", "POINT", 1.0),
                ("NA", "NA", "", "NA"),
                ("a", "Walk  ", "START", 1.2),
                ("a", "walk", "STOP", 1.5),
            ]
        )
    )
    assert lf.sniff_label_kind(path) == "boris_events"
    labels = lf.read_label_file(path, n_frames=20)
    assert labels.classes == ("walk", "groom")  # " walk ", "Walk  " and "walk" are one behavior
    bouts = {(b.start, b.stop, b.subject, b.behavior) for b in labels.to_bouts()}
    assert bouts == {(3, 8, "a", "walk"), (12, 15, "a", "walk"), (10, 11, "b", "groom")}
    assert labels.subjects == ("a", "b") and labels.n_frames == 20
    assert (labels.values[:, 0, labels.class_index("walk")] == 0).sum() == 20 - 5 - 3


def test_boris_v7_preamble_status_and_offset(tmp_path):
    path = tmp_path / "v7.csv"
    path.write_text(
        "Observation id,obs\nTime offset (s),1.000\n\n"
        "Time,Media file path,Total length,FPS,Subject,Behavior,Behavioral category,Comment,Status\n"
        "1.5,v.mp4,3.0,10.0,No focal subject,rear,,,START\n"
        "2.0,v.mp4,3.0,10.0,No focal subject,rear,,,STOP\n"
    )
    labels = lf.read_label_file(path)
    assert labels.subjects == ("all",) and labels.n_frames == 30
    assert labels.to_bouts() == [Bout(5, 10, "all", "rear")]


def test_boris_errors(tmp_path):
    path = tmp_path / "b.tsv"
    path.write_text(_boris_v8([("a", "walk", "STOP", 0.3)]))
    with pytest.raises(ValueError, match="STOP of 'walk'.*without a START"):
        lf.read_label_file(path)
    text = (
        _boris_v8([("a", "walk", "POINT", 0.3)])
        + _boris_v8([("a", "walk", "POINT", 0.5)], fps="25.000").split("\n", 1)[1]
    )
    path.write_text(text)
    with pytest.raises(ValueError, match=r"several FPS values \[10.0, 25.0\]"):
        lf.read_label_file(path)
    assert lf.read_label_file(path, fps=10.0).n_frames == 20  # the video's fps decides
    path.write_text(_boris_v8([("a", "walk", "POINT", 5.0)]))
    with pytest.raises(ValueError, match="reach frame 50.*20 frames"):
        lf.read_label_file(path, n_frames=20, fps=10)


def test_boris_binary_and_aggregated(tmp_path):
    path = tmp_path / "obs_a.csv"
    path.write_text("time,walk,groom\n0.0,0,1\n0.5,1,0\n1.0,1,0\n1.5,NA,0\n")
    assert lf.sniff_label_kind(path) == "boris_binary"
    labels = lf.read_label_file(path, n_frames=25, fps=FPS, subject="a")
    walk, groom = labels.class_index("walk"), labels.class_index("groom")
    assert labels.values[:5, 0, groom].tolist() == [1] * 5 and labels.values[5:15, 0, walk].tolist() == [1] * 10
    assert (labels.values[15:20, 0, walk] == -1).all() and (labels.values[20:, 0] == -1).all()
    agg = tmp_path / "agg.csv"
    agg.write_text(
        "Observation id,Subject,Behavior,Behavior type,Start (s),Stop (s),Duration (s),FPS\n"
        "o,No focal subject,eat,STATE,0.2,0.9,0.7,10\n,,,,,,,\n"
    )
    assert lf.read_label_file(agg, n_frames=12).to_bouts() == [Bout(2, 9, "all", "eat")]


def test_per_frame_csv(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("frame,attack,chase\n0,1,0\n1,0,0\n2,-1,1\n4,,1\n")
    labels = lf.read_label_file(path, n_frames=6)
    assert labels.values[:, 0, 0].tolist() == [1, 0, -1, -1, -1, -1]
    assert labels.values[:, 0, 1].tolist() == [0, 0, 1, -1, 1, -1]
    path.write_text("behavior\nsniff\n\nrear\nsniff\n")
    single = lf.read_label_file(path)
    assert single.classes == ("sniff", "rear") and single.n_frames == 3  # blank lines are dropped
    path.write_text("frame,attack\n0,2\n")
    with pytest.raises(ValueError, match="column 'attack': expected 1, 0 or -1"):
        lf.read_label_file(path)


def test_align_subjects():
    labels = BehaviorLabels.from_bouts([Bout(0, 2, "Fly A", "x"), Bout(1, 3, "all", "x")], 4, subjects=["Fly A", "all"])
    out = lf.align_subjects(labels, ["fly  a", "fly b"], "src")
    assert out.subjects == ("fly  a", "fly b", "all")
    assert (out.values[:, 1] == -1).all() and out.values[0, 0, 0] == 1
    with pytest.raises(ValueError, match="src: subjects \\['Fly A'\\]"):
        lf.align_subjects(labels, ["c"], "src")


# ----------------------------------------------------------------------------- folder loader
def test_real_sleap_pair(shared_dir):
    import sleap_io as sio

    folder = shared_dir / "recordings" / "sleap_fly_pair"
    assert detect_format(folder) == "folder"
    ds = vpbehavior.load(folder)
    assert not ds.failures and len(ds) == 2
    rec = ds["centered_pair_low_quality"]  # paired through the .slp's own video reference
    slp = sio.load_slp(str(folder / "centered_pair_predictions.slp"))
    assert rec.n_frames == 1100 and rec.fps == pytest.approx(15)
    assert isinstance(rec.pose, Pose) and rec.subjects == tuple(t.name for t in slp.tracks)
    assert rec.pose.keypoint_names == tuple(n.name for n in slp.skeletons[0].nodes)
    assert ds["centered_pair_small"].pose is None
    assert ds.summary()["frames"] == 2200


@pytest.fixture
def experiment(tmp_path):
    import sleap_io as sio

    from vpbehavior.io.pose import pose_to_sleap

    root = tmp_path / "exp"
    _video(root / "m1.mp4")
    _video(root / "m10.mp4")
    frames = root / "m2"
    frames.mkdir(parents=True)
    import cv2

    for i in range(8):
        cv2.imwrite(str(frames / f"{i}.jpg"), np.zeros((16, 16, 3), np.uint8))
    pts = np.random.default_rng(0).uniform(0, 20, (20, 2, 3, 2))
    sio.save_slp(
        pose_to_sleap(Pose(pts, ["h", "t", "c"], ["a", "b"]), root / "m1.mp4"), str(root / "m1.predictions.slp")
    )
    (root / "m1_boris.tsv").write_text(_boris_v8([("a", "walk", "START", 0.5), ("a", "walk", "STOP", 1.0)]))
    (root / "m10.csv").write_text("frame,rear\n" + "".join(f"{i},{int(i > 10)}\n" for i in range(20)))
    save_labels(BehaviorLabels.from_bouts([Bout(2, 4, "all", "groom")], 8), root / "m2.behavior.json")
    return root


def test_experiment_folder(experiment):
    assert detect_format(experiment) == "folder"
    ds = vpbehavior.load(experiment)
    assert not ds.failures and sorted(r.name for r in ds) == ["m1", "m10", "m2"]
    m1 = ds["m1"]
    assert m1.metadata["pose_file"].endswith("m1.predictions.slp") and m1.subjects == ("a", "b")
    assert m1.labels.to_bouts() == [Bout(5, 10, "a", "walk")]
    assert (m1.labels.values[:, 1] == -1).all()  # subject b: not in the BORIS file
    assert ds["m10"].pose is None and ds["m10"].labels.label_counts() == {"rear": 9}
    assert ds["m2"].video.is_dir() and ds["m2"].n_frames == 8 and ds["m2"].labels.label_counts() == {"groom": 2}
    assert ds.summary()["label_counts"] == {"walk": 5, "rear": 9, "groom": 2}
    single = vpbehavior.load(experiment / "m1.mp4")
    assert single.format == "folder" and [r.name for r in single] == ["m1"] and single[0].labels == m1.labels


def test_mismatched_label_files_are_failures_but_their_videos_load(experiment):
    (experiment / "m10.csv").write_text("frame,rear\n" + "".join(f"{i},1\n" for i in range(30)))
    (experiment / "m1_boris.tsv").write_text(_boris_v8([("zed", "walk", "POINT", 0.5)]))
    (experiment / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.warns(DataWarning, match="loaded without the labels") as caught:
        ds = vpbehavior.load(experiment)
    assert len([w for w in caught if "loaded without the labels" in str(w.message)]) == 2
    errors = {Path(f.path).name: f.error for f in ds.failures}
    assert set(errors) == {"m10.csv", "m1_boris.tsv", "broken.mp4"}
    assert "m10.csv" in errors["m10.csv"] and "m10.mp4" in errors["m10.csv"] and "29" in errors["m10.csv"]
    assert "'zed'" in errors["m1_boris.tsv"] and "m1_boris.tsv" in errors["m1_boris.tsv"]
    assert "m1.mp4" in errors["m1_boris.tsv"]
    assert "broken.mp4" in errors["broken.mp4"]
    # extraction needs no labels: the good videos load, without the labels that do not fit
    assert [r.name for r in ds] == ["m1", "m10", "m2"]
    assert ds["m1"].labels is None and ds["m1"].pose is not None and ds["m10"].labels is None
    assert ds["m1"].metadata["label_files"] == [str(experiment / "m1_boris.tsv")]  # what was paired
    assert ds["m2"].labels.label_counts() == {"groom": 2}


def test_broken_label_file_next_to_a_good_video(experiment):
    (experiment / "m2.behavior.json").write_text('{"format": "vpbehavior.behavior", "version": 2, "n_fr')
    (experiment / "m1.behavior.json").write_text("{}")  # not a behavior file; the BORIS file still counts
    with pytest.warns(DataWarning, match=r"m2\.behavior\.json"):
        ds = vpbehavior.load(experiment)
    errors = {Path(f.path).name: f.error for f in ds.failures}
    assert set(errors) == {"m2.behavior.json", "m1.behavior.json"}
    assert (
        "invalid JSON" in errors["m2.behavior.json"] and "not a vpbehavior behavior file" in errors["m1.behavior.json"]
    )
    assert ds["m2"].labels is None and ds["m2"].n_frames == 8
    assert ds["m1"].labels.to_bouts() == [Bout(5, 10, "a", "walk")]  # the good label file of m1 is kept


def test_longest_stem_wins(tmp_path):
    from vpbehavior.io.folder import pair_files

    for name in ("m1.mp4", "m10.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "m10_DLC.csv").write_text("scorer,x\nbodyparts,a\ncoords,x\n")
    (tmp_path / "m1.behavior.json").write_text("{}")
    import h5py

    with h5py.File(tmp_path / "m1.features.h5", "w") as fh:  # an HDF5 that is not pose
        fh["embeddings"] = np.zeros((2, 3))
    files = {f.video.name: f for f in pair_files([tmp_path / "m1.mp4", tmp_path / "m10.mp4"])}
    assert [p.name for p in files["m10.mp4"].pose] == ["m10_DLC.csv"] and not files["m1.mp4"].pose
    assert [p.name for p in files["m1.mp4"].labels] == ["m1.behavior.json"]


# ----------------------------------------------------------------------------- DeepLabCut files
def _dlc_csv(path: Path, n: int, individuals=None, parts=("nose", "tail")) -> np.ndarray:
    """A DeepLabCut analysis CSV (as pandas writes it); returns the values [T, S, K, 3]."""
    rng = np.random.default_rng(len(path.name))
    inds = individuals or ["_"]
    vals = np.round(rng.uniform(0, 20, (n, len(inds), len(parts), 3)), 3)
    vals[2, 0, 0, :] = np.nan  # a missing detection
    cols = [(i, p, c) for i in inds for p in parts for c in ("x", "y", "likelihood")]
    rows = [["scorer"] + ["DLC_resnet50_xJan1shuffle1_100"] * len(cols)]
    if individuals:
        rows.append(["individuals"] + [c[0] for c in cols])
    rows += [["bodyparts"] + [c[1] for c in cols], ["coords"] + [c[2] for c in cols]]
    for t in range(n):
        rows.append([str(t)] + ["" if np.isnan(v) else repr(float(v)) for v in vals[t].reshape(-1)])
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return vals


def test_deeplabcut_csv_single_and_multi_animal(tmp_path):
    _video(tmp_path / "a.mp4", 12)
    _video(tmp_path / "b.mp4", 12)
    single = _dlc_csv(tmp_path / "aDLC_resnet50_xJan1shuffle1_100.csv", 10)  # DLC adds no separator
    multi = _dlc_csv(tmp_path / "bDLC_dlcrnetms5_xJan1shuffle1_100_el.csv", 12, individuals=["m1", "m2"])
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures
    a, b = ds["a"].pose, ds["b"].pose
    assert a.subjects == ("instance0",) and a.keypoint_names == ("nose", "tail") and a.points.shape == (12, 1, 2, 2)
    np.testing.assert_allclose(a.points[:10], single[..., :2], atol=1e-3)
    assert np.isnan(a.points[10:]).all() and np.isnan(a.points[2, 0, 0]).all()
    np.testing.assert_allclose(a.scores[:10], single[..., 2], atol=1e-3)
    assert b.subjects == ("m1", "m2") and ds["b"].subjects == ("m1", "m2")
    np.testing.assert_allclose(b.points, multi[..., :2], atol=1e-3)


def _dlc_h5(path: Path, n: int, individuals=None, parts=("nose", "tail")) -> np.ndarray:
    """A DeepLabCut .h5 written the way DeepLabCut writes it (pandas, table format)."""
    import pandas as pd

    pytest.importorskip("tables")  # pandas needs PyTables to WRITE the fixture; reading does not
    rng = np.random.default_rng(n)
    inds = individuals or [None]
    vals = rng.uniform(0, 20, (n, len(inds), len(parts), 3))
    vals[1, 0, 1, :] = np.nan
    levels = [["DLC_resnet50"]] + ([individuals] if individuals else []) + [list(parts), ["x", "y", "likelihood"]]
    names = ["scorer"] + (["individuals"] if individuals else []) + ["bodyparts", "coords"]
    columns = pd.MultiIndex.from_product(levels, names=names)
    pd.DataFrame(vals.reshape(n, -1), columns=columns).to_hdf(path, key="df_with_missing", format="table", mode="w")
    return vals


def test_deeplabcut_h5_single_and_multi_animal(tmp_path):
    _video(tmp_path / "a.mp4", 8)
    _video(tmp_path / "b.mp4", 8)
    single = _dlc_h5(tmp_path / "aDLC_resnet50_x.h5", 6)
    multi = _dlc_h5(tmp_path / "bDLC_dlcrnetms5_x_el.h5", 8, individuals=["m1", "m2"])
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures
    a, b = ds["a"].pose, ds["b"].pose
    assert a.subjects == ("instance0",) and a.keypoint_names == ("nose", "tail")
    np.testing.assert_allclose(a.points[:6], single[..., :2], rtol=1e-6)
    np.testing.assert_allclose(a.scores[:6], single[..., 2], rtol=1e-6)
    assert np.isnan(a.points[6:]).all()
    assert b.subjects == ("m1", "m2")
    np.testing.assert_allclose(b.points, multi[..., :2], rtol=1e-6)


def test_deeplabcut_h5_prefers_csv_twin_and_never_runs_embedded_code(tmp_path):
    import h5py

    _video(tmp_path / "a.mp4", 8)
    _video(tmp_path / "b.mp4", 8)
    _video(tmp_path / "c.mp4", 8)
    with h5py.File(tmp_path / "aDLC_resnet50_x.h5", "w") as fh:  # broken h5, but a CSV twin exists
        fh.create_group("df_with_missing").create_dataset("table", data=np.zeros(3))
    _dlc_csv(tmp_path / "aDLC_resnet50_x.csv", 8)
    with h5py.File(tmp_path / "bDLC_resnet50_x.h5", "w") as fh:  # no table at all
        fh.create_group("df_with_missing")
    marker = tmp_path / "pwned"
    _dlc_h5(tmp_path / "cDLC_resnet50_x.h5", 4)
    payload = f"cos\nsystem\n(Vtouch {marker}\ntR.".encode()  # a pickle that would run a shell command
    with h5py.File(tmp_path / "cDLC_resnet50_x.h5", "a") as fh:
        fh["df_with_missing/table"].attrs["values_block_0_kind"] = np.bytes_(payload)
    ds = vpbehavior.load(tmp_path)
    assert [r.name for r in ds] == ["a", "b", "c"] and ds["a"].pose.points.shape == (8, 1, 2, 2)
    assert ds["b"].pose is None and ds["c"].pose is None  # a broken pose file costs the pose, not the video
    assert ds["a"].metadata["pose_file"].endswith("aDLC_resnet50_x.csv")  # the file actually read
    assert [Path(f.path).name for f in ds.skipped] == ["aDLC_resnet50_x.h5"] and "csv" in ds.skipped[0].reason
    errors = sorted(f.error for f in ds.failures)
    assert len(errors) == 2
    assert "bDLC_resnet50_x.h5" in errors[0] and "df_with_missing/table" in errors[0]
    assert "cDLC_resnet50_x.h5" in errors[1] and "refusing" in errors[1]
    assert not marker.exists()


def test_behavior_events_inside_slp_become_labels(tmp_path):
    from vpbehavior.io.synthetic import SyntheticConfig, generate, write_recording

    config = SyntheticConfig(height=64, width=64, n_frames=60, seed=3)
    truth = generate(config).labels
    only_events = tmp_path / "events_only"
    write_recording(config, only_events, "m1")
    (only_events / "m1.behavior.json").unlink()  # the bouts now live only in the .slp
    rec = vpbehavior.load(only_events).recordings[0]
    assert rec.labels is not None and rec.metadata["label_files"] == []
    assert rec.labels.with_classes(truth.classes) == truth
    both = tmp_path / "both"
    write_recording(config, both, "m1")  # .behavior.json and .slp events agree: merged without conflict
    assert vpbehavior.load(both).recordings[0].labels.with_classes(truth.classes) == truth


def test_unreadable_deeplabcut_h5_is_reported_not_ignored(tmp_path):
    _video(tmp_path / "a.mp4", 8)
    (tmp_path / "aDLC_resnet50_x.h5").write_bytes(b"\x89HDF\r\n garbage")
    ds = vpbehavior.load(tmp_path)
    assert ds["a"].pose is None and len(ds.failures) == 1  # the video loads; the pose file is reported
    assert "aDLC_resnet50_x.h5" in ds.failures[0].error


# ----------------------------------------------------------------------------- presence, pairing, warnings
def test_sleap_track_in_a_few_frames_is_present_only_there(shared_dir):
    import sleap_io as sio

    folder = shared_dir / "recordings" / "sleap_fly_pair"
    rec = vpbehavior.load(folder / "centered_pair_low_quality.mp4")[0]
    slp = sio.load_slp(str(folder / "centered_pair_predictions.slp"))
    frames = sorted(lf.frame_idx for lf in slp.labeled_frames for i in lf.instances if i.track.name == "3")
    assert frames == [25, 29, 32, 33]  # track "3": 4 of 1100 frames
    presence = rec.presence[:, rec.subjects.index("3")]
    assert np.flatnonzero(presence).tolist() == frames
    assert rec.summary()["present_frames"]["3"] == 4


def test_presence_of_a_written_track(tmp_path):
    import sleap_io as sio

    from vpbehavior.io.pose import pose_to_sleap

    _video(tmp_path / "v.mp4", 20)
    points = np.full((20, 2, 2, 2), np.nan)
    points[:, 0] = 5.0  # "a" in every frame
    points[[3, 4, 11, 19], 1] = 7.0  # "b" in four frames
    sio.save_slp(pose_to_sleap(Pose(points, ["h", "t"], ["a", "b"]), tmp_path / "v.mp4"), str(tmp_path / "v.slp"))
    rec = vpbehavior.load(tmp_path)[0]
    assert rec.subjects == ("a", "b") and rec.presence[:, 0].all()
    assert np.flatnonzero(rec.presence[:, 1]).tolist() == [3, 4, 11, 19]


def test_pose_file_without_any_point_is_warned_about(tmp_path):
    _video(tmp_path / "a.mp4", 6)
    rows = ["scorer,s,s,s", "bodyparts,nose,nose,nose", "coords,x,y,likelihood"] + [f"{t},,," for t in range(6)]
    (tmp_path / "aDLC_resnet50_x.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(DataWarning, match=r"aDLC_resnet50_x\.csv.*no located keypoint"):
        ds = vpbehavior.load(tmp_path)
    assert not ds.failures and ds["a"].pose is not None and not ds["a"].presence.any()


def test_unpaired_files_are_listed(experiment):
    import sleap_io as sio

    from vpbehavior.io.pose import pose_to_sleap

    (experiment / "other_boris.tsv").write_text(_boris_v8([("a", "walk", "POINT", 0.5)], media="gone.mp4"))
    (experiment / "notes_per_frame.csv").write_text("frame,rear\n0,1\n")
    pose = Pose(np.zeros((4, 1, 1, 2)), ["c"], ["m"])
    sio.save_slp(pose_to_sleap(pose, experiment / "elsewhere.mp4"), str(experiment / "orphan.slp"))
    ds = vpbehavior.load(experiment)
    unpaired = {Path(f.path).name: f.reason for f in ds.unpaired}
    assert set(unpaired) == {"other_boris.tsv", "orphan.slp", "notes_per_frame.csv"}
    assert "gone.mp4" in unpaired["other_boris.tsv"] and "elsewhere.mp4" in unpaired["orphan.slp"]
    assert "no video" in unpaired["notes_per_frame.csv"]
    assert ds.summary()["unpaired"] and ds.test_split is None and not ds.failures


def test_label_names_match_across_files_by_case_and_spacing(tmp_path):
    _video(tmp_path / "m1.mp4", 20)
    (tmp_path / "m1_a.csv").write_text("time,Wing Threat \n0.0,1\n0.5,0\n1.0,0\n1.5,0\n")  # BORIS binary, subject a
    (tmp_path / "m1_b.csv").write_text("time,wing threat\n0.0,0\n0.5,1\n1.0,0\n1.5,0\n")  # subject b
    labels = vpbehavior.load(tmp_path)[0].labels
    assert labels.classes == ("Wing Threat",) and labels.subjects == ("a", "b")
    assert labels.label_counts() == {"Wing Threat": 10}


def test_label_formats_raise_data_errors_naming_the_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("frame,attack\n0,2\n")
    with pytest.raises(DataError) as info:
        lf.read_label_file(path)
    assert info.value.path == path
    assert lf.FRAME_LEVEL is FRAME_LEVEL


def test_merge_keeps_targets_and_background():
    a = BehaviorLabels.from_bouts(
        [Bout(0, 2, "m1", "chase", target="m2")],
        5,
        ["chase", "other"],
        ["m1", "m2"],
        annotated=np.arange(5) < 3,
        background="other",
    )
    b = BehaviorLabels.from_bouts([Bout(3, 5, "m1", "Chase ")], 5, ["Chase "], ["m1", "m2"], annotated=False)
    merged = lf.merge_labels([a, b], "src")
    assert merged.classes == ("chase", "other") and merged.background == "other"
    assert [(x.start, x.stop, x.target) for x in merged.to_bouts()] == [(0, 2, "m2"), (3, 5, "m2")]
    c = BehaviorLabels.from_bouts([Bout(0, 2, "m2", "chase", target="m1")], 5, ["chase"], ["m1", "m2"])
    assert lf.align_subjects(c, ["M1", "M2"], "src").targets == {("M2", "chase"): "M1"}


def test_a_broken_pose_file_costs_the_pose_not_the_video(tmp_path):
    import warnings

    import vpbehavior
    from vpbehavior.io.synthetic import SyntheticConfig, write_recording

    write_recording(SyntheticConfig(height=64, width=64, n_frames=20, seed=0), tmp_path, "m1")
    (tmp_path / "m1.slp").write_bytes(b"garbage, not HDF5")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = vpbehavior.load(tmp_path)
    rec = ds["m1"]
    assert rec.n_frames == 20 and rec.pose is None and rec.labels is not None  # labels from the .behavior.json
    assert [f.path.name for f in ds.failures] == ["m1.slp"] and "could not read pose file" in ds.failures[0].error
    assert any("loaded without pose" in str(w.message) for w in caught)


def test_two_containers_of_one_stem_are_two_recordings(tmp_path):
    import vpbehavior

    _video(tmp_path / "x.mp4", 6)
    _video(tmp_path / "x.mkv", 5)
    ds = vpbehavior.load(tmp_path)
    assert sorted(r.name for r in ds) == ["x.mkv", "x.mp4"] and not ds.failures
    assert {r.name: r.n_frames for r in ds} == {"x.mp4": 6, "x.mkv": 5}
