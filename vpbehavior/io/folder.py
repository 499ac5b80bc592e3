"""A plain experiment folder: videos, with the pose and label files the lab's tools wrote next to them.

What is found (recursively, hidden entries skipped):

* **videos**: files with a video suffix (mp4 / avi / mov / mkv / ...) and *frame folders*
  (folders that hold image frames and no video, e.g. DeepLabCut's ``labeled-data/<video>/``);
* **pose**, recognized by content (`vpbehavior.io.pose.sniff_pose_file`): SLEAP ``.slp``,
  SLEAP analysis ``.h5`` and ``.csv``, DeepLabCut ``.h5`` (pandas "table" and "fixed" layouts,
  keys "df_with_missing" and "tracks") and ``.csv``, NWB with ndx-pose (needs ``vpbehavior[nwb]``);
* **labels**: our ``<stem>.behavior.json``, BORIS exports (tabular events, aggregated events,
  binary table; CSV/TSV) and the per-frame CSV (see `vpbehavior.io.label_formats`).

Pose is sniffed before labels, so a SLEAP analysis CSV (``track, frame_idx, instance.score, ...``)
is pose. Which file belongs to which video is decided in `vpbehavior.io.pairing` (inside a frame
folder, a stored video reference, or the names SLEAP, DeepLabCut and BORIS write; one pose file
per video, chosen by a documented rank). Tool by-products (rendered ``*_labeled.mp4`` videos,
``plot-poses/`` folders, pickles, skeleton analyses, machine labels, model folders) are listed in
``Dataset.skipped`` and pose / label files no video claims in ``Dataset.unpaired``, each with the
reason: nothing near a video is dropped silently. A BORIS binary table named ``<stem>_<subject>.csv``
is that subject's table ("No focal subject" = frame-level). Subjects come from the pose tracks;
labelled subjects must be among them (frame-level labels add the subject ``"all"``).

Fragmented tracks: ``tracks=N`` keeps the N tracks present in the most frames and
``merge_tracks={track: subject}`` merges tracks (see `vpbehavior.io.tracks`); both apply to the
pose before the recording is built, so each subject's per-frame presence is kept.

A recording whose video or pose file cannot be read, or whose pose is longer than the video,
is listed in ``Dataset.failures`` with both file names; the others load. A label file that is
broken or does not fit its video (more frames than the video, unknown subject) does not cost
the video: the recording loads without those labels, the label file is listed in
``Dataset.failures`` with its error, and a `DataWarning` says so. Recording names are the video
stems (the path under the folder where two videos share a stem); metadata names the
``pose_file`` and ``label_files`` paired and ``pairing`` says how.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vpbehavior.core import (
    FRAME_LEVEL,
    BehaviorLabels,
    DataError,
    Dataset,
    FormatError,
    LoadFailure,
    MissingFileError,
    Recording,
    SkippedFile,
)
from vpbehavior.core.errors import INPUT_ERRORS
from vpbehavior.io._sidecars import probe, try_load
from vpbehavior.io.label_formats import align_subjects, merge_labels, read_label_file, sniff_label_kind
from vpbehavior.io.pairing import RecordingFiles, is_frame_folder, pair, scan, unique_names
from vpbehavior.io.registry import register_format
from vpbehavior.io.tracks import apply_track_options, check_merge_tracks, check_tracks
from vpbehavior.io.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from vpbehavior.reporting import track, warn_data

FORMAT = "folder"
_SEPARATORS = "._- "

__all__ = ["FORMAT", "RecordingFiles", "build_recording", "detect_folder", "find_videos", "load_folder", "pair_files"]


def _is_frame_folder(path: Path) -> bool:
    return is_frame_folder(path)


def find_videos(root: Path, recursive: bool = True) -> list[Path]:
    """Video files and frame folders under ``root`` (hidden entries and tool by-products skipped), sorted."""
    return scan(Path(root), recursive).videos


def _unavailable_kinds() -> dict[str, str]:
    from vpbehavior.io.nwb import missing_dependency_message, nwb_available

    return {} if nwb_available() else {"nwb": missing_dependency_message()}


def _warn_unavailable(unpaired: list[SkippedFile]) -> None:
    from vpbehavior.io.nwb import INSTALL_HINT

    n = sum("pip install" in f.reason and f.path.suffix.lower() == ".nwb" for f in unpaired)
    if n:
        warn_data(f"{n} NWB pose file(s) not read: pynwb and ndx-pose are not installed ({INSTALL_HINT})", stacklevel=4)


def pair_files(
    videos: list[Path],
    unpaired: list[SkippedFile] | None = None,
    skipped: list[SkippedFile] | None = None,
    files: list[Path] | None = None,
) -> list[RecordingFiles]:
    """Attach pose and label files to each video by the pairing rules of `vpbehavior.io.pairing`.

    Without ``files``, the candidates are the files in the videos' folders (and inside frame
    folders). Files left unpaired go to ``unpaired``, DeepLabCut .h5 twins of a .csv to ``skipped``.
    """
    if files is None:
        files = []
        for folder in dict.fromkeys([v.parent for v in videos] + [v for v in videos if v.is_dir()]):
            found = scan(folder, recursive=False)
            files += found.files
            if skipped is not None:
                skipped += [
                    s for s in found.skipped if s.path.is_file() and s.path.suffix.lower() not in VIDEO_SUFFIXES
                ]
        files = list(dict.fromkeys(files))
    return pair(videos, files, unpaired, skipped, _unavailable_kinds())


def _frame_files(video: Path) -> list[str] | None:
    """The image names of a frame folder in frame order (as the image-folder reader orders them)."""
    if not video.is_dir():
        return None
    from vpbehavior.io.video import natural_sort_key

    files = [
        p for p in video.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    return [p.name for p in sorted(files, key=lambda p: (natural_sort_key(p.name), p.name))]


def _pose_for(files: RecordingFiles, n_frames: int, fps: float | None):
    """(pose, the pose file read): the pose files of one video, read and side by side."""
    from vpbehavior.io.pose import combine_poses, read_pose, warn_if_no_points

    path = files.pose[0]
    frame_files = _frame_files(files.video)
    pose_file = read_pose(
        path, n_frames, video=files.video, frame_files=frame_files, fps=fps, kind=files.kinds.get(path)
    )
    pose = pose_file.pose
    for other in files.pose[1:]:  # one file per animal (DLC2NWB): their subjects side by side
        more = read_pose(
            other, n_frames, video=files.video, frame_files=frame_files, fps=fps, kind=files.kinds.get(other)
        )
        pose = combine_poses(pose, more.pose, f"{path.name} and {other.name}")
    warn_if_no_points(pose, path)
    return pose, pose_file


def _event_labels(pose_file, pose, fate, files: RecordingFiles, n_frames: int):
    """Labels from the behavior events stored in a .slp file (frames outside events are negatives), or None."""
    from vpbehavior.io.pose import events_to_bouts

    labels = pose_file.sleap_labels
    if labels is None or not labels.event_types:
        return None
    try:
        bouts = events_to_bouts(labels, pose_file.sleap_video)
    except DataError as err:
        raise DataError(
            f"behavior events in {pose_file.path} do not match video {files.video}: {err}", pose_file.path
        ) from err
    kept, dropped = [], 0
    for b in bouts:
        subject = b.subject if b.subject == FRAME_LEVEL else fate.get(b.subject, b.subject)
        target = None if b.target is None else fate.get(b.target, b.target)
        if subject is None:
            dropped += 1
            continue
        kept.append(replace(b, subject=subject, target=target if target != subject else None))
    if dropped:
        warn_data(
            f"{pose_file.path}: {dropped} behavior events of tracks left out by tracks= are left out too", stacklevel=4
        )
    framewise = any(b.subject == FRAME_LEVEL for b in kept)
    subjects = [*pose.subjects, *([FRAME_LEVEL] if framewise else [])]
    classes = [et.name for et in labels.event_types]
    try:
        return BehaviorLabels.from_bouts(kept, n_frames, classes=classes, subjects=subjects, annotated=True)
    except DataError as err:
        raise DataError(
            f"behavior events in {pose_file.path} do not match video {files.video}: {err}", pose_file.path
        ) from err


def _binary_subject(label: Path, stem: str) -> str:
    rest = label.stem[len(stem) :].lstrip(_SEPARATORS) if label.stem.startswith(stem) else ""
    return rest or FRAME_LEVEL


def _read_labels(path: Path, files: RecordingFiles, n_frames: int, fps: float | None, subjects: list[str]):
    """One label file of a recording, on the recording's subjects when it has pose."""
    subject = _binary_subject(path, files.stem) if sniff_label_kind(path) == "boris_binary" else FRAME_LEVEL
    try:
        labels = read_label_file(path, n_frames=n_frames, fps=fps, media=files.video.name, subject=subject)
        if subjects:
            labels = align_subjects(labels, subjects, source=str(path))
    except DataError as err:
        raise DataError(f"{err} (label file of video {files.video})", path) from err
    return labels


