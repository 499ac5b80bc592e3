"""A plain experiment folder: videos, with pose and label files next to them.

What is found (recursively):

* **videos**: files with a video suffix (mp4 / avi / mov / mkv / ...) and *frame folders*
  (folders that hold image frames and no video);
* **pose** (read with sleap-io): ``.slp`` (SLEAP), ``.h5`` and ``.csv`` (DeepLabCut);
* **labels**: our ``<stem>.behavior.json``, BORIS exports (tabular events, aggregated
  events, binary table; CSV/TSV) and the per-frame CSV (see `vpbehavior.io.label_formats`).

Pairing rule (files in the same folder as the video):

1. A pose or label file belongs to the video whose stem its name starts with
   (``mouse1.mp4`` <- ``mouse1.slp``, ``mouse1.predictions.slp``, ``mouse1_DLC_resnet50.h5``,
   ``mouse1.behavior.json``, ``mouse1_boris.tsv``); when several video stems match, the
   longest wins (``m10.slp`` goes to ``m10.mp4``, not ``m1.mp4``).
2. A ``.slp`` file that no stem claims goes to the video it references itself (the video
   path stored in the .slp, compared by file name).

A BORIS binary table named ``<stem>_<subject>.csv`` is that subject's table ("No focal
subject" = frame-level). Subjects come from the pose tracks; labelled subjects must be
among them (frame-level labels add the subject ``"all"``).

A recording whose video or pose file cannot be read, or whose pose is longer than the video,
is listed in ``Dataset.failures`` with both file names; the others load. A label file that is
broken or does not fit its video (more frames than the video, unknown subject) does not cost
the video: the recording loads without those labels, the label file is listed in
``Dataset.failures`` with its error, and a `DataWarning` says so. Pose and label files that no
video claims are listed in ``Dataset.unpaired``, the DeepLabCut ``.h5`` twin of a ``.csv`` in
``Dataset.skipped``. Recording metadata names the ``pose_file`` and ``label_files`` paired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vpbehavior.core import (
    FRAME_LEVEL,
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
from vpbehavior.io.registry import register_format
from vpbehavior.io.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from vpbehavior.reporting import track, warn_data

FORMAT = "folder"
POSE_SUFFIXES = (".slp", ".h5", ".csv")
_SEPARATORS = "._- "


@dataclass
class RecordingFiles:
    """The files that make up one recording of an experiment folder."""

    video: Path
    pose: list[Path] = field(default_factory=list)
    labels: list[Path] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.video.name if self.video.is_dir() else self.video.stem


def _is_frame_folder(path: Path) -> bool:
    has_image = False
    for child in path.iterdir():
        if child.is_file():
            suffix = child.suffix.lower()
            if suffix in VIDEO_SUFFIXES:
                return False
            has_image = has_image or suffix in IMAGE_SUFFIXES
    return has_image


def find_videos(root: Path, recursive: bool = True) -> list[Path]:
    """Video files and frame folders under ``root`` (hidden entries skipped), sorted."""
    out: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        for child in sorted(folder.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
                out.append(child)
            elif child.is_dir():
                if _is_frame_folder(child):
                    out.append(child)
                elif recursive:
                    stack.append(child)
    return sorted(out)


def _is_dlc_csv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline().split(",")[0].strip().lower() == "scorer"
    except OSError:
        return False


def _is_pose_h5(path: Path) -> bool:
    """DeepLabCut (pandas ``df_with_missing``) or SLEAP analysis (``tracks``) HDF5, not e.g. a feature cache."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return "df_with_missing" in fh or ("tracks" in fh and "node_names" in fh)
    except OSError:  # unreadable: a pose file by its DeepLabCut name fails loudly later, others are ignored
        return "DLC" in path.name


