"""Fly vs. Fly loader: ``movie<N>_track.mat``, ``_feat.mat``, ``_actions.mat`` (+ movie).

Per ``shared/docs/dataset_formats.md`` §2: MATLAB v5 files (scipy.io) or v7.3 (HDF5, h5py),
read through `vpbehavior.io._matfile` with struct fields accessed by name. Each movie folder
becomes one `Recording`:

- subjects ``fly1, fly2, ...`` (axis 0 of ``trk.data``);
- pose: ``body`` (pos x/y), ``wing_left``, ``wing_right`` when those track fields exist;
  frames where tracking failed stay NaN, and ``Recording.presence`` is False there (a fly is
  present where every track field is finite: the benchmark's "tracked" frames);
- the full track and feature arrays are not kept on the recording: `read_track` and
  `read_features` return them with their names (read from the files, never assumed);
- labels: bouts (1-based, inclusive) become 0-based half-open per-fly frame labels; behavior
  names keep the dataset's spelling (surrounding and repeated whitespace removed: ``"wing
  threat "`` -> ``"wing threat"``) and are matched by `vpbehavior.core.names.name_key` (case
  and spacing ignored) across movies and against an optional vocabulary (e.g. FlyTracker's
  ``action_list.txt``, whose spelling then wins); behaviors a file does not list are "not
  annotated" in that recording;
- video: a movie file next to the .mat files (same stem or the folder's name); a movie only
  in a format we cannot decode (.ufmf, .fmf, .seq) is reported with a `DataWarning`.

The dataset's ``test_split`` is "test" when a recording has that split.

Files may be named ``movie1_track.mat`` (2014 release) or ``movie1-track.mat`` (FlyTracker).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior.core import (
    BehaviorLabels,
    Bout,
    ConfigError,
    DataError,
    Dataset,
    FormatError,
    LoadFailure,
    MissingFileError,
    Pose,
    Recording,
)
from vpbehavior.core.names import name_key, name_lookup
from vpbehavior.io._matfile import mat_version, read_mat
from vpbehavior.io._sidecars import check_video_mode, clean_name, index_videos, probe_attached_video, try_load
from vpbehavior.io.registry import register_format
from vpbehavior.reporting import track, warn_data

__all__ = [
    "MovieFiles",
    "assign_video_splits",
    "detect_flyvsfly",
    "find_movies",
    "load_flyvsfly",
    "read_action_list",
    "read_actions",
    "read_features",
    "read_track",
]

_FILE_RE = re.compile(r"^(?P<prefix>.+)[_-](?P<kind>track|feat|actions)\.mat$", re.I)
_KINDS = ("track", "feat", "actions")
_SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "validation": "val", "test": "test"}
_UNSUPPORTED_VIDEO = (".ufmf", ".fmf", ".seq", ".sbfmf")
# Track fields that give keypoints (x name, y name) -> keypoint name.
_KEYPOINT_FIELDS = {
    "body": ("pos x", "pos y"),
    "wing_left": ("wing l x", "wing l y"),
    "wing_right": ("wing r x", "wing r y"),
}


def _vocabulary(names: Sequence[str], path: Path | str, what: str) -> tuple[str, ...]:
    """Names (whitespace cleaned, spelling kept), refusing two that differ only in case or spacing."""
    names = [n for n in (clean_name(x) for x in names) if n]
    keys = [name_key(n) for n in names]
    dupes = sorted({n for n, k in zip(names, keys) if keys.count(k) > 1})
    if dupes:
        raise DataError(f"{path}: {what} names repeat (case and spacing ignored): {dupes}", path=path)
    return tuple(names)


def read_action_list(path: str | Path) -> tuple[str, ...]:
    """Behavior names from a FlyTracker ``action_list.txt`` (one per line), as the file spells them."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: action list not found", path=path)
    names = _vocabulary(path.read_text(encoding="utf-8").splitlines(), path, "behavior")
    if not names:
        raise DataError(f"{path}: no behavior names in the action list", path=path)
    return names


# --------------------------------------------------------------------------------------------
# Files of one movie
# --------------------------------------------------------------------------------------------


@dataclass
class MovieFiles:
    """The .mat files of one movie (``prefix`` is the folder / movie stem)."""

    folder: Path
    prefix: str
    track: Path | None = None
    feat: Path | None = None
    actions: Path | None = None

    @property
    def any_file(self) -> Path:
        return next(p for p in (self.track, self.actions, self.feat) if p is not None)


