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

A recording whose video cannot be read, whose pose is longer than the video, or whose
labels do not fit (more frames than the video, unknown subject) is listed in
``Dataset.failures`` with both file names; the others load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vpbehavior.core import Dataset, Recording
from vpbehavior.io._sidecars import try_load
from vpbehavior.io.label_formats import (
    FRAME_LEVEL,
    align_subjects,
    merge_labels,
    read_label_file,
    sniff_label_kind,
)
from vpbehavior.io.registry import register_format
from vpbehavior.io.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

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
    try:
        import h5py

        with h5py.File(path, "r") as fh:
            return "df_with_missing" in fh or ("tracks" in fh and "node_names" in fh)
    except Exception:  # unreadable: a pose file by its DeepLabCut name fails loudly later, others are ignored
        return "DLC" in path.name


def _is_dlc_h5(path: Path) -> bool:
    try:
        import h5py

        with h5py.File(path, "r") as fh:
            return "df_with_missing" in fh
    except Exception:  # not HDF5
        return False


def _file_role(path: Path) -> str | None:
    """"pose", "labels" or None for a file next to the videos."""
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
        rest = name[len(stem):]
        # DeepLabCut appends its scorer with no separator: <video stem>DLC_resnet50_...h5
        if name.startswith(stem) and (not rest or rest[0] in _SEPARATORS or rest.startswith("DLC")):
            if best is None or len(stem) > len(best):
                best = stem
    return best


def _slp_video_names(path: Path) -> list[str]:
    """File names of the videos an .slp file references (read from its ``videos_json``)."""
    try:
        import h5py

        with h5py.File(path, "r") as fh:
            entries = fh["videos_json"][:]
    except Exception:  # not an HDF5 .slp, or no video table: no reference to use
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


def pair_files(videos: list[Path]) -> list[RecordingFiles]:
    """Attach pose and label files to each video by the folder's pairing rule."""
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
                continue
            (by_stem[owner].pose if role == "pose" else by_stem[owner].labels).append(child)
        by_name = {r.video.name: r for r in recs}
        for slp in unclaimed_slp:
            for name in _slp_video_names(slp):
                if name in by_name and not by_name[name].pose:
                    by_name[name].pose.append(slp)
                    break
    return [r for recs in by_dir.values() for r in recs]


def _dlc_h5_twin(path: Path) -> Path | None:
    twin = path.with_suffix(".csv")
    return twin if twin.is_file() and _is_dlc_csv(twin) else None


def _pose_for(files: RecordingFiles, n_frames: int):
    """(pose, labels from the behavior events inside a .slp file or None, the pose file read)."""
    from vpbehavior.io.pose import events_to_labels, load_pose_file, pose_from_sleap, read_dlc

    # DeepLabCut writes <name>.h5 and often <name>.csv with the same content: one pose file.
    pose_files = [p for p in files.pose if not (p.suffix.lower() == ".h5" and _dlc_h5_twin(p) in files.pose)]
    if len(pose_files) > 1:
        raise ValueError(f"{files.video}: several pose files match it: {[p.name for p in pose_files]}; "
                         "keep one per video")
    path = pose_files[0]
    if path.suffix.lower() == ".csv" or (path.suffix.lower() == ".h5" and _is_dlc_h5(path)):
        return read_dlc(path, n_frames), None, path
    labels = load_pose_file(path)
    video = None
    if len(labels.videos) > 1:
        video = next((v for v in labels.videos if Path(str(v.filename)).name == files.video.name), None)
        if video is None:
            raise ValueError(f"{path}: references {len(labels.videos)} videos, none named {files.video.name}")
    try:
        pose = pose_from_sleap(labels, n_frames=n_frames, video=video)
    except ValueError as err:
        raise ValueError(f"pose file {path} does not match video {files.video}: {err}") from err
    if not pose.subjects:
        raise ValueError(f"{path}: no pose instances could be read from the file (for video {files.video})")
    events = None
    if labels.event_types:
        # bouts stored as sleap-io behavior events; frames outside the events are negatives
        video_obj = video if video is not None else labels.videos[0]
        framewise = any(ev.subject is None for ev in labels.events if ev.video is video_obj)
        try:
            events = events_to_labels(labels, n_frames, subjects=[*pose.subjects, *([FRAME_LEVEL] if framewise else [])],
                                      video=video_obj)
        except ValueError as err:
            raise ValueError(f"behavior events in {path} do not match video {files.video}: {err}") from err
    return pose, events, path


