"""One pose or label file on its own: ``vpbehavior.load("predictions.slp")`` and ``vpbehavior inspect FILE``.

Accepted (recognized by content, see `vpbehavior.io.pairing.classify`): a SLEAP ``.slp``, a SLEAP
analysis ``.h5`` / ``.csv``, a DeepLabCut ``.h5`` / ``.csv`` (analysis, filtered, tracks, labeled
data), an NWB pose file, a BORIS export, a per-frame CSV or a ``.behavior.json`` file.

The file's video is looked for, in this order: the path the file stores (a .slp's videos, a SLEAP
analysis file's ``video_path``, NWB ``original_videos``, BORIS media files) as given, relative to
the file, and by its file name next to the file or one folder up; else the video the file's name
names (the same rules as an experiment folder), in the file's folder first, else in its parent or
the parent's other subfolders (``videos/`` beside ``analysis/``); a file inside a frame folder
belongs to that folder. A file naming several videos (a multi-video .slp, a BORIS export of
several media files) gives one recording per video. A video that is not found costs a
`DataWarning`, and the recording holds the pose or labels without video (``video=None``; the
length is the file's own, the frame rate the file's when it states one).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from vpbehavior.core import FRAME_LEVEL, Dataset, FormatError, MissingFileError, Recording
from vpbehavior.io.pairing import (
    Candidate,
    RecordingFiles,
    _name_claim,
    classify,
    display_stem,
    is_frame_folder,
    scan,
)
from vpbehavior.io.registry import register_format
from vpbehavior.io.tracks import apply_track_options, check_merge_tracks, check_tracks
from vpbehavior.reporting import warn_data

FORMAT = "file"


def _video_at(path: Path) -> bool:
    from vpbehavior.io.video import VIDEO_SUFFIXES

    return (path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES) or (path.is_dir() and is_frame_folder(path))


def find_referenced_video(file: Path, reference: str) -> Path | None:
    """The video a stored path names: as stored, relative to ``file``, or by name beside it or one folder up."""
    posix = PurePosixPath(reference.replace("\\", "/"))
    tries = [Path(reference), file.parent / reference, file.parent / posix.name, file.parent.parent / posix.name]
    for candidate in tries:
        try:
            if _video_at(candidate):
                return candidate
        except OSError:  # a stored path that is not even a valid path here
            continue
    return None


def _nearby_folders(path: Path, limit: int = 64) -> list[Path]:
    """The file's folder, its parent and the parent's other subfolders (e.g. ``videos/`` beside ``analysis/``)."""
    folders = [path.parent, path.parent.parent]
    try:
        folders += sorted(d for d in path.parent.parent.iterdir() if d.is_dir() and not d.name.startswith("."))[:limit]
    except OSError:
        pass
    return list(dict.fromkeys(folders))


def _targets(cand: Candidate) -> list[tuple[Path | None, str]]:
    """(video or None, the name it is known by) for each recording the file describes."""
    path = cand.path
    if is_frame_folder(path.parent):
        return [(path.parent, path.parent.name)]
    found = [(find_referenced_video(path, ref), PurePosixPath(ref.replace("\\", "/")).name) for ref in cand.references]
    if found and any(v is not None for v, _ in found):
        return found
    by_dir = {}
    for folder in _nearby_folders(path):
        videos = scan(folder, recursive=False).videos
        if videos:
            by_dir[folder] = {(v.name if v.is_dir() else v.stem): v for v in videos}
    named = _name_claim(cand, by_dir)
    if named is not None:
        return [(named[0], named[0].name)]
    return found or [(None, display_stem(path))]


def _without_video(cand: Candidate, known_as: str, fps, tracks, merge_tracks, name: str) -> Recording:
    from vpbehavior.io.folder import _event_labels
    from vpbehavior.io.label_formats import read_label_file
    from vpbehavior.io.pose import read_pose, warn_if_no_points

    if cand.role == "pose":
        pose_file = read_pose(cand.path, video=known_as, kind=cand.kind, fps=fps)
        pose, fate = apply_track_options(pose_file.pose, tracks, merge_tracks, name)
        warn_if_no_points(pose, cand.path)
        labels = _event_labels(pose_file, pose, fate, RecordingFiles(Path(known_as)), pose.n_frames)
        subjects = list(labels.subjects) if labels is not None else list(pose.subjects)
        rate = fps or pose_file.fps
        return Recording(
            name,
            None,
            pose.n_frames,
            rate,
            subjects or [FRAME_LEVEL],
            pose=pose,
            labels=labels,
            metadata={"pose_file": str(cand.path), "label_files": []},
        )
    labels = read_label_file(cand.path, fps=fps, media=known_as if cand.references else None)
    return Recording(
        name,
        None,
        labels.n_frames,
        fps,
        labels.subjects,
        labels=labels,
        metadata={"pose_file": None, "label_files": [str(cand.path)]},
    )


def load_file(
    path: str | Path, fps: float | None = None, tracks: int | None = None, merge_tracks=None, progress=None
) -> Dataset:
    """The recording(s) one pose or label file describes, with its video when that is found.

    ``fps`` overrides the frame rate; ``tracks`` / ``merge_tracks`` as for an experiment folder
    (see `vpbehavior.io.tracks`). Problems raise (this is one file the user named): `FormatError`
    for a file that is no pose or label file, `DataError` for a damaged one.
    """
    from vpbehavior.io.folder import build_recording

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file", path=path)
    tracks, merge_tracks = check_tracks(tracks), check_merge_tracks(merge_tracks)
    cand = classify(path)
    if cand is None and path.suffix.lower() == ".nwb":
        raise FormatError(f"{path}: an NWB file without ndx-pose pose estimation (PoseEstimation) to load", path=path)
    if cand is None:
        raise FormatError(
            f"{path}: not a pose or label file vpbehavior reads (SLEAP .slp / analysis .h5 / .csv, DeepLabCut "
            ".h5 / .csv, NWB with ndx-pose, a BORIS export, a per-frame CSV or a .behavior.json file)",
            path=path,
        )
    recordings, names = [], set()
    for video, known_as in _targets(cand):
        stem = Path(known_as).stem if video is None or video.is_file() else video.name
        name, i = stem, 1
        while name in names:
            i += 1
            name = f"{stem}_{i}"
        names.add(name)
        if video is None:
            where = ", ".join(str(p) for p in dict.fromkeys([path.parent, path.parent.parent]))
            warn_data(
                f"{path}: its video {known_as} was not found (looked where the file stores it and in {where}); "
                f"loaded its {'pose' if cand.role == 'pose' else 'labels'} without video",
                stacklevel=3,
            )
            recordings.append(_without_video(cand, known_as, fps, tracks, merge_tracks, name))
            continue
        files = RecordingFiles(video, kinds={path: cand.kind})
        (files.pose if cand.role == "pose" else files.labels).append(path)
        files.notes.append(f"{cand.role} {path.name}: loaded on its own")
        recordings.append(build_recording(files, fps, None, tracks, merge_tracks, name))
    return Dataset(recordings, FORMAT, path)


def detect_lab_file(path: Path) -> float:
    """How sure we are that ``path`` is one pose or label file (specific dataset formats score higher)."""
    from vpbehavior.io.video import VIDEO_SUFFIXES

    path = Path(path)
    if not path.is_file() or path.suffix.lower() in VIDEO_SUFFIXES:
        return 0.0
    cand = classify(path)
    if cand is None:
        return 0.2 if path.suffix.lower() == ".nwb" else 0.0  # an NWB file: say it holds no pose
    if cand.role == "pose":
        return 0.7
    return {"behavior_json": 0.9, "boris_events": 0.7, "boris_aggregated": 0.7, "boris_binary": 0.55}.get(
        cand.kind, 0.5
    )


register_format(
    FORMAT,
    detect_lab_file,
    load_file,
    "one pose or label file (SLEAP, DeepLabCut, NWB, BORIS, per-frame CSV, .behavior.json) with the video it names",
)
