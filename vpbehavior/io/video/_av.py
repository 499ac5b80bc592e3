"""PyAV access shared by the frame index, the reader and the writer (imported lazily)."""

from __future__ import annotations

from pathlib import Path

from vpbehavior.core.errors import VideoError
from vpbehavior.reporting import one_line


def import_av():
    """The ``av`` module (a hard dependency, imported only when a video is touched)."""
    try:
        import av
    except ImportError as e:  # pragma: no cover - av is a hard dependency
        raise ImportError("reading video files needs PyAV: pip install av") from e
    return av


def ff_message(e: Exception) -> str:
    """The FFmpeg error text of ``e`` without errno and file name, on one line."""
    return one_line(getattr(e, "strerror", None) or e)


def open_container(path: Path, threads: bool = True):
    """Open ``path`` and return ``(container, first video stream)``; `VideoError` if impossible."""
    av = import_av()
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as e:
        raise VideoError(
            f"cannot open as a video ({ff_message(e)}); the file is not a video, is corrupt, "
            "or is truncated (e.g. an mp4 cut before its 'moov' index)",
            path=path,
        ) from None
    if not container.streams.video:
        container.close()
        raise VideoError("contains no video stream", path=path)
    stream = container.streams.video[0]
    if threads:
        stream.thread_type = "AUTO"
    return container, stream


def container_name(format_name: str, suffix: str) -> str:
    """Short container name: FFmpeg's ``"mov,mp4,m4a,..."`` becomes ``"mp4"`` for a ``.mp4`` file."""
    names = format_name.split(",")
    ext = suffix.lower().lstrip(".")
    return ext if ext in names else names[0]
