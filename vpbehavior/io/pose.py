"""Pose files of every tool, and the sleap-io bridge for pose and behavior events.

`read_pose` reads any pose file as the pose of one video; `sniff_pose_file` tells them apart by
content (not by name), so a SLEAP analysis CSV is pose and never a label table:

* SLEAP ``.slp`` (and labels saved as ``.h5``) through sleap-io; its behavior events become labels;
* SLEAP analysis HDF5 (``tracks`` / ``node_names``) through sleap-io, or with h5py for older exports;
* SLEAP analysis CSV (``track, frame_idx, instance.score, <node>.x, <node>.y, <node>.score``);
* DeepLabCut tables (`read_dlc`): ``.csv`` and ``.h5`` in pandas' "table" and "fixed" layouts (keys
  "df_with_missing" and "tracks"), single- and multi-animal, labeled data, read with h5py (pandas'
  pickled metadata decoded by an unpickler that refuses every class);
* NWB with ndx-pose (`vpbehavior.io.nwb`, needs the ``nwb`` extra).

Bouts round-trip to sleap-io's behavior events (sleap-io >= 0.9), so labels can live in
the same .slp file as the pose. sleap-io events are inclusive ``[start_frame, end_frame]``;
our bouts are ``[start, stop)``; the conversion happens here and nowhere else. An event's
``subject`` and ``target`` (a `Track` or an `Identity`) map to `Bout.subject` and
`Bout.target` by name; an event without subject is frame-level (`FRAME_LEVEL`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from vpbehavior.core import FRAME_LEVEL, BehaviorLabels, Bout, DataError, FormatError, MissingFileError, Pose
from vpbehavior.reporting import logger, warn_data


def load_pose_file(path: str | Path, format: str | None = None):
    """Read a pose file with sleap-io (format from the extension unless given), naming the file on error."""
    import sleap_io as sio

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: pose file not found", path=path)
    try:
        if format == "analysis_h5":
            return sio.load_analysis_h5(str(path))
        return sio.load_file(str(path))
    except Exception as err:  # the third-party reader raises many types for a bad file; report them uniformly
        raise DataError(f"could not read pose file ({type(err).__name__}: {err})", path) from err


def save_slp(sleap_labels, path: str | Path) -> Path:
    """Write sleap-io ``Labels`` (pose and behavior events) to ``path`` atomically (temporary file, then rename)."""
    import sleap_io as sio

    from vpbehavior._files import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, suffix=".slp") as tmp:
        sio.save_slp(sleap_labels, str(tmp), verbose=False)
    return path


def warn_if_no_points(pose: Pose, path: str | Path) -> None:
    """Warn (`warn_data`) when a pose file has no located keypoint at all: it would train on nothing."""
    if pose.n_frames and not np.isfinite(pose.points).all(-1).any():
        warn_data(
            f"{path}: the pose file has no located keypoint in any of its {pose.n_frames} frames "
            f"({len(pose.subjects)} subjects x {len(pose.keypoint_names)} nodes are all NaN); "
            "pose features of this recording will be empty",
            stacklevel=3,
        )


def pose_from_sleap(labels, n_frames: int | None = None, video=None) -> Pose:
    """`Pose` ``[T, S, K, 2]`` (one subject per track) from sleap-io ``Labels``.

    Frames without instances are NaN, so a track is present (`Pose.visible`) only in the
    frames where it has an instance. Without tracks, instances are taken in file order and
    named ``instance0, instance1, ...``. The skeleton's edges are kept.
    """
    if not labels.videos:
        raise DataError("the pose file references no video, so its frames cannot be placed")
    untracked = len(labels.tracks) == 0
    arr = labels.numpy(video=video, untracked=untracked, return_confidence=True)
    if not untracked and arr.shape[1] != len(labels.tracks):
        # sleap-io folds the tracks into one column when no frame holds two instances
        arr = _per_track_array(labels, video)
    points, scores = arr[..., :2], arr[..., 2]
    if n_frames is not None and points.shape[0] != n_frames:
        if points.shape[0] > n_frames:
            raise DataError(f"pose has {points.shape[0]} frames but the recording has {n_frames}")
        pad = n_frames - points.shape[0]
        points = np.concatenate([points, np.full((pad, *points.shape[1:]), np.nan, points.dtype)])
        scores = np.concatenate([scores, np.full((pad, *scores.shape[1:]), np.nan, scores.dtype)])
    if untracked:
        subjects = [f"instance{i}" for i in range(points.shape[1])]
    else:
        subjects = [t.name or f"track{i}" for i, t in enumerate(labels.tracks)]
        subjects = _dedupe(subjects)
    skeleton = labels.skeletons[-1] if labels.skeletons else None  # the one numpy() uses
    nodes = [n.name for n in skeleton.nodes] if skeleton is not None else []
    edges = skeleton.edge_inds if skeleton is not None else []
    return Pose(points, nodes, subjects, scores, edges)


def _per_track_array(labels, video=None) -> np.ndarray:
    """``[T, n_tracks, K, 3]`` (x, y, score) with one column per track; user instances win over predicted."""
    video = video if video is not None else labels.videos[0]
    track_index = {id(t): i for i, t in enumerate(labels.tracks)}
    frames = [lf for lf in labels.labeled_frames if lf.video is video]
    n_nodes = len(labels.skeletons[-1].nodes)
    arr = np.full((max((lf.frame_idx for lf in frames), default=-1) + 1, len(labels.tracks), n_nodes, 3), np.nan)
    for lf in frames:
        for inst in sorted(lf.instances, key=lambda i: hasattr(i, "score")):  # predicted first, user overwrites
            if inst.track is None:
                continue
            pts = inst.numpy(scores=True) if hasattr(inst, "score") else np.c_[inst.numpy(), np.ones(n_nodes)]
            arr[lf.frame_idx, track_index[id(inst.track)]] = pts
    return arr


def pose_to_sleap(pose: Pose, video_path: str | Path | None = None, skeleton_name: str = "skeleton"):
    """sleap-io ``Labels`` with one track per subject and one instance per subject and frame."""
    import sleap_io as sio

    names = list(pose.keypoint_names)
    skeleton = sio.Skeleton(names, edges=[(names[a], names[b]) for a, b in pose.edges], name=skeleton_name)
    tracks = [sio.Track(name=s) for s in pose.subjects]
    video = sio.Video(filename=str(video_path) if video_path else "", open_backend=False)
    frames = []
    for t in range(pose.n_frames):
        instances = []
        for s, track in enumerate(tracks):
            pts = pose.points[t, s]
            if np.isnan(pts).all():
                continue
            instances.append(sio.Instance.from_numpy(pts.astype(np.float64), skeleton=skeleton, track=track))
        if instances:
            frames.append(sio.LabeledFrame(video=video, frame_idx=t, instances=instances))
    return sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=tracks)


def combine_poses(first: Pose, second: Pose, source: str = "") -> Pose:
    """The subjects of two poses of one video side by side (same frames and keypoints)."""
    where = f"{source}: " if source else ""
    if first.keypoint_names != second.keypoint_names or first.n_frames != second.n_frames:
        raise DataError(
            f"{where}pose files of one video differ: keypoints {list(first.keypoint_names)} x {first.n_frames} frames "
            f"vs {list(second.keypoint_names)} x {second.n_frames} frames"
        )
    clash = set(first.subjects) & set(second.subjects)
    if clash:
        raise DataError(f"{where}both pose files hold the subjects {sorted(clash)}")
    scores = None
    if first.scores is not None and second.scores is not None:
        scores = np.concatenate([first.scores, second.scores], axis=1)
    points = np.concatenate([first.points, second.points], axis=1)
    return Pose(points, first.keypoint_names, [*first.subjects, *second.subjects], scores, first.edges)


def _dedupe(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def _track(sio, tracks: dict, sleap_labels, name: str):
    if name not in tracks:
        tracks[name] = sio.Track(name=name)
        sleap_labels.tracks.append(tracks[name])
    return tracks[name]


def labels_to_events(
    labels: BehaviorLabels,
    sleap_labels,
    video=None,
    predicted: bool = False,
    scores: np.ndarray | None = None,
) -> None:
    """Add ``labels``' bouts to ``sleap_labels.events`` (in place).

    Subjects and targets are matched to tracks by name (created when missing); the
    frame-level subject (`FRAME_LEVEL`) becomes an event without subject, as sleap-io
    defines frame-level events (`events_to_bouts` reads them back as `FRAME_LEVEL`). With
    ``predicted=True`` events are `PredictedEvent`s carrying the per-frame
    ``scores[T, S, C]`` when given.
    """
    import sleap_io as sio

    video = video if video is not None else (sleap_labels.videos[0] if sleap_labels.videos else None)
    if video is None:
        raise DataError("sleap-io Labels have no video to attach behavior events to")
    types = {et.name: et for et in sleap_labels.event_types}
    for name in labels.classes:
        if name not in types:
            types[name] = sio.EventType(name=name)
            sleap_labels.event_types.append(types[name])
    tracks = {t.name: t for t in sleap_labels.tracks}
    for bout in labels.to_bouts():
        subject = None if bout.subject == FRAME_LEVEL else _track(sio, tracks, sleap_labels, bout.subject)
        target = _track(sio, tracks, sleap_labels, bout.target) if bout.target is not None else None
        kwargs = dict(
            type=types[bout.behavior],
            video=video,
            start_frame=bout.start,
            end_frame=bout.stop - 1,
            subject=subject,
            target=target,
            source="vpbehavior",
        )
        if predicted:
            event_scores = None
            if scores is not None:
                s, c = labels.subjects.index(bout.subject), labels.class_index(bout.behavior)
                event_scores = scores[bout.start : bout.stop, s, c]
            score = None if event_scores is None else float(np.mean(event_scores))
            event = sio.PredictedEvent(**kwargs, scores=event_scores, score=score)
        else:
            event = sio.UserEvent(**kwargs)
        sleap_labels.events.append(event)


def events_to_bouts(sleap_labels, video=None) -> list[Bout]:
    """Bouts (stop exclusive) from the behavior events of one video, with their subject and target."""
    video = video if video is not None else (sleap_labels.videos[0] if sleap_labels.videos else None)
    bouts = []
    for ev in sleap_labels.events:
        if video is not None and ev.video is not video:
            continue
        subject = ev.subject.name if ev.subject is not None else FRAME_LEVEL
        target = ev.target.name if ev.target is not None else None
        score = getattr(ev, "score", None)
        try:
            bouts.append(Bout(ev.start_frame, ev.end_frame + 1, subject, ev.type.name, score, target))
        except DataError as err:
            raise DataError(
                f"behavior event {ev.type.name!r} at frames {ev.start_frame}-{ev.end_frame}: {err}"
            ) from None
    return bouts


def events_to_labels(
    sleap_labels,
    n_frames: int,
    subjects: Sequence[str] | None = None,
    video=None,
    annotated: bool | np.ndarray = True,
) -> BehaviorLabels:
    """`BehaviorLabels` from behavior events; the vocabulary is the file's event types."""
    bouts = events_to_bouts(sleap_labels, video)
    classes = [et.name for et in sleap_labels.event_types] or None
    if subjects is None:
        subjects = list(dict.fromkeys(b.subject for b in bouts)) or [FRAME_LEVEL]
    return BehaviorLabels.from_bouts(bouts, n_frames, classes=classes, subjects=subjects, annotated=annotated)


