"""Frame-accurate video reading and writing: the front door.

One reader type for every frame source a behavior lab has on disk:

- video files in any container and codec FFmpeg decodes (mp4 / mov / mkv / webm / avi / mpg /
  MPEG-TS / wmv / flv; H.264, HEVC, MPEG-1/2/4, VP8/VP9, MJPEG, ...) and animated GIFs, decoded
  with PyAV (`PyAVReader`, in ``pyav.py``; its `FrameIndex` in ``index.py``: frames identified
  by timestamps where the container's timestamps allow it, otherwise by decoding the file once),
- folders of JPEG / PNG frames (`ImageFolderReader`, in ``images.py``).

All readers are array-like `VideoReader`s (``shape == (n_frames, H, W, 3)``, uint8; ``base.py``)
with frame-accurate random access (``reader[i]``, slices, index arrays) and sequential streaming
(``iter_frames``, optionally at another ``size`` scaled inside the decoder; ``decoder=`` names a
streaming decoder, the hook for GPU decoding in ``decoders.py``). `write_video` (``writer.py``)
writes H.264 atomically.

Damaged files
-------------
A file that cannot be opened at all (zero bytes, not a video, an mp4 whose ``moov`` atom was
cut off) raises `VideoError` naming the file. A file whose data ends early is opened with a
`VideoTruncatedWarning` (once per file per process) and exposes only the prefix of frames that
is provably complete; frame ``i`` is still frame ``i`` of the recording. Damage inside the file
is found only by decoding: reading a damaged frame raises `VideoError` naming the file and the
frame, and `verify_video` decodes everything once to count the frames that decode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vpbehavior.core.errors import MissingFileError, VideoError
from vpbehavior.io.video.base import VideoReader
from vpbehavior.io.video.decoders import available_decoders, register_stream_decoder
from vpbehavior.io.video.images import (
    DEFAULT_IMAGE_FOLDER_FPS,
    IMAGE_SUFFIXES,
    ImageFolderReader,
    natural_sort_key,
)
from vpbehavior.io.video.index import INDEX_CACHE_ENV, FrameIndex, VideoTruncatedWarning, data_problems
from vpbehavior.io.video.pyav import PyAVReader, RGBConverter
from vpbehavior.io.video.writer import write_video
from vpbehavior.reporting import Progress

__all__ = [
    "DEFAULT_IMAGE_FOLDER_FPS",
    "IMAGE_SUFFIXES",
    "INDEX_CACHE_ENV",
    "VIDEO_SUFFIXES",
    "FrameIndex",
    "ImageFolderReader",
    "PyAVReader",
    "RGBConverter",
    "VideoError",
    "VideoReader",
    "VideoTruncatedWarning",
    "available_decoders",
    "natural_sort_key",
    "open_video",
    "probe_video",
    "register_stream_decoder",
    "verify_video",
    "write_video",
]

#: File suffixes read as videos (lower case): MP4 / QuickTime, Matroska / WebM, AVI, MPEG program
#: streams (DVD .vob too), MPEG transport streams from camcorders (AVCHD .mts / .m2ts), Windows
#: Media (.wmv / .asf), Flash video, and animated GIFs. (Plain ``.ts`` is left out: in a lab
#: folder it is more often TypeScript than a transport stream.)
VIDEO_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mov",
    ".avi",
    ".mkv",
    ".webm",
    ".mpg",
    ".mpeg",
    ".vob",
    ".mts",
    ".m2ts",
    ".wmv",
    ".asf",
    ".flv",
    ".gif",
)


def open_video(path: str | os.PathLike, fps: float | None = None, **kwargs: Any) -> VideoReader:
    """Open a video file, an animated GIF or a folder of image frames.

    Parameters
    ----------
    path
        Video file (mp4 / avi / mov / mkv / gif ...) or folder of JPEG / PNG frames.
    fps
        Frame rate. For video files and GIFs it overrides the rate measured from the
        timestamps; for image folders it defaults to `DEFAULT_IMAGE_FOLDER_FPS`.
    **kwargs
        Passed to the backend (`PyAVReader` or `ImageFolderReader`), e.g. ``cache_size``.

    Returns
    -------
    VideoReader
        Array-like reader; use it as a context manager to close file handles.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (a `MissingFileError`).
    VideoError
        If the file is empty, not a video, corrupt or unreadable (message names the file).
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"video not found: {p}", path=p)
    if p.is_dir():
        return ImageFolderReader(p, fps=fps, **kwargs)
    return PyAVReader(p, fps=fps, **kwargs)


def probe_video(path: str | os.PathLike, fps: float | None = None) -> dict:
    """Summarize a video for ``vpbehavior inspect`` (reads the frame index, decodes little).

    Returns
    -------
    dict
        ``path, backend, container`` (e.g. ``"mp4"``; ``"image folder"`` for frame folders),
        ``n_frames, fps, height, width, codec, duration`` (seconds), ``truncated`` and
        ``warnings`` (the data problems, one line each; they are also warned about, once per
        file per process); for video files also ``metadata_frames`` (the header's frame count,
        0 if none), ``keyframes``, ``exact_seek`` (frames identified by timestamps) and ``index``
        (``"timestamps"``, or ``"decoded"`` for a file indexed by decoding every frame once). Damage inside the file is not found
        without decoding every frame: see `verify_video`.
    """
    with open_video(path, fps=fps) as reader:
        info = {
            "path": str(reader.path),
            "backend": reader.backend,
            "container": getattr(reader, "container_format", "image folder"),
            "n_frames": reader.n_frames,
            "fps": reader.fps,
            "height": reader.height,
            "width": reader.width,
            "codec": reader.codec,
            "duration": reader.duration,
            "truncated": False,
            "warnings": [],
        }
        if isinstance(reader, PyAVReader):
            index = reader.index
            info.update(
                metadata_frames=index.metadata_frames,
                truncated=index.truncated,
                keyframes=len(index.keyframes),
                exact_seek=index.exact,
                index=index.kind,
                warnings=data_problems(reader.path, index),
            )
    return info


def verify_video(path: str | os.PathLike, progress: Progress = None) -> dict:
    """Decode every frame once and report how many decode (for ``vpbehavior inspect --verify``).

    Parameters
    ----------
    path
        Video file, GIF or folder of image frames.
    progress
        Progress hook (``True``: a bar; a callable: `vpbehavior.reporting.ProgressUpdate` per frame).

    Returns
    -------
    dict
        ``path``; ``n_frames`` (frames the reader exposes); ``good_frames`` (how many of them
        decode cleanly); ``first_bad_frame`` (0-based; for a truncated file at most
        ``n_frames``, the first frame lost; None if every frame is good); ``truncated``;
        ``error`` (the first problem, one line; None if none).

    Raises
    ------
    VideoError
        If the file cannot be opened at all.
    """
    with open_video(path) as reader:
        return reader.verify(progress)
