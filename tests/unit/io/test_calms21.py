"""CalMS21 loader tests on SYNTHETIC files written by vpbehavior.testing (real layout)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import vpbehavior
from vpbehavior.core import DataError
from vpbehavior.io import calms21
from vpbehavior.io.registry import detect_format
from vpbehavior.io.video import open_video
from vpbehavior.testing.calms21 import (
    TASK1_VOCAB,
    make_sequence,
    sequence_to_json,
    write_calms21_dataset,
    write_json,
    write_task_file,
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("calms21")
    return write_calms21_dataset(root, seed=3, videos=False)


@pytest.fixture(scope="module")
def loaded(written):
    return vpbehavior.load(written.root)


def test_summary_agrees_with_writer(written, loaded):
    summary = loaded.summary()
    assert summary["format"] == "calms21"
    assert summary["failures"] == []
    assert summary["recordings"] == len(written.sequences)
    assert summary["frames"] == sum(s.n_frames for s in written.sequences)
    assert set(summary["classes"]) == set(written.class_counts())
    assert summary["label_counts"] == written.class_counts()
    expected_splits: dict[str, int] = {}
    for seq in written.sequences:
        expected_splits[seq.split] = expected_splits.get(seq.split, 0) + 1
    assert summary["splits"] == expected_splits


def test_sequences_match_writer(written, loaded):
    for seq in written.sequences:
        rec = loaded[seq.seq_id]
        assert rec.n_frames == seq.n_frames
        assert rec.split == seq.split
        pose = rec.pose
        assert pose.subjects == ("resident", "intruder")
        assert pose.keypoint_names == calms21.BODYPARTS
        # keypoints are [T][mouse][xy][part] on disk, [T, mouse, part, xy] in a Pose
        np.testing.assert_allclose(pose.points[:, 1, 6, 0], seq.keypoints[:, 1, 0, 6], rtol=1e-6)
        np.testing.assert_allclose(pose.points[:, 0, 0, 1], seq.keypoints[:, 0, 1, 0], rtol=1e-6)
        np.testing.assert_allclose(pose.scores, seq.scores, rtol=1e-6)
        if seq.annotations is None:
            assert rec.labels is None
            continue
        by_id = {i: name for name, i in seq.vocab.items()}
        assert rec.labels.classes == tuple(by_id[i] for i in range(len(by_id)))
        assert rec.labels.background == "other"
        ids, names = rec.labels.to_single_label()
        assert [names[i] for i in ids[:, 0]] == [by_id[int(a)] for a in seq.annotations]
        assert (ids[:, 1] == -1).all()  # the intruder is not annotated
        # the resident's behaviors are directed at the intruder; the background is undirected
        bouts = rec.labels.to_bouts()
        assert bouts and all(b.subject == "resident" for b in bouts)
        assert all(b.target == ("intruder" if b.behavior != "other" else None) for b in bouts)
        assert rec.presence.all()  # both mice have pose in every frame


def test_task3_vocab_order_is_read_from_file(written, loaded):
    task3 = [r for r in loaded if r.metadata["task"] == "task3"]
    assert task3 and all(r.labels.classes == ("other", "approach") for r in task3)
    task2 = {r.metadata["group"] for r in loaded if r.metadata["task"] == "task2"}
    assert task2 == {"annotator-id_0", "annotator-id_1"}


def test_auto_detect_root_task_folder_and_file(written):
    task1 = written.root / "task1_classic_classification"
    file = task1 / "calms21_task1_test.json"
    for path, n in [(written.root, len(written.sequences)), (task1, 5), (file, 2)]:
        assert detect_format(path) == "calms21"
        ds = vpbehavior.load(path)
        assert len(ds) == n and not ds.failures
    assert vpbehavior.load(file).split("test") and not vpbehavior.load(file).split("train")


def test_test_split_and_provenance_only_metadata(written, loaded):
    assert loaded.test_split == "test"
    task1 = written.root / "task1_classic_classification"
    assert vpbehavior.load(task1 / "calms21_task1_train.json").test_split is None  # no test sequences loaded
    for rec in loaded:
        assert set(rec.metadata) <= {"group", "seq_id", "annotator_id", "source", "task"}
    assert dict(loaded.metadata) == {}


def test_background_option_matches_case_and_spacing(tmp_path):
    rng = np.random.default_rng(8)
    path = tmp_path / "calms21_task1_train.json"
    write_task_file(path, 1, "train", [1], 20, rng, vocab={"Attack": 0, "Other ": 1})
    rec = calms21.load_calms21(path, cache=False, background=" other")[0]
    assert rec.labels.classes == ("Attack", "Other") and rec.labels.background == "Other"  # spelling kept
    write_task_file(path, 1, "train", [1], 20, rng, vocab={"attack": 0, "Attack": 1})
    ds = calms21.load_calms21(path, cache=False)
    assert not ds.recordings and "differ only in case or spacing" in ds.failures[0].error


def test_not_calms21_json_is_not_claimed(tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"images": [], "annotations": []}))
    assert calms21.detect_calms21(other) == 0.0
    assert calms21.detect_calms21(tmp_path) == 0.0


def test_cache_is_used_and_invalidated(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    path = tmp_path / "calms21_task1_train.json"
    write_task_file(path, 1, "train", [1, 2], [40, 50], rng)
    first = vpbehavior.load(path)
    cache_file = path.with_name(path.name + calms21.CACHE_SUFFIX)
    assert cache_file.is_file()
    assert not list(tmp_path.glob("*.tmp"))  # written atomically

    def no_parse(*args, **kwargs):
        raise AssertionError("the JSON was parsed although a valid cache exists")

    with monkeypatch.context() as m:
        m.setattr(calms21, "_Scanner", no_parse)
        second = vpbehavior.load(path)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.pose.points, b.pose.points)
        assert a.labels == b.labels
    # a changed file (size / mtime) invalidates the cache
    write_task_file(path, 1, "train", [1, 2, 3], [30, 31, 32], rng)
    third = vpbehavior.load(path)
    assert [r.n_frames for r in third] == [30, 31, 32]


def test_read_only_folder_falls_back_to_user_cache(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    path = folder / "calms21_task1_test.json"
    write_task_file(path, 1, "test", [9], 20, np.random.default_rng(1))
    monkeypatch.setenv(calms21.CACHE_ENV, str(tmp_path / "usercache"))
    os.chmod(folder, 0o555)
    try:
        ds = calms21.load_calms21(path)
    finally:
        os.chmod(folder, 0o755)
    assert len(ds) == 1 and not ds.failures
    if os.geteuid() != 0:  # root can write anywhere
        assert list((tmp_path / "usercache" / "calms21").glob("*.npz"))


def test_scanner_handles_chunk_boundaries_and_strings(tmp_path, monkeypatch):
    """Brackets, quotes and backslashes inside keys must not confuse the streaming scan."""
    rng = np.random.default_rng(2)
    vocab = {"a[t]tack": 0, 'say "hi" {': 1, "back\\slash": 2, "other": 3}
    groups = {
        "annotator-id_0": {
            f'task1/train/mouse{i:03d}_"q"[{i}]\\': sequence_to_json(make_sequence(12 + i, vocab, rng), 0, vocab)
            for i in range(3)
        }
    }
    path = write_json(tmp_path / "calms21_task1_train.json", groups)
    expected = json.loads(path.read_text())
    monkeypatch.setattr(calms21, "_CHUNK", 7)  # every structural token straddles chunk ends
    seqs, failures = calms21.read_calms21_file(path, cache=False)
    assert failures == []
    assert [s.seq_id for s in seqs] == list(expected["annotator-id_0"])
    for seq in seqs:
        raw = expected["annotator-id_0"][seq.seq_id]
        np.testing.assert_allclose(seq.points.transpose(0, 1, 3, 2), raw["keypoints"], rtol=1e-6)
        assert seq.classes == tuple(vocab)


def test_truncated_json_reports_file_and_keeps_complete_sequences(written, tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "task1_classic_classification" / "calms21_task1_train.json"
    write_task_file(path, 1, "train", [1, 2, 3], 30, rng)
    good = tmp_path / "task1_classic_classification" / "calms21_task1_test.json"
    write_task_file(good, 1, "test", [4], 30, rng)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    ds = vpbehavior.load(tmp_path)
    assert len(ds.failures) == 1
    failure = ds.failures[0]
    assert failure.path == path and "truncated" in failure.error and str(path) in failure.error
    assert "mouse003" in failure.error  # the sequence being read when the file ended
    names = {r.name for r in ds}
    assert "task1/test/mouse004_task1_annotator1" in names
    assert {"task1/train/mouse001_task1_annotator1", "task1/train/mouse002_task1_annotator1"} <= names
    assert not path.with_name(path.name + calms21.CACHE_SUFFIX).exists()  # no cache of a damaged file


@pytest.mark.parametrize("content", [b"", b"[1, 2, 3]", b'{"annotator-id_0": {"s": 5}}'])
def test_malformed_files_name_the_problem(tmp_path, content):
    path = tmp_path / "calms21_task1_train.json"
    path.write_bytes(content)
    ds = vpbehavior.load(path)
    assert len(ds) == 0 and len(ds.failures) == 1
    assert str(path) in ds.failures[0].error


def test_annotation_length_mismatch_fails_that_sequence_only(tmp_path):
    rng = np.random.default_rng(5)
    vocab = dict(TASK1_VOCAB)
    seqs = {
        f"task1/train/mouse{i:03d}_task1_annotator1": sequence_to_json(make_sequence(20, vocab, rng), 0, vocab)
        for i in (1, 2)
    }
    seqs["task1/train/mouse002_task1_annotator1"]["annotations"].pop()
    path = write_json(tmp_path / "calms21_task1_train.json", {"annotator-id_0": seqs})
    ds = vpbehavior.load(path)
    assert [r.name for r in ds] == ["task1/train/mouse001_task1_annotator1"]
    (failure,) = ds.failures
    assert failure.path == path
    assert (
        "mouse002" in failure.error
        and "'annotations'" in failure.error
        and "19" in failure.error
        and "20" in failure.error
    )


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda s: s["metadata"].update(vocab={"attack": 0, "other": 0}), "metadata.vocab"),
        (lambda s: s["metadata"].update(vocab={"attack": 0, "other": -2}), "metadata.vocab"),
        (lambda s: s["annotations"].__setitem__(3, 7), "annotations"),
        (lambda s: s["keypoints"][2].pop(), "keypoints"),
        (lambda s: s.pop("metadata"), "metadata.vocab"),
    ],
)
def test_bad_fields_are_named(tmp_path, edit, field):
    rng = np.random.default_rng(6)
    seq = sequence_to_json(make_sequence(15, TASK1_VOCAB, rng), 0, TASK1_VOCAB)
    edit(seq)
    path = write_json(
        tmp_path / "calms21_task1_test.json", {"annotator-id_0": {"task1/test/mouse070_task1_annotator1": seq}}
    )
    with pytest.raises(DataError, match=f"'{field}'") as info:
        calms21.parse_sequence(path, "annotator-id_0", "task1/test/mouse070_task1_annotator1", seq)
    assert str(path) in str(info.value) and info.value.path == path and info.value.field == field
    ds = vpbehavior.load(path)
    assert len(ds) == 0 and field in ds.failures[0].error


def test_task1_videos_attached_missing_and_unreadable(tmp_path):
    written = write_calms21_dataset(tmp_path, seed=7, frames=20, videos=True, tasks=(1,), unlabeled_parts=0)
    ds = vpbehavior.load(tmp_path)
    assert not ds.failures
    for seq in written.sequences:
        rec = ds[seq.seq_id]
        assert rec.video == seq.video
        with open_video(rec.video, fps=rec.fps) as reader:
            assert len(reader) == seq.n_frames
    # one video replaced by garbage, one by a dangling link: those two recordings fail, the rest load
    broken, dangling = written.sequences[0], written.sequences[1]
    broken.video.write_bytes(b"this is not an mp4 file" * 10)
    dangling.video.unlink()
    dangling.video.symlink_to(tmp_path / "nowhere.mp4")
    ds = vpbehavior.load(tmp_path)
    assert len(ds) == len(written.sequences) - 2
    errors = {f.error for f in ds.failures}
    assert any(str(broken.video) in e and "unreadable" in e for e in errors)
    assert any(str(dangling.video) in e and "missing" in e for e in errors)
    # "require": a task-1 sequence without any video is a failure naming the sequence
    dangling.video.unlink()
    broken.video.unlink()
    ds = calms21.load_calms21(tmp_path, videos="require")
    assert len(ds.failures) == 2 and all("no video found" in f.error for f in ds.failures)
    assert len(calms21.load_calms21(tmp_path, videos="skip")) == len(written.sequences)


# ----------------------------------------------------------------------------- adversarial layouts
def _inspect_json(path, capsys) -> dict:
    from vpbehavior.cli import main

    assert main(["inspect", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_task3_groups_by_behavior_sparse_vocab_and_unscored_unlabeled(tmp_path, capsys):
    """Group keys that are not ``annotator-id_k`` (task 3's spelling is unverified), vocab ids
    that are not 0..C-1, unlabeled sequences without scores: all read from the data."""
    rng = np.random.default_rng(11)
    folder = tmp_path / "task3_new_behaviors"
    expected: dict[str, int] = {}
    groups: dict[str, dict] = {}
    for k, (behavior, vocab) in enumerate(
        [("approach", {"other": 0, "approach": 1}), ("groom", {"other": 3, "groom": 7})]
    ):
        seq = sequence_to_json(make_sequence(20 + 5 * k, vocab, rng), 0, vocab)
        groups[behavior] = {f"task3/train/mouse{k + 1:03d}_task3_annotator1": seq}
        for name, ident in vocab.items():
            expected[name] = expected.get(name, 0) + seq["annotations"].count(ident)
    path = folder / "calms21_task3_train.json"
    folder.mkdir()
    path.write_text(json.dumps(groups, indent=2))  # pretty-printed, unlike the release
    unl = {k: v for k, v in sequence_to_json(make_sequence(9, None, rng), None, None).items() if k != "scores"}
    write_json(
        tmp_path / "unlabeled_videos" / "calms21_unlabeled_videos_part1.json",
        {"unlabeled_videos": {"unlabeled_videos/part1/mouse001": unl}},
    )
    assert detect_format(folder) == detect_format(path) == detect_format(tmp_path) == "calms21"
    assert calms21.detect_calms21(path) >= 0.85  # recognized by content, not only by name
    for target in (tmp_path, folder, path):
        summary = _inspect_json(target, capsys)
        assert summary["format"] == "calms21" and not summary["failures"]
        assert summary["label_counts"] == expected
        n_seq = 3 if target == tmp_path else 2
        assert summary["recordings"] == n_seq and summary["frames"] == 20 + 25 + (9 if n_seq == 3 else 0)
    ds = vpbehavior.load(tmp_path, cache=False)
    groom = ds["task3/train/mouse002_task3_annotator1"]
    assert groom.classes == ("other", "groom") and groom.labels.background == "other"
    unlabeled = ds["unlabeled_videos/part1/mouse001"]
    assert unlabeled.labels is None and unlabeled.pose.scores is None and unlabeled.split == "unlabeled"


def test_damaged_sequences_fail_alone(tmp_path):
    rng = np.random.default_rng(12)
    vocab = {"attack": 0, "other": 1}
    good = sequence_to_json(make_sequence(12, vocab, rng), 0, vocab)
    short = sequence_to_json(make_sequence(12, vocab, rng), 0, vocab)
    short["annotations"] = short["annotations"][:-1]
    swapped = sequence_to_json(make_sequence(12, vocab, rng), 0, vocab)
    swapped["keypoints"] = np.asarray(swapped["keypoints"]).transpose(0, 1, 3, 2).tolist()  # [T][mouse][part][xy]
    path = write_json(
        tmp_path / "calms21_task1_train.json", {"annotator-id_0": {"good": good, "short": short, "swapped": swapped}}
    )
    ds = vpbehavior.load(path, cache=False)
    assert [r.name for r in ds] == ["good"]
    errors = sorted(f.error for f in ds.failures)
    assert "'short'" in errors[0] and "'annotations'" in errors[0] and str(path) in errors[0]
    assert "'swapped'" in errors[1] and "'keypoints'" in errors[1] and "[T][2][2][7]" in errors[1]