def _binary_subject(label: Path, stem: str) -> str:
    rest = label.stem[len(stem):].lstrip(_SEPARATORS)
    return rest or FRAME_LEVEL


def build_recording(files: RecordingFiles, fps: float | None = None) -> Recording:
    """One `Recording` from a video and its matched pose / label files."""
    from vpbehavior.io.video import probe_video

    if not files.video.exists():
        raise FileNotFoundError(f"{files.video}: video not found")
    info = probe_video(files.video, fps=fps)
    n_frames, rate = int(info["n_frames"]), info["fps"]
    pose, event_labels, pose_file = _pose_for(files, n_frames) if files.pose else (None, None, None)
    subjects = list(pose.subjects) if pose is not None else []
    labels = None
    if files.labels or event_labels is not None:
        parts = [event_labels] if event_labels is not None else []
        for path in files.labels:
            subject = _binary_subject(path, files.stem) if sniff_label_kind(path) == "boris_binary" else FRAME_LEVEL
            try:
                parts.append(read_label_file(path, n_frames=n_frames, fps=rate, media=files.video.name,
                                             subject=subject))
            except ValueError as err:
                raise ValueError(f"label file {path} does not match video {files.video}: {err}") from err
        labels = merge_labels(parts, source=str(files.video))
        if subjects:
            labels = align_subjects(labels, subjects, source=f"label file(s) {[str(p) for p in files.labels]} "
                                                             f"for video {files.video}")
        subjects = list(labels.subjects)
    return Recording(
        name=files.stem, video=files.video, n_frames=n_frames, fps=rate, subjects=subjects or [FRAME_LEVEL],
        pose=pose, labels=labels,
        metadata={"pose_file": str(pose_file) if pose_file else None,
                  "label_files": [str(p) for p in files.labels], "height": info.get("height"),
                  "width": info.get("width"), "video_warnings": info.get("warnings", [])},
    )


def load_folder(path: str | Path, fps: float | None = None) -> Dataset:
    """Load an experiment folder (or a single video file) into a `Dataset`.

    Parameters
    ----------
    path
        Folder of videos (searched recursively) or one video file / frame folder.
    fps
        Frame rate to use instead of the measured one (image folders have none: default 30).
    """
    from tqdm.auto import tqdm

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file() or _is_frame_folder(path):
        videos = [path]
        # the other videos of the folder take part in pairing (longest stem wins), subfolders do not
        siblings = pair_files([path] + [v for v in find_videos(path.parent, recursive=False) if v != path])
        files = [f for f in siblings if f.video == path]
    else:
        videos = find_videos(path)
        if not videos:
            raise FileNotFoundError(f"{path}: no videos ({', '.join(VIDEO_SUFFIXES)}) or frame folders found")
        files = pair_files(videos)
    recordings, failures = [], []
    for f in tqdm(files, desc="recordings", disable=len(files) < 10, leave=False):
        rec = try_load(failures, f.video, build_recording, f, fps)
        if rec is not None:
            recordings.append(rec)
    return Dataset(recordings, FORMAT, path, failures)


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
        if child.is_dir() and not child.name.startswith(".") and any(
                c.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES for c in child.iterdir() if c.is_file()):
            return 0.1
    return 0.0


register_format(FORMAT, detect_folder, load_folder, "experiment folder: videos + pose (sleap-io) + label files")
register_format("video", lambda path: 0.0, load_folder, "one video file or frame folder (same loader as 'folder')")