# ---------------------------------------------------------------------- DeepLabCut
_DLC_COORDS = ("x", "y", "likelihood")
#: HDF5 keys DeepLabCut stores its tables under: analysis, filtered output, labeled data
#: (``CollectedData_<scorer>.h5``) and tracklets under "df_with_missing"; the tracks written by
#: ``stitch_tracklets`` (``<video><scorer>_el.h5`` and the ``_bx`` / ``_sk`` / ``_ctd`` variants)
#: under "tracks".
DLC_KEYS = ("df_with_missing", "tracks")
#: The individual DeepLabCut names the unique body parts of a multi-animal project (objects,
#: landmarks); it becomes a pose track of that name.
DLC_UNIQUE_INDIVIDUAL = "single"
#: The track name of single-animal DeepLabCut output, which has no individuals level.
SINGLE_ANIMAL_TRACK = "instance0"


def read_dlc(path: str | Path, n_frames: int | None = None, frame_files: Sequence[str] | None = None) -> Pose:
    """Pose from a DeepLabCut table: ``.csv`` or ``.h5`` (pandas "table" or "fixed" HDF5 layout).

    Reads analysis output (``<video><scorer>.h5``, ``_filtered``), multi-animal tracks
    (``_el.h5``, key "tracks") and tracklets, and labeled data (``CollectedData_<scorer>.h5``).
    Columns are (scorer, [individuals,] bodyparts, coords); the unique body parts of a
    multi-animal project are the individual ``"single"``; a single-animal file has the one
    track ``instance0``. Rows are frames: the frame number (analysis output) or an image path
    (labeled data, as one string or a (labeled-data, video, image) index). With ``frame_files``
    (the image names of a frame folder, in frame order) an image row goes to that image's
    position; otherwise to the number in its file name. Labeled data has no likelihood: its
    scores are None. The .h5 form is read with h5py; pandas' pickled metadata is decoded
    without running code.
    """
    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        keys, index, values = _dlc_h5_table(path)
    else:
        keys, index, values = _dlc_csv_table(path)
    for c, (_, part, coord) in enumerate(keys):
        if not part or coord not in _DLC_COORDS:
            raise DataError(
                f"{path}: column {c + 1}: bodypart {part!r} / coord {coord!r} is not a DeepLabCut column", path=path
            )
    rows, keep = _dlc_rows(path, index, frame_files)
    values = values[keep]
    length = max(rows, default=-1) + 1
    if frame_files is not None:
        n_frames = len(frame_files) if n_frames is None else n_frames
    if n_frames is not None and length > n_frames:
        raise DataError(f"{path}: pose reaches frame {length - 1} but the video has {n_frames} frames", path=path)
    subjects = list(dict.fromkeys(k[0] for k in keys))
    parts = list(dict.fromkeys(k[1] for k in keys))
    n = n_frames if n_frames is not None else length
    points = np.full((n, len(subjects), len(parts), 2), np.nan, np.float32)
    has_scores = any(k[2] == "likelihood" for k in keys)
    scores = np.full((n, len(subjects), len(parts)), np.nan, np.float32)
    rows_arr = np.asarray(rows, dtype=np.int64)
    for c, (ind, part, coord) in enumerate(keys):
        s, k = subjects.index(ind), parts.index(part)
        if coord == "likelihood":
            scores[rows_arr, s, k] = values[:, c]
        else:
            points[rows_arr, s, k, _DLC_COORDS.index(coord)] = values[:, c]
    return Pose(points, parts, subjects, scores if has_scores else None)


