"""Fly vs. Fly loader tests on SYNTHETIC .mat files written by vpbehavior.testing
(MATLAB v5 via scipy and v7.3 via h5py in MATLAB's layout), plus FlyTracker's real
action_list.txt from ../shared as the behavior vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vpbehavior
from vpbehavior.core import BehaviorLabels, Bout, DataError, FormatError, match_name
from vpbehavior.io import flyvsfly
from vpbehavior.io._matfile import MatFileError, mat_version, read_mat
from vpbehavior.io.registry import detect_format
from vpbehavior.reporting import DataWarning
from vpbehavior.testing.flyvsfly import (
    BEHAVIORS,
    TRACK_FIELDS,
    cell,
    write_flyvsfly_dataset,
    write_mat,
    write_movie,
)


def _clean(name: str) -> str:
    return " ".join(name.split())


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return write_flyvsfly_dataset(tmp_path_factory.mktemp("flyvsfly"), seed=1, videos=False)


@pytest.fixture(scope="module")
def loaded(written):
    return vpbehavior.load(written.root)


def _expected_positive(movie, classes: tuple[str, ...]) -> np.ndarray:
    out = np.zeros((movie.n_frames, 2, len(classes)), bool)
    for fly, beh, start, end in movie.bouts:  # 1-based inclusive
        out[start - 1 : end, fly, classes.index(match_name(beh, classes))] = True
    return out


def test_summary_agrees_with_writer(written, loaded):
    summary = loaded.summary()
    assert summary["format"] == "flyvsfly" and summary["failures"] == []
    assert summary["recordings"] == len(written.movies)
    assert summary["frames"] == sum(m.n_frames for m in written.movies)
    assert summary["subjects"] == ["fly1", "fly2"]
    expected: dict[str, int] = {}
    for movie in written.movies:
        for beh, n in movie.frame_counts().items():
            expected[_clean(beh)] = expected.get(_clean(beh), 0) + n
    # the dataset's spelling ("Lunge", "wing threat "), only surrounding whitespace removed
    assert summary["classes"] == ["Lunge", "wing threat", "tussle", "wing extension", "circle", "copulation"]
    assert summary["label_counts"] == expected
    assert loaded.test_split is None  # no split in the paths


def test_bouts_become_zero_based_half_open_frame_labels(written, loaded):
    assert {r.metadata["mat_version"] for r in loaded} == {"5", "7.3"}
    for movie in written.movies:
        rec = loaded[f"{movie.folder.relative_to(written.root).as_posix()}"]
        assert rec.n_frames == movie.n_frames
        np.testing.assert_array_equal(rec.labels.positive, _expected_positive(movie, rec.labels.classes))
        assert (rec.labels.values >= 0).all()  # every listed behavior is annotated everywhere
        got = sorted((b.start, b.stop, b.subject, b.behavior) for b in rec.labels.to_bouts())
        # 1-based inclusive -> 0-based stop-exclusive; touching bouts of one fly merge into one run
        expected = BehaviorLabels.from_bouts(
            [Bout(s - 1, e, f"fly{f + 1}", _clean(b)) for f, b, s, e in movie.bouts],
            movie.n_frames,
            rec.labels.classes,
            rec.subjects,
        ).to_bouts()
        assert got == sorted((b.start, b.stop, b.subject, b.behavior) for b in expected)
        assert "wing threat" in rec.labels.classes  # the file's "wing threat " without the trailing space


def test_tracking_failures_stay_nan(written, loaded):
    for movie in written.movies:
        rec = loaded[movie.folder.relative_to(written.root).as_posix()]
        lost = ~np.isfinite(movie.track).all(axis=2).T  # [T, S]
        assert lost.any()
        np.testing.assert_array_equal(~rec.presence, lost)  # untracked frames: the fly is not present
        assert np.isnan(rec.pose.points[lost]).all() and np.isfinite(rec.pose.points[~lost]).all()
        np.testing.assert_allclose(
            rec.pose.points[:, :, 0, 0], movie.track[:, :, TRACK_FIELDS.index("pos x")].T, rtol=1e-6
        )
        # the full arrays come from the readers, not from the recording's metadata
        assert set(rec.metadata) == {"source", "mat_version", "context"}
        track = flyvsfly.read_track(rec.metadata["source"]["track"])
        np.testing.assert_allclose(track["data"], movie.track.transpose(1, 0, 2))
        assert track["names"] == list(TRACK_FIELDS)
        feat = flyvsfly.read_features(rec.metadata["source"]["feat"])
        assert feat["data"].shape == (movie.n_frames, 2, movie.feat.shape[2])


def test_presence_of_untracked_frames_even_when_a_keypoint_is_located(tmp_path):
    """Presence is the tracker's own validity (every track field finite), not "some keypoint located"."""
    data = np.random.default_rng(0).normal(100, 5, size=(2, 30, len(TRACK_FIELDS)))
    data[0, 10:14, TRACK_FIELDS.index("ori")] = np.nan  # position known, orientation lost
    data[1, 20:, :] = np.nan  # fly 2 lost for good
    write_mat(tmp_path / "m_track.mat", {"trk": {"names": cell(list(TRACK_FIELDS)), "data": data}})
    rec = vpbehavior.load(tmp_path, format="flyvsfly", videos="skip")[0]
    expected = np.ones((30, 2), bool)
    expected[10:14, 0] = False
    expected[20:, 1] = False
    np.testing.assert_array_equal(rec.presence, expected)
    assert rec.pose.visible()[10:14, 0].all()  # derived presence would have said "present"
    assert rec.summary()["present_frames"] == {"fly1": 26, "fly2": 20}