def _movie_key(path: Path) -> tuple[Path, str, str] | None:
    match = _FILE_RE.match(path.name)
    if not match:
        return None
    return path.parent, match.group("prefix"), match.group("kind").lower()


def find_movies(path: str | Path, max_depth: int = 6) -> list[MovieFiles]:
    """Group ``*_track.mat`` / ``*_feat.mat`` / ``*_actions.mat`` under ``path`` by movie."""
    path = Path(path)
    if path.is_file():
        key = _movie_key(path)
        if key is None:
            raise FormatError(f"{path}: not a Fly vs. Fly file (expected <movie>_track|feat|actions.mat)", path=path)
        candidates = [p for p in path.parent.glob("*.mat") if (_movie_key(p) or (None, None))[:2] == key[:2]]
    else:
        candidates = []
        for depth in range(max_depth + 1):
            candidates += path.glob("/".join(["*"] * depth + ["*.mat"]))
    movies: dict[tuple[Path, str], MovieFiles] = {}
    for p in sorted(candidates):
        key = _movie_key(p)
        if key is None or any(part.startswith(".") for part in p.parts[len(path.parts) :]):
            continue
        folder, prefix, kind = key
        movie = movies.setdefault((folder, prefix), MovieFiles(folder, prefix))
        setattr(movie, kind, p)
    return list(movies.values())


def _field(struct: Any, name: str, path: Path, var: str) -> Any:
    if not isinstance(struct, dict):
        raise DataError(f"{path}: variable {var!r} is not a MATLAB struct", path=path)
    if name not in struct:
        raise DataError(f"{path}: struct {var!r} has no field {name!r} (fields: {sorted(struct)})", path=path)
    return struct[name]


def _names(value: Any, path: Path, fld: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, np.ndarray) and value.dtype == object:
        names = list(value.reshape(-1, order="F"))
        if all(isinstance(n, str) for n in names):
            return names
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        return value  # a char matrix
    raise DataError(f"{path}: field {fld!r} must be a cell array of strings", path=path)


def _fly_array(struct: dict, path: Path, var: str) -> tuple[list[str], np.ndarray]:
    """``names`` and ``data`` [n_flies, T, F] of a trk / feat struct, as (names, [T, S, F])."""
    names = _names(_field(struct, "names", path, var), path, f"{var}.names")
    data = np.asarray(_field(struct, "data", path, var))
    if data.dtype.kind not in "fiu":
        raise DataError(f"{path}: field '{var}.data' must be numeric, got {data.dtype}", path=path)
    if data.ndim == 2 and len(names) == 1:  # MATLAB drops a trailing singleton axis
        data = data[:, :, None]
    if data.ndim != 3:
        raise DataError(
            f"{path}: field '{var}.data' must be [n_flies, n_frames, n_fields], got shape {data.shape}", path=path
        )
    if data.shape[2] != len(names):
        raise DataError(
            f"{path}: field '{var}.data' has {data.shape[2]} fields per frame but '{var}.names' lists {len(names)}",
            path=path,
        )
    return names, np.ascontiguousarray(data.transpose(1, 0, 2), dtype=np.float64)


def _read_struct(path: Path, var: str, kind: str):
    """The MATLAB variable ``var`` of a track / feature file, or a clear error naming the file."""
    value = read_mat(path, [var]).get(var)
    if value is None:
        raise DataError(f"{path}: no variable '{var}' (not a Fly vs. Fly / FlyTracker {kind} file)", path=path)
    return value


def read_track(path: str | Path) -> dict:
    """``trk`` of a track file: names, data ``[T, S, F]`` (NaN = not tracked), identity flags."""
    path = Path(path)
    trk = _read_struct(path, "trk", "track")
    names, data = _fly_array(trk, path, "trk")
    flags_raw = trk.get("flagframes", trk.get("flags")) if isinstance(trk, dict) else None
    flags = []
    if isinstance(flags_raw, np.ndarray) and flags_raw.dtype.kind in "fiu" and flags_raw.size:
        rows = flags_raw.reshape(-1, flags_raw.shape[-1]) if flags_raw.ndim == 2 else flags_raw.reshape(1, -1)
        for row in rows:
            if len(row) >= 4 and np.isfinite(row[:4]).all():
                flags.append(
                    {"fly1": int(row[0]) - 1, "fly2": int(row[1]) - 1, "start": int(row[2]) - 1, "stop": int(row[3]),
                     "ambig": float(row[4]) if len(row) > 4 else None, "extra": [float(x) for x in row[5:]]}
                )  # fmt: skip
    return {"names": names, "data": data, "flags": flags}