def _is_dlc_h5(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return "df_with_missing" in fh
    except OSError:  # not HDF5
        return False


def _file_role(path: Path) -> str | None:
    """ "pose", "labels" or None for a file next to the videos."""
    name = path.name.lower()
    if name.endswith(".behavior.json"):
        return "labels"
    suffix = path.suffix.lower()
    if suffix == ".slp" or (suffix == ".h5" and _is_pose_h5(path)):
        return "pose"
    if suffix == ".csv" and _is_dlc_csv(path):
        return "pose"
    if suffix in (".csv", ".tsv", ".txt") and sniff_label_kind(path) is not None:
        return "labels"
    return None


def _owner(name: str, stems: list[str]) -> str | None:
    """The longest video stem that ``name`` starts with (followed by a separator, ``DLC`` or the end)."""
    best = None
    for stem in stems:
        rest = name[len(stem) :]
        # DeepLabCut appends its scorer with no separator: <video stem>DLC_resnet50_...h5
        if name.startswith(stem) and (not rest or rest[0] in _SEPARATORS or rest.startswith("DLC")):
            if best is None or len(stem) > len(best):
                best = stem
    return best


def _slp_video_names(path: Path) -> list[str]:
    """File names of the videos an .slp file references (read from its ``videos_json``)."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            entries = fh["videos_json"][:]
    except (OSError, KeyError):  # not an HDF5 .slp, or no video table: no reference to use
        return []
    names = []
    for raw in entries:
        try:
            obj = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except (ValueError, AttributeError):
            continue
        backend = obj.get("backend", {}) if isinstance(obj, dict) else {}
        filename = backend.get("filename") or obj.get("filename", "")
        if isinstance(filename, list):  # image-sequence videos
            filename = filename[0] if filename else ""
        names.append(Path(str(filename).replace("\\", "/")).name)
    return names


def pair_files(videos: list[Path], unpaired: list[SkippedFile] | None = None) -> list[RecordingFiles]:
    """Attach pose and label files to each video by the folder's pairing rule.

    Pose and label files in the videos' folders that no video claims are appended to
    ``unpaired`` (when given), each with the reason.
    """
    by_dir: dict[Path, list[RecordingFiles]] = {}
    for video in videos:
        by_dir.setdefault(video.parent, []).append(RecordingFiles(video))
    for folder, recs in by_dir.items():
        by_stem = {r.stem: r for r in recs}
        stems = list(by_stem)
        unclaimed_slp = []
        video_paths = {r.video for r in recs}
        for child in sorted(folder.iterdir()):
            if not child.is_file() or child in video_paths or child.name.startswith("."):
                continue
            role = _file_role(child)
            if role is None:
                continue
            owner = _owner(child.name, stems)
            if owner is None:
                if role == "pose" and child.suffix.lower() == ".slp":
                    unclaimed_slp.append(child)
                elif unpaired is not None:
                    unpaired.append(SkippedFile(child, f"{role} file whose name starts with no video's name"))
                continue
            (by_stem[owner].pose if role == "pose" else by_stem[owner].labels).append(child)
        by_name = {r.video.name: r for r in recs}
        for slp in unclaimed_slp:
            names = _slp_video_names(slp)
            for name in names:
                if name in by_name and not by_name[name].pose:
                    by_name[name].pose.append(slp)
                    break
            else:
                if unpaired is not None:
                    why = (
                        f"references the videos {names}, none of them here without a pose file"
                        if names
                        else "references no video and its name starts with no video's name"
                    )
                    unpaired.append(SkippedFile(slp, f"pose file {why}"))
    return [r for recs in by_dir.values() for r in recs]


def _dlc_h5_twin(path: Path) -> Path | None:
    twin = path.with_suffix(".csv")
    return twin if twin.is_file() and _is_dlc_csv(twin) else None


def _pose_files(files: RecordingFiles) -> tuple[list[Path], list[SkippedFile]]:
    """The pose files to read, and the DeepLabCut .h5 twins left out because their .csv is read."""
    read, twins = [], []
    for p in files.pose:
        twin = _dlc_h5_twin(p) if p.suffix.lower() == ".h5" else None
        if twin in files.pose:
            twins.append(SkippedFile(p, f"DeepLabCut writes the same table to {twin.name}, which is read instead"))
        else:
            read.append(p)
    return read, twins


def _pose_for(files: RecordingFiles, n_frames: int):
    """(pose, the .slp file's sleap-io Labels or None, the pose file read)."""
    from vpbehavior.io.pose import load_pose_file, pose_from_sleap, read_dlc, warn_if_no_points

    # DeepLabCut writes <name>.h5 and often <name>.csv with the same content: one pose file.
    pose_files, _ = _pose_files(files)
    if len(pose_files) > 1:
        raise DataError(
            f"{files.video}: several pose files match it: {[p.name for p in pose_files]}; keep one per video",
            path=files.video,
        )
    path = pose_files[0]
    if path.suffix.lower() == ".csv" or (path.suffix.lower() == ".h5" and _is_dlc_h5(path)):
        pose = read_dlc(path, n_frames)
        warn_if_no_points(pose, path)
        return pose, None, path
    labels = load_pose_file(path)
    video = None
    if len(labels.videos) > 1:
        video = next((v for v in labels.videos if Path(str(v.filename)).name == files.video.name), None)
        if video is None:
            raise DataError(f"references {len(labels.videos)} videos, none named {files.video.name}", path)
    try:
        pose = pose_from_sleap(labels, n_frames=n_frames, video=video)
    except DataError as err:
        raise DataError(f"pose file {path} does not match video {files.video}: {err}", path) from err
    if not pose.subjects:
        raise DataError(f"no pose instances could be read from the file (for video {files.video})", path)
    warn_if_no_points(pose, path)
    return pose, labels, path


def _event_labels(sleap_labels, pose, pose_file: Path, files: RecordingFiles, n_frames: int):
    """Labels from the behavior events stored in a .slp file (frames outside events are negatives), or None."""
    from vpbehavior.io.pose import events_to_labels

    if sleap_labels is None or not sleap_labels.event_types:
        return None
    video = None
    if len(sleap_labels.videos) > 1:
        video = next(v for v in sleap_labels.videos if Path(str(v.filename)).name == files.video.name)
    video = video if video is not None else sleap_labels.videos[0]
    framewise = any(ev.subject is None for ev in sleap_labels.events if ev.video is video)
    subjects = [*pose.subjects, *([FRAME_LEVEL] if framewise else [])]
    try:
        return events_to_labels(sleap_labels, n_frames, subjects=subjects, video=video)
    except DataError as err:
        raise DataError(f"behavior events in {pose_file} do not match video {files.video}: {err}", pose_file) from err


def _binary_subject(label: Path, stem: str) -> str:
    rest = label.stem[len(stem) :].lstrip(_SEPARATORS)
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
    files: RecordingFiles, fps: float | None = None, failures: list[LoadFailure] | None = None
) -> Recording:
    """One `Recording` from a video and its matched pose / label files.

    A label file (or the behavior events of a .slp file) that cannot be used is appended to
    ``failures`` with its error and left out (warned about); without ``failures`` it raises.
    """
    if not files.video.exists():
        raise MissingFileError(f"{files.video}: video not found", path=files.video)
    info = probe(files.video, f"recording {files.stem!r}", fps=fps)
    n_frames, rate = int(info["n_frames"]), info["fps"]
    pose, sleap_labels, pose_file = _pose_for(files, n_frames) if files.pose else (None, None, None)
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

    if sleap_labels is not None:
        events = usable(_event_labels, pose_file, sleap_labels, pose, pose_file, files, n_frames)
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
        name=files.stem,
        video=files.video,
        n_frames=n_frames,
        fps=rate,
        subjects=subjects or [FRAME_LEVEL],
        pose=pose,
        labels=labels,
        metadata={"pose_file": str(pose_file) if pose_file else None, "label_files": [str(p) for p in files.labels]},
    )


