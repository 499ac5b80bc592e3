"""Which videos a score run covers: the folder walk, the pattern, output names and shards.

For a plain experiment folder (or one video) the videos are found and paired with their pose
files here, and each recording is built when its job runs, so a shard of a large archive loads
only its own videos. Other formats (CalMS21, Fly vs. Fly, ...) are loaded with `vpbehavior.load`
and their recordings with a video become jobs.

Every job has a *key*: its outputs' path under OUT without suffix. For folder data it is the
video's path under DATA without its extension (``day1/m1``; ``day1/m1.avi`` when two videos
share a stem), for other formats the recording's name. Shards partition the jobs sorted by
their source path under DATA (`Shard.select`: the i-th of every n), so every shard of an array
job sees the same order wherever DATA is mounted.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from vpbehavior.core import Recording
from vpbehavior.core.errors import ConfigError, DataError, FormatError, MissingFileError

from .config import ScoreConfig, Shard

FOLDER_FORMATS = ("folder", "video")


@dataclass(frozen=True)
class ScoreJob:
    """One video to score: where its outputs go (``key``) and how to get its `Recording`.

    Exactly one of ``files`` (folder data: the video and its paired pose / label files, built into
    a recording when the job runs), ``recording`` (loaded by a dataset loader) or ``load_error``
    (the loader could not load it) is set.
    """

    key: str
    video: Path
    source: str  # the path under DATA that orders jobs for sharding
    files: object | None = None  # vpbehavior.io.folder.RecordingFiles
    recording: Recording | None = None
    load_error: str | None = None
    name: str | None = None  # the recording's name (folder data: as `vpbehavior.load` names it)
    tracks: int | None = None  # track options of `vpbehavior.load` (folder data: applied when built)
    merge_tracks: dict | None = None

    @property
    def pose_files(self) -> tuple[Path, ...]:
        if self.files is not None:
            return tuple(self.files.pose)
        return ()

    def load(self) -> Recording:
        """The recording (raises the loader's DataError / MissingFileError / VideoError)."""
        if self.load_error is not None:
            raise DataError(self.load_error, self.video)
        if self.recording is not None:
            return self.recording
        from vpbehavior.io.folder import build_recording

        label_failures: list = []  # labels are not needed to score; their problems are warned about
        return build_recording(self.files, None, label_failures, self.tracks, self.merge_tracks, self.name)

    def inputs(self, recording: Recording | None = None) -> dict:
        """Identity of what the predictions are made from (compared to decide whether they are current).

        Folder jobs: the video and pose files (path, size, mtime), read without loading anything.
        Dataset jobs: the video and a digest of the loaded recording (frames, subjects, pose, boxes).
        """
        from vpbehavior.features.cache import video_identity

        out: dict = {"video": _identity(self.video, video_identity)}
        if self.files is not None:
            out["pose"] = [_identity(p, video_identity) for p in self.pose_files]
        else:
            rec = recording if recording is not None else self.recording
            out["recording_sha256"] = recording_digest(rec) if rec is not None else None
        return out


def _identity(path: Path, video_identity) -> dict | None:
    try:
        return video_identity(path)
    except OSError:
        return None


def recording_digest(rec: Recording) -> str:
    """SHA-256 of what scoring reads from a recording besides its video: frames, fps, subjects, pose, boxes."""
    h = hashlib.sha256()
    h.update(f"{rec.name}|{rec.n_frames}|{rec.fps}|{list(rec.subjects)}".encode())
    for array in (rec.presence, None if rec.pose is None else rec.pose.points, rec.boxes):
        h.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    if rec.pose is not None:
        h.update(repr((rec.pose.subjects, rec.pose.keypoint_names)).encode())
    return h.hexdigest()


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@,-]")


