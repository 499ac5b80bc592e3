"""`write_video`: RGB frames to an H.264 (PyAV) or MPEG-4 Part 2 (OpenCV) file, atomically."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior._files import atomic_output
from vpbehavior.core.errors import ConfigError, VideoError
from vpbehavior.io.video._av import import_av


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    codec: str = "h264",
    crf: int = 18,
    preset: str = "medium",
    gop_size: int | None = None,
    bframes: int = 2,
) -> Path:
    """Write RGB uint8 frames to a video file, atomically (temporary file, then rename).

    Parameters
    ----------
    path
        Output file; the suffix picks the container (``.mp4``, ``.avi``, ``.mkv``, ...).
    frames
        Iterable of ``[H, W, 3]`` (RGB) or ``[H, W]`` (gray) uint8 arrays, all the same size.
    fps
        Frame rate (may be fractional, e.g. 29.97).
    codec
        ``"h264"`` (PyAV / libx264, yuv420p, needs even width and height) or ``"mp4v"``
        (MPEG-4 Part 2 through OpenCV). If libx264 is unavailable, falls back to ``"mp4v"``
        with a warning.
    crf, preset, gop_size, bframes
        x264 settings: quality (lower is better), speed preset, keyframe interval (default
        ``2 * fps``) and maximum consecutive B-frames. Ignored for ``"mp4v"``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    if codec not in ("h264", "mp4v"):
        raise ConfigError(f"codec must be 'h264' or 'mp4v', got {codec!r}")
    if not fps or fps <= 0:
        raise ConfigError(f"{path}: fps must be positive, got {fps}")
    if codec == "h264":
        try:
            av = import_av()
            av.codec.Codec("libx264", "w")
        except Exception:
            warnings.warn(f"{path}: libx264 not available; writing MPEG-4 Part 2 (mp4v) instead", stacklevel=2)
            codec = "mp4v"
    # PyAV / OpenCV pick the container from the extension: keep it on the temporary name.
    with atomic_output(path, suffix=path.suffix or ".mp4") as tmp:
        if codec == "h264":
            n = _write_pyav(tmp, path, frames, fps, crf, preset, gop_size, bframes)
        else:
            n = _write_cv2(tmp, path, frames, fps)
        if n == 0:
            raise VideoError("no frames to write", path=path)
    return path


def _as_rgb(frame: Any, i: int, path: Path, size: tuple[int, int] | None) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise VideoError(f"frame {i} has dtype {arr.dtype}, expected uint8", path=path)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise VideoError(f"frame {i} has shape {arr.shape}, expected [H, W, 3] or [H, W]", path=path)
    if size is not None and arr.shape[:2] != size:
        raise VideoError(f"frame {i} has size {arr.shape[:2]}, expected {size} like frame 0", path=path)
    return np.ascontiguousarray(arr)


def _write_pyav(tmp: Path, path: Path, frames, fps, crf, preset, gop_size, bframes) -> int:
    av = import_av()
    rate = Fraction(fps).limit_denominator(100_000)
    options = {"movflags": "+faststart"} if tmp.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
    container = av.open(str(tmp), mode="w", options=options)
    try:
        stream = None
        size = None
        n = 0
        for n, frame in enumerate(frames):  # noqa: B007
            arr = _as_rgb(frame, n, path, size)
            if stream is None:
                size = arr.shape[:2]
                if size[0] % 2 or size[1] % 2:
                    raise VideoError(f"H.264 (yuv420p) needs even width and height, got {size[1]}x{size[0]}", path=path)
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = size[1], size[0]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = 1 / rate
                stream.codec_context.gop_size = int(gop_size) if gop_size else max(1, round(2 * float(fps)))
                stream.options = {"crf": str(crf), "preset": preset, "bf": str(int(bframes))}
            vf = av.VideoFrame.from_ndarray(arr, format="rgb24")
            vf.pts = n
            for pkt in stream.encode(vf):
                container.mux(pkt)
        if stream is None:
            return 0
        for pkt in stream.encode():
            container.mux(pkt)
        return n + 1
    finally:
        container.close()


def _write_cv2(tmp: Path, path: Path, frames, fps) -> int:
    import cv2

    writer = None
    size = None
    n = 0
    try:
        for n, frame in enumerate(frames):  # noqa: B007
            arr = _as_rgb(frame, n, path, size)
            if writer is None:
                size = arr.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (size[1], size[0]))
                if not writer.isOpened():
                    raise VideoError("OpenCV cannot open an mp4v writer", path=path)
            writer.write(cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
        return 0 if writer is None else n + 1
    finally:
        if writer is not None:
            writer.release()