def read_features(path: str | Path) -> dict:
    """``feat`` of a feature file: names, units (if any), data ``[T, S, F]``."""
    path = Path(path)
    feat = _read_struct(path, "feat", "feature")
    names, data = _fly_array(feat, path, "feat")
    units = _names(feat["units"], path, "feat.units") if "units" in feat else None
    return {"names": names, "units": units, "data": data}


def _bout_rows(rows: np.ndarray) -> np.ndarray:
    """Bouts as ``[n_bouts, >=2]`` rows (start, end[, certainty]).

    MATLAB users also store one bout as a vector (1-D, or a 2x1 / 3x1 column) and several
    bouts as columns (``2 x N`` / ``3 x N``); the shape tells them apart when ``N > 3``.
    """
    if rows.ndim == 1:
        return rows.reshape(1, -1)
    if rows.ndim == 2 and rows.shape[0] in (2, 3) and (rows.shape[1] == 1 or rows.shape[1] > 3):
        return rows.T
    return rows


def read_actions(path: str | Path, n_frames: int, subjects: Sequence[str]) -> tuple[list[str], list[Bout]]:
    """Behavior names (as written) and 0-based, stop-exclusive bouts of an actions file.

    Raises `DataError` naming the file, fly, behavior and row for a bout whose end
    precedes its start, that starts before frame 1, or ends after the last frame.
    """
    path = Path(path)
    mat = read_mat(path, ["behs", "bouts"])
    for var in ("behs", "bouts"):
        if var not in mat:
            raise DataError(f"{path}: no variable {var!r} (not a Fly vs. Fly actions file)", path=path)
    behs = _names(mat["behs"], path, "behs")
    cells = mat["bouts"]
    if not (isinstance(cells, np.ndarray) and cells.dtype == object and cells.ndim == 2):
        raise DataError(f"{path}: variable 'bouts' must be an n_flies x n_behaviors cell array", path=path)
    expected = (len(subjects), len(behs))
    if cells.shape == expected[::-1] and expected[0] != expected[1]:
        cells = cells.T  # saved as n_behaviors x n_flies: the shape says which axis is which
    if cells.shape != expected:
        raise DataError(
            f"{path}: variable 'bouts' is {cells.shape[0]} x {cells.shape[1]} but expected {expected[0]} flies x "
            f"{expected[1]} behaviors (from 'behs' and the track file)",
            path=path,
        )
    bouts = []
    for s, subject in enumerate(subjects):
        for b, beh in enumerate(behs):
            rows = np.asarray(cells[s, b])
            if rows.size == 0:
                continue
            where = f"{path}: bouts{{{s + 1},{b + 1}}} (fly {s + 1}, behavior {beh.strip()!r})"
            if rows.dtype.kind not in "fiub":
                raise DataError(
                    f"{where}: expected a numeric [n_bouts x 3] array, got {rows.dtype}", path=path, field="bouts"
                )
            rows = _bout_rows(rows)
            if rows.ndim != 2 or rows.shape[1] < 2:
                raise DataError(
                    f"{where}: expected [n_bouts x 3] rows (start, end, certainty), got shape {rows.shape}",
                    path=path,
                    field="bouts",
                )
            for r, row in enumerate(rows, start=1):
                start, end = row[0], row[1]
                if not (np.isfinite(start) and np.isfinite(end) and start == int(start) and end == int(end)):
                    raise DataError(
                        f"{where}, row {r}: start/end must be whole frame numbers, got {start}, {end}",
                        path=path,
                        field="bouts",
                    )
                start, end = int(start), int(end)
                if end < start:
                    raise DataError(
                        f"{where}, row {r}: bout end {end} precedes its start {start}", path=path, field="bouts"
                    )
                if start < 1:
                    raise DataError(
                        f"{where}, row {r}: start {start} < 1 (frames are 1-based)", path=path, field="bouts"
                    )
                if end > n_frames:
                    raise DataError(
                        f"{where}, row {r}: end {end} is after the last frame ({n_frames})", path=path, field="bouts"
                    )
                score = float(row[2]) if rows.shape[1] > 2 and np.isfinite(row[2]) else None
                bouts.append(Bout(start - 1, end, subject, beh, score))  # 1-based inclusive -> 0-based [start, stop)
    return behs, bouts


