"""Helpers shared by the dataset loaders: finding videos next to the data, checking them,
cleaning names, and collecting per-recording failures.

Private to `vpbehavior.io`; the format modules (calms21, flyvsfly, ...) use them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from vpbehavior.core import ConfigError, LoadFailure, MissingFileError, VideoError
from vpbehavior.core.errors import INPUT_ERRORS
from vpbehavior.reporting import warn_data

T = TypeVar("T")

#: Values of the loaders' ``videos`` option.
VIDEO_MODES = ("auto", "require", "skip")


def clean_name(name: object) -> str:
    """A name as the dataset spells it, with surrounding and repeated whitespace removed.

    Names are compared with `vpbehavior.core.names.name_key` (case and spacing ignored);
    this is only the spelling that is kept (``"wing threat "`` -> ``"wing threat"``).
    """
    return " ".join(str(name).split())


def video_suffixes() -> tuple[str, ...]:
    """Suffixes of video files the project can decode (GIFs excluded)."""
    from vpbehavior.io.video import VIDEO_SUFFIXES

    return tuple(s for s in VIDEO_SUFFIXES if s != ".gif")


def check_video_mode(videos: str | bool) -> str:
    """Normalize the ``videos`` option (True -> "auto", False -> "skip")."""
    if videos is True:
        return "auto"
    if videos is False or videos is None:
        return "skip"
    if videos not in VIDEO_MODES:
        raise ConfigError(f"videos must be one of {VIDEO_MODES} (or True/False), not {videos!r}")
    return videos


def index_videos(folders: Iterable[Path], max_depth: int = 3, limit: int = 200_000) -> dict[str, list[Path]]:
    """Video files under ``folders`` (at most ``max_depth`` levels down), by lower-case stem.

    Broken symbolic links are included (so that a missing video target is reported, not
    silently skipped).
    """
    suffixes = video_suffixes()
    found: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    visited = 0
    for top in folders:
        top = Path(top)
        if not top.is_dir():
            continue
        base_depth = len(top.parts)
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if len(here.parts) - base_depth >= max_depth:
                dirnames[:] = []
            for name in sorted(filenames):
                visited += 1
                path = here / name
                if path.suffix.lower() in suffixes and path not in seen:
                    seen.add(path)
                    found.setdefault(path.stem.lower(), []).append(path)
            if visited > limit:
                break
    return found


def _decoder_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this file does not decode": our video module's and PyAV's."""
    from vpbehavior.io import video

    errors: list[type[BaseException]] = [video.VideoError, OSError, EOFError]
    try:
        import av.error

        errors.append(av.error.FFmpegError)
    except ImportError:  # PyAV missing: open_video says so itself
        pass
    return tuple(errors)


def probe(path: Path, what: str, fps: float | None = None) -> dict:
    """`probe_video` of ``path``, with its problems raised or reported the vpbehavior way.

    A missing file (or dangling link) raises `MissingFileError`, an undecodable one
    `VideoError`, both naming the video and ``what`` it belongs to. Problems the reader
    noticed but read past (e.g. a truncated tail) are warned about by the video module itself.
    """
    from vpbehavior.io.video import probe_video

    path = Path(path)
    if not path.exists():
        raise MissingFileError(
            f"{path}: video of {what} is missing (the file or its link target does not exist)", path=path
        )
    try:
        info = probe_video(path, fps=fps)
    except (VideoError, *_decoder_errors()) as err:
        detail = str(err).removeprefix(f"{path}: ")
        if not isinstance(err, VideoError):
            detail = f"{type(err).__name__}: {detail}"
        raise VideoError(f"{path}: video of {what} is unreadable ({detail})", path=path) from err
    return info


def probe_attached_video(path: Path, n_frames: int, what: str) -> dict:
    """`probe` a video found next to the data; warn when its length differs from ``n_frames``."""
    info = probe(path, what)
    if info.get("n_frames") != n_frames:
        warn_data(
            f"{path}: video has {info.get('n_frames')} frames but {what} has {n_frames}; "
            "frame t of the data is taken to be frame t of the video",
            stacklevel=3,
        )
    return info


def try_load(failures: list[LoadFailure], path: Path, fn: Callable[..., T], *args: Any) -> T | None:
    """Run ``fn(*args)``; on a data error append a `LoadFailure` for ``path`` and return None.

    Only unusable input is caught (`vpbehavior.core.errors.INPUT_ERRORS`: our data errors and
    the operating system's); any other exception is a bug and propagates with its traceback.
    """
    try:
        return fn(*args)
    except INPUT_ERRORS as err:
        failures.append(LoadFailure(Path(path), str(err)))
        return None
