"""Helpers shared by the dataset loaders: finding videos next to the data, checking them,
and collecting per-recording failures.

Private to `vpbehavior.io`; the format modules (calms21, flyvsfly, ...) use them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from vpbehavior.core import LoadFailure

T = TypeVar("T")

#: Values of the loaders' ``videos`` option.
VIDEO_MODES = ("auto", "require", "skip")


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
        raise ValueError(f"videos must be one of {VIDEO_MODES} (or True/False), not {videos!r}")
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


def probe_attached_video(path: Path, n_frames: int, what: str) -> dict:
    """Check that ``path`` is a readable video; warn when its length differs from ``n_frames``.

    Returns the `probe_video` dict. Raises ``FileNotFoundError`` (missing target) or
    ``ValueError`` (unreadable), both naming the video and ``what`` it belongs to.
    """
    from vpbehavior.io.video import probe_video

    if not path.exists():
        raise FileNotFoundError(f"{path}: video of {what} is missing (the file or its link target does not exist)")
    try:
        info = probe_video(path)
    except Exception as err:  # VideoError, OSError, av errors: all mean "cannot use this video"
        raise ValueError(f"{path}: video of {what} is unreadable ({type(err).__name__}: {err})") from err
    if info.get("n_frames") != n_frames:
        warnings.warn(
            f"{path}: video has {info.get('n_frames')} frames but {what} has {n_frames}; "
            "frame t of the data is taken to be frame t of the video",
            stacklevel=3,
        )
    return info


def try_load(failures: list[LoadFailure], path: Path, fn: Callable[..., T], *args: Any) -> T | None:
    """Run ``fn(*args)``; on a data error append a `LoadFailure` for ``path`` and return None."""
    try:
        return fn(*args)
    except (ValueError, OSError, KeyError, IndexError, TypeError) as err:
        failures.append(LoadFailure(Path(path), str(err)))
        return None