# --------------------------------------------------------------------------------------------
# One movie -> Recording
# --------------------------------------------------------------------------------------------


def _class_names(behs: list[str], path: Path, vocabulary: tuple[str, ...] | None, strict: bool) -> dict[str, str]:
    """``{behavior as written in 'behs': class name}`` (the vocabulary's spelling when it has the name)."""
    names = _vocabulary(behs, path, "'behs'")
    if len(names) != len(behs):
        raise DataError(f"{path}: 'behs' holds an empty behavior name", path=path, field="behs")
    if vocabulary is None:
        return dict(zip(behs, names))
    lookup = name_lookup(vocabulary)
    unknown = [n for n in names if name_key(n) not in lookup]
    if unknown and strict:
        raise DataError(
            f"{path}: behaviors {unknown} in 'behs' are not in the vocabulary {list(vocabulary)}",
            path=path,
            field="behs",
        )
    return {b: lookup.get(name_key(n), n) for b, n in zip(behs, names)}


def _find_movie_video(movie: MovieFiles) -> Path | None:
    """The movie file: same stem as the movie or its folder, in the folder or its parent;
    else the only video in the folder."""
    here = index_videos([movie.folder], max_depth=0)
    parent = index_videos([movie.folder.parent], max_depth=0)
    stems = dict.fromkeys((movie.prefix.lower(), movie.folder.name.lower()))
    for index in (here, parent):
        hits = [p for stem in stems for p in index.get(stem, [])]
        if len(hits) > 1:
            raise DataError(
                f"{movie.any_file}: several videos match movie {movie.prefix!r}: {[str(p) for p in hits]}",
                path=movie.any_file,
            )
        if hits:
            return hits[0]
    only = [p for paths in here.values() for p in paths]
    return only[0] if len(only) == 1 else None


def _split_from_path(rel: Path) -> str | None:
    for part in rel.parts:
        if part.lower() in _SPLIT_NAMES:
            return _SPLIT_NAMES[part.lower()]
    return None


def load_movie(
    movie: MovieFiles,
    root: Path,
    vocabulary: tuple[str, ...] | None = None,
    strict: bool = True,
    videos: str = "auto",
) -> Recording:
    """One movie folder as a `Recording` (see the module docstring)."""
    if movie.track is None:
        raise MissingFileError(
            f"{movie.any_file}: movie {movie.prefix!r} has no {movie.prefix}_track.mat next to it (needed for the frames)",
            path=movie.any_file,
        )
    track_data = read_track(movie.track)
    data = track_data["data"]
    n_frames, n_flies = data.shape[:2]
    subjects = tuple(f"fly{i + 1}" for i in range(n_flies))
    try:
        rel = movie.folder.relative_to(root if root.is_dir() else root.parent)
    except ValueError:
        rel = Path(movie.folder.name)
    name = rel.as_posix() if rel.parts else movie.prefix
    if movie.folder.name != movie.prefix:
        name = f"{name}/{movie.prefix}" if rel.parts else movie.prefix
    metadata: dict[str, Any] = {
        "source": {k: str(getattr(movie, k)) for k in _KINDS if getattr(movie, k) is not None},
        "mat_version": mat_version(movie.track),
        "context": rel.parts[0] if len(rel.parts) > 1 else movie.folder.parent.name,
    }
    tracked = np.isfinite(data).all(axis=2)  # [T, S]: the tracker located the fly in that frame
    index = {name_key(n): i for i, n in enumerate(track_data["names"])}
    kp_names = [k for k, (x, y) in _KEYPOINT_FIELDS.items() if x in index and y in index]
    pose = None
    if kp_names:
        cols = [(index[_KEYPOINT_FIELDS[k][0]], index[_KEYPOINT_FIELDS[k][1]]) for k in kp_names]
        points = np.stack([np.stack([data[:, :, cx], data[:, :, cy]], -1) for cx, cy in cols], axis=2)
        pose = Pose(points, kp_names, subjects)
    if movie.feat is not None:  # checked, so a feature file that does not fit the track fails the movie
        feat = read_features(movie.feat)
        if feat["data"].shape[:2] != (n_frames, n_flies):
            raise DataError(
                f"{movie.feat}: features cover {feat['data'].shape[0]} frames x {feat['data'].shape[1]} flies but the "
                f"track file has {n_frames} x {n_flies}",
                path=movie.feat,
                field="feat.data",
            )
    labels = None
    if movie.actions is not None:
        behs, raw_bouts = read_actions(movie.actions, n_frames, subjects)
        to_class = _class_names(behs, movie.actions, vocabulary, strict)
        listed = list(dict.fromkeys(to_class.values()))
        classes = (*vocabulary, *(c for c in listed if c not in vocabulary)) if vocabulary is not None else listed
        bouts = [Bout(b.start, b.stop, b.subject, to_class[b.behavior], b.score) for b in raw_bouts]
        annotated = np.zeros((n_frames, n_flies, len(classes)), bool)
        annotated[:, :, [classes.index(c) for c in listed]] = True  # a vocabulary behavior this file does not list
        labels = BehaviorLabels.from_bouts(bouts, n_frames, classes, subjects, annotated=True)
        labels = labels.masked(~annotated)
    video, fps = None, None
    if videos != "skip":
        video = _find_movie_video(movie)
        if video is not None and video.suffix.lower() in _UNSUPPORTED_VIDEO:
            video = None
        if video is not None:
            info = probe_attached_video(video, n_frames, f"movie {name!r}")
            fps = info.get("fps")
        elif videos == "require":
            raise MissingFileError(
                f"{movie.any_file}: no video found for movie {name!r} in {movie.folder}", path=movie.any_file
            )
        else:
            other = [p for p in movie.folder.iterdir() if p.suffix.lower() in _UNSUPPORTED_VIDEO]
            if other:
                warn_data(
                    f"{other[0]}: movie {name!r} is in a format vpbehavior cannot decode ({other[0].suffix}); "
                    "convert it (e.g. to .mp4) to use the video; the recording loads without it",
                    stacklevel=3,
                )
    split = _split_from_path(rel)
    return Recording(name, video, n_frames, fps, subjects, pose, None, labels, metadata, split, presence=tracked)


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _read_splits(splits: Mapping[str, str] | str | Path | None) -> dict[str, str] | None:
    if splits is None or isinstance(splits, Mapping):
        return None if splits is None else dict(splits)
    path = Path(splits)
    if not path.is_file():
        raise MissingFileError(f"{path}: split file not found", path=path)
    try:
        obj = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read the split file ({err})", path=path) from err
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise DataError(f"{path}: a split file must be a JSON object {{recording name: split}}", path=path)
    return obj


