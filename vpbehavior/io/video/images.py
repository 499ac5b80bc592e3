"""Folders of image frames (JPEG / PNG / BMP / TIFF, natural file order) as a `VideoReader`.

Animated GIFs are video files to FFmpeg: they are read by `PyAVReader` (fps from the frame durations).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vpbehavior.core.errors import ConfigError, VideoError
from vpbehavior.io.video.base import VideoReader, output_size, resize_rgb
from vpbehavior.reporting import Progress, one_line, progress_reporter

#: Frame rate assumed for image folders when the caller gives none (KABR and ChimpACT ship
#: their frames without a rate; pass the dataset's real rate whenever it is known).
DEFAULT_IMAGE_FOLDER_FPS = 30.0

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def natural_sort_key(name: str | os.PathLike) -> list:
    """Key for natural sorting: ``2.jpg`` < ``10.jpg``; case-insensitive.

    Parameters
    ----------
    name
        File name or path (only the final component is used).

    Returns
    -------
    list
        Alternating ``str`` / ``int`` pieces, comparable between any two names.
    """
    parts = re.split(r"(\d+)", Path(name).name.lower())
    return [int(p) if i % 2 else p for i, p in enumerate(parts)]


class ImageFolderReader(VideoReader):
    """Frames stored as one image per file (JPEG / PNG / BMP / TIFF) in a folder.

    Files are ordered by natural sort of their names (``1.jpg, 2.jpg, ..., 10.jpg``); other
    files (and hidden files) are ignored. All frames must have the same size.

    Parameters
    ----------
    path
        The folder.
    fps
        Frame rate of the sequence; default :data:`DEFAULT_IMAGE_FOLDER_FPS` (30).
    cache_size
        Number of decoded frames kept in an LRU cache.
    check_sizes
        Read every image header at open to check that all frames have the same size.
    """

    backend = "images"

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | None = None,
        cache_size: int | None = None,
        check_sizes: bool = True,
    ):
        super().__init__(path, cache_size)
        if not self.path.is_dir():
            raise VideoError("is not a folder of image frames", path=self.path)
        files = [
            p
            for p in self.path.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ]
        if not files:
            raise VideoError(f"folder contains no image frames ({', '.join(IMAGE_SUFFIXES)})", path=self.path)
        self.files = sorted(files, key=lambda p: (natural_sort_key(p.name), p.name))
        self.n_frames = len(self.files)
        self.fps = float(fps) if fps is not None else DEFAULT_IMAGE_FOLDER_FPS
        if self.fps <= 0:
            raise ConfigError(f"{self.path}: fps must be positive, got {fps}")
        suffixes = {p.suffix.lower().lstrip(".") for p in self.files}
        self.codec = "/".join(sorted("jpeg" if s == "jpg" else s for s in suffixes))
        first = self._read_file(self.files[0])
        self.height, self.width = first.shape[:2]
        if check_sizes:
            self._check_sizes()
        self._init_cache()

    def _check_sizes(self) -> None:
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - frames are still checked on reading
            return
        for p in self.files:
            try:
                with Image.open(p) as im:
                    w, h = im.size
            except Exception as e:
                raise VideoError(f"cannot read image header ({one_line(e)})", path=p) from None
            if (h, w) != (self.height, self.width):
                raise VideoError(
                    f"frame size {w}x{h} differs from the first frame {self.files[0].name} "
                    f"({self.width}x{self.height}); all frames in {self.path} must have the same size",
                    path=p,
                )

    @staticmethod
    def _read_file(p: Path) -> np.ndarray:
        try:
            import cv2
        except ImportError:
            cv2 = None
        if cv2 is not None:
            bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if bgr is None:
                raise VideoError("cannot decode image (corrupt or unsupported file)", path=p)
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        from PIL import Image  # pragma: no cover - fallback without OpenCV

        try:
            with Image.open(p) as im:
                return np.asarray(im.convert("RGB"))
        except Exception as e:
            raise VideoError(f"cannot decode image ({one_line(e)})", path=p) from None

    def _load(self, i: int) -> np.ndarray:
        arr = self._read_file(self.files[i])
        if arr.shape[:2] != (self.height, self.width):
            raise VideoError(
                f"frame size {arr.shape[1]}x{arr.shape[0]} differs from {self.width}x{self.height}; "
                f"all frames in {self.path} must have the same size",
                path=self.files[i],
            )
        return arr

    def _read_sorted(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        for i in indices:
            arr = self._load(i)
            self._cache.put(i, arr)
            yield i, arr

    def iter_frames(
        self,
        start: int = 0,
        stop: int | None = None,
        step: int = 1,
        *,
        size: int | tuple[int, int] | None = None,
        decoder: str | None = None,
    ) -> Iterator[np.ndarray]:
        """Stream frames in order (see :meth:`VideoReader.iter_frames`); ``size`` resizes with OpenCV."""
        if decoder not in (None, "auto", "pyav"):
            raise ConfigError(f"{self.path}: an image folder is read with OpenCV; decoder={decoder!r} does not apply")
        out = output_size(size, self.path)
        for i in self._resolve_range(start, stop, step):
            frame = self._load(i)
            yield frame if out is None else resize_rgb(frame, out)

    def verify(self, progress: Progress = None) -> dict:
        """Read every image once; a report of the frames that decode (see `verify_video`)."""
        good = np.zeros(self.n_frames, bool)
        error = None
        with progress_reporter(progress, f"verify {self.path.name}", self.n_frames, "frame") as bar:
            for i in range(self.n_frames):
                try:
                    self._load(i)
                    good[i] = True
                except VideoError as e:
                    error = error or str(e)
                bar.update()
        return self._verify_report(good, error)
