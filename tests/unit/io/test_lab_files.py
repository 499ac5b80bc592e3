"""The files labs really have: every name SLEAP, DeepLabCut and BORIS write, single files, tool
by-products, fragmented tracks and NWB pose, on files made with the tools' own libraries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vpbehavior
from vpbehavior.core import Bout, ConfigError, DataError, FormatError, MissingFileError
from vpbehavior.io.labels_file import save_labels
from vpbehavior.io.registry import detect_format
from vpbehavior.reporting import DataWarning
from vpbehavior.testing import lab_files as lab

pytest.importorskip("tables")  # pandas needs PyTables to WRITE DeepLabCut fixtures; vpbehavior reads with h5py

NODES = ["head", "thorax", "tail"]
SCORER = "DLC_resnet50_openfieldJan1shuffle1_100000"


def _points(n: int, s: int, k: int = 3, seed: int = 0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).uniform(1, 20, (n, s, k, 2)), 3)


def _by_name(ds) -> dict:
    return {Path(f.path).name: f.reason for f in ds}


def _boris_tsv(path: Path, obs: str, media: list[str], events, fps: float = 10.0) -> Path:
    """A BORIS 8 tabular-events export (columns as BORIS's export_tabular_events writes them)."""
    head = (
        "Observation id\tObservation date\tDescription\tObservation duration\tObservation type\tSource\t"
        "Time offset (s)\tMedia duration (s)\tFPS\tSubject\tBehavior\tBehavioral category\tBehavior type\tTime\t"
        "Media file name\tImage index\tImage file path\tComment"
    )
    source = "player #1:" + ";".join(media)
    lines = [head]
    for subject, behavior, status, time, medium in events:
        lines.append(
            f"{obs}\t2024-01-01 10:00:00\t\t2.0\tMedia file(s)\t{source}\t0.000\t2.000\t{fps:.3f}\t{subject}\t"
            f"{behavior}\t\t{status}\t{time}\t{medium}\tNA\tNA\t"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------- 1. pairing by the tools' names
def test_sleap_export_names_and_stored_video_paths(tmp_path):
    lab.video(tmp_path / "m1.mp4", 20)
    lab.video(tmp_path / "m2.mp4", 16)
    p1, p2 = _points(20, 2), _points(16, 1, seed=1)
    p1[4:9, 1] = np.nan  # fly2 lost in frames 4..8
    # SLEAP's default export name <labels>.<NNN>_<video>.analysis.h5; m1's stores a path from another machine
    lab.write_sleap_analysis_h5(
        lab.sleap_labels(p1, NODES, ["fly1", "fly2"], "/lab/raw/m1.mp4"), tmp_path / "labels.v001.000_m1.analysis.h5"
    )
    lab.write_sleap_analysis_h5(
        lab.sleap_labels(p2, NODES, ["solo"], "D:/old/renamed.mp4"), tmp_path / "labels.v001.001_m2.analysis.h5"
    )
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures and not ds.unpaired and [r.name for r in ds] == ["m1", "m2"]
    m1, m2 = ds["m1"], ds["m2"]
    assert m1.n_frames == 20 and m1.subjects == ("fly1", "fly2") and m1.pose.keypoint_names == tuple(NODES)
    np.testing.assert_allclose(m1.pose.points, p1.astype(np.float32), atol=1e-4)
    assert np.flatnonzero(~m1.presence[:, 1]).tolist() == [4, 5, 6, 7, 8]
    assert "names m1.mp4 inside" in m1.metadata["pairing"][0]  # the stored path's file name
    assert m2.subjects == ("solo",) and m2.n_frames == 16
    assert (
        "SLEAP's export name" in m2.metadata["pairing"][0] and "renamed.mp4 was not found" in m2.metadata["pairing"][0]
    )
    # a labels project whose .slp references both videos competes with the exports: the .slp wins
    import sleap_io as sio

    both = lab.sleap_labels(_points(20, 2, seed=5), NODES, ["a", "b"], tmp_path / "m1.mp4")
    both.videos.append(sio.Video(filename=str(tmp_path / "m2.mp4"), open_backend=False))
    sio.save_slp(both, str(tmp_path / "project.slp"))
    ds = vpbehavior.load(tmp_path)
    assert [r.metadata["pose_file"] for r in ds] == [str(tmp_path / "project.slp")] * 2
    assert ds["m1"].subjects == ("a", "b") and ds["m2"].pose.subjects == ("a", "b")  # m2 has no instances: NaN
    unpaired = _by_name(ds.unpaired)
    assert "the fuller format is preferred" in unpaired["labels.v001.000_m1.analysis.h5"]
    assert "project.slp" in unpaired["labels.v001.001_m2.analysis.h5"]
    assert "a stored video reference wins" in unpaired["labels.v001.001_m2.analysis.h5"]


def test_deeplabcut_names_of_every_version_and_the_choice_between_them(tmp_path):
    for name in ("a", "b", "c", "d"):
        lab.video(tmp_path / f"{name}.mp4", 12)
    single = np.concatenate([_points(12, 1, 2), np.full((12, 1, 2, 1), 0.8)], -1)
    lab.write_dlc_h5(lab.dlc_frame(single, ["nose", "tail"], scorer="DeepCut_resnet50_taskJan1shuffle1_1030000"),
                     tmp_path / "aDeepCut_resnet50_taskJan1shuffle1_1030000.h5")  # 1.x / 2.0 name  # fmt: skip
    raw, filtered = single.copy(), single.copy()
    filtered[..., :2] += 100
    lab.write_dlc_h5(lab.dlc_frame(raw, ["nose", "tail"]), tmp_path / f"b{SCORER}.h5")
    lab.write_dlc_h5(lab.dlc_frame(filtered, ["nose", "tail"]), tmp_path / f"b{SCORER}_filtered.h5")
    multi = np.concatenate([_points(12, 2, 2, seed=3), np.full((12, 2, 2, 1), 0.7)], -1)
    ma = "DLC_dlcrnetms5_taskJan1shuffle1_200000"
    df = lab.dlc_frame(multi, ["nose", "tail"], ["m1", "m2"], scorer=ma)
    lab.write_dlc_h5(df, tmp_path / f"c{ma}.h5")  # untracked assemblies
    lab.write_dlc_h5(df, tmp_path / f"c{ma}_bx.h5")  # tracklets (convert_raw_tracks_to_h5: key df_with_missing)
    lab.write_dlc_h5(df, tmp_path / f"c{ma}_el.h5", key="tracks")  # stitched tracks
    lab.write_dlc_csv(df, tmp_path / f"c{ma}_el.csv")  # ... and its CSV twin
    pytorch = "DLC_Resnet50_taskJan1shuffle1_snapshot_200"  # DeepLabCut 3 (PyTorch) scorer
    lab.write_dlc_csv(lab.dlc_frame(single, ["nose", "tail"], scorer=pytorch), tmp_path / f"d{pytorch}.csv")
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures and [r.name for r in ds] == ["a", "b", "c", "d"]
    assert ds["a"].pose.subjects == ("instance0",) and ds["a"].pose.keypoint_names == ("nose", "tail")
    np.testing.assert_allclose(ds["b"].pose.points, filtered[..., :2].astype(np.float32), rtol=1e-6)
    assert ds["b"].metadata["pose_file"].endswith("_filtered.h5")
    assert ds["c"].metadata["pose_file"].endswith(f"c{ma}_el.csv") and ds["c"].subjects == ("m1", "m2")
    np.testing.assert_allclose(ds["c"].pose.scores, 0.7, rtol=1e-6)
    assert ds["d"].pose.points.shape == (12, 1, 2, 2)
    unpaired = _by_name(ds.unpaired)
    assert set(unpaired) == {f"b{SCORER}.h5", f"c{ma}.h5", f"c{ma}_bx.h5"}
    assert "filtered output is preferred" in unpaired[f"b{SCORER}.h5"]
    assert "stitched tracks are preferred over tracklets" in unpaired[f"c{ma}_bx.h5"]
    assert f"c{ma}_el.csv" in unpaired[f"c{ma}.h5"]
    assert "same table" in _by_name(ds.skipped)[f"c{ma}_el.h5"]
    elsewhere = tmp_path / "analysis"  # deeplabcut.analyze_videos(..., destfolder=...)
    lab.write_dlc_csv(lab.dlc_frame(single, ["nose", "tail"], scorer=pytorch), elsewhere / f"a{pytorch}_filtered.csv")
    assert vpbehavior.load(tmp_path)["a"].metadata["pose_file"] == str(elsewhere / f"a{pytorch}_filtered.csv")
    one = vpbehavior.load(tmp_path / "b.mp4")  # one video: the file passed over for it is still reported
    assert one[0].metadata["pose_file"].endswith("_filtered.h5") and list(_by_name(one.unpaired)) == [f"b{SCORER}.h5"]


def test_boris_export_named_after_the_observation_pairs_by_its_media_file(tmp_path):
    lab.video(tmp_path / "cage3_day2.mp4", 20)
    lab.video(tmp_path / "cage4_day2.mp4", 20)
    _boris_tsv(tmp_path / "observation 17.tsv", "observation 17", [r"C:\videos\cage3_day2.mp4"],
               [("m1", "groom", "START", 0.3, r"C:\videos\cage3_day2.mp4"),
                ("m1", "groom", "STOP", 0.9, r"C:\videos\cage3_day2.mp4")])  # fmt: skip
    _boris_tsv(tmp_path / "obs_x.tsv", "x", ["/elsewhere/gone.mp4"], [("m1", "rear", "POINT", 0.5, "gone.mp4")])
    ds = vpbehavior.load(tmp_path)
    rec = ds["cage3_day2"]
    assert rec.labels.to_bouts() == [Bout(3, 9, "m1", "groom")]
    assert rec.metadata["label_files"] == [str(tmp_path / "observation 17.tsv")]
    assert ds["cage4_day2"].labels is None
    assert "gone.mp4" in _by_name(ds.unpaired)["obs_x.tsv"]


# ----------------------------------------------------------------------------- 2. multi-animal DeepLabCut
@pytest.mark.parametrize("layout", ["fixed", "table"])
def test_deeplabcut_labeled_data_in_both_hdf5_layouts(tmp_path, layout):
    import cv2
    import pandas as pd

    folder = tmp_path / "labeled-data" / "m1"
    folder.mkdir(parents=True)
    for i in (3, 10, 17, 25):
        cv2.imwrite(str(folder / f"img{i:03d}.png"), np.zeros((24, 32, 3), np.uint8))
    rows = [10, 3, 25]  # DeepLabCut keeps its own row order
    names = [("labeled-data", "m1", f"img{i:03d}.png") for i in rows]
    # DeepLabCut 2.2+ indexes labeled data by (labeled-data, video, image); "table" cannot hold that, older files
    # (and table files) use the joined path
    index = pd.MultiIndex.from_tuples(names) if layout == "fixed" else ["/".join(n) for n in names]
    values = _points(3, 2, 2, seed=4)
    led = _points(3, 1, 1, seed=5)
    df = lab.dlc_frame(values, ["nose", "tail"], ["m1", "m2"], scorer="lab", coords=("x", "y"), index=index,
                       unique_bodyparts=["led"], unique_values=led)  # fmt: skip
    lab.write_dlc_h5(df, folder / "CollectedData_lab.h5", layout=layout)
    (folder / "machinelabels-iter0.h5").write_bytes(b"")  # outlier refinement's by-product
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures and len(ds) == 1
    rec = ds[0]
    assert rec.n_frames == 4 and rec.subjects == ("m1", "m2", "single")
    assert rec.pose.keypoint_names == ("nose", "tail", "led") and rec.pose.scores is None
    at = {3: 1, 10: 0, 25: 2}  # image position <- row
    for position, image in enumerate((3, 10, 17, 25)):
        if image in at:
            np.testing.assert_allclose(rec.pose.points[position, :2, :2], values[at[image]], rtol=1e-6)
            np.testing.assert_allclose(rec.pose.points[position, 2, 2], led[at[image], 0, 0], rtol=1e-6)
    assert np.isnan(rec.pose.points[2]).all() and rec.presence[:, 0].tolist() == [True, True, False, True]
    assert "machine labels" in _by_name(ds.skipped)["machinelabels-iter0.h5"]


def test_deeplabcut_stitched_tracks_with_unique_bodyparts(tmp_path):
    lab.video(tmp_path / "pair.mp4", 15)
    values = np.concatenate([_points(15, 2, 2, seed=6), np.full((15, 2, 2, 1), 0.6)], -1)
    values[5:9, 1] = np.nan  # ind2 untracked in frames 5..8
    unique = np.concatenate([_points(15, 1, 1, seed=7), np.full((15, 1, 1), 0.5)[..., None]], -1)
    ma = "DLC_dlcrnetms5_pairJan1shuffle1_50000"
    df = lab.dlc_frame(values, ["snout", "tailbase"], ["ind1", "ind2"], scorer=ma, unique_bodyparts=["arena"],
                       unique_values=unique)  # fmt: skip
    lab.write_dlc_h5(df, tmp_path / f"pair{ma}_el.h5", key="tracks")  # stitch_tracklets
    values[..., 0] += 50  # filterpredictions' output of those tracks (key df_with_missing, as DeepLabCut writes it)
    df = lab.dlc_frame(values, ["snout", "tailbase"], ["ind1", "ind2"], scorer=ma, unique_bodyparts=["arena"],
                       unique_values=unique)  # fmt: skip
    lab.write_dlc_h5(df, tmp_path / f"pair{ma}_el_filtered.h5")
    ds = vpbehavior.load(tmp_path)
    rec = ds[0]
    assert rec.metadata["pose_file"].endswith("_el_filtered.h5")
    assert "filtered output is preferred" in _by_name(ds.unpaired)[f"pair{ma}_el.h5"]
    np.testing.assert_allclose(rec.pose.points[0, 0, 0, 0], values[0, 0, 0, 0], rtol=1e-6)
    assert rec.subjects == ("ind1", "ind2", "single") and rec.pose.keypoint_names == ("snout", "tailbase", "arena")
    assert np.flatnonzero(~rec.presence[:, 1]).tolist() == [5, 6, 7, 8] and rec.presence[:, 2].all()
    np.testing.assert_allclose(rec.pose.scores[:, 0, :2], 0.6, rtol=1e-6)


# ----------------------------------------------------------------------------- 3. pose is not labels
def test_sleap_analysis_csv_is_pose_and_labels_still_read(tmp_path):
    lab.video(tmp_path / "m1.mp4", 20)
    points = _points(20, 2)
    points[[0, 1, 19], 1] = np.nan
    lab.write_sleap_analysis_csv(lab.sleap_labels(points, NODES, ["fly1", "fly2"], "m1.mp4"),
                                 tmp_path / "labels.v001.000_m1.analysis.csv")  # fmt: skip
    save_labels(vpbehavior.BehaviorLabels.from_bouts([Bout(2, 6, "fly1", "chase")], 20, subjects=["fly1"]),
                tmp_path / "m1.behavior.json")  # fmt: skip
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures and not ds.unpaired
    rec = ds["m1"]
    assert rec.pose is not None and rec.subjects == ("fly1", "fly2") and rec.n_frames == 20
    order = [rec.pose.keypoint_names.index(n) for n in NODES]  # sleap-io writes the node columns sorted
    np.testing.assert_allclose(rec.pose.points[:, :, order], points.astype(np.float32), atol=1e-4)
    assert np.flatnonzero(~rec.presence[:, 1]).tolist() == [0, 1, 19]
    assert rec.labels.to_bouts() == [Bout(2, 6, "fly1", "chase")]


# ----------------------------------------------------------------------------- 4. tool by-products
def test_tool_by_products_are_skipped_with_reasons(tmp_path):
    import cv2

    lab.video(tmp_path / "m1.mp4", 10)
    lab.write_dlc_h5(lab.dlc_frame(np.full((10, 1, 1, 3), 0.5), ["nose"]), tmp_path / f"m1{SCORER}.h5")
    for name in (f"m1{SCORER}_labeled.mp4", f"m1{SCORER}_full.mp4", f"m1{SCORER}_el_id_labeled.mp4", "m1_labeled.mp4"):
        lab.video(tmp_path / name, 3)
    for name in (f"m1{SCORER}_meta.pickle", f"m1{SCORER}_full.pickle", f"m1{SCORER}_el.pickle"):
        (tmp_path / name).write_bytes(b"\x80\x04N.")
    lab.write_dlc_csv(lab.dlc_frame(np.ones((10, 1, 1, 3)), ["bone"]), tmp_path / f"m1{SCORER}_skeleton.csv")
    plots = tmp_path / "plot-poses" / "m1"
    plots.mkdir(parents=True)
    for name in ("trajectory.png", "hist.png", "plot-likelihood.png"):
        cv2.imwrite(str(plots / name), np.zeros((8, 8, 3), np.uint8))
    ds = vpbehavior.load(tmp_path)
    assert [r.name for r in ds] == ["m1"] and not ds.failures and not ds.unpaired
    assert ds["m1"].metadata["pose_file"].endswith(f"m1{SCORER}.h5")
    skipped = _by_name(ds.skipped)
    assert set(skipped) == {
        f"m1{SCORER}_labeled.mp4", f"m1{SCORER}_full.mp4", f"m1{SCORER}_el_id_labeled.mp4", "m1_labeled.mp4",
        f"m1{SCORER}_meta.pickle", f"m1{SCORER}_full.pickle", f"m1{SCORER}_el.pickle", f"m1{SCORER}_skeleton.csv",
        "plot-poses",
    }  # fmt: skip
    assert "DeepLabCut rendered" in skipped[f"m1{SCORER}_full.mp4"] and "labeled video" in skipped["m1_labeled.mp4"]
    assert "stitch_tracklets" in skipped[f"m1{SCORER}_el.pickle"] and "diagnostic plots" in skipped["plot-poses"]
    assert "skeleton analysis" in skipped[f"m1{SCORER}_skeleton.csv"]


def test_inspect_json_lists_unpaired_and_skipped_with_reasons(tmp_path, capsys):
    from vpbehavior.cli import main

    lab.video(tmp_path / "m1.mp4", 8)
    lab.video(tmp_path / "m1_labeled.mp4", 2)
    lab.write_sleap_analysis_csv(lab.sleap_labels(_points(5, 1), NODES, ["x"], "/gone/other.mp4"),
                                 tmp_path / "stray.analysis.csv")  # fmt: skip
    (tmp_path / "m1_notes.csv").write_text("date,weight\n2024-01-01,21.5\n")
    assert main(["inspect", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(Path(f["path"]).name, f["reason"]) for f in out["skipped"]] == [
        ("m1_labeled.mp4", "a labeled video (keypoints drawn on the frames), not a recording")
    ]
    unpaired = {Path(f["path"]).name: f["reason"] for f in out["unpaired"]}
    assert set(unpaired) == {"stray.analysis.csv", "m1_notes.csv"} and out["recordings"] == 1
    assert "starts with no video's name" in unpaired["stray.analysis.csv"]
    assert "not recognized as a pose or label file" in unpaired["m1_notes.csv"]


# ----------------------------------------------------------------------------- 5. single files
def test_single_pose_and_label_files_load_with_their_video(tmp_path):
    import sleap_io as sio

    lab.video(tmp_path / "videos" / "m1.mp4", 20)
    points = _points(20, 2)
    slp = tmp_path / "predictions" / "m1.predictions.slp"
    slp.parent.mkdir()
    sio.save_slp(lab.sleap_labels(points, NODES, ["a", "b"], tmp_path / "videos" / "m1.mp4"), str(slp))
    (tmp_path / "exports").mkdir()
    analysis = lab.write_sleap_analysis_h5(
        lab.sleap_labels(points, NODES, ["a", "b"], tmp_path / "videos" / "m1.mp4"), tmp_path / "exports" / "x.h5"
    )
    dlc = lab.write_dlc_csv(lab.dlc_frame(np.full((20, 1, 2, 3), 0.5), ["nose", "tail"]),
                            tmp_path / "videos" / f"m1{SCORER}.csv")  # fmt: skip
    boris = _boris_tsv(tmp_path / "videos" / "obs 1.tsv", "obs 1", ["m1.mp4"], [("a", "rest", "POINT", 1.2, "m1.mp4")])
    behavior = save_labels(vpbehavior.BehaviorLabels.from_bouts([Bout(1, 4, "all", "rear")], 20),
                           tmp_path / "videos" / "m1.behavior.json")  # fmt: skip
    for path, subjects in ((slp, ("a", "b")), (analysis, ("a", "b")), (dlc, ("instance0",)), (boris, ("a",)),
                           (behavior, ("all",))):  # fmt: skip
        assert detect_format(path) == "file", path
        ds = vpbehavior.load(path)
        assert len(ds) == 1 and ds[0].video == tmp_path / "videos" / "m1.mp4", path
        assert ds[0].name == "m1" and ds[0].n_frames == 20 and ds[0].subjects == subjects, path
    assert vpbehavior.load(boris)[0].labels.to_bouts() == [Bout(12, 13, "a", "rest")]
    beside = lab.write_dlc_h5(lab.dlc_frame(np.full((20, 1, 2, 3), 0.5), ["nose", "tail"]),
                              tmp_path / "analysis" / f"m1{SCORER}_filtered.h5")  # videos/ beside analysis/  # fmt: skip
    assert vpbehavior.load(beside)[0].video == tmp_path / "videos" / "m1.mp4"
    np.testing.assert_allclose(vpbehavior.load(analysis)[0].pose.points, points.astype(np.float32), atol=1e-4)


def test_single_file_without_its_video_loads_its_data_and_warns(tmp_path, capsys):
    from vpbehavior.cli import main

    path = lab.write_dlc_h5(lab.dlc_frame(np.full((7, 1, 2, 3), 0.5), ["nose", "tail"]), tmp_path / f"lost{SCORER}.h5")
    with pytest.warns(DataWarning, match=r"its video lost was not found.*without video"):
        ds = vpbehavior.load(path)
    assert (
        ds[0].video is None and ds[0].name == "lost" and ds[0].n_frames == 7 and ds[0].pose.subjects == ("instance0",)
    )
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "file" and summary["frames"] == 7
    assert summary["recording_summaries"][0]["tracks"]["count"] == 1


# ----------------------------------------------------------------------------- 6. fragmented tracks
def test_fragmented_real_tracks_reported_and_kept_longest(shared_dir, capsys):
    from vpbehavior.cli import main

    folder = shared_dir / "recordings" / "sleap_fly_pair"
    assert main(["inspect", str(folder / "centered_pair_predictions.slp"), "--json"]) == 0
    tracks = json.loads(capsys.readouterr().out)["recording_summaries"][0]["tracks"]
    assert tracks["count"] == 27 and tracks["fragmented"] and tracks["together"] < 27
    assert tracks["present_frames"]["1"] == 1100 and tracks["present_frames"]["3"] == 4
    rec = vpbehavior.load(folder, tracks=2)["centered_pair_low_quality"]
    assert rec.subjects == ("1", "2") and rec.presence.all() and rec.track_summary()["fragmented"] is False


def test_merge_tracks_keeps_presence_and_refuses_overlaps(tmp_path):
    from vpbehavior.io.tracks import parse_track_options

    lab.video(tmp_path / "v.mp4", 12)
    points = np.full((12, 4, 2, 2), np.nan)
    points[0:5, 0] = 1.0  # "1" then "3": fly A, lost at frame 5..6
    points[7:12, 2] = 3.0
    points[0:12, 1] = 2.0  # "2": fly B all along, except where "4" took over
    points[9:12, 1] = np.nan
    points[9:12, 3] = 4.0
    import sleap_io as sio

    sio.save_slp(
        lab.sleap_labels(points, ["h", "t"], ["1", "2", "3", "4"], tmp_path / "v.mp4"), str(tmp_path / "v.slp")
    )
    mapping = tmp_path / "merge.json"
    mapping.write_text(json.dumps({"1": "flyA", "3": "flyA", "2": "flyB", "4": "flyB"}))
    options = parse_track_options(None, str(mapping))
    rec = vpbehavior.load(tmp_path, **options)["v"]
    assert rec.subjects == ("flyA", "flyB")
    assert np.flatnonzero(rec.presence[:, 0]).tolist() == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]
    assert rec.presence[:, 1].all() and rec.pose.points[10, 1, 0, 0] == 4.0 and rec.pose.points[3, 1, 0, 0] == 2.0
    single = vpbehavior.load(tmp_path / "v.slp", merge_tracks={"v": {"1": "flyA", "3": "flyA"}}, tracks=2)
    assert single[0].subjects == ("flyA", "2")  # merged, then the 2 longest
    with pytest.raises(DataError, match=r"tracks '1' and '2' are both present at frame 0 \(5 frames in all\)"):
        vpbehavior.load(tmp_path / "v.slp", merge_tracks={"1": "fly", "2": "fly"})
    ds = vpbehavior.load(tmp_path, merge_tracks={"1": "fly", "2": "fly"})
    assert not ds.recordings and "both present at frame 0" in ds.failures[0].error
    assert parse_track_options(3, None) == {"tracks": 3}
    with pytest.raises(ConfigError, match="positive number"):
        parse_track_options(0, None)
    with pytest.raises(MissingFileError):
        parse_track_options(None, str(tmp_path / "none.json"))
    mapping.write_text("{not json")
    with pytest.raises(DataError, match="merge.json.*not valid JSON"):
        parse_track_options(None, str(mapping))
    mapping.write_text(json.dumps({"1": ""}))
    with pytest.raises(DataError, match="subject names are non-empty strings"):
        parse_track_options(None, str(mapping))
    with pytest.raises(DataError, match=r"names tracks \['9'\] that are not in the pose"):
        vpbehavior.load(tmp_path / "v.slp", merge_tracks={"9": "x"})


# ----------------------------------------------------------------------------- 7. NWB pose (ndx-pose)
def test_nwb_pose_next_to_a_video_and_alone(tmp_path, monkeypatch):
    pytest.importorskip("pynwb")
    pytest.importorskip("ndx_pose")
    lab.video(tmp_path / "arena.mp4", 30, fps=15.0)
    points = _points(30, 2, 2, seed=8)
    points[10:14, 0] = np.nan  # mouse1 not detected in frames 10..13
    points[25:, 1] = np.nan
    lab.write_nwb_pose(tmp_path / "sub-01_ses-01_behavior.nwb", points, ["snout", "tail"], ["mouse1", "mouse2"],
                       "/dandi/raw/arena.mp4", fps=15.0)  # fmt: skip
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures and not ds.unpaired
    rec = ds["arena"]
    assert rec.subjects == ("mouse1", "mouse2") and rec.pose.keypoint_names == ("snout", "tail")
    assert rec.pose.edges == ((0, 1),) and rec.n_frames == 30
    np.testing.assert_allclose(rec.pose.points, points.astype(np.float32), rtol=1e-6)
    assert np.flatnonzero(~rec.presence[:, 0]).tolist() == [10, 11, 12, 13]
    alone = vpbehavior.load(tmp_path / "sub-01_ses-01_behavior.nwb")
    assert alone[0].video == tmp_path / "arena.mp4" and alone[0].subjects == ("mouse1", "mouse2")
    # sleap-io's own NWB: one module per video, "track=<name>" containers, frame numbers as times at 1 Hz
    import sleap_io as sio

    lab.video(tmp_path / "other" / "fly.mp4", 10)
    fly = _points(10, 2, 2, seed=9)
    fly[2:4, 0] = np.nan  # no fly1 instance in frames 2 and 3
    sio.save_nwb(lab.sleap_labels(fly, ["head", "tail"], ["fly1", "fly2"], tmp_path / "other" / "fly.mp4"),
                 str(tmp_path / "other" / "fly.nwb"))  # fmt: skip
    rec = vpbehavior.load(tmp_path / "other")[0]
    assert rec.subjects == ("fly1", "fly2") and rec.n_frames == 10
    np.testing.assert_allclose(rec.pose.points, fly.astype(np.float32), rtol=1e-6)
    # DLC2NWB: one file per animal, "<video><scorer>_<animal>.nwb", keypoints "<animal>_<bodypart>", every frame
    lab.video(tmp_path / "dlc" / "m3.mp4", 12, fps=30.0)
    mice = _points(12, 2, 2, seed=10)
    for i, animal in enumerate(("ind1", "ind2")):
        lab.write_nwb_pose(tmp_path / "dlc" / f"m3{SCORER}_{animal}.nwb", mice[:, i : i + 1], ["snout", "tail"],
                           [animal], "m3.mp4", fps=30.0, video_link="original_videos", dlc2nwb=True)  # fmt: skip
    rec = vpbehavior.load(tmp_path / "dlc")[0]
    assert rec.subjects == ("ind1", "ind2") and rec.pose.keypoint_names == ("snout", "tail") and rec.n_frames == 12
    np.testing.assert_allclose(rec.pose.points, mice.astype(np.float32), rtol=1e-6)
    import h5py

    with h5py.File(tmp_path / "other" / "ephys.nwb", "w") as fh:  # an NWB file without pose
        fh.create_group("acquisition")
    with pytest.raises(FormatError, match="without ndx-pose pose estimation"):
        vpbehavior.load(tmp_path / "other" / "ephys.nwb")
    assert "without ndx-pose" in _by_name(vpbehavior.load(tmp_path / "other").unpaired)["ephys.nwb"]
    from vpbehavior.io import nwb

    monkeypatch.setattr(nwb, "nwb_available", lambda: False)  # as without the nwb extra
    with pytest.warns(DataWarning, match=r"pip install 'vpbehavior\[nwb\]'"):
        ds = vpbehavior.load(tmp_path)
    assert ds["arena"].pose is None and "pynwb and ndx-pose" in _by_name(ds.unpaired)["sub-01_ses-01_behavior.nwb"]
    with pytest.raises(nwb.MissingDependencyError, match=r"pip install 'vpbehavior\[nwb\]'"):
        vpbehavior.load(tmp_path / "sub-01_ses-01_behavior.nwb")


# ----------------------------------------------------------------------------- 8. dataset READMEs
def test_dataset_readmes_describe_the_typed_fields_not_removed_metadata_keys():
    root = Path(__file__).resolve().parents[3] / "datasets"
    removed = ("video_frames", "label_subject", "tracked", "species", "warnings", "keypoint_visibility")
    for name in ("calms21", "flyvsfly", "kabr", "chimpact"):
        text = (root / name / "README.md").read_text()
        metadata_rows = [ln for ln in text.splitlines() if ln.startswith("| `metadata`")]
        stale = [k for k in removed if f'metadata["{k}"]' in text or any(f"`{k}`" in ln for ln in metadata_rows)]
        assert not stale, (name, stale)
        assert "presence" in text and "test_split" in text, name


def test_older_sleap_analysis_export_without_sleap_io_extras(tmp_path):
    """SLEAP's own exports before sleap-io: no dims attributes, no tracking scores, no video path."""
    import h5py

    points = _points(9, 2)
    points[3, 0] = np.nan
    new = lab.write_sleap_analysis_h5(lab.sleap_labels(points, NODES, ["f1", "f2"], "x.mp4"), tmp_path / "new.h5")
    lab.video(tmp_path / "clip.mp4", 9)
    with h5py.File(new) as src, h5py.File(tmp_path / "clip.analysis.h5", "w") as dst:
        for key in ("tracks", "track_occupancy", "point_scores", "track_names", "node_names"):
            dst[key] = src[key][()]
    new.unlink()
    rec = vpbehavior.load(tmp_path)["clip"]
    assert rec.subjects == ("f1", "f2") and rec.pose.keypoint_names == tuple(NODES)
    np.testing.assert_allclose(rec.pose.points, points.astype(np.float32), atol=1e-4)
    assert np.flatnonzero(~rec.presence[:, 0]).tolist() == [3]