def load_flyvsfly(
    path: str | Path,
    vocabulary: Sequence[str] | str | Path | None = None,
    strict: bool = True,
    videos: str | bool = "auto",
    splits: Mapping[str, str] | str | Path | None = None,
    progress=None,
) -> Dataset:
    """Load Fly vs. Fly: the dataset root, a context or movie folder, or one .mat file.

    Parameters
    ----------
    path
        Folder searched for ``*_track.mat`` (and ``-track.mat``), or one of a movie's files.
    vocabulary
        Behavior names (or an ``action_list.txt`` path) fixing the class order and spelling.
        Names are matched case- and spacing-insensitively; a behavior outside it is an error
        (``strict``) or appended. Default: the names in the files, in order of first
        appearance (the first spelling of each).
    strict
        See ``vocabulary``.
    videos
        "auto" (attach a movie found next to the files; an unreadable one fails the
        recording), "require" (no movie is a failure) or "skip".
    splits
        ``{recording name or movie stem: split}`` or a JSON file holding it. Default: a path
        component named train / val / test, if any (the Task Programming movie assignment
        is not published; see `assign_video_splits`).
    progress
        The `vpbehavior.reporting` progress hook (True: a terminal bar), one step per movie.

    Returns
    -------
    Dataset
        Damaged movies (corrupt .mat, bad bouts, unreadable video) are in ``failures``;
        ``test_split`` is "test" when a recording has that split.
    """
    path = Path(path)
    mode = check_video_mode(videos)
    vocab = None
    if vocabulary is not None:
        if isinstance(vocabulary, (str, Path)):
            vocab = read_action_list(vocabulary)
        else:
            vocab = tuple(dict.fromkeys(clean_name(v) for v in vocabulary if clean_name(v)))
            try:
                name_lookup(vocab)
            except ValueError as err:
                raise ConfigError(f"vocabulary: {err}") from None
    split_map = _read_splits(splits)
    movies = find_movies(path)
    if not movies:
        raise FormatError(f"{path}: no Fly vs. Fly files (<movie>_track.mat, _feat.mat, _actions.mat) found", path=path)
    recordings: list[Recording] = []
    failures: list[LoadFailure] = []
    for movie in track(movies, progress, "Fly vs. Fly", unit="movie"):
        rec = try_load(failures, movie.any_file, load_movie, movie, path, vocab, strict, mode)
        if rec is None:
            continue
        if split_map is not None:
            rec = rec.replace(split=split_map.get(rec.name, split_map.get(movie.prefix, rec.split)))
        recordings.append(rec)
    if vocab is None:  # one vocabulary for the whole dataset: names in order of first appearance
        recordings = _one_vocabulary(recordings)
    test_split = "test" if any(r.split == "test" for r in recordings) else None
    return Dataset(recordings, "flyvsfly", path, failures, test_split=test_split)


