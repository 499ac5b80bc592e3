"""Fragmented tracks: how many there are, keeping the longest, merging them by a mapping.

A tracker that loses an animal starts a new track when it finds it again: two flies can come
back as 27 track ids. Loaders take two options for that, applied to the pose before the
recording is built (so each subject's per-frame presence is that of the tracks it is made of):

* ``merge_tracks``: ``{track: subject}``, e.g. ``{"1": "fly1", "3": "fly1", "2": "fly2"}``.
  Tracks mapped to one subject become that subject; tracks not named keep their name (a track
  already called like a target joins it). Two tracks of one subject that are both present in
  a frame are refused (`DataError` naming both tracks and the first such frame). For a folder of
  several recordings the mapping can also be ``{recording name: {track: subject}}``.
* ``tracks``: keep the N tracks (after merging) present in the most frames, in their order.

`parse_track_options` turns the command line's ``--tracks N`` and ``--merge-tracks FILE.json``
into these options.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from vpbehavior.core import ConfigError, DataError, MissingFileError, Pose
from vpbehavior.reporting import logger, warn_data

#: A merge mapping: ``{track: subject}`` for every recording, or ``{recording: {track: subject}}``.
MergeMapping = Mapping[str, str] | Mapping[str, Mapping[str, str]]


def check_merge_tracks(merge_tracks, source: str = "merge_tracks") -> dict | None:
    """``merge_tracks`` validated and copied (`ConfigError` naming ``source`` when malformed)."""
    if merge_tracks is None:
        return None
    if not isinstance(merge_tracks, Mapping):
        raise ConfigError(f"{source}: must map track names to subject names, not {type(merge_tracks).__name__}")
    if not merge_tracks:
        raise ConfigError(f"{source}: the track mapping is empty")
    nested = [isinstance(v, Mapping) for v in merge_tracks.values()]
    if any(nested) and not all(nested):
        raise ConfigError(
            f"{source}: give either {{track: subject}} or {{recording: {{track: subject}}}}, not both in one mapping"
        )
    out: dict = {}
    for key, value in merge_tracks.items():
        if isinstance(value, Mapping):
            out[str(key)] = check_merge_tracks(value, f"{source}[{key!r}]")
        elif not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise ConfigError(f"{source}: track {key!r} maps to {value!r}; subject names are non-empty strings")
        else:
            out[str(key)] = str(value).strip()
    return out


def check_tracks(tracks) -> int | None:
    """``tracks`` (keep the N longest) validated: None or a positive integer."""
    if tracks is None:
        return None
    if isinstance(tracks, bool) or not isinstance(tracks, int | np.integer) or tracks < 1:
        raise ConfigError(f"tracks must be a positive number of tracks to keep, not {tracks!r}")
    return int(tracks)


def parse_track_options(tracks: int | None, merge_file: str | None) -> dict:
    """The load options for the command line's ``--tracks N`` and ``--merge-tracks FILE.json``.

    Returns ``{"tracks": N, "merge_tracks": {...}}`` with only the options given (pass them to
    `vpbehavior.load` as keyword arguments). Raises `ConfigError` for a bad N or mapping,
    `MissingFileError` for a missing file and `DataError` for a file that is not JSON.
    """
    options: dict = {}
    if tracks is not None:
        options["tracks"] = check_tracks(tracks)
    if merge_file is not None:
        path = Path(merge_file)
        if not path.is_file():
            raise MissingFileError(f"{path}: track mapping file not found", path=path)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"the track mapping is not valid JSON ({err})", path) from err
        try:
            options["merge_tracks"] = check_merge_tracks(mapping, str(path))
        except ConfigError as err:
            raise DataError(str(err), path) from err
    return options


def mapping_for(merge_tracks: Mapping | None, recording: str) -> dict[str, str] | None:
    """The ``{track: subject}`` mapping that applies to one recording (None: no merging)."""
    if not merge_tracks:
        return None
    first = next(iter(merge_tracks.values()))
    if isinstance(first, Mapping):
        return dict(merge_tracks.get(recording, {})) or None
    return dict(merge_tracks)


def merge_pose_tracks(pose: Pose, mapping: Mapping[str, str], source: str = "") -> tuple[Pose, dict[str, str]]:
    """Pose with tracks merged by ``mapping``, and each original track's new subject name.

    A key naming no track of ``pose`` is a `DataError` when no key names one, else a warning.
    """
    where = f"{source}: " if source else ""
    unknown = [k for k in mapping if k not in pose.subjects]
    if unknown and len(unknown) == len(mapping):
        raise DataError(
            f"{where}merge_tracks names tracks {sorted(unknown)[:10]} that are not in the pose; "
            f"its tracks are {list(pose.subjects)[:30]}"
        )
    if unknown:
        warn_data(f"{where}merge_tracks names tracks {sorted(unknown)[:10]} that are not in this pose; ignored")
    target = {t: mapping.get(t, t) for t in pose.subjects}
    subjects = list(dict.fromkeys(target.values()))
    visible = pose.visible()
    _, _, k, _ = pose.points.shape
    points = np.full((pose.n_frames, len(subjects), k, 2), np.nan, np.float32)
    scores = None if pose.scores is None else np.full((pose.n_frames, len(subjects), k), np.nan, np.float32)
    owner = np.full((pose.n_frames, len(subjects)), -1, np.int64)
    for i, track in enumerate(pose.subjects):
        s = subjects.index(target[track])
        here = visible[:, i]
        clash = here & (owner[:, s] >= 0)
        if clash.any():
            frame = int(np.flatnonzero(clash)[0])
            other = pose.subjects[owner[frame, s]]
            raise DataError(
                f"{where}tracks {other!r} and {track!r} are both present at frame {frame} "
                f"({int(clash.sum())} frames in all), so they cannot be merged into {target[track]!r}"
            )
        owner[here, s] = i
        points[here, s] = pose.points[here, i]
        if scores is not None:
            scores[here, s] = pose.scores[here, i]
    return Pose(points, pose.keypoint_names, subjects, scores, pose.edges), target


def keep_longest_tracks(pose: Pose, n: int) -> tuple[Pose, list[str]]:
    """The ``n`` tracks present in the most frames (ties: the earlier track), in their order; and the dropped ones."""
    counts = pose.visible().sum(0)
    order = sorted(range(len(pose.subjects)), key=lambda i: (-int(counts[i]), i))
    keep = sorted(order[:n])
    dropped = [pose.subjects[i] for i in sorted(order[n:])]
    return pose.select([pose.subjects[i] for i in keep]), dropped


def apply_track_options(
    pose: Pose, tracks: int | None = None, merge_tracks: MergeMapping | None = None, recording: str = ""
) -> tuple[Pose, dict[str, str | None]]:
    """Merge (``merge_tracks``), then keep the longest ``tracks``; returns the pose and what became of
    each original track (its subject name, or None when it was dropped)."""
    fate: dict[str, str | None] = {t: t for t in pose.subjects}
    mapping = mapping_for(merge_tracks, recording)
    if mapping:
        pose, target = merge_pose_tracks(pose, mapping, recording)
        fate = dict(target)
    if tracks is not None and tracks < len(pose.subjects):
        pose, dropped = keep_longest_tracks(pose, tracks)
        logger.info("%s: kept the %d longest of %d tracks", recording, tracks, tracks + len(dropped))
        fate = {t: (None if s in dropped else s) for t, s in fate.items()}
    return pose, fate