def test_v5_and_v73_read_the_same(tmp_path):
    variables = {
        "trk": {
            "flagframes": np.array([[1.0, 2, 3, 4, 1]]),
            "names": cell(["pos x", "pos y"]),
            "data": np.arange(24.0).reshape(2, 3, 4),
        },
        "behs": cell(["Lunge", "wing threat "]),
        "bouts": cell(
            [np.zeros((0, 0)), np.array([[1.0, 3, 1]]), np.array([[2.0, 4, 1], [6, 8, 0]]), np.zeros((0, 0))], (2, 2)
        ),
    }
    v5 = read_mat(write_mat(tmp_path / "a.mat", variables, "5"))
    v73 = read_mat(write_mat(tmp_path / "b.mat", variables, "7.3"))
    assert mat_version(tmp_path / "a.mat") == "5" and mat_version(tmp_path / "b.mat") == "7.3"
    for got in (v5, v73):
        np.testing.assert_array_equal(got["trk"]["data"], variables["trk"]["data"])
        assert list(got["trk"]["names"].ravel()) == ["pos x", "pos y"]
        assert got["behs"].shape == (1, 2) and got["behs"][0, 1] == "wing threat "
        assert got["bouts"].shape == (2, 2) and got["bouts"][0, 0].size == 0
        np.testing.assert_array_equal(got["bouts"][1, 0], [[2, 4, 1], [6, 8, 0]])


def test_v73_file_has_matlab_layout(written):
    import h5py

    movie = next(m for m in written.movies if mat_version(m.folder / f"{m.prefix}_track.mat") == "7.3")
    path = movie.folder / f"{movie.prefix}_track.mat"
    assert path.read_bytes()[:10] == b"MATLAB 7.3" and path.read_bytes()[126:128] == b"IM"
    with h5py.File(path, "r") as fh:
        assert fh.userblock_size == 512
        trk = fh["trk"]
        assert trk.attrs["MATLAB_class"] == b"struct"
        assert trk["data"].shape == movie.track.shape[::-1]  # column-major: axes reversed
        assert trk["names"].dtype == h5py.ref_dtype and trk["names"].shape == (len(TRACK_FIELDS), 1)
        first = fh[trk["names"][0, 0]]
        assert first.dtype == np.uint16 and first.attrs["MATLAB_class"] == b"char"
        assert "".join(map(chr, first[:, 0])) == TRACK_FIELDS[0]


def test_real_action_list_as_vocabulary(shared_dir, written):
    action_list = shared_dir / "datasets" / "flyvsfly" / "action_list.txt"
    raw = action_list.read_bytes()
    assert raw.endswith(b"copulation ") and not raw.endswith(b"\n")  # the real quirks
    vocab = flyvsfly.read_action_list(action_list)
    lines = [line for line in raw.decode().splitlines() if line.strip()]
    assert len(vocab) == len(lines) and vocab[-1] == "copulation" and "wing threat" in vocab
    ds = flyvsfly.load_flyvsfly(written.root, vocabulary=action_list, videos="skip")
    assert not ds.failures and ds.classes == vocab
    for movie, rec in zip(written.movies, ds):
        assert rec.labels.classes == vocab
        in_file = [vocab.index(match_name(b, vocab)) for b in BEHAVIORS]  # "Lunge" is the list's "lunge"
        others = [j for j in range(len(vocab)) if j not in in_file]
        assert others and (rec.labels.values[:, :, others] == -1).all()  # not annotated in these files
        np.testing.assert_array_equal(rec.labels.positive, _expected_positive(movie, vocab))