def _image_name(label) -> str:
    if isinstance(label, tuple):
        label = label[-1]
    return PurePosixPath(str(label).strip().replace("\\", "/")).name


def _dlc_rows(path: Path, index: Sequence, frame_files: Sequence[str] | None) -> tuple[list[int], list[int]]:
    """(frame of each kept row, the kept rows): frame numbers, image positions or numbers in image names."""
    if frame_files is not None and not all(isinstance(x, int) or str(x).strip().isdigit() for x in index):
        position = {Path(str(f)).name.casefold(): i for i, f in enumerate(frame_files)}
        rows, keep, missing = [], [], []
        for r, label in enumerate(index):
            name = _image_name(label)
            if name.casefold() in position:
                rows.append(position[name.casefold()])
                keep.append(r)
            else:
                missing.append(name)
        if missing:
            warn_data(
                f"{path}: {len(missing)} labeled images are not in the frame folder and are left out "
                f"(e.g. {missing[:3]})",
                stacklevel=4,
            )
        return rows, keep
    frames = []
    for row, label in enumerate(index):
        if isinstance(label, int | np.integer):
            frames.append(int(label))
            continue
        text = _image_name(label)
        if text.isdigit():
            frames.append(int(text))
            continue
        digits = "".join(ch for ch in PurePosixPath(text).stem if ch.isdigit())
        frames.append(int(digits) if digits else row)
    return frames, list(range(len(index)))


