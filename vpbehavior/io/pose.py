"""sleap-io bridge: pose files (SLEAP .slp, DeepLabCut .h5/.csv, ...) and behavior events.

Bouts round-trip to sleap-io's behavior events (sleap-io >= 0.9), so labels can live in
the same .slp file as the pose. sleap-io events are inclusive ``[start_frame, end_frame]``;
our bouts are ``[start, stop)``; the conversion happens here and nowhere else. An event's
``subject`` and ``target`` (a `Track` or an `Identity`) map to `Bout.subject` and
`Bout.target` by name; an event without subject is frame-level (`FRAME_LEVEL`).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vpbehavior.core import FRAME_LEVEL, BehaviorLabels, Bout, DataError, MissingFileError, Pose
from vpbehavior.reporting import warn_data


def load_pose_file(path: str | Path):
    """Read a pose file with sleap-io (format from the extension), naming the file on error."""
    import sleap_io as sio

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: pose file not found", path=path)
    try:
        return sio.load_file(str(path))
    except Exception as err:  # the third-party reader raises many types for a bad file; report them uniformly
        raise DataError(f"could not read pose file ({type(err).__name__}: {err})", path) from err


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


def read_dlc(path: str | Path, n_frames: int | None = None) -> Pose:
    """Pose from a DeepLabCut output: ``.csv`` or ``.h5`` (analysis or labeled data, single- or multi-animal).

    Columns are (scorer, [individuals,] bodyparts, coords); rows are frames, indexed by the
    frame number (analysis output) or an image path (labeled data: the number in the file
    name, else the row order). A single-animal file has the one subject ``instance0``.
    The .h5 form is read with h5py; its pandas metadata is decoded without running code.
    """
    path = Path(path)
    if path.suffix.lower() == ".h5":
        keys, index, values = _dlc_h5_table(path)
    else:
        keys, index, values = _dlc_csv_table(path)
    for c, (_, part, coord) in enumerate(keys):
        if not part or coord not in _DLC_COORDS:
            raise DataError(
                f"{path}: column {c + 1}: bodypart {part!r} / coord {coord!r} is not a DeepLabCut column", path=path
            )
    frames = [_dlc_frame_number(label, row) for row, label in enumerate(index)]
    length = max(frames, default=-1) + 1
    if n_frames is not None and length > n_frames:
        raise DataError(f"{path}: pose reaches frame {length - 1} but the video has {n_frames} frames", path=path)
    subjects = list(dict.fromkeys(k[0] for k in keys))
    parts = list(dict.fromkeys(k[1] for k in keys))
    n = n_frames if n_frames is not None else length
    points = np.full((n, len(subjects), len(parts), 2), np.nan, np.float32)
    scores = np.full((n, len(subjects), len(parts)), np.nan, np.float32)
    rows = np.asarray(frames, dtype=np.int64)
    for c, (ind, part, coord) in enumerate(keys):
        s, k = subjects.index(ind), parts.index(part)
        if coord == "likelihood":
            scores[rows, s, k] = values[:, c]
        else:
            points[rows, s, k, _DLC_COORDS.index(coord)] = values[:, c]
    return Pose(points, parts, subjects, scores)


def _dlc_frame_number(label: str, row: int) -> int:
    label = str(label).strip()
    if label.isdigit():
        return int(label)
    digits = "".join(ch for ch in Path(label.replace("\\", "/")).stem if ch.isdigit())
    return int(digits) if digits else row


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
        n_index += 1  # labeled-data CSVs have 3 index columns
    columns = range(n_index, len(coords))

    def level(name: str, c: int, default: str = "") -> str:
        row = levels.get(name)
        return row[c].strip() if row is not None and c < len(row) else default

    keys = [(level("individuals", c, "instance0"), level("bodyparts", c), coords[c].strip().lower()) for c in columns]
    body = rows[body_start:]
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


class _PlainDataUnpickler(pickle.Unpickler):
    """Decodes pickles of plain lists, tuples, dicts, strings and numbers; refuses every class."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _plain_pickle(raw, path: Path, what: str):
    data = raw.tobytes() if hasattr(raw, "tobytes") else bytes(raw)
    try:
        return _PlainDataUnpickler(io.BytesIO(data)).load()
    except Exception as err:
        raise DataError(f"{path}: cannot decode the DeepLabCut table's {what} ({err})", path=path) from err


def _dlc_h5_table(path: Path) -> tuple[list[tuple[str, str, str]], list[str], np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if "df_with_missing" not in fh or "table" not in fh["df_with_missing"]:
                raise DataError(f"{path}: not a DeepLabCut .h5 file (no df_with_missing/table)", path=path)
            group, table = fh["df_with_missing"], fh["df_with_missing/table"][()]
            info = _plain_pickle(group.attrs["info"], path, "info") if "info" in group.attrs else {}
            blocks = _plain_pickle(group.attrs["values_cols"], path, "values_cols")
            columns, values = [], []
            for block in blocks:
                columns += _plain_pickle(fh["df_with_missing/table"].attrs[f"{block}_kind"], path, f"{block}_kind")
                values.append(np.asarray(table[block], np.float32).reshape(len(table), -1))
            index = [x.decode() if isinstance(x, bytes) else str(x) for x in table["index"]]
    except DataError:
        raise
    except OSError as err:
        raise DataError(f"{path}: unreadable HDF5 file ({err})", path=path) from err
    except (KeyError, ValueError) as err:  # h5py: a missing attribute or table column
        raise DataError(f"{path}: df_with_missing/table is not in DeepLabCut's layout ({err})", path=path) from err
    names = [str(n).lower() for n in (info.get(1, {}).get("names") or [])]
    if not names:  # older files: infer the levels from the tuple length
        names = ["scorer", "individuals", "bodyparts", "coords"][-len(columns[0]) :] if columns else []
    keys = []
    for col in columns:
        named = dict(zip(names, col))
        keys.append(
            (
                str(named.get("individuals", "instance0")),
                str(named.get("bodyparts", "")),
                str(named.get("coords", "")).lower(),
            )
        )
    return keys, index, np.concatenate(values, axis=1) if values else np.zeros((len(index), 0), np.float32)