def test_vocabulary_mismatch(written):
    vocab = ["Wing Threat ", "tussle", "wing  extension", "circle", "copulation"]  # no lunge
    ds = flyvsfly.load_flyvsfly(written.root, vocabulary=vocab, videos="skip")
    assert len(ds) == 0 and len(ds.failures) == len(written.movies)
    assert all("Lunge" in f.error and "vocabulary" in f.error for f in ds.failures)
    loose = flyvsfly.load_flyvsfly(written.root, vocabulary=vocab, strict=False, videos="skip")
    # "Wing Threat " matches the files' "wing threat ": the vocabulary's spelling wins
    assert loose.classes == ("Wing Threat", "tussle", "wing extension", "circle", "copulation", "Lunge")
    assert loose[0].labels.label_counts()["Wing Threat"] > 0


def test_auto_detect_at_every_level(written):
    movie = written.movies[1]
    track = movie.folder / f"{movie.prefix}_track.mat"
    for path, n in [(written.root, 4), (written.root / "Aggression", 2), (movie.folder, 1), (track, 1)]:
        assert detect_format(path) == "flyvsfly"
        ds = vpbehavior.load(path)
        assert len(ds) == n and not ds.failures
    assert flyvsfly.detect_flyvsfly(track.with_name("notes.mat")) == 0.0


def test_hyphenated_flytracker_names_and_splits(tmp_path):
    rng = np.random.default_rng(2)
    for split, n in [("train", 1), ("train", 2), ("test", 3)]:
        write_movie(tmp_path / split / f"vid{n}", f"vid{n}", 40, rng, "7.3", "flytracker", separator="-")
    ds = vpbehavior.load(tmp_path)
    assert sorted(r.split for r in ds) == ["test", "train", "train"] and ds.test_split == "test"
    override = flyvsfly.load_flyvsfly(tmp_path, splits={"vid1": "val"}, videos="skip")
    assert override["train/vid1"].split == "val"
    no_test = flyvsfly.load_flyvsfly(tmp_path, splits={"vid3": "val"}, videos="skip")
    assert no_test.test_split is None


def test_assign_video_splits_covers_every_behavior(written, loaded):
    splits = flyvsfly.assign_video_splits(loaded, fractions=(0.5, 0.25, 0.25), min_frames=10, seed=0)
    assert sorted(splits) == sorted(r.name for r in loaded) and set(splits.values()) == {"train", "val", "test"}
    for split in ("train", "val", "test"):
        recs = [loaded[name] for name, s in splits.items() if s == split]
        counts = {c: sum(r.labels.label_counts()[c] for r in recs) for c in loaded.classes}
        assert all(n > 0 for n in counts.values())


def _copy_dataset(written, dest: Path) -> Path:
    import shutil

    shutil.copytree(written.root, dest)
    return dest


