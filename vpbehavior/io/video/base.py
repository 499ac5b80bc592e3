"""`VideoReader`: the array-like, frame-accurate base of every reader (indexing, LRU cache, pickling)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior.core.errors import ConfigError, VideoError
from vpbehavior.reporting import Progress

_DEFAULT_CACHE_BYTES = 256 * 2**20


class _LRU:
    """Tiny LRU of decoded frames (callers hold the reader's lock)."""

    def __init__(self, capacity: int):
        self.capacity = max(0, int(capacity))
        self._d: OrderedDict[int, Any] = OrderedDict()

    def __contains__(self, key: int) -> bool:
        return key in self._d

    def get(self, key: int) -> Any:
        arr = self._d.get(key)
        if arr is not None:
            self._d.move_to_end(key)
        return arr

    def put(self, key: int, item: Any) -> None:
        if self.capacity == 0:
            return
        self._d[key] = item
        self._d.move_to_end(key)
        while len(self._d) > self.capacity:
            self._d.popitem(last=False)

    def clear(self) -> None:
        self._d.clear()


def output_size(size: Any, path: Any = None) -> tuple[int, int] | None:
    """``(width, height)`` from the ``size=`` option of ``iter_frames`` (an int means a square)."""
    if size is None:
        return None
    try:
        if isinstance(size, (int, np.integer)):
            w = h = int(size)
        else:
            w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: size must be (width, height) or an int, got {size!r}") from None
    if w < 1 or h < 1:
        raise ConfigError(f"{path}: size must be positive, got {size!r}")
    return w, h


def resize_rgb(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` resized to ``size = (width, height)`` with OpenCV: area averaging when both sides
    shrink, bilinear otherwise (what `RGBConverter` does inside the decoder for video files)."""
    h, w = frame.shape[:2]
    if (w, h) == tuple(size):
        return frame
    import cv2

    interp = cv2.INTER_AREA if size[0] < w and size[1] < h else cv2.INTER_LINEAR
    return cv2.resize(frame, tuple(size), interpolation=interp)


class VideoReader:
    """Array-like, frame-accurate reader of a video; base class of all backends.

    Indexing returns RGB ``uint8`` arrays: ``reader[i]`` -> ``[H, W, 3]``; a slice, a list /
    array of indices or a boolean mask -> ``[n, H, W, 3]``. Tuples index further into the
    frames (``reader[5, :10, :10]``), as napari does. Use as a context manager to close file
    handles; readers pickle by path and reopen lazily in the receiving process.
    """

    backend = "base"
    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, path: str | os.PathLike, cache_size: int | None = None):
        self.path = Path(path)
        self._cache_size_arg = cache_size
        self._lock = threading.RLock()
        self._cache = _LRU(0)
        self.n_frames: int = 0
        self.height: int = 0
        self.width: int = 0
        self.fps: float = 0.0
        self.codec: str = ""

    # -- to be provided by subclasses ---------------------------------------------------------

    def _read_sorted(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for sorted unique valid ``indices``; fill the cache."""
        raise NotImplementedError

    def _cached_array(self, item: Any) -> np.ndarray:
        """Turn a cache entry into a fresh ``[H, W, 3]`` uint8 array."""
        return item.copy()

    def iter_frames(
        self,
        start: int = 0,
        stop: int | None = None,
        step: int = 1,
        *,
        size: int | tuple[int, int] | None = None,
        decoder: str | None = None,
    ) -> Iterator[np.ndarray]:
        """Stream frames ``start, start + step, ...`` (< ``stop``) by sequential decoding.

        Parameters
        ----------
        start, stop, step
            As in ``range``; negative ``start`` / ``stop`` count from the end.
        size
            ``(width, height)`` (an int: a square) to deliver the frames at; None: native size.
        decoder
            Streaming decoder (video files only; see `vpbehavior.io.video.decoders`).

        Yields
        ------
        numpy.ndarray
            ``[H, W, 3]`` uint8 RGB frames; at the native size exactly those ``reader[i]`` returns.
        """
        raise NotImplementedError

    def verify(self, progress: Progress = None) -> dict:
        """Decode every frame once; a report of the frames that decode (see `verify_video`)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release file handles (the reader reopens them when used again)."""

    # -- shared machinery ---------------------------------------------------------------------

    _cache_bytes_per_pixel = 3.0
    _cache_max_frames = 128

    def _init_cache(self) -> None:
        size = self._cache_size_arg
        if size is None:
            frame_bytes = max(1.0, self.height * self.width * self._cache_bytes_per_pixel)
            size = int(max(2, min(self._cache_max_frames, _DEFAULT_CACHE_BYTES // frame_bytes)))
        self._cache = _LRU(size)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(n_frames, height, width, 3)``."""
        return (self.n_frames, self.height, self.width, 3)

    @property
    def size(self) -> int:
        """Number of elements (as ``numpy.ndarray.size``)."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes the whole decoded video would take."""
        return self.size

    @property
    def duration(self) -> float:
        """Duration in seconds (``n_frames / fps``)."""
        return self.n_frames / self.fps if self.fps else float("nan")

    def __len__(self) -> int:
        return self.n_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.iter_frames()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, n_frames={self.n_frames}, "
            f"shape={self.shape}, fps={self.fps:.4g})"
        )

    def _normalize(self, i: Any) -> int:
        if isinstance(i, (bool, np.bool_)):
            raise TypeError(f"{self.path}: boolean scalar is not a frame index")
        try:
            j = int(i)
        except (TypeError, ValueError):
            raise TypeError(f"{self.path}: invalid frame index {i!r}") from None
        if j != i:
            raise TypeError(f"{self.path}: frame index must be an integer, got {i!r}")
        if j < 0:
            j += self.n_frames
        if not 0 <= j < self.n_frames:
            raise IndexError(f"{self.path}: frame index {i} out of range for {self.n_frames} frames")
        return j

    def _frame_indices(self, key: Any) -> tuple[np.ndarray, bool]:
        """Return (indices, is_scalar) for a first-axis key."""
        if isinstance(key, slice):
            return np.arange(*key.indices(self.n_frames), dtype=np.int64), False
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return np.array([self._normalize(key)], dtype=np.int64), True
        arr = np.asarray(key)
        if arr.dtype == bool:
            if arr.shape != (self.n_frames,):
                raise IndexError(
                    f"{self.path}: boolean mask of shape {arr.shape} does not match {self.n_frames} frames"
                )
            return np.flatnonzero(arr).astype(np.int64), False
        if arr.ndim == 0:
            return np.array([self._normalize(arr.item())], dtype=np.int64), True
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{self.path}: frame indices must be a 1-D integer sequence, got {key!r}")
        return np.array([self._normalize(v) for v in arr.tolist()], dtype=np.int64), False

    def get_frames(self, indices: Iterable[int]) -> np.ndarray:
        """Return frames at ``indices`` (any order, repeats allowed) as ``[n, H, W, 3]``."""
        idx, _ = self._frame_indices(list(indices))
        return self._gather(idx)

    def _gather(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), self.height, self.width, 3), dtype=np.uint8)
        if len(idx) == 0:
            return out
        positions: dict[int, list[int]] = {}
        for pos, i in enumerate(idx.tolist()):
            positions.setdefault(i, []).append(pos)
        missing = []
        with self._lock:
            for i, pos in positions.items():
                hit = self._cache.get(i)
                if hit is None:
                    missing.append(i)
                else:
                    out[pos] = self._cached_array(hit)
            if missing:
                missing.sort()
                got = 0
                for i, frame in self._read_sorted(missing):
                    self._check_shape(frame, i)
                    out[positions[i]] = frame
                    got += 1
                if got != len(missing):  # pragma: no cover - backends raise before this
                    raise VideoError("could not decode all requested frames", path=self.path)
        return out

    def _check_shape(self, frame: np.ndarray, i: int) -> None:
        if frame.shape != (self.height, self.width, 3):
            raise VideoError(
                f"frame {i} has shape {frame.shape}, expected {(self.height, self.width, 3)} "
                "(frame size changes inside the video)",
                path=self.path,
            )

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            if len(key) == 0:
                key = slice(None)
            else:
                if key[0] is Ellipsis:
                    key = (slice(None),) * (self.ndim - len(key) + 1) + key[1:]
                key, rest = key[0], key[1:]
        idx, scalar = self._frame_indices(key)
        frames = self._gather(idx)
        if scalar:
            frames = frames[0]
            return frames[rest] if rest else frames
        return frames[(slice(None),) + rest] if rest else frames

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self[:]
        return arr.astype(dtype) if dtype is not None else arr

    def _resolve_range(self, start: int, stop: int | None, step: int) -> range:
        if step is None or int(step) < 1:
            raise ConfigError(f"{self.path}: step must be a positive integer, got {step!r}")
        return range(*slice(start, stop, int(step)).indices(self.n_frames))

    def _verify_report(self, good: np.ndarray, error: str | None, lost_from: int | None = None) -> dict:
        """The `verify` dict from a per-frame mask of good frames (``lost_from``: frames lost at the end)."""
        bad = np.flatnonzero(~good)
        first_bad = int(bad[0]) if len(bad) else lost_from
        return {
            "path": str(self.path),
            "n_frames": self.n_frames,
            "good_frames": int(good.sum()),
            "first_bad_frame": first_bad,
            "truncated": lost_from is not None,
            "error": error,
        }

    # -- pickling -----------------------------------------------------------------------------

    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_h_")}
        state["_lock"] = None
        state["_cache"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._init_cache()