def _one_vocabulary(recordings: list[Recording]) -> list[Recording]:
    """The recordings' labels on one vocabulary: the first spelling of each name (by `name_key`), in order."""
    spelling: dict[str, str] = {}
    for rec in recordings:
        for c in rec.classes:
            spelling.setdefault(name_key(c), c)
    classes = tuple(spelling.values())
    out = []
    for rec in recordings:
        if rec.labels is not None and rec.labels.classes != classes:
            lab = rec.labels
            renamed = BehaviorLabels(lab.values, [spelling[name_key(c)] for c in lab.classes], lab.subjects)
            rec = rec.replace(labels=renamed.with_classes(classes))
        out.append(rec)
    return out


def assign_video_splits(
    dataset: Dataset | Iterable[Recording],
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    min_frames: int = 1000,
    seed: int = 0,
    tries: int = 2000,
) -> dict[str, str]:
    """A video-level train/val/test assignment in which every kept behavior appears in every split.

    Follows the Task Programming rule (§2.7): behaviors with more than ``min_frames`` positive
    frames overall are kept; random movie permutations are tried until each split holds at
    least one positive frame of each kept behavior. Returns ``{recording name: split}``
    (apply with ``rec.replace(split=...)``); raises `DataError` if no such assignment is found.
    """
    recordings = [r for r in dataset if r.labels is not None]
    if len(recordings) < 3:
        raise DataError(f"need at least 3 labeled recordings for a train/val/test split, got {len(recordings)}")
    counts: dict[str, np.ndarray] = {}
    for i, r in enumerate(recordings):
        for cls, n in r.labels.label_counts().items():
            counts.setdefault(cls, np.zeros(len(recordings), int))[i] = n
    backgrounds = {r.labels.background for r in recordings}
    kept = [c for c, v in counts.items() if v.sum() > min_frames and c not in backgrounds]
    rng = np.random.default_rng(seed)
    bounds = np.cumsum(np.asarray(fractions, float) / sum(fractions))[:2]
    n = len(recordings)
    for _ in range(tries):
        order = rng.permutation(n)
        cut = np.clip(np.round(bounds * n).astype(int), 1, n - 1)
        cut[1] = max(cut[1], cut[0] + 1)
        parts = np.split(order, cut)
        if any(len(p) == 0 for p in parts):
            continue
        if all(counts[c][p].sum() > 0 for c in kept for p in parts):
            return {recordings[i].name: split for split, p in zip(("train", "val", "test"), parts) for i in p}
    raise DataError(f"no video-level split found in {tries} tries where every behavior {kept} is in every split")


def _is_flyvsfly_mat(path: Path) -> bool:
    """Cheap content check: the file is a MATLAB file holding trk, feat or behs/bouts."""
    try:
        version = mat_version(path)
        if version == "7.3":
            import h5py

            with h5py.File(path, "r") as fh:
                names = set(fh.keys())
        else:
            import scipy.io

            names = {name for name, _, _ in scipy.io.whosmat(path)}
    except Exception:  # unreadable: not recognizable by content
        return False
    return bool(names & {"trk", "feat"}) or {"behs", "bouts"} <= names


def detect_flyvsfly(path: Path) -> float:
    """How sure we are that ``path`` is Fly vs. Fly (file names, then the .mat variables)."""
    path = Path(path)
    if path.is_file():
        if _movie_key(path) is None:
            return 0.0
        return 0.95 if _is_flyvsfly_mat(path) else 0.6
    if path.is_dir():
        for depth in range(5):
            hits = sorted(path.glob("/".join(["*"] * depth + ["*[_-]track.mat"])))
            if hits:
                return 0.95 if _is_flyvsfly_mat(hits[0]) else 0.6
    return 0.0


register_format(
    "flyvsfly", detect_flyvsfly, load_flyvsfly, "Fly vs. Fly / FlyTracker .mat files (track, feat, actions)"
)