def _label_failure(failures: list[LoadFailure], path: Path, err: Exception, video: Path) -> None:
    failures.append(LoadFailure(path, str(err)))
    warn_data(f"{err}; {video} is loaded without the labels of {path.name}", stacklevel=4)


def build_recording(
    files: RecordingFiles,
    fps: float | None = None,
    failures: list[LoadFailure] | None = None,
    tracks: int | None = None,
    merge_tracks=None,
    name: str | None = None,
) -> Recording:
    """One `Recording` from a video and its paired pose / label files.

    A pose or label file (or the behavior events of a .slp file) that cannot be used is appended
    to ``failures`` with its error and left out (warned about), so the video still loads; without
    ``failures`` it raises.
    ``tracks`` / ``merge_tracks`` are applied to the pose (see `vpbehavior.io.tracks`).
    """
    if not files.video.exists():
        raise MissingFileError(f"{files.video}: video not found", path=files.video)
    name = name or files.stem
    info = probe(files.video, f"recording {name!r}", fps=fps)
    n_frames, rate = int(info["n_frames"]), info["fps"]
    pose, pose_file, fate = None, None, {}
    if files.pose:
        try:
            pose, pose_file = _pose_for(files, n_frames, rate)
        except INPUT_ERRORS as err:  # a broken pose file costs the pose, not the video
            if failures is None:
                raise
            failures.append(LoadFailure(files.pose[0], str(err)))
            warn_data(f"{err}; {files.video} is loaded without pose", stacklevel=3)
        else:  # the user's track options: a mistake there fails the recording
            pose, fate = apply_track_options(pose, tracks, merge_tracks, name)
    subjects = list(pose.subjects) if pose is not None else []
    parts, used = [], []

    def usable(fn, path: Path, *args):
        if failures is None:
            return fn(*args)
        try:
            return fn(*args)
        except INPUT_ERRORS as err:
            _label_failure(failures, path, err, files.video)
            return None

    if pose_file is not None and pose_file.sleap_labels is not None:
        events = usable(_event_labels, pose_file.path, pose_file, pose, fate, files, n_frames)
        if events is not None:
            parts.append(events)
    for path in files.labels:
        labels = usable(_read_labels, path, path, files, n_frames, rate, subjects)
        if labels is not None:
            parts.append(labels)
            used.append(path)
    labels = None
    if parts:
        source = f"label files {[str(p) for p in used]} of video {files.video}"
        if failures is None or len(parts) == 1:
            labels = merge_labels(parts, source=source)
        else:
            try:
                labels = merge_labels(parts, source=source)
            except DataError as err:
                for path in used:
                    failures.append(LoadFailure(path, str(err)))
                warn_data(f"{err}; {files.video} is loaded without labels", stacklevel=3)
        if labels is not None:
            subjects = list(labels.subjects)
    return Recording(
        name=name,
        video=files.video,
        n_frames=n_frames,
        fps=rate,
        subjects=subjects or [FRAME_LEVEL],
        pose=pose,
        labels=labels,
        metadata={
            "pose_file": str(pose_file.path) if pose_file else None,
            "label_files": [str(p) for p in files.labels],
            "pairing": list(files.notes),
        },
    )