@pytest.mark.parametrize("damage", ["garbage", "truncated_v5", "truncated_v73", "empty"])
def test_corrupt_mat_is_reported_and_the_rest_load(written, tmp_path, damage):
    root = _copy_dataset(written, tmp_path / "ds")
    versions = {
        m.prefix + m.folder.parent.name: mat_version(m.folder / f"{m.prefix}_track.mat") for m in written.movies
    }
    want = {"truncated_v5": "5", "truncated_v73": "7.3"}.get(damage, "5")
    movie = next(m for m in written.movies if versions[m.prefix + m.folder.parent.name] == want)
    target = root / movie.folder.relative_to(written.root) / f"{movie.prefix}_actions.mat"
    data = target.read_bytes()
    target.write_bytes({"garbage": b"\x00garbage" * 50, "empty": b""}.get(damage, data[: len(data) // 2]))
    with pytest.raises(MatFileError, match=str(target).replace(".", r"\.")):
        read_mat(target)
    ds = vpbehavior.load(root)
    assert len(ds) == len(written.movies) - 1
    (failure,) = ds.failures
    assert str(target) in failure.error


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_bout_end_before_start(tmp_path, version):
    rng = np.random.default_rng(3)
    movie = write_movie(tmp_path / "A" / "movie1", "movie1", 50, rng, version)
    write_movie(tmp_path / "A" / "movie2", "movie2", 50, rng, version)
    bouts = cell([np.zeros((0, 0))] * 4, (2, 2))
    bouts[1, 0] = np.array([[5.0, 9, 1], [20, 12, 1]])  # second bout ends before it starts
    path = write_mat(movie.folder / "movie1_actions.mat", {"behs": cell(["lunge", "tussle "]), "bouts": bouts}, version)
    ds = vpbehavior.load(tmp_path)
    assert [r.name for r in ds] == ["A/movie2"]
    (failure,) = ds.failures
    assert (
        str(path) in failure.error
        and "precedes" in failure.error
        and "row 2" in failure.error
        and "fly 2" in failure.error
    )
    with pytest.raises(DataError, match="end 12 precedes its start 20") as info:
        flyvsfly.read_actions(path, 50, ("fly1", "fly2"))
    assert info.value.path == path and info.value.field == "bouts"


def test_bouts_out_of_range_and_wrong_shape(tmp_path):
    rng = np.random.default_rng(4)
    movie = write_movie(tmp_path / "m", "m", 30, rng)
    path = movie.folder / "m_actions.mat"
    bouts = cell([np.array([[25.0, 31, 1]]), np.zeros((0, 0))], (2, 1))
    write_mat(path, {"behs": cell(["lunge"]), "bouts": bouts})
    with pytest.raises(ValueError, match="after the last frame"):
        flyvsfly.read_actions(path, 30, ("fly1", "fly2"))
    write_mat(path, {"behs": cell(["lunge", "hold"]), "bouts": bouts})
    with pytest.raises(ValueError, match="'bouts' is 2 x 1"):
        flyvsfly.read_actions(path, 30, ("fly1", "fly2"))


def test_movie_video_attached_unreadable_and_missing(tmp_path):
    written = write_flyvsfly_dataset(tmp_path / "ds", seed=5, n_frames=20, videos=True)
    ds = vpbehavior.load(written.root)
    assert not ds.failures
    for movie in written.movies:
        rec = ds[movie.folder.relative_to(written.root).as_posix()]
        assert rec.video == movie.video and rec.fps == pytest.approx(30.0)
    bad, gone = written.movies[0].video, written.movies[1].video
    bad.write_bytes(b"not a movie" * 20)
    gone.unlink()
    gone.symlink_to(tmp_path / "missing.avi")
    ds = vpbehavior.load(written.root)
    assert len(ds) == len(written.movies) - 2
    errors = sorted(f.error for f in ds.failures)
    assert any(str(bad) in e and "unreadable" in e for e in errors)
    assert any(str(gone) in e and "missing" in e for e in errors)


# ----------------------------------------------------------------------------- adversarial shapes
def _bare_movie(folder: Path, name: str, behs, bouts, version: str, n_frames: int = 40) -> None:
    data = np.random.default_rng(0).normal(size=(2, n_frames, len(TRACK_FIELDS)))
    write_mat(folder / f"{name}_track.mat", {"trk": {"names": cell(list(TRACK_FIELDS)), "data": data}}, version)
    write_mat(folder / f"{name}_actions.mat", {"behs": behs, "bouts": bouts}, version)


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_bout_vectors_columns_and_transposed_cells(tmp_path, version):
    """One bout as a vector / column, bouts as 2xN or 3xN columns, Nx2 rows without certainty,
    and the bouts cell saved as n_behaviors x n_flies all give the same 0-based half-open bouts."""
    bouts = cell(
        [
            np.array([3.0, 7, 1]),  # fly1 a: one bout, 1-D
            np.array([[3.0], [7], [1]]),  # fly1 b: one bout as a 3x1 column
            np.zeros((0, 0)),  # fly1 c: none
            np.array([[1.0, 2], [10, 12]]),  # fly2 a: Nx2 rows
            np.array([[1.0, 10, 20, 30], [4, 12, 25, 31], [1, 1, 1, 1]]),  # fly2 b: 3xN columns
            np.array([[5.0, 5, 1]]),
        ],
        (2, 3),
    )  # fly2 c: a one-frame bout
    _bare_movie(tmp_path / "m1", "m1", cell(["a", "b", "c"]), bouts, version)
    # the same bouts, cell stored transposed (behaviors x flies) and names as a column cell
    _bare_movie(tmp_path / "m2", "m2", cell(["a", "b", "c"], (3, 1)), bouts.T.copy(), version)
    ds = vpbehavior.load(tmp_path, format="flyvsfly", videos="skip")
    assert not ds.failures and len(ds) == 2
    expected = {
        (2, 7, "fly1", "a"),
        (2, 7, "fly1", "b"),
        (0, 2, "fly2", "a"),
        (9, 12, "fly2", "a"),
        (0, 4, "fly2", "b"),
        (9, 12, "fly2", "b"),
        (19, 25, "fly2", "b"),
        (29, 31, "fly2", "b"),
        (4, 5, "fly2", "c"),
    }
    for rec in ds:
        got = {(b.start, b.stop, b.subject, b.behavior) for b in rec.labels.to_bouts()}
        assert got == expected, rec.name
        assert rec.labels.label_counts() == {"a": 5 + 2 + 3, "b": 5 + 4 + 3 + 6 + 2, "c": 1}


def test_bad_bout_is_a_named_failure_and_others_load(tmp_path):
    good = cell([np.array([[2.0, 4, 1]]), np.zeros((0, 0))], (2, 1))
    _bare_movie(tmp_path / "ok", "ok", cell(["lunge"]), good, "5")
    bad = cell([np.array([[9.0, 4, 1]]), np.zeros((0, 0))], (2, 1))  # end before start
    _bare_movie(tmp_path / "bad", "bad", cell(["lunge"]), bad, "7.3")
    wrong = cell([np.zeros((0, 0))] * 3, (3, 1))  # 3 "flies" but the track has 2
    _bare_movie(tmp_path / "wrong", "wrong", cell(["lunge"]), wrong, "5")
    ds = vpbehavior.load(tmp_path, format="flyvsfly", videos="skip")
    assert [r.name for r in ds] == ["ok"]
    errors = sorted(f.error for f in ds.failures)
    assert "bad_actions.mat" in errors[0] and "bouts{1,1}" in errors[0] and "precedes" in errors[0]
    assert "wrong_actions.mat" in errors[1] and "'bouts'" in errors[1]


def test_names_match_across_movies_by_case_and_spacing(tmp_path):
    """ "Wing Threat " in one movie and "wing threat" in another are one behavior, spelled as first seen."""
    one = cell([np.array([[2.0, 4, 1]]), np.zeros((0, 0))], (2, 1))
    _bare_movie(tmp_path / "a", "a", cell(["Wing Threat "]), one, "5")
    _bare_movie(tmp_path / "b", "b", cell(["wing  threat", "Lunge"]), cell([one[0, 0], one[0, 0]] * 2, (2, 2)), "5")
    ds = vpbehavior.load(tmp_path, format="flyvsfly", videos="skip")
    assert not ds.failures and ds.classes == ("Wing Threat", "Lunge")
    assert all(r.labels.classes == ("Wing Threat", "Lunge") for r in ds)
    assert ds["a"].labels.label_counts() == {"Wing Threat": 3, "Lunge": 0}
    assert (ds["a"].labels.values[:, :, 1] == -1).all()  # movie a does not list Lunge: not annotated
    assert ds["b"].labels.label_counts() == {"Wing Threat": 6, "Lunge": 6}
    same = cell([np.zeros((0, 0))] * 4, (2, 2))
    _bare_movie(tmp_path / "c", "c", cell(["lunge", "LUNGE "]), same, "5")  # one file, two spellings of one name
    failure = next(f for f in vpbehavior.load(tmp_path, format="flyvsfly", videos="skip").failures)
    assert "c_actions.mat" in failure.error and "repeat" in failure.error


def test_movie_in_an_undecodable_format_is_warned_not_stored(tmp_path):
    _bare_movie(tmp_path / "m", "m", cell(["lunge"]), cell([np.zeros((0, 0))] * 2, (2, 1)), "5")
    (tmp_path / "m" / "m.ufmf").write_bytes(b"ufmf")
    with pytest.warns(DataWarning, match=r"m\.ufmf.*cannot decode"):
        rec = vpbehavior.load(tmp_path, format="flyvsfly")[0]
    assert rec.video is None and "video_unsupported" not in rec.metadata


def test_not_a_flyvsfly_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="not a Fly vs. Fly file"):
        flyvsfly.find_movies(write_mat(tmp_path / "notes.mat", {"x": np.zeros(2)}))
    with pytest.raises(FormatError, match="no Fly vs. Fly files"):
        flyvsfly.load_flyvsfly(tmp_path)