def _dlc_csv_table(path: Path) -> tuple[list[tuple[str, str, str]], list[str], np.ndarray]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r]
    levels: dict[str, list[str]] = {}
    body_start = None
    for i, row in enumerate(rows[:6]):
        levels[row[0].strip().lower()] = row
        if row[0].strip().lower() == "coords":
            body_start = i + 1
            break
    if body_start is None or "bodyparts" not in levels:
        raise DataError(
            f"{path}: not a DeepLabCut CSV (expected header rows scorer, [individuals,] bodyparts, coords)", path=path
        )
    coords = levels["coords"]
    n_index = 1
    while n_index < len(coords) and not coords[n_index].strip():
        n_index += 1  # labeled-data CSVs have 3 index columns (labeled-data, video, image)
    columns = range(n_index, len(coords))

    def level(name: str, c: int, default: str = "") -> str:
        row = levels.get(name)
        return row[c].strip() if row is not None and c < len(row) else default

    keys = [
        (level("individuals", c, SINGLE_ANIMAL_TRACK), level("bodyparts", c), coords[c].strip().lower())
        for c in columns
    ]
    body = rows[body_start:]
    if body and not any(c.strip() for c in body[0][n_index:]) and not body[0][n_index - 1].strip().isdigit():
        body = body[1:]  # pandas writes the index name as a row of its own ("frame,,,")
        body_start += 1
    index = [row[n_index - 1] if len(row) >= n_index else "" for row in body]
    values = np.full((len(body), len(keys)), np.nan, np.float32)
    for r, row in enumerate(body):
        for j, c in enumerate(columns):
            text = row[c].strip() if c < len(row) else ""
            if not text or text.lower() in ("nan", "na"):
                continue
            try:
                values[r, j] = float(text)
            except ValueError:
                ind, part, coord = keys[j]
                raise DataError(
                    f"{path}: line {body_start + r + 1}, column {c + 1} ({ind}/{part}/{coord}): "
                    f"{text!r} is not a number",
                    path=path,
                ) from None
    return keys, index, values