def load_folder(path: str | Path, fps: float | None = None, progress=None) -> Dataset:
    """Load an experiment folder (or a single video file) into a `Dataset`.

    Parameters
    ----------
    path
        Folder of videos (searched recursively) or one video file / frame folder.
    fps
        Frame rate to use instead of the measured one (image folders have none: default 30).
    progress
        The `vpbehavior.reporting` progress hook (True: a terminal bar).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder", path=path)
    unpaired: list[SkippedFile] = []
    if path.is_file() or _is_frame_folder(path):
        # the other videos of the folder take part in pairing (longest stem wins), subfolders do not
        siblings = pair_files([path] + [v for v in find_videos(path.parent, recursive=False) if v != path])
        files = [f for f in siblings if f.video == path]
    else:
        videos = find_videos(path)
        if not videos:
            raise FormatError(f"{path}: no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders found", path=path)
        files = pair_files(videos, unpaired)
    recordings, failures = [], []
    skipped = [twin for f in files for twin in _pose_files(f)[1]]
    for f in track(files, progress, "recordings", unit="recording"):
        rec = try_load(failures, f.video, build_recording, f, fps, failures)
        if rec is not None:
            recordings.append(rec)
    return Dataset(recordings, FORMAT, path, failures, skipped=skipped, unpaired=unpaired)


def detect_folder(path: Path) -> float:
    """A low score for any folder with videos (or a video file): specific formats win."""
    path = Path(path)
    if path.is_file():
        return 0.1 if path.suffix.lower() in VIDEO_SUFFIXES else 0.0
    if not path.is_dir():
        return 0.0
    for child in path.iterdir():
        if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            return 0.1
        if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
            return 0.05  # a frame folder itself
    for child in path.iterdir():
        if (
            child.is_dir()
            and not child.name.startswith(".")
            and any(c.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES for c in child.iterdir() if c.is_file())
        ):
            return 0.1
    return 0.0


register_format(FORMAT, detect_folder, load_folder, "experiment folder: videos + pose (sleap-io) + label files")
register_format("video", lambda path: 0.0, load_folder, "one video file or frame folder (same loader as 'folder')")
