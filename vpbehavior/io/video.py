"""Frame-accurate video reading and writing.

One reader type for every frame source a behavior lab has on disk:

- video files (mp4 / mov / avi / mkv, H.264 or MPEG-4 Part 2, ...) decoded with PyAV,
- animated GIFs (also through PyAV; fps comes from the frame durations),
- folders of JPEG / PNG frames (natural sort of file names; fps given by the caller).

All readers are array-like (``shape == (n_frames, H, W, 3)``, ``dtype == uint8``), so they can
be handed to napari directly, and support frame-accurate random access (``reader[i]``,
slices, index arrays, negative indices) plus fast sequential streaming
(:meth:`VideoReader.iter_frames`).

How exactness is guaranteed for video files
-------------------------------------------
When a file is opened, its packets are demuxed once (no decoding) to build a
:class:`FrameIndex`: the presentation timestamp (pts) of every frame, in presentation order,
and the keyframe positions. ``reader[i]`` seeks to the last keyframe at or before frame ``i``
and decodes forward until a frame with exactly ``pts[i]`` comes out; frames are never counted
after a seek. A short decode of the first frames checks that decoded timestamps agree with the
index; files whose timestamps cannot be trusted (e.g. H.264 with B-frames inside AVI) fall back
to a slow but exact *counting* mode that decodes from the start. Container metadata (frame
count, rate) is never used for the frame count.

Truncated and corrupt files
---------------------------
A file that cannot be opened at all (zero bytes, not a video, an mp4 whose ``moov`` atom was
cut off) raises :class:`VideoError` naming the file. A file whose data ends early (e.g. an mp4
with the index at the front, cut after 60% of its bytes) or hits a corrupt packet is opened
with a :class:`VideoTruncatedWarning` and exposes only the *prefix* of frames that is provably
complete: frame indices keep their meaning (frame ``i`` is still frame ``i`` of the original
recording) and no frame after a missing one is exposed.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior._files import atomic_output

__all__ = [
    "DEFAULT_IMAGE_FOLDER_FPS",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "FrameIndex",
    "ImageFolderReader",
    "PyAVReader",
    "VideoError",
    "VideoReader",
    "VideoTruncatedWarning",
    "natural_sort_key",
    "open_video",
    "probe_video",
    "write_video",
]

#: Frame rate assumed for image folders when the caller gives none (KABR and ChimpACT ship
#: their frames without a rate; pass the dataset's real rate whenever it is known).
DEFAULT_IMAGE_FOLDER_FPS = 30.0

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".gif")

#: Environment variable naming a folder where frame indices of video files are persisted.
INDEX_CACHE_ENV = "VPBEHAVIOR_INDEX_CACHE"
# Frame indexes built in this process, by (resolved path, size, mtime): loading a dataset and
# then extracting its features opens every video twice; the second open reuses the index.
_INDEX_MEMO: dict[tuple[str, int, int], FrameIndex] = {}
_INDEX_MEMO_SIZE = 256

_INDEX_VERSION = 1
_HEAD_CHECK_FRAMES = 32  # decoded at open to check that timestamps agree with the index
_TAIL_CHECK_MAX_GOP = 600  # last GOP is test-decoded at open when it is at most this long
_DEFAULT_CACHE_BYTES = 256 * 2**20
_SCRUB_WINDOW = 32  # frames before a seek target that are fully decoded and cached


class VideoError(ValueError):
    """A video (or frame folder) cannot be read as asked; the message names the file."""


class VideoTruncatedWarning(UserWarning):
    """A video ends early or has corrupt data; only a complete prefix of frames is exposed."""


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


# --------------------------------------------------------------------------------------------
# Base class: indexing, caching, array protocol, pickling
# --------------------------------------------------------------------------------------------


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

    def iter_frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
        """Stream frames ``start, start + step, ...`` (< ``stop``) by sequential decoding.

        Parameters
        ----------
        start, stop, step
            As in ``range``; negative ``start`` / ``stop`` count from the end.

        Yields
        ------
        numpy.ndarray
            ``[H, W, 3]`` uint8 RGB frames, exactly those ``reader[i]`` returns.
        """
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
                    raise VideoError(f"{self.path}: could not decode all requested frames")
        return out

    def _check_shape(self, frame: np.ndarray, i: int) -> None:
        if frame.shape != (self.height, self.width, 3):
            raise VideoError(
                f"{self.path}: frame {i} has shape {frame.shape}, expected "
                f"{(self.height, self.width, 3)} (frame size changes inside the video)"
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
            raise ValueError(f"{self.path}: step must be a positive integer, got {step!r}")
        return range(*slice(start, stop, int(step)).indices(self.n_frames))

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


# --------------------------------------------------------------------------------------------
# Video files (and GIFs) through PyAV
# --------------------------------------------------------------------------------------------


def _import_av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - av is a hard dependency
        raise ImportError("reading video files needs PyAV: pip install av") from e
    return av


@dataclass
class FrameIndex:
    """Per-file frame index, built once by demuxing packets (no decoding).

    Attributes
    ----------
    pts
        Presentation timestamp of every frame, in presentation order (stream time base).
        In counting mode (``exact=False``) these are just ``0..n-1``.
    keyframes
        Frame indices of keyframes (sorted).
    seek_ts
        Timestamp passed to the demuxer to seek to each keyframe.
    time_base
        Stream time base as ``(numerator, denominator)``.
    last_duration
        Duration of the last frame in time-base units (0 if unknown).
    exact
        Whether decoded timestamps match ``pts`` (pts-matched seeking). Otherwise random
        access decodes from the start and counts frames.
    truncated
        Whether the file ended early or had corrupt data (index holds the valid prefix).
    metadata_frames
        Frame count the container claims (0 if none); informative only.
    """

    pts: np.ndarray
    keyframes: np.ndarray
    seek_ts: np.ndarray
    time_base: tuple[int, int]
    last_duration: int = 0
    exact: bool = True
    truncated: bool = False
    metadata_frames: int = 0
    pts_to_index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pts_to_index = {int(p): i for i, p in enumerate(self.pts.tolist())}

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    def keyframe_for(self, i: int) -> int:
        """Position in ``keyframes`` of the last keyframe at or before frame ``i`` (-1: none)."""
        return int(np.searchsorted(self.keyframes, i, side="right")) - 1

    def save(self, path: Path) -> None:
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                pts=self.pts,
                keyframes=self.keyframes,
                seek_ts=self.seek_ts,
                meta=np.array(
                    [
                        _INDEX_VERSION,
                        self.time_base[0],
                        self.time_base[1],
                        self.last_duration,
                        int(self.exact),
                        int(self.truncated),
                        self.metadata_frames,
                    ],
                    dtype=np.int64,
                ),
            )

    @classmethod
    def load(cls, path: Path) -> FrameIndex | None:
        try:
            with np.load(path) as z:
                meta = z["meta"].tolist()
                if meta[0] != _INDEX_VERSION:
                    return None
                return cls(
                    z["pts"],
                    z["keyframes"],
                    z["seek_ts"],
                    (meta[1], meta[2]),
                    meta[3],
                    bool(meta[4]),
                    bool(meta[5]),
                    meta[6],
                )
        except Exception:
            return None


class PyAVReader(VideoReader):
    """Frame-accurate reader for video files and animated GIFs, decoded with PyAV.

    Parameters
    ----------
    path
        Video file (mp4, mov, avi, mkv, gif, ...).
    fps
        Override the frame rate measured from the timestamps (e.g. for a file whose header
        is wrong). ``None``: measured from frame timestamps / durations.
    cache_size
        Number of decoded frames kept in an LRU cache (default: as many as fit in ~256 MB
        of YUV frames, at most 512). Every frame decoded on the way to a seek target is
        cached too (as a decoded frame, without conversion cost), which makes scrubbing
        backwards in napari and nearby random access cheap. 0 disables caching.
    index_cache
        Folder in which to persist the frame index (keyed by path, size and mtime).
        Default: the ``VPBEHAVIOR_INDEX_CACHE`` environment variable, else not persisted.
    threads
        Let FFmpeg decode with multiple threads (frame/slice threading).
    """

    backend = "pyav"
    # the cache holds decoded (YUV) frames: storing one costs nothing, RGB conversion is on hit
    _cache_bytes_per_pixel = 1.5
    _cache_max_frames = 512

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | None = None,
        cache_size: int | None = None,
        index_cache: str | os.PathLike | None = None,
        threads: bool = True,
    ):
        super().__init__(path, cache_size)
        self._fps_override = fps
        self._threads = threads
        self._h_container = None
        self._h_stream = None
        self._h_gen = None
        self._next_idx = -1
        self._want_from = 0
        if not self.path.exists():
            raise FileNotFoundError(f"video file not found: {self.path}")
        if self.path.is_dir():
            raise VideoError(f"{self.path}: is a folder, not a video file (use ImageFolderReader)")
        if self.path.stat().st_size == 0:
            raise VideoError(f"{self.path}: file is empty (0 bytes), not a video")
        container, stream = self._open_container()
        try:
            self.codec = stream.codec_context.name
            self.width = int(stream.codec_context.width)
            self.height = int(stream.codec_context.height)
            index_dir = index_cache if index_cache is not None else os.environ.get(INDEX_CACHE_ENV)
            self.index = self._load_or_build_index(container, stream, index_dir)
            self._rates = (stream.guessed_rate, stream.average_rate)
        finally:
            container.close()
        if self.width <= 0 or self.height <= 0:
            raise VideoError(f"{self.path}: video stream has no frame size ({self.width}x{self.height})")
        self.n_frames = self.index.n_frames
        self.fps = float(fps) if fps is not None else self._measure_fps()
        self._init_cache()

    # -- opening and indexing -----------------------------------------------------------------

    def _open_container(self, threads: bool | None = None):
        av = _import_av()
        try:
            container = av.open(str(self.path), mode="r")
        except av.error.FFmpegError as e:
            raise VideoError(
                f"{self.path}: cannot open as a video ({_ff_msg(e)}); the file is not a video, is "
                "corrupt, or is truncated (e.g. an mp4 cut before its 'moov' index)"
            ) from None
        if not container.streams.video:
            container.close()
            raise VideoError(f"{self.path}: contains no video stream")
        stream = container.streams.video[0]
        if self._threads if threads is None else threads:
            stream.thread_type = "AUTO"
        return container, stream

    def _index_cache_file(self, index_dir: str | os.PathLike) -> Path:
        st = self.path.stat()
        key = f"{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{_INDEX_VERSION}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:20]
        return Path(index_dir) / f"{self.path.stem}-{digest}.npz"

    def _load_or_build_index(self, container, stream, index_dir) -> FrameIndex:
        """The frame index: from this process's memo, the on-disk cache, or built by demuxing."""
        st = self.path.stat()
        memo_key = (str(self.path.resolve()), st.st_size, st.st_mtime_ns)
        cache_file = self._index_cache_file(index_dir) if index_dir else None
        index = _INDEX_MEMO.get(memo_key)
        if index is None and cache_file is not None and cache_file.exists():
            index = FrameIndex.load(cache_file)
        if index is not None:
            if index.truncated:
                warnings.warn(_truncation_message(self.path, index), VideoTruncatedWarning, stacklevel=4)
        else:
            index = self._build_index(container, stream)
        _INDEX_MEMO[memo_key] = index
        while len(_INDEX_MEMO) > _INDEX_MEMO_SIZE:
            _INDEX_MEMO.pop(next(iter(_INDEX_MEMO)))
        if cache_file is not None and not cache_file.exists():
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                index.save(cache_file)
            except OSError as e:
                warnings.warn(f"{self.path}: could not persist frame index to {cache_file}: {e}", stacklevel=4)
        return index

    def _build_index(self, container, stream) -> FrameIndex:
        av = _import_av()
        tb = stream.time_base or Fraction(1, 1)
        rows: list[tuple] = []  # (pts, dts, is_keyframe, duration)
        truncated = False
        first_bad_dts = None
        bad_pts = None
        problem = ""
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0:
                    continue
                if pkt.is_corrupt:
                    truncated, first_bad_dts, bad_pts = True, pkt.dts, pkt.pts
                    problem = "corrupt or incomplete packet"
                    break
                if pkt.is_discard:
                    continue
                rows.append((pkt.pts, pkt.dts, bool(pkt.is_keyframe), pkt.duration or 0))
        except av.error.FFmpegError as e:
            truncated, problem = True, f"read error: {_ff_msg(e)}"
        if not rows:
            raise VideoError(f"{self.path}: contains no decodable video frames" + (f" ({problem})" if problem else ""))
        metadata_frames = int(stream.frames or 0)
        if (
            not truncated
            and metadata_frames
            and len(rows) < metadata_frames
            and container.format.name.startswith("mov")
        ):
            # mp4 sample tables list every frame; fewer packets means the data was cut off
            truncated, problem = True, "file ends before all frames listed in its header"

        pts_list = [r[0] for r in rows]
        exact = all(p is not None for p in pts_list) and len(set(pts_list)) == len(pts_list)
        if truncated and exact:
            # Every packet not read has pts >= its dts > the dts of the last packet read, so
            # only frames with pts below that bound are known to be complete.
            if first_bad_dts is not None:
                bound, inclusive = first_bad_dts, False
            elif rows[-1][1] is not None:
                bound, inclusive = rows[-1][1], True
            else:
                bound, inclusive = bad_pts, False
            if bound is not None:
                rows = [r for r in rows if (r[0] <= bound if inclusive else r[0] < bound)]
            if not rows:
                raise VideoError(f"{self.path}: truncated or corrupt ({problem}); no complete frames")

        if exact:
            rows.sort(key=lambda r: r[0])
            pts = np.array([r[0] for r in rows], dtype=np.int64)
            keyframes = np.array([i for i, r in enumerate(rows) if r[2]], dtype=np.int64)
            # seek by keyframe pts: mov / mkv demuxers seek by presentation time; a seek that
            # lands late is detected by pts matching and retried from an earlier keyframe
            seek_ts = np.array([r[0] for r in rows if r[2]], dtype=np.int64)
            if len(keyframes) == 0:
                keyframes, seek_ts = np.array([0]), np.array([pts[0]])
            index = FrameIndex(
                pts,
                keyframes,
                seek_ts,
                (tb.numerator, tb.denominator),
                int(rows[-1][3]),
                True,
                truncated,
                metadata_frames,
            )
            if self._timestamps_agree(index):
                if truncated or _last_gop_len(index) <= _TAIL_CHECK_MAX_GOP:
                    index = self._check_tail(index, problem)
                if index.truncated:
                    warnings.warn(_truncation_message(self.path, index, problem), VideoTruncatedWarning, stacklevel=5)
                return index
        # Timestamps are missing, duplicated or disagree with decoding: count decoded frames.
        warnings.warn(
            f"{self.path}: frame timestamps are unreliable (e.g. B-frames in AVI); counting "
            "decoded frames instead. Random access will decode from the start (slow); remux to "
            "mp4 (ffmpeg -i in.avi -c copy out.mp4) for fast exact seeking.",
            stacklevel=5,
        )
        return self._count_index(tb, metadata_frames)

    def _decoded_pts(self, seek_ts: int | None, limit: int | None) -> list:
        """Decode (from the start or after seeking) and return frame pts, up to ``limit``."""
        av = _import_av()
        container, stream = self._open_container()
        out: list = []
        try:
            if seek_ts is not None:
                container.seek(int(seek_ts), stream=stream, backward=True, any_frame=False)
            for pkt in container.demux(stream):
                if pkt.is_corrupt:
                    continue
                try:
                    frames = pkt.decode()
                except av.error.FFmpegError:
                    break
                for f in frames:
                    out.append(f.pts)
                    if limit is not None and len(out) >= limit:
                        return out
        finally:
            container.close()
        return out

    def _timestamps_agree(self, index: FrameIndex) -> bool:
        k = min(_HEAD_CHECK_FRAMES, index.n_frames)
        decoded = [p for p in self._decoded_pts(None, k + 8) if p is None or p in index.pts_to_index]
        return decoded[:k] == index.pts[:k].tolist()

    def _check_tail(self, index: FrameIndex, problem: str) -> FrameIndex:
        """Decode the last GOP; trim the index to the frames that actually decode."""
        first = int(index.keyframes[-1])
        want = index.pts[first:].tolist()
        got = set(self._decoded_pts(int(index.seek_ts[-1]), None))
        n_ok = first
        for p in want:
            if p not in got:
                break
            n_ok += 1
        if n_ok == index.n_frames:
            return index
        if n_ok == 0:
            raise VideoError(f"{self.path}: no frame decodes ({problem or 'corrupt data'})")
        keep = index.keyframes < n_ok
        return FrameIndex(
            index.pts[:n_ok],
            index.keyframes[keep],
            index.seek_ts[keep],
            index.time_base,
            0,
            True,
            True,
            index.metadata_frames,
        )

    def _count_index(self, tb: Fraction, metadata_frames: int) -> FrameIndex:
        pts = self._decoded_pts(None, None)
        if not pts:
            raise VideoError(f"{self.path}: contains no decodable video frames")
        n = len(pts)
        return FrameIndex(
            np.arange(n, dtype=np.int64),
            np.array([0]),
            np.array([0]),
            (tb.numerator, tb.denominator),
            0,
            False,
            False,
            metadata_frames,
        )

    def _measure_fps(self) -> float:
        idx = self.index
        guessed, average = self._rates
        nominal = next((float(r) for r in (guessed, average) if r), 0.0)
        if not idx.exact or idx.n_frames < 2:
            return nominal or 30.0
        tb = Fraction(*idx.time_base)
        span = int(idx.pts[-1] - idx.pts[0])
        last = idx.last_duration or (span / (idx.n_frames - 1))
        total = float((span + last) * tb)
        measured = idx.n_frames / total if total > 0 else 0.0
        if nominal and measured and abs(nominal - measured) / measured < 0.002:
            return nominal
        return measured or nominal or 30.0

    @property
    def frame_times(self) -> np.ndarray:
        """Presentation time of every frame in seconds, relative to the first frame."""
        if not self.index.exact:
            return np.arange(self.n_frames) / self.fps
        tb = Fraction(*self.index.time_base)
        return (self.index.pts - self.index.pts[0]) * float(tb)

    # -- decoding -----------------------------------------------------------------------------

    def close(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_h_gen", None) is not None:
                self._h_gen.close()
                self._h_gen = None
            if getattr(self, "_h_container", None) is not None:
                self._h_container.close()
                self._h_container = None
                self._h_stream = None
            self._next_idx = -1

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_next_idx"] = -1
        for k in ("_h_container", "_h_stream", "_h_gen"):
            state[k] = None
        return state

    def _frames_from(self, container, stream, kf_pos: int, wanted: Any = None) -> Iterator[tuple[int, Any]]:
        """Seek to keyframe ``kf_pos`` (-1: start of file) and yield ``(index, av frame)``.

        ``wanted(i)`` (optional) tells whether frame ``i`` is needed: packets of frames that
        are not are decoded with ``skip_frame="NONREF"`` (non-reference frames are dropped
        by the decoder, about half the decoding work in B-frame H.264; reference frames, on
        which later frames depend, are always decoded).
        """
        av = _import_av()
        index = self.index
        if index.exact and kf_pos >= 0:
            container.seek(int(index.seek_ts[kf_pos]), stream=stream, backward=True, any_frame=False)
        # kf_pos < 0: the caller passes a freshly opened container (positioned at the start)
        last_pts = int(index.pts[-1])
        prev = -1
        count = 0
        ctx = stream.codec_context
        skipping = False
        for pkt in container.demux(stream):
            if pkt.is_corrupt:
                continue
            if wanted is not None and index.exact:
                j = index.pts_to_index.get(pkt.pts)
                skip = j is not None and not wanted(j)
                if skip != skipping:
                    ctx.skip_frame = "NONREF" if skip else "DEFAULT"
                    skipping = skip
            try:
                frames = pkt.decode()
            except av.error.FFmpegError as e:
                raise VideoError(f"{self.path}: decoding failed after frame {prev} ({_ff_msg(e)})") from None
            for frame in frames:
                if index.exact:
                    i = index.pts_to_index.get(frame.pts)
                    if i is None:
                        if frame.pts is not None and frame.pts > last_pts:
                            return
                        continue
                    if i <= prev:
                        raise VideoError(
                            f"{self.path}: decoded frame timestamps out of order at frame {i}; "
                            "cannot guarantee frame-accurate access"
                        )
                else:
                    i = count
                    count += 1
                    if i >= index.n_frames:
                        return
                prev = i
                yield i, frame

    def _ensure_open(self) -> None:
        if self._h_container is None:
            self._h_container, self._h_stream = self._open_container(threads=False)
            self._h_gen = None
            self._next_idx = -1

    def _start(self, kf_pos: int) -> None:
        if self._h_gen is not None:
            self._h_gen.close()
            self._h_gen = None
        if kf_pos < 0 or not self.index.exact:
            # decode from the very start: reopen rather than trust a seek to the beginning
            self._h_container.close()
            self._h_container, self._h_stream = self._open_container(threads=False)
            kf_pos = -1
        self._h_gen = self._frames_from(self._h_container, self._h_stream, kf_pos, self._is_wanted)
        self._next_idx = -1

    def _cached_array(self, item: Any) -> np.ndarray:
        return item.to_ndarray(format="rgb24")

    def _read_sorted(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        with self._lock:
            self._ensure_open()
            for target in indices:
                yield target, self._decode_one(target)

    def _is_wanted(self, i: int) -> bool:
        return i >= self._want_from

    def _decode_one(self, target: int) -> np.ndarray:
        index = self.index
        # frames just before the target are decoded fully (and cached, for scrubbing back);
        # earlier non-reference frames are skipped
        self._want_from = target - min(_SCRUB_WINDOW, self._cache.capacity)
        kf_pos = index.keyframe_for(target) if index.exact else -1
        kf_frame = int(index.keyframes[kf_pos]) if kf_pos >= 0 else 0
        # Continue decoding forward when the decoder already sits between the keyframe and the
        # target: never more work than a seek.
        if self._h_gen is None or not (kf_frame <= self._next_idx <= target) or self._next_idx < 0:
            self._start(kf_pos)
            seeked = True
        else:
            seeked = False
        for _attempt in range(3):
            first = True
            for i, frame in self._h_gen:
                self._next_idx = i + 1
                if first and seeked and i > target:
                    break  # seek landed after the target: retry from an earlier keyframe
                first = False
                if i > target:
                    raise VideoError(f"{self.path}: frame {target} could not be decoded (frame {i} came next)")
                # keep every decoded frame of the GOP (no conversion cost): scrubbing backwards
                # and nearby random access then need no new seek
                self._cache.put(i, frame)
                if i == target:
                    return frame.to_ndarray(format="rgb24")
            else:
                self._h_gen = None
                self._next_idx = -1
                raise VideoError(f"{self.path}: frame {target} could not be decoded (stream ended early)")
            kf_pos = max(-1, kf_pos - 1) if _attempt == 0 else -1
            self._start(kf_pos)
            seeked = True
        raise VideoError(f"{self.path}: seeking to frame {target} failed")

    def iter_frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
        """Stream frames by sequential decoding (own file handle; no seeking after the start).

        Parameters
        ----------
        start, stop, step
            As in ``range``; negative ``start`` / ``stop`` count from the end.

        Yields
        ------
        numpy.ndarray
            ``[H, W, 3]`` uint8 RGB frames, exactly those ``reader[i]`` returns.
        """
        wanted = self._resolve_range(start, stop, step)
        if len(wanted) == 0:
            return
        first, last = wanted[0], wanted[-1]
        kf_pos = self.index.keyframe_for(first) if self.index.exact and first > 0 else -1
        step = wanted.step

        def is_wanted(i: int) -> bool:
            return first <= i <= last and (i - first) % step == 0

        container, stream = self._open_container()
        try:
            expected = first
            for i, frame in self._frames_from(container, stream, kf_pos, is_wanted):
                if i < expected or not is_wanted(i):
                    continue  # frames before the start / between steps (possibly skipped)
                if i != expected:
                    raise VideoError(f"{self.path}: frame {expected} could not be decoded (frame {i} came next)")
                arr = frame.to_ndarray(format="rgb24")
                self._check_shape(arr, i)
                yield arr
                if i >= last:
                    return
                expected += step
            raise VideoError(f"{self.path}: stream ended before frame {expected} ({self.n_frames} frames indexed)")
        finally:
            container.close()

    def verify(self) -> int:
        """Decode every frame sequentially and check it against the index.

        Returns
        -------
        int
            Number of frames decoded (equals ``n_frames``; raises :class:`VideoError` otherwise).
        """
        n = sum(1 for _ in self._iter_raw())
        if n != self.n_frames:
            raise VideoError(f"{self.path}: decoded {n} frames, index has {self.n_frames}")
        return n

    def _iter_raw(self) -> Iterator[int]:
        container, stream = self._open_container()
        try:
            for expected, (i, _) in enumerate(self._frames_from(container, stream, -1)):
                if i != expected:
                    raise VideoError(f"{self.path}: frame {expected} could not be decoded")
                yield i
        finally:
            container.close()


def _last_gop_len(index: FrameIndex) -> int:
    return index.n_frames - int(index.keyframes[-1])


def _ff_msg(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


def _truncation_message(path: Path, index: FrameIndex, problem: str = "") -> str:
    claim = f" of {index.metadata_frames} listed in its header" if index.metadata_frames else ""
    why = f" ({problem})" if problem else ""
    return (
        f"{path}: video is truncated or corrupt{why}; exposing only the first {index.n_frames} "
        f"frames{claim}, which decode completely"
    )


# --------------------------------------------------------------------------------------------
# Folders of image frames
# --------------------------------------------------------------------------------------------


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
            raise VideoError(f"{self.path}: is not a folder of image frames")
        files = [
            p
            for p in self.path.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ]
        if not files:
            raise VideoError(f"{self.path}: folder contains no image frames ({', '.join(IMAGE_SUFFIXES)})")
        self.files = sorted(files, key=lambda p: (natural_sort_key(p.name), p.name))
        self.n_frames = len(self.files)
        self.fps = float(fps) if fps is not None else DEFAULT_IMAGE_FOLDER_FPS
        if self.fps <= 0:
            raise ValueError(f"{self.path}: fps must be positive, got {fps}")
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
                raise VideoError(f"{p}: cannot read image header ({e})") from None
            if (h, w) != (self.height, self.width):
                raise VideoError(
                    f"{p}: frame size {w}x{h} differs from the first frame {self.files[0].name} "
                    f"({self.width}x{self.height}); all frames in {self.path} must have the same size"
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
                raise VideoError(f"{p}: cannot decode image (corrupt or unsupported file)")
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        from PIL import Image  # pragma: no cover - fallback without OpenCV

        try:
            with Image.open(p) as im:
                return np.asarray(im.convert("RGB"))
        except Exception as e:
            raise VideoError(f"{p}: cannot decode image ({e})") from None

    def _load(self, i: int) -> np.ndarray:
        arr = self._read_file(self.files[i])
        if arr.shape[:2] != (self.height, self.width):
            raise VideoError(
                f"{self.files[i]}: frame size {arr.shape[1]}x{arr.shape[0]} differs from "
                f"{self.width}x{self.height}; all frames in {self.path} must have the same size"
            )
        return arr

    def _read_sorted(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        for i in indices:
            arr = self._load(i)
            self._cache.put(i, arr)
            yield i, arr

    def iter_frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
        """Stream frames in order (see :meth:`VideoReader.iter_frames`)."""
        for i in self._resolve_range(start, stop, step):
            yield self._load(i)


# --------------------------------------------------------------------------------------------
# Front doors
# --------------------------------------------------------------------------------------------


def open_video(path: str | os.PathLike, fps: float | None = None, **kwargs: Any) -> VideoReader:
    """Open a video file, an animated GIF or a folder of image frames.

    Parameters
    ----------
    path
        Video file (mp4 / avi / mov / mkv / gif ...) or folder of JPEG / PNG frames.
    fps
        Frame rate. For video files and GIFs it overrides the rate measured from the
        timestamps; for image folders it defaults to :data:`DEFAULT_IMAGE_FOLDER_FPS`.
    **kwargs
        Passed to the backend (:class:`PyAVReader` or :class:`ImageFolderReader`), e.g.
        ``cache_size``.

    Returns
    -------
    VideoReader
        Array-like reader; use it as a context manager to close file handles.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    VideoError
        If the file is empty, not a video, corrupt or unreadable (message names the file).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video not found: {p}")
    if p.is_dir():
        return ImageFolderReader(p, fps=fps, **kwargs)
    return PyAVReader(p, fps=fps, **kwargs)


def probe_video(path: str | os.PathLike, fps: float | None = None) -> dict:
    """Summarize a video for ``vpbehavior inspect``.

    Returns
    -------
    dict
        ``path, backend, n_frames, fps, height, width, codec, duration`` (seconds), plus
        ``metadata_frames`` (the container's own claim, 0 if none), ``truncated`` and
        ``keyframes`` for video files.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = open_video(path, fps=fps)
    with reader:
        info = {
            "path": str(reader.path),
            "backend": reader.backend,
            "n_frames": reader.n_frames,
            "fps": reader.fps,
            "height": reader.height,
            "width": reader.width,
            "codec": reader.codec,
            "duration": reader.duration,
        }
        if isinstance(reader, PyAVReader):
            info.update(
                metadata_frames=reader.index.metadata_frames,
                truncated=reader.index.truncated,
                keyframes=len(reader.index.keyframes),
                exact_seek=reader.index.exact,
            )
        info["warnings"] = [str(w.message) for w in caught]
    return info


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
        raise ValueError(f"codec must be 'h264' or 'mp4v', got {codec!r}")
    if not fps or fps <= 0:
        raise ValueError(f"{path}: fps must be positive, got {fps}")
    if codec == "h264":
        try:
            av = _import_av()
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
            raise VideoError(f"{path}: no frames to write")
    return path


def _as_rgb(frame: Any, i: int, path: Path, size: tuple[int, int] | None) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise VideoError(f"{path}: frame {i} has dtype {arr.dtype}, expected uint8")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise VideoError(f"{path}: frame {i} has shape {arr.shape}, expected [H, W, 3] or [H, W]")
    if size is not None and arr.shape[:2] != size:
        raise VideoError(f"{path}: frame {i} has size {arr.shape[:2]}, expected {size} like frame 0")
    return np.ascontiguousarray(arr)


def _write_pyav(tmp: Path, path: Path, frames, fps, crf, preset, gop_size, bframes) -> int:
    av = _import_av()
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
                    raise VideoError(f"{path}: H.264 (yuv420p) needs even width and height, got {size[1]}x{size[0]}")
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
                    raise VideoError(f"{path}: OpenCV cannot open an mp4v writer")
            writer.write(cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
        return 0 if writer is None else n + 1
    finally:
        if writer is not None:
            writer.release()