# kept importable from here: the unpickler that refuses every class
from vpbehavior.io._pandas_h5 import _PlainDataUnpickler  # noqa: E402,F401


def _dlc_level_names(names: Sequence[str], width: int) -> list[str]:
    names = [str(n).lower() for n in names]
    if len(names) == width and {"bodyparts", "coords"} <= set(names):
        return names
    # files without level names: infer them from the tuple length
    return ["scorer", "individuals", "bodyparts", "coords"][-width:] if width in (3, 4) else names


def _dlc_h5_table(path: Path) -> tuple[list[tuple[str, str, str]], list, np.ndarray]:
    from vpbehavior.io._pandas_h5 import read_frame

    frame = read_frame(path, DLC_KEYS, any_key=True)  # e.g. DLC2NWB's convert_nwb_to_h5 writes key "poses"
    width = len(frame.columns[0]) if frame.columns else 0
    names = _dlc_level_names(frame.names, width)
    keys = []
    for col in frame.columns:
        named = dict(zip(names, col))
        keys.append(
            (
                str(named.get("individuals") or SINGLE_ANIMAL_TRACK),
                str(named.get("bodyparts") or ""),
                str(named.get("coords") or "").lower(),
            )
        )
    return keys, frame.index, frame.values


# ---------------------------------------------------------------------- SLEAP analysis CSV
def read_sleap_csv(path: str | Path, n_frames: int | None = None) -> Pose:
    """Pose from SLEAP's analysis CSV: one row per instance, ``track, frame_idx, instance.score,
    <node>.x, <node>.y, <node>.score, ...`` (SLEAP's "Export Analysis CSV" and sleap-io's ``sleap``
    CSV format). Tracks are subjects in order of first appearance; rows without a track are
    untracked instances, named ``instance0, instance1, ...`` by their order within the frame.
    """
    import csv

    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: empty SLEAP analysis CSV", path=path)
    header = [h.strip() for h in rows[0]]
    col = {h: i for i, h in enumerate(header)}
    if "frame_idx" not in col:
        raise DataError(f"{path}: a SLEAP analysis CSV needs a 'frame_idx' column (header: {header})", path=path)
    nodes = [h[:-2] for h in header if h.endswith(".x") and f"{h[:-2]}.y" in col and h[:-2] != "instance"]
    if not nodes:
        raise DataError(f"{path}: no '<node>.x' / '<node>.y' columns in the SLEAP analysis CSV", path=path)
    track_col = col.get("track")
    entries, names = [], {}
    per_frame: dict[int, int] = {}
    for line, row in enumerate(rows[1:], start=2):

        def cell(name: str, row=row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        try:
            frame = int(float(cell("frame_idx")))
        except ValueError:
            raise DataError(
                f"{path}: line {line}: frame_idx {cell('frame_idx')!r} is not a number", path=path
            ) from None
        if frame < 0:
            raise DataError(f"{path}: line {line}: negative frame_idx {frame}", path=path)
        track = row[track_col].strip() if track_col is not None and track_col < len(row) else ""
        if track.casefold() in ("", "nan", "none"):
            k = per_frame.get(frame, 0)
            per_frame[frame] = k + 1
            track = f"instance{k}"
        names.setdefault(track, None)
        values = []
        for node in nodes:
            for suffix in (".x", ".y", ".score"):
                text = cell(node + suffix)
                try:
                    values.append(float(text) if text and text.lower() not in ("nan", "na") else np.nan)
                except ValueError:
                    raise DataError(
                        f"{path}: line {line}: column {node + suffix!r}: {text!r} is not a number", path=path
                    ) from None
        entries.append((frame, track, values))
    tracked = [t for t in names if not t.startswith("instance")]
    subjects = tracked + sorted((t for t in names if t.startswith("instance")), key=lambda t: int(t[8:] or 0))
    length = max((e[0] for e in entries), default=-1) + 1
    if n_frames is not None and length > n_frames:
        raise DataError(f"{path}: pose reaches frame {length - 1} but the video has {n_frames} frames", path=path)
    n = n_frames if n_frames is not None else length
    points = np.full((n, len(subjects), len(nodes), 2), np.nan, np.float32)
    scores = np.full((n, len(subjects), len(nodes)), np.nan, np.float32)
    index = {s: i for i, s in enumerate(subjects)}
    for frame, track, values in entries:
        arr = np.asarray(values, np.float32).reshape(len(nodes), 3)
        points[frame, index[track]] = arr[:, :2]
        scores[frame, index[track]] = arr[:, 2]
    has_scores = any(f"{node}.score" in col for node in nodes)
    return Pose(points, nodes, subjects, scores if has_scores else None)


# ---------------------------------------------------------------------- SLEAP analysis HDF5 (without sleap-io)
def read_sleap_analysis_h5(path: str | Path, n_frames: int | None = None) -> Pose:
    """Pose from a SLEAP analysis HDF5 with h5py only: ``tracks`` in SLEAP's (tracks, 2, nodes, frames)
    order, or the order its ``dims`` attribute names, or (frames, nodes, 2, tracks) when the file says it
    is not transposed; ``node_names``, ``track_names`` (none: one untracked column), ``point_scores``
    and ``edge_inds`` when present. Used when sleap-io cannot read a file (older exports)."""
    import json

    import h5py

    path = Path(path)

    def names(fh, key) -> list[str]:
        return [x.decode() if isinstance(x, bytes) else str(x) for x in fh[key][()]] if key in fh else []

    try:
        with h5py.File(path, "r") as fh:
            tracks = np.asarray(fh["tracks"][()], np.float32)
            dims = fh["tracks"].attrs.get("dims")
            order = json.loads(dims) if dims is not None else None
            if order is None:
                order = ["track", "xy", "node", "frame"] if fh.attrs.get("transpose", True) else None
                order = order or ["frame", "node", "xy", "track"]
            tracks = np.transpose(tracks, [order.index(d) for d in ("frame", "track", "node", "xy")])
            scores = None
            if "point_scores" in fh:
                raw = np.asarray(fh["point_scores"][()], np.float32)
                score_dims = fh["point_scores"].attrs.get("dims")
                score_order = json.loads(score_dims) if score_dims is not None else [d for d in order if d != "xy"]
                scores = np.transpose(raw, [score_order.index(d) for d in ("frame", "track", "node")])
            nodes, track_names = names(fh, "node_names"), names(fh, "track_names")
            edges = (
                [tuple(int(v) for v in e) for e in np.asarray(fh["edge_inds"][()]).reshape(-1, 2)]
                if "edge_inds" in fh
                else []
            )
    except OSError as err:
        raise DataError(f"unreadable HDF5 file ({err})", path) from err
    except (KeyError, ValueError) as err:
        raise DataError(f"not in SLEAP's analysis layout ({type(err).__name__}: {err})", path) from err
    subjects = track_names if len(track_names) == tracks.shape[1] else [f"instance{i}" for i in range(tracks.shape[1])]
    if n_frames is not None and tracks.shape[0] != n_frames:
        if tracks.shape[0] > n_frames:
            raise DataError(f"pose has {tracks.shape[0]} frames but the recording has {n_frames}", path)
        pad = n_frames - tracks.shape[0]
        tracks = np.concatenate([tracks, np.full((pad, *tracks.shape[1:]), np.nan, np.float32)])
        if scores is not None:
            scores = np.concatenate([scores, np.full((pad, *scores.shape[1:]), np.nan, np.float32)])
    return Pose(tracks, nodes, _dedupe(subjects), scores, edges)


# ---------------------------------------------------------------------- sniffing and the front door
#: The pose file kinds `sniff_pose_file` tells apart, with the tool that writes each.
POSE_KINDS = {
    "slp": "SLEAP labels / predictions (.slp)",
    "sleap_h5": "SLEAP analysis HDF5",
    "sleap_csv": "SLEAP analysis CSV",
    "dlc_h5": "DeepLabCut HDF5 table",
    "dlc_csv": "DeepLabCut CSV",
    "nwb": "NWB pose (ndx-pose)",
}


def _csv_header(path: Path, lines: int = 1) -> list[list[str]]:
    import csv

    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            head = [fh.readline() for _ in range(lines)]
    except OSError:
        return []
    return [[c.strip() for c in next(csv.reader([ln]), [])] for ln in head if ln.strip()]


def _is_sleap_csv_header(cells: Sequence[str]) -> bool:
    keys = {c.strip() for c in cells}
    nodes = [c[:-2] for c in keys if c.endswith(".x") and f"{c[:-2]}.y" in keys]
    return "frame_idx" in keys and bool(nodes) and bool({"track", "instance.score"} & keys)


def sniff_pose_file(path: str | Path) -> str | None:
    """The kind of pose file at ``path`` (a key of `POSE_KINDS`), from its content; None if it is not one.

    An HDF5 or NWB file that cannot be opened but is named like a pose file (DeepLabCut's scorer
    in its name, or ``.nwb``) is still called one, so that loading it reports the damage.
    """
    import h5py

    path = Path(path)
    name = path.name.lower()
    suffix = path.suffix.lower()
    if name.endswith(".slp"):
        return "slp"
    if suffix == ".csv":
        rows = _csv_header(path)
        if not rows:
            return None
        if rows[0] and rows[0][0].lower() == "scorer":
            return "dlc_csv"
        return "sleap_csv" if _is_sleap_csv_header(rows[0]) else None
    if suffix not in (".h5", ".hdf5", ".nwb"):
        return None
    try:
        with h5py.File(path, "r") as fh:
            if suffix == ".nwb":
                return "nwb" if _has_pose_estimation(fh) else None
            if all(k in fh for k in ("tracks", "node_names")) and isinstance(fh["tracks"], h5py.Dataset):
                return "sleap_h5"
            if "videos_json" in fh and "frames" in fh:
                return "slp"  # a SLEAP labels file saved with the .h5 extension
            from vpbehavior.io._pandas_h5 import column_names, frame_keys

            for key in frame_keys(fh):
                try:
                    levels = {n.lower() for n in column_names(fh, key, path)}
                except DataError:
                    return "dlc_h5"  # damaged metadata under a pandas table: report it when read
                if {"bodyparts", "coords"} <= levels or (key in DLC_KEYS and not levels):
                    return "dlc_h5"
            if any(isinstance(fh.get(k), h5py.Group) for k in DLC_KEYS):
                return "dlc_h5"  # DeepLabCut's group without pandas' marker: damaged, reported when read
    except OSError:  # not HDF5 or damaged: a file named like a pose file fails loudly later
        if suffix == ".nwb" or "DLC" in path.name or "DeepCut" in path.name:
            return "nwb" if suffix == ".nwb" else "dlc_h5"
    return None


def _has_pose_estimation(fh) -> bool:
    """An NWB file holds ndx-pose's PoseEstimation (in any processing module)."""
    processing = fh.get("processing")
    if processing is None:
        return False
    for module in processing.values():
        for item in getattr(module, "values", lambda: [])():
            kind = item.attrs.get("neurodata_type", b"")
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind == "PoseEstimation":
                return True
    return False


@dataclass(frozen=True)
class PoseFile:
    """A pose file read for one video: the pose and what else the file holds.

    ``sleap_labels`` / ``sleap_video`` are the sleap-io Labels and Video of a .slp file (its
    behavior events become labels); ``fps`` is the frame rate the file states, when it has one.
    """

    path: Path
    kind: str
    pose: Pose
    sleap_labels: object | None = None
    sleap_video: object | None = None
    fps: float | None = None


def _pick_sleap_video(labels, video: str | Path | None, path: Path):
    """The sleap-io Video of ``labels`` that names ``video`` (by file name), or its only one."""
    if len(labels.videos) <= 1:
        return labels.videos[0] if labels.videos else None
    if video is None:
        raise DataError(
            f"references {len(labels.videos)} videos {[Path(str(v.filename)).name for v in labels.videos]}; "
            "name the one to read",
            path,
        )
    name = Path(str(video)).name
    found = next((v for v in labels.videos if Path(str(v.filename).replace("\\", "/")).name == name), None)
    if found is None:
        raise DataError(f"references {len(labels.videos)} videos, none named {name}", path)
    return found


def read_pose(
    path: str | Path,
    n_frames: int | None = None,
    video: str | Path | None = None,
    frame_files: Sequence[str] | None = None,
    fps: float | None = None,
    kind: str | None = None,
) -> PoseFile:
    """Read any supported pose file (`POSE_KINDS`) as the pose of one video.

    Parameters
    ----------
    path
        The pose file.
    n_frames
        The video's length: the pose is padded to it; pose beyond it is a `DataError`.
    video
        The video the pose belongs to (its file name picks it in a file covering several videos).
    frame_files
        For a frame folder: its image names in frame order (DeepLabCut labeled data is placed by image).
    fps
        The video's frame rate (NWB times become frames with the file's own rate first).
    kind
        The file's kind when already sniffed.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: pose file not found", path=path)
    kind = kind or sniff_pose_file(path)
    if kind in ("dlc_h5", "dlc_csv"):
        return PoseFile(path, kind, read_dlc(path, n_frames, frame_files))
    if kind == "sleap_csv":
        return PoseFile(path, kind, read_sleap_csv(path, n_frames))
    if kind == "nwb":
        from vpbehavior.io.nwb import read_nwb_pose

        pose, rate = read_nwb_pose(path, n_frames=n_frames, video=video, fps=fps)
        return PoseFile(path, kind, pose, fps=rate)
    if kind not in ("slp", "sleap_h5"):
        raise FormatError(f"{path}: not a pose file vpbehavior reads ({', '.join(POSE_KINDS.values())})", path=path)
    if kind == "sleap_h5":
        try:
            labels = load_pose_file(path, "analysis_h5")
        except DataError as err:  # e.g. an old SLEAP export without the score datasets sleap-io expects
            pose = read_sleap_analysis_h5(path, n_frames)
            logger.info("%s: read without sleap-io (%s)", path, err)
            return PoseFile(path, kind, pose)
    else:
        labels = load_pose_file(path)
    sleap_video = _pick_sleap_video(labels, video, path)
    try:
        pose = pose_from_sleap(labels, n_frames=n_frames, video=sleap_video)
    except DataError as err:
        where = f" for video {video}" if video is not None else ""
        raise DataError(f"pose file {path} does not fit{where}: {err}", path) from err
    if not pose.subjects:
        raise DataError("no pose instances could be read from the file", path)
    return PoseFile(path, kind, pose, labels if kind == "slp" else None, sleap_video)
