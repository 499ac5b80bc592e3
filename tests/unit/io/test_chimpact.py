"""ChimpACT loader on writer-made (SYNTHETIC) files with the spec's exact layout and quirks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vpbehavior
from vpbehavior.io import chimpact
from vpbehavior.io.registry import detect_format
from vpbehavior.reporting import DataWarning
from vpbehavior.testing.chimpact import BEHAVIORS, KEYPOINTS, random_clip, write_processed_action_csv, write_release

TRAIN = "Azibo_ObsChimp_2099_01_01_a_clip_0_45"  # not in the official lists -> train
VAL = "Azibo_ObsChimp_2017_11_10_clip_7000_8000"  # official val
TEST = "Azibo_ObsChimp_2018_07_06_d_clip_0_696"  # official test (indoor)


@pytest.fixture
def release(tmp_path):
    clips = {
        TRAIN: random_clip(45, seed=1, skip_blocks=(2,)),
        VAL: random_clip(60, identities=(3, 23), seed=2),
        TEST: random_clip(30, identities=(22,), seed=3),
    }
    n_frames = {TRAIN: 45, VAL: 1000, TEST: 696}
    return write_release(tmp_path, clips, n_frames, videos={TRAIN})


def _expected_counts(written):
    counts = dict.fromkeys(BEHAVIORS, 0)
    for clip in written.values():
        for boxes in clip.keyframes.values():
            for b in boxes:
                for x in b.behaviors:
                    counts[BEHAVIORS[x]] += 1
    return counts


def test_release_loads_with_quirks(release, tmp_path):
    root = tmp_path / "ChimpACT_release"
    for target in (root, root / "labels", release[TRAIN].json_path):
        assert detect_format(target) == "chimpact"
    ds = vpbehavior.load(root)
    assert not ds.failures and ds.format == "chimpact"
    s = ds.summary()
    assert s["splits"] == {"train": 1, "val": 1, "test": 1}
    assert s["classes"] == list(BEHAVIORS)  # from action_list.txt (1-based ids)
    assert s["label_counts"] == _expected_counts(release)
    rec = ds[TRAIN]
    assert rec.n_frames == 45 and rec.video == release[TRAIN].video and rec.fps == pytest.approx(25)
    assert ds[VAL].n_frames == 1000 and chimpact.test_subset(TEST) == "indoor" and chimpact.test_subset(VAL) is None
    assert ds.test_split == "test" and set(rec.metadata) == {"source", "clip"}
    assert rec.subjects == ("Azibo", "Fraukje", "unknown", "unknown_2")
    for k, boxes in release[TRAIN].keyframes.items():
        f = 10 * k  # block index k -> frame 10k
        for j, b in enumerate(boxes):
            x, y, w, h = b.xywh
            assert np.allclose(rec.boxes[f, j], [x, y, x + w, y + h])
            assert sorted(np.flatnonzero(rec.labels.positive[f, j])) == b.behaviors
            assert (rec.labels.values[f, j] >= 0).all()
            kp = rec.pose.points[f, j]
            if len(b.keypoints) == 48:
                arr = np.asarray(b.keypoints).reshape(16, 3)
                vis = arr[:, 2] > 0
                assert np.allclose(kp[vis], arr[vis, :2]) and np.isnan(kp[~vis]).all()
            else:
                assert np.isnan(kp).all()
    assert rec.pose.keypoint_names == KEYPOINTS
    keyframes = {10 * k for k in release[TRAIN].keyframes}
    other = [f for f in range(45) if f not in keyframes]
    assert (rec.labels.values[other] == -1).all() and np.isnan(rec.boxes[other]).all()
    assert (rec.labels.values[20] == -1).all()  # block 2 is missing
    # a chimp is present where it has a box, with or without keypoints
    np.testing.assert_array_equal(rec.presence, np.isfinite(rec.boxes).all(-1))
    assert not rec.presence[other].any() and rec.presence[0, 0]


def test_propagate_rule(release, tmp_path):
    rec = vpbehavior.load(tmp_path / "ChimpACT_release" / "labels", propagate=True)[TRAIN]
    kf = release[TRAIN].keyframes
    b0, b1 = kf[0][0], kf[1][0]  # Azibo in blocks 0 and 1: matched

    def box(b):
        return np.array([b.xywh[0], b.xywh[1], b.xywh[0] + b.xywh[2], b.xywh[1] + b.xywh[3]])

    assert np.allclose(rec.boxes[3, 0], 0.7 * box(b0) + 0.3 * box(b1), atol=1e-4)
    assert sorted(np.flatnonzero(rec.labels.positive[5, 0])) == b0.behaviors  # offset 5: current
    assert sorted(np.flatnonzero(rec.labels.positive[6, 0])) == b1.behaviors  # offset 6: next
    # block 1 -> block 2 missing: held for 9 frames with block 1's box and labels, then nothing
    assert np.allclose(rec.boxes[19, 0], box(b1))
    assert sorted(np.flatnonzero(rec.labels.positive[19, 0])) == b1.behaviors
    assert (rec.labels.values[20] == -1).all()
    # unknown boxes are never matched: held
    u0 = kf[0][2]
    assert np.allclose(rec.boxes[8, 2], box(u0))
    assert rec.presence[19, 0] and not rec.presence[20].any()  # presence follows the propagated boxes


def test_split_filter_and_fallback_vocabulary(release, tmp_path):
    root = tmp_path / "ChimpACT_release"
    (root / "action_list.txt").unlink()
    with pytest.warns(DataWarning, match="no action_list.txt"):
        ds = chimpact.load_chimpact(root, splits=("val",))
    assert [r.name for r in ds] == [VAL] and ds.test_split is None
    assert ds.classes == chimpact.FALLBACK_BEHAVIORS and "built-in" in ds.metadata["vocabulary_source"]


def test_action_list_ids_are_one_based(tmp_path):
    path = tmp_path / "action_list.txt"
    path.write_text('item {\n  name: "b"\n  label_id: 2\n}\nitem {\n  name: "a"\n  label_id: 1\n}\n')
    assert chimpact.read_action_list(path) == ("a", "b")
    path.write_text('item {\n  name: "a"\n  label_id: 0\n}\n')
    with pytest.raises(ValueError, match="1..1"):
        chimpact.read_action_list(path)


def test_bad_inputs_are_failures(release, tmp_path):
    root = tmp_path / "ChimpACT_release"
    labels = root / "labels"
    text = release[VAL].json_path.read_text()
    release[VAL].json_path.write_text(text[: len(text) // 2])  # truncated JSON
    bad_image = labels / "Azibo_ObsChimp_2099_02_02_clip_0_20.json"
    bad_image.write_text(release[TEST].json_path.read_text().replace('"image_id": 0', '"image_id": 99', 1))
    no_bbox = labels / "Azibo_ObsChimp_2099_03_03_clip_0_20.json"
    no_bbox.write_text(release[TEST].json_path.read_text().replace('"bbox": ', '"box": ', 1))
    (root / "videos_full" / f"{TEST}.mp4").write_bytes(b"not a video at all")  # unreadable video
    ds = vpbehavior.load(root)
    errors = {Path(f.path).stem: f.error for f in ds.failures}
    assert set(errors) == {VAL, bad_image.stem, no_bbox.stem, TEST}
    assert "truncated JSON" in errors[VAL] and f"{VAL}.json" in errors[VAL]
    assert "image_id 99" in errors[bad_image.stem]
    assert "'bbox'" in errors[no_bbox.stem]
    assert f"{TEST}.mp4" in errors[TEST]
    assert [r.name for r in ds] == [TRAIN]


def test_keyframe_beyond_video_is_an_error(release, tmp_path):
    path = release[TRAIN].json_path
    path.write_text(path.read_text().replace('"000004.jpg"', '"000009.jpg"'))
    ds = vpbehavior.load(path)
    assert not ds.recordings and "frame 90" in ds.failures[0].error


def test_ava_action_csv(tmp_path):
    size = (64, 48)
    clip = "Azibo_ObsChimp_2099_04_04_clip_0_12"
    per_frame = {
        0: [(0, (0.1, 0.2, 0.5, 0.6), [0, 5]), (23, (0.0, 0.0, 0.2, 0.2), [2]), (23, (0.5, 0.5, 0.9, 0.9), [22])],
        1: [(0, (0.15, 0.2, 0.55, 0.6), [0])],
        5: [(7, (0.3, 0.3, 0.4, 0.4), [19])],
    }
    path = write_processed_action_csv(tmp_path, "val", {clip: per_frame}, {clip: 12}, size=size)
    root = path.parents[2]
    assert detect_format(root) == "chimpact" and detect_format(path) == "chimpact"
    ds = vpbehavior.load(root)
    assert not ds.failures
    rec = ds[clip]
    assert rec.split == "val" and rec.n_frames == 12 and rec.video == root / "val" / "images" / clip
    assert rec.subjects == ("Azibo", "Kara", "unknown", "unknown_2")
    scale = np.array([size[0], size[1], size[0], size[1]])
    assert np.allclose(rec.boxes[0, 0], np.array([0.1, 0.2, 0.5, 0.6]) * scale, atol=0.1)
    assert sorted(np.flatnonzero(rec.labels.positive[0, 0])) == [0, 5]  # action_id - 1
    assert rec.labels.positive[0, 3, 22] and rec.labels.positive[5, 1, 19]
    assert (rec.labels.values[2] == -1).all()
    n_rows = sum(len(b) for items in per_frame.values() for _, _, b in items)
    assert sum(ds.summary()["label_counts"].values()) == n_rows


def test_ava_csv_missing_column(tmp_path):
    clip = "Azibo_ObsChimp_2099_04_04_clip_0_5"
    path = write_processed_action_csv(
        tmp_path, "train", {clip: {0: [(0, (0.1, 0.1, 0.2, 0.2), [1])]}}, {clip: 5}, frames=False
    )
    path.write_text("\n".join(",".join(line.split(",")[:7]) for line in path.read_text().splitlines()) + "\n")
    with pytest.raises(ValueError, match=r"train_action\.csv: line 1: expected 8 fields"):
        vpbehavior.load(path)


# ----------------------------------------------------------------------------- adversarial inputs
@pytest.mark.parametrize(
    "field, edit",
    [
        ("behaviors", lambda o: o["annotations"][0].__setitem__("behaviors", 3)),
        ("bbox_id", lambda o: o["annotations"][0].__setitem__("bbox_id", None)),
        ("bbox", lambda o: o["annotations"][0].__setitem__("bbox", ["a", 1, 2, 3])),
        ("annotations[0]", lambda o: o["annotations"].__setitem__(0, [1, 2])),
        ("images[0]", lambda o: o["images"].__setitem__(0, "000000.jpg")),
        ("image_id", lambda o: o["annotations"][0].__setitem__("image_id", 999)),
    ],
)
def test_damaged_clip_fields_are_named_failures(tmp_path, field, edit):
    import json

    clips = {
        "Azibo_ObsChimp_2016_01_01_clip_0_40": random_clip(40, seed=3),
        "Azibo_ObsChimp_2016_01_02_clip_0_40": random_clip(40, seed=4),
    }
    written = write_release(tmp_path, clips, dict.fromkeys(clips, 40), videos=False)
    bad = written["Azibo_ObsChimp_2016_01_02_clip_0_40"].json_path
    obj = json.loads(bad.read_text())
    edit(obj)
    bad.write_text(json.dumps(obj))
    ds = vpbehavior.load(tmp_path / "ChimpACT_release")
    assert [r.name for r in ds] == ["Azibo_ObsChimp_2016_01_01_clip_0_40"]
    assert len(ds.failures) == 1 and Path(ds.failures[0].path) == bad
    assert str(bad) in ds.failures[0].error and field in ds.failures[0].error


def test_inspect_counts_and_no_claim_on_video_folders(tmp_path, capsys):
    import json

    from vpbehavior.cli import main
    from vpbehavior.io.video import write_video

    clips = {
        "Azibo_ObsChimp_2016_01_01_clip_0_40": random_clip(40, seed=5),
        "Azibo_ObsChimp_2015_11_26_a_clip_0_1000": random_clip(30, seed=6),
    }
    written = write_release(tmp_path, clips, {k: 40 if "2016" in k else 30 for k in clips}, videos=False)
    expected = dict.fromkeys(BEHAVIORS, 0)
    for clip in written.values():
        for boxes in clip.keyframes.values():
            for b in boxes:
                for beh in b.behaviors:
                    expected[BEHAVIORS[beh]] += 1
    root = tmp_path / "ChimpACT_release"
    for target, n in ((root, 2), (root / "labels", 2), (written["Azibo_ObsChimp_2016_01_01_clip_0_40"].json_path, 1)):
        assert main(["inspect", str(target), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["format"] == "chimpact" and summary["recordings"] == n
        if n == 2:
            assert summary["label_counts"] == expected and summary["frames"] == 40 + 1000
            assert summary["splits"] == {"train": 1, "test": 1}
    # an experiment folder: videos with COCO-like .json next to them is not ChimpACT
    exp = tmp_path / "exp"
    exp.mkdir()
    write_video(exp / "mouse1.mp4", (np.zeros((16, 16, 3), np.uint8) for _ in range(4)), fps=10, codec="mp4v")
    (exp / "mouse1.json").write_text(
        json.dumps(
            {
                "images": [{"id": 0, "file_name": "0.jpg"}],
                "annotations": [{"image_id": 0, "bbox": [0, 0, 1, 1], "bbox_id": 1}],
            }
        )
    )
    assert chimpact.detect_chimpact(exp) == 0.0 and detect_format(exp) == "folder"


def test_ava_csv_with_header_line(tmp_path):
    per_frame = {0: [(0, (0.1, 0.2, 0.5, 0.6), [0, 4])], 3: [(23, (0.0, 0.0, 0.25, 0.5), [22])]}
    path = write_processed_action_csv(
        tmp_path,
        "val",
        {"Azibo_ObsChimp_2018_07_11_c_clip_0_1000": per_frame},
        {"Azibo_ObsChimp_2018_07_11_c_clip_0_1000": 5},
    )
    path.write_text("video,frame,x1,y1,x2,y2,action_id,entity_id\n" + path.read_text())
    ds = vpbehavior.load(path)
    rec = ds[0]
    assert not ds.failures and rec.split == "val" and rec.subjects == ("Azibo", "unknown")
    assert rec.labels.label_counts()[BEHAVIORS[22]] == 1 and rec.labels.label_counts()[BEHAVIORS[4]] == 1
    np.testing.assert_allclose(rec.boxes[3, 1], [0, 0, 0.25 * 64, 0.5 * 48], atol=1e-4)


def test_ava_csv_without_frames_keeps_presence_not_normalized_boxes(tmp_path):
    clip = "Azibo_ObsChimp_2099_05_05_clip_0_6"
    per_frame = {0: [(0, (0.1, 0.2, 0.5, 0.6), [1])], 4: [(0, (0.2, 0.2, 0.6, 0.6), [2])]}
    path = write_processed_action_csv(tmp_path, "test", {clip: per_frame}, {clip: 6}, frames=False)
    with pytest.warns(DataWarning, match="normalized boxes"):
        ds = chimpact.load_ava_csv(path)
    rec = ds[clip]
    assert rec.boxes is None and rec.presence[:, 0].tolist() == [True, False, False, False, True]
    assert ds.test_split == "test" and rec.split == "test"