def safe_key(name: str) -> str:
    """A recording name as an output path: each ``/``-separated part with unusual characters replaced."""
    parts = [_UNSAFE.sub("_", p) for p in str(name).replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(p.lstrip(".") or "_" for p in parts) or "_"


def matches(pattern: str, relative: str) -> bool:
    """Whether a video at ``relative`` (posix path under DATA) matches the ``--pattern`` glob.

    A pattern with a ``/`` is matched against the whole relative path, one without against the
    file name too (``*.mp4`` selects every mp4 in every subfolder; ``day1/*`` one subfolder).
    """
    if fnmatch.fnmatchcase(relative, pattern):
        return True
    return "/" not in pattern and fnmatch.fnmatchcase(PurePosixPath(relative).name, pattern)


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return Path(path).absolute().as_posix()


def _unique_keys(items: list[tuple[str, str]]) -> dict[str, str]:
    """Keys for (source, key) pairs; keys shared by several sources keep their extension."""
    count: dict[str, int] = {}
    for _, key in items:
        count[key] = count.get(key, 0) + 1
    return {source: (source if count[key] > 1 else key) for source, key in items}


def discover(data: str | Path, config: ScoreConfig) -> tuple[Path, list[ScoreJob]]:
    """``(root, every job matching the pattern, sorted by source)``; sharding is applied by the caller."""
    from vpbehavior.io.registry import detect_format

    data = Path(data).absolute()
    if not data.exists():
        raise MissingFileError(f"{data}: no such file or folder", data)
    fmt = detect_format(data) if config.format == "auto" else config.format
    if fmt in FOLDER_FORMATS:
        root, jobs = _folder_jobs(data, config.pattern)
        jobs = [dataclasses.replace(j, **config.load_options) for j in jobs]
    else:
        root, jobs = _dataset_jobs(data, fmt, config.pattern, config.load_options)
    if not jobs:
        raise DataError(f"{data}: no video matches --pattern {config.pattern!r}", data)
    return root, sorted(jobs, key=lambda j: j.source)


def _folder_jobs(data: Path, pattern: str) -> tuple[Path, list[ScoreJob]]:
    """Jobs of a plain experiment folder (or one video), paired and named as `vpbehavior.load` does."""
    from vpbehavior.io.folder import pair_files
    from vpbehavior.io.pairing import is_frame_folder, scan, unique_names

    if data.is_file() or is_frame_folder(data):
        root = data.parent
        siblings = scan(root, recursive=False)
        videos = [data] + [v for v in siblings.videos if v != data]
        files = siblings.files + (scan(data, recursive=False).files if data.is_dir() else [])
        paired = [f for f in pair_files(videos, [], [], files) if f.video == data]
        names = {data: data.name if data.is_dir() else data.stem}
    else:
        root = data
        found = scan(data)
        if not found.videos:
            raise FormatError(f"{data}: no videos or frame folders found", path=data)
        paired = pair_files(found.videos, [], [], found.files)
        names = unique_names(found.videos, data)
    chosen = []
    for f in paired:
        rel = _relative(f.video, root)
        if data == f.video or matches(pattern, rel):
            stem = rel if f.video.is_dir() else str(PurePosixPath(rel).with_suffix(""))
            chosen.append((rel, stem, f))
    keys = _unique_keys([(rel, stem) for rel, stem, _ in chosen])
    return root, [
        ScoreJob(safe_key(keys[rel]), f.video.absolute(), rel, files=f, name=names[f.video]) for rel, _, f in chosen
    ]


def _dataset_jobs(data: Path, fmt: str, pattern: str, options: dict) -> tuple[Path, list[ScoreJob]]:
    from vpbehavior.io.registry import load

    dataset = load(data, format=fmt, **options)
    root = dataset.root or data
    root = root if root.is_dir() else root.parent
    jobs = []
    for rec in dataset.recordings:
        if rec.video is None:
            continue
        rel = _relative(rec.video, root)
        if matches(pattern, rel):
            jobs.append(ScoreJob(safe_key(rec.name), Path(rec.video).absolute(), rel, recording=rec, name=rec.name))
    for failure in dataset.failures:
        rel = _relative(failure.path, root)
        if matches(pattern, rel):
            key = safe_key(PurePosixPath(rel).with_suffix("").as_posix())
            jobs.append(ScoreJob(key, Path(failure.path).absolute(), rel, load_error=failure.error))
    seen: dict[str, int] = {}
    for job in jobs:
        seen[job.key] = seen.get(job.key, 0) + 1
    clash = sorted(k for k, n in seen.items() if n > 1)
    if clash:
        raise ConfigError(f"{data}: several recordings would write the same outputs {clash[:3]}")
    return root, jobs


def shard_jobs(jobs: list[ScoreJob], shard: Shard) -> list[ScoreJob]:
    """The jobs of one shard (``jobs`` sorted by source, as `discover` returns them)."""
    return shard.select(jobs)
