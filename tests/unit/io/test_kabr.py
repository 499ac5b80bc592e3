"""KABR loader: the real files in shared/datasets/kabr and writer-made KABR layouts."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import vpbehavior
from vpbehavior.core import FormatError, MissingFileError
from vpbehavior.io import kabr
from vpbehavior.io.registry import detect_format
from vpbehavior.io.video import open_video
from vpbehavior.reporting import DataWarning
from vpbehavior.testing.kabr import CLASSES, HEADER, write_kabr


@pytest.fixture
def kabr_dir(shared_dir) -> Path:
    return shared_dir / "datasets" / "kabr"


# ----------------------------------------------------------------------------- real files
def test_real_frame_list_excerpt(kabr_dir):
    csv_path = kabr_dir / "train_csv_excerpt_ZG0001.1.csv"
    lines = csv_path.read_text().splitlines()
    assert lines[0].split() == ["original_vido_id", "video_id", "frame_id", "path", "labels"]
    rows = [line.split(" ") for line in lines[1:]]
    assert detect_format(csv_path) == "kabr"
    ds = vpbehavior.load(csv_path)
    assert ds.format == "kabr" and not ds.failures
    rec = ds["ZG0001.1"]
    names = json.loads((kabr_dir / "classes.json").read_text())
    by_index = {v: k for k, v in names.items()}
    # 1-based frame ids -> 0-based frames: last frame id = n_frames
    assert rec.n_frames == max(int(r[2]) for r in rows)
    assert rec.split == "train" and rec.video is None and kabr.species_of(rec.name) == "grevys_zebra"
    assert ds.test_split == "val" and set(rec.metadata) == {"source", "miniscene_id", "video_id"}
    expected = {c: 0 for c in names}
    for r in rows:
        expected[by_index[int(r[4])]] += 1
    assert ds.summary()["label_counts"] == expected
    assert ds.summary()["frames"] == len(rows)
    ids, vocab = rec.labels.to_single_label()
    assert vocab[1:] == tuple(sorted(names, key=names.get))
    assert ids[int(rows[0][2]) - 1, 0] == 1 + int(rows[0][4])


def test_real_classes_json_by_name(kabr_dir):
    names = json.loads((kabr_dir / "classes.json").read_text())
    classes = kabr.read_classes(kabr_dir / "classes.json")
    assert len(classes) == len(names)
    assert all(classes[i] == n for n, i in names.items())


def test_real_cvat_tracks(kabr_dir):
    path = kabr_dir / "DJI_tracks.xml"
    tracks = kabr.read_cvat_tracks(path)
    root = ET.parse(path).getroot()
    xml_tracks = root.findall("track")
    assert len(tracks) == len(xml_tracks)
    for t, x in zip(tracks, xml_tracks):
        boxes = x.findall("box")
        assert len(t.frames) == len(boxes) and t.label == x.get("label")
        first = boxes[0]
        assert np.allclose(t.boxes[0], [float(first.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")])
    subjects, arr = kabr.tracks_to_boxes(tracks)
    assert arr.shape == (max(int(b.get("frame")) for b in root.iter("box")) + 1, len(tracks), 4)
    assert vpbehavior.load(path).recordings[0].subjects == tuple(subjects)


def test_real_miniscene2behavior(kabr_dir):
    path = kabr_dir / "DJI_0068_miniscene2behavior.csv"
    classes = kabr.read_classes(kabr_dir / "classes.json")
    rows = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    preds = kabr.read_miniscene2behavior(path, classes)
    assert set(preds) == {(r[0], r[1]) for r in rows}
    for (video, track), labels in preds.items():
        mine = [r for r in rows if (r[0], r[1]) == (video, track)]
        assert labels.n_frames == max(int(r[2]) for r in mine) + 1  # 0-based frames
        for r in mine:
            assert labels.values[int(r[2]), 0, int(r[3])] == 1
    ds = vpbehavior.load(path)  # classes.json sits next to it
    assert ds.summary()["frames"] == sum(lab.n_frames for lab in preds.values())


def test_real_cvat_template_and_old2new(kabr_dir, tmp_path):
    project = json.loads((kabr_dir / "cvat_kenya_behavior_project.json").read_text())
    old2new = json.loads((kabr_dir / "old2new.json").read_text())
    raw = [v for label in project["labels"] for a in label["attributes"] for v in a["values"]]
    picks = [n for n in ("Trotting", "Walk", "Browsing", "Drinking") if n in raw]
    xml = ["<annotations><track id='0' label='Zebra'>"]
    for i, name in enumerate(picks):
        xml.append(
            f"<points frame='{i}' outside='0' points='1,1'><attribute name='Behavior'>{name}</attribute></points>"
        )
    xml.append(
        f"<points frame='{len(picks)}' outside='1' points='1,1'><attribute name='Behavior'>Walk</attribute></points>"
    )
    xml.append("</track></annotations>")
    path = tmp_path / "0.xml"
    path.write_text("".join(xml))
    actions = kabr.read_cvat_actions(path, old2new)
    assert actions == {i: old2new[n] for i, n in enumerate(picks)}
    classes = kabr.read_classes(kabr_dir / "classes.json")
    assert "Drinking" not in classes and "Trot" in classes


def test_real_gif_as_miniscene(kabr_dir, tmp_path):
    """The real website GIF, unpacked into the KABR layout as one Auto-Groom mini-scene."""
    import cv2

    with open_video(kabr_dir / "ZP0446-Auto-Groom.gif") as reader:
        frames = [reader[i] for i in range(len(reader))]
    root = tmp_path / "KABR"
    (root / "annotation").mkdir(parents=True)
    shutil.copy(kabr_dir / "classes.json", root / "annotation" / "classes.json")
    names = json.loads((kabr_dir / "classes.json").read_text())
    img = root / "dataset" / "image" / "ZP0446.1"
    img.mkdir(parents=True)
    lines = [HEADER]
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(img / f"{i}.jpg"), frame[..., ::-1])
        lines.append(f"ZP0446.1 1 {i} ZP0446.1/{i}.jpg {names['Auto-Groom']}")
    (root / "annotation" / "val.csv").write_text("\n".join(lines) + "\n")
    ds = vpbehavior.load(root)
    rec = ds["ZP0446.1"]
    assert rec.split == "val" and rec.n_frames == len(frames)
    assert ds.summary()["label_counts"]["Auto-Groom"] == len(frames)
    with open_video(rec.video, fps=rec.fps) as reader:
        assert len(reader) == len(frames) and reader[0].shape == frames[0].shape


# ----------------------------------------------------------------------------- writer fixtures
SCENES = {
    "train": {"ZG0001.1": [0, 0, 1, 1, 1, 3], "G0002.1": [2, 2, 4, 4, 7], "ZP0003.2": [5, 6, 6, 0]},
    "val": {"ZG0010.1": [1, 1, 1], "G0011.1": [7, 3, 3, 3]},
}


def _expected_counts(written):
    by_index = {v: k for k, v in written.classes.items()}
    counts = dict.fromkeys(written.classes, 0)
    for scenes in written.scenes.values():
        for labels in scenes.values():
            for x in labels:
                counts[by_index[x]] += 1
    return counts


@pytest.mark.parametrize("permuted", [False, True])
def test_writer_layout_loads(tmp_path, permuted):
    classes = CLASSES if not permuted else {n: len(CLASSES) - 1 - i for n, i in CLASSES.items()}
    written = write_kabr(tmp_path, SCENES, classes=classes)
    root = written.root
    for target in (root, root / "annotation"):
        assert detect_format(target) == "kabr"
    ds = vpbehavior.load(root)
    assert not ds.failures
    s = ds.summary()
    assert s["recordings"] == 5 and s["splits"] == {"train": 3, "val": 2}
    assert s["frames"] == sum(len(v) for d in SCENES.values() for v in d.values())
    assert s["label_counts"] == _expected_counts(written)
    by_index = {v: k for k, v in classes.items()}
    rec = ds["G0002.1"]
    assert rec.video == root / "dataset" / "image" / "G0002.1"
    for frame, idx in enumerate(SCENES["train"]["G0002.1"]):  # frame_id 1 -> frame 0
        assert rec.labels.positive[frame, 0].nonzero()[0].tolist() == [rec.labels.class_index(by_index[idx])]
    assert rec.labels.classes == tuple(sorted(classes, key=classes.get))
    val_only = vpbehavior.load(root / "annotation" / "val.csv")
    assert {r.name for r in val_only} == set(SCENES["val"]) and all(r.split == "val" for r in val_only)


def test_header_detected_not_assumed(tmp_path):
    written = write_kabr(tmp_path, {"train": SCENES["train"]}, images=False)
    csv_path = written.root / "annotation" / "train.csv"
    lines = [line.split(" ") for line in csv_path.read_text().splitlines()]
    order = [4, 2, 0, 3, 1]
    csv_path.write_text("\n".join(" ".join(row[i] for i in order) for row in lines) + "\n")
    with pytest.warns(DataWarning, match="no image folder"):
        ds = vpbehavior.load(written.root)
    assert ds.summary()["label_counts"] == _expected_counts(written)
    assert all(r.video is None for r in ds) and "warnings" not in ds.metadata


def test_missing_column_is_a_clear_error(tmp_path):
    written = write_kabr(tmp_path, {"train": SCENES["train"]}, images=False)
    csv_path = written.root / "annotation" / "train.csv"
    lines = [line.split(" ")[:4] for line in csv_path.read_text().splitlines()]
    csv_path.write_text("\n".join(" ".join(r) for r in lines) + "\n")
    with pytest.raises(ValueError, match=r"train\.csv.*missing column.*labels"):
        vpbehavior.load(csv_path, format="kabr")


def test_missing_image_and_bad_label_are_failures(tmp_path):
    written = write_kabr(tmp_path, SCENES)
    (written.root / "dataset" / "image" / "ZG0001.1" / "3.jpg").unlink()
    shutil.rmtree(written.root / "dataset" / "image" / "ZG0010.1")
    val = written.root / "annotation" / "val.csv"
    val.write_text(val.read_text().replace("G0011.1/1.jpg 7", "G0011.1/1.jpg 12"))
    ds = vpbehavior.load(written.root)
    failed = {Path(f.path).name: f.error for f in ds.failures}
    assert set(failed) == {"ZG0001.1", "ZG0010.1", "G0011.1"}
    assert "3.jpg" in failed["ZG0001.1"] and "not found" in failed["ZG0001.1"]
    assert "image folder" in failed["ZG0010.1"]
    assert "label index 12" in failed["G0011.1"] and "val.csv" in failed["G0011.1"]
    assert {r.name for r in ds} == {"G0002.1", "ZP0003.2"}


def test_missing_or_truncated_classes_json_is_fatal(tmp_path):
    written = write_kabr(tmp_path, SCENES, images=False)
    classes = written.root / "annotation" / "classes.json"
    classes.write_text(classes.read_text()[:30])
    with pytest.raises(ValueError, match="classes.json.*invalid JSON"):
        vpbehavior.load(written.root)
    classes.unlink()
    with pytest.raises(MissingFileError, match="classes.json"):
        vpbehavior.load(written.root, format="kabr")


# ----------------------------------------------------------------------------- adversarial inputs
def test_bad_row_fails_its_miniscene_only(tmp_path):
    written = write_kabr(tmp_path, SCENES, images=False)
    train = written.root / "annotation" / "train.csv"
    lines = train.read_text().splitlines()
    victim = lines[2].split(" ")[0]
    lines[2] = lines[2].rsplit(" ", 1)[0] + " walk"  # a label that is not an index
    lines.insert(4, lines[3])  # a duplicated frame of the same mini-scene
    train.write_text("\n".join(lines) + "\n")
    ds = vpbehavior.load(written.root)
    assert victim not in {r.name for r in ds}
    assert len(ds) == sum(len(v) for v in SCENES.values()) - 1
    assert len(ds.failures) == 1 and "'labels'" in ds.failures[0].error and "line 3" in ds.failures[0].error
    assert ds.test_split == "val" and "test_split" not in ds.metadata


def test_nested_and_zero_padded_image_folders(tmp_path):
    written = write_kabr(tmp_path, SCENES)
    image = written.root / "dataset" / "image"
    scene = next(iter(SCENES["train"]))
    (image / "zebras_part").mkdir()
    shutil.move(str(image / scene), str(image / "zebras_part" / scene))  # unpacked one level deeper
    other = next(iter(SCENES["val"]))
    for jpg in (image / other).glob("*.jpg"):
        jpg.rename(jpg.with_name(f"{int(jpg.stem):06d}.jpg"))  # 000001.jpg
    ds = vpbehavior.load(written.root)
    assert not ds.failures
    assert ds[scene].video == image / "zebras_part" / scene and ds[other].video == image / other


def test_kabr_csv_in_a_video_folder_is_not_kabr_or_boris(tmp_path):
    from vpbehavior.io.label_formats import sniff_label_kind
    from vpbehavior.io.video import write_video

    write_video(tmp_path / "zebra.mp4", (np.zeros((16, 16, 3), np.uint8) for _ in range(4)), fps=10, codec="mp4v")
    csv_path = tmp_path / "zebra.csv"
    csv_path.write_text(HEADER + "\nZG0001.1 1 1 ZG0001.1/1.jpg 0\n")
    assert sniff_label_kind(csv_path) is None
    assert detect_format(csv_path) == "kabr" and detect_format(tmp_path) == "folder"
    ds = vpbehavior.load(tmp_path)
    assert ds.format == "folder" and ds[0].labels is None and not ds.failures


def test_inspect_root_annotation_and_file_agree(tmp_path, capsys):
    from vpbehavior.cli import main

    written = write_kabr(tmp_path, SCENES, images=False)
    expected_counts = _expected_counts(written)
    for target, scenes in (
        (written.root, SCENES),
        (written.root / "annotation", SCENES),
        (written.root / "annotation" / "val.csv", {"val": SCENES["val"]}),
    ):
        assert main(["inspect", str(target), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["format"] == "kabr"
        assert summary["recordings"] == sum(len(v) for v in scenes.values())
        assert summary["frames"] == sum(len(x) for v in scenes.values() for x in v.values())
        if scenes is SCENES:
            assert summary["label_counts"] == expected_counts


def test_behavior_names_keep_kabr_spelling_and_old2new_matches_loosely(tmp_path):
    written = write_kabr(tmp_path, {"val": {"ZG0001.1": [3, 3, 0]}}, images=False)
    with pytest.warns(DataWarning):
        ds = vpbehavior.load(written.root)
    assert "Head Up" in ds.classes and ds[0].labels.label_counts()["Head Up"] == 2
    path = tmp_path / "0.xml"
    path.write_text(
        "<annotations><track id='0' label='Zebra'><points frame='0' outside='0' points='1,1'>"
        "<attribute name='Behavior'> head  up </attribute></points></track></annotations>"
    )
    assert kabr.read_cvat_actions(path, {"Head Up": "Head Up"}) == {0: "Head Up"}


def test_folder_without_frame_lists_is_a_format_error(tmp_path):
    (tmp_path / "annotation").mkdir()
    with pytest.raises(FormatError, match="no KABR frame list"):
        kabr.load_kabr(tmp_path)