def load_folder(
    path: str | Path,
    fps: float | None = None,
    tracks: int | None = None,
    merge_tracks=None,
    progress=None,
) -> Dataset:
    """Load an experiment folder (or a single video file) into a `Dataset`.

    Parameters
    ----------
    path
        Folder of videos (searched recursively) or one video file / frame folder.
    fps
        Frame rate to use instead of the measured one (image folders have none: default 30).
    tracks
        Keep the N pose tracks present in the most frames (fragmented tracking).
    merge_tracks
        ``{track: subject}`` (or ``{recording: {track: subject}}``): merge tracks into subjects.
    progress
        The `vpbehavior.reporting` progress hook (True: a terminal bar).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder", path=path)
    tracks = check_tracks(tracks)
    merge_tracks = check_merge_tracks(merge_tracks)
    unpaired: list[SkippedFile] = []
    skipped: list[SkippedFile] = []
    if path.is_file() or is_frame_folder(path):
        # the other videos of the folder take part in pairing (longest stem wins), subfolders do not
        siblings = scan(path.parent, recursive=False)
        videos = [path] + [v for v in siblings.videos if v != path]
        files = siblings.files + (scan(path, recursive=False).files if path.is_dir() else [])
        everything: list[SkippedFile] = []
        files_of = [f for f in pair(videos, files, everything, skipped, _unavailable_kinds()) if f.video == path]
        skipped = [s for s in skipped if s.path.with_suffix(".csv") in files_of[0].pose]  # its own .h5 twin
        unpaired = [u for u in everything if f"chosen for {path.name}:" in u.reason]  # pose files passed over
        names = {path: path.name if path.is_dir() else path.stem}
    else:
        found = scan(path)
        if not found.videos:
            raise FormatError(f"{path}: no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders found", path=path)
        skipped = list(found.skipped)
        files_of = pair(found.videos, found.files, unpaired, skipped, _unavailable_kinds())
        names = unique_names(found.videos, path)
        _warn_unavailable(unpaired)
    recordings, failures = [], []
    for f in track(files_of, progress, "recordings", unit="recording"):
        rec = try_load(failures, f.video, build_recording, f, fps, failures, tracks, merge_tracks, names[f.video])
        if rec is not None:
            recordings.append(rec)
    return Dataset(recordings, FORMAT, path, failures, skipped=skipped, unpaired=unpaired)


def detect_folder(path: Path) -> float:
    """A low score for any folder with videos or frame folders up to 3 levels down (or a video file):
    specific formats win."""
    import os

    path = Path(path)
    if path.is_file():
        return 0.1 if path.suffix.lower() in VIDEO_SUFFIXES else 0.0
    if not path.is_dir():
        return 0.0
    if any(c.is_file() and c.suffix.lower() in IMAGE_SUFFIXES for c in path.iterdir()):
        return 0.05  # a frame folder itself
    seen = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if len(Path(dirpath).relative_to(path).parts) >= 3:
            dirnames[:] = []
        if any(Path(f).suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES for f in filenames):
            return 0.1
        seen += len(filenames) + len(dirnames)
        if seen > 5000:
            break
    return 0.0


register_format(FORMAT, detect_folder, load_folder, "experiment folder: videos + pose (sleap-io) + label files")
register_format("video", lambda path: 0.0, load_folder, "one video file or frame folder (same loader as 'folder')")
