"""`PyAVReader`: frame-accurate reading of video files and animated GIFs, decoded with PyAV.

``reader[i]`` seeks to the last keyframe at or before frame ``i`` (from the `FrameIndex`) and
decodes forward until the frame with exactly ``pts[i]`` comes out; frames are never counted
after a seek. A decoding failure raises `VideoError` naming the file and the frame that could
not be delivered: a decoder error, a picture the decoder marks as damaged, or a frame the
decoder silently dropped (the next timestamp out is not the one the index expects).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from vpbehavior.core.errors import MissingFileError, VideoError
from vpbehavior.io.video._av import container_name, ff_message, import_av, open_container
from vpbehavior.io.video.base import VideoReader
from vpbehavior.io.video.index import INDEX_CACHE_ENV, FrameIndex, load_index, truncation_message
from vpbehavior.reporting import Progress, progress_reporter

_SCRUB_WINDOW = 32  # frames before a seek target that are fully decoded and cached


class _Damaged(Exception):
    """Decoding cannot go on (internal: callers turn it into a `VideoError` naming the frame).

    ``frame``: the damaged frame, where it is known and may differ from the one asked for.
    """

    def __init__(self, reason: str, frame: int | None = None):
        super().__init__(reason)
        self.reason, self.frame = reason, frame


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
            raise MissingFileError(f"video file not found: {self.path}", path=self.path)
        if self.path.is_dir():
            raise VideoError("is a folder, not a video file (open it with open_video or ImageFolderReader)", path=path)
        if self.path.stat().st_size == 0:
            raise VideoError("file is empty (0 bytes), not a video", path=self.path)
        container, stream = open_container(self.path, threads)
        try:
            self.codec = stream.codec_context.name
            self.width = int(stream.codec_context.width)
            self.height = int(stream.codec_context.height)
            #: short container format name (``"mp4"``, ``"avi"``, ``"matroska"``, ``"gif"``, ...)
            self.container_format = container_name(container.format.name, self.path.suffix)
            index_dir = index_cache if index_cache is not None else os.environ.get(INDEX_CACHE_ENV)
            self.index: FrameIndex = load_index(self.path, container, stream, index_dir)
            self._rates = (stream.guessed_rate, stream.average_rate)
        finally:
            container.close()
        if self.width <= 0 or self.height <= 0:
            raise VideoError(f"video stream has no frame size ({self.width}x{self.height})", path=self.path)
        self.n_frames = self.index.n_frames
        self.fps = float(fps) if fps is not None else self._measure_fps()
        self._init_cache()

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
            self._drop_decoder()
            if getattr(self, "_h_container", None) is not None:
                self._h_container.close()
                self._h_container = None
                self._h_stream = None

    def _drop_decoder(self) -> None:
        if getattr(self, "_h_gen", None) is not None:
            self._h_gen.close()
            self._h_gen = None
        self._next_idx = -1

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_next_idx"] = -1
        for k in ("_h_container", "_h_stream", "_h_gen"):
            state[k] = None
        return state

    def _damage_error(self, i: int, damage: _Damaged) -> VideoError:
        why = damage.reason if damage.frame in (None, i) else f"frame {damage.frame} before it: {damage.reason}"
        return VideoError(
            f"cannot decode frame {i} of {self.n_frames} ({why}); the video is damaged there "
            "(`vpbehavior inspect --verify` counts the frames that decode)",
            path=self.path,
        )

    def _frames_from(self, container, stream, kf_pos: int, wanted: Any = None) -> Iterator[tuple[int, Any]]:
        """Seek to keyframe ``kf_pos`` (-1: start of file) and yield ``(index, av frame)``.

        ``wanted(i)`` (optional) tells whether frame ``i`` is needed: packets of frames that
        are not are decoded with ``skip_frame="NONREF"`` (non-reference frames are dropped
        by the decoder, about half the decoding work in B-frame H.264; reference frames, on
        which later frames depend, are always decoded). Raises `_Damaged` when decoding fails,
        including when a frame decoded without skipping never comes out (a silent drop).
        """
        av = import_av()
        index = self.index
        start = 0
        if index.exact and kf_pos >= 0:
            start = int(index.keyframes[kf_pos])
            try:
                container.seek(int(index.seek_ts[kf_pos]), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError as e:
                raise _Damaged(f"seeking failed: {ff_message(e)}") from None
        # kf_pos < 0: the caller passes a freshly opened container (positioned at the start)
        last_pts = int(index.pts[-1])
        prev = -1
        count = 0
        ctx = stream.codec_context
        ctx.skip_frame = "DEFAULT"  # an earlier, abandoned decode may have left "NONREF" set
        skipping = False
        must_come = []  # frames (a heap) whose packets were decoded in full and that are not out yet
        packets = container.demux(stream)
        while True:
            try:
                pkt = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as e:
                raise _Damaged(f"read error: {ff_message(e)}") from None
            j = index.pts_to_index.get(pkt.pts) if index.exact else None
            if wanted is not None and index.exact:
                skip = j is not None and not wanted(j)
                if skip != skipping:
                    ctx.skip_frame = "NONREF" if skip else "DEFAULT"
                    skipping = skip
            if j is not None and j >= start and not skipping:
                heapq.heappush(must_come, j)
            if pkt.is_corrupt:
                continue  # its frame goes missing: reported when a later frame comes out
            try:
                frames = pkt.decode()
            except av.error.FFmpegError as e:
                raise _Damaged(ff_message(e)) from None
            for frame in frames:
                if index.exact:
                    i = index.pts_to_index.get(frame.pts)
                    if i is None:
                        if frame.pts is not None and frame.pts > last_pts:
                            return
                        continue
                    if i <= prev:
                        raise VideoError(
                            f"decoded frame timestamps out of order at frame {i}; "
                            "cannot guarantee frame-accurate access",
                            path=self.path,
                        )
                    while prev < 0 and must_come and must_come[0] < i:
                        heapq.heappop(must_come)  # frames before the first one out may lack references
                    if must_come and must_come[0] < i:
                        raise _Damaged("the decoder dropped it", must_come[0])
                    if must_come and must_come[0] == i:
                        heapq.heappop(must_come)
                else:
                    i = count
                    count += 1
                    if i >= index.n_frames:
                        return
                if frame.is_corrupt:
                    if i < start:
                        continue  # leading frames of an open GOP, whose references precede the seek
                    raise _Damaged("the decoder marked it as damaged", i)
                prev = i
                yield i, frame

    def _ensure_open(self) -> None:
        if self._h_container is None:
            self._h_container, self._h_stream = open_container(self.path, threads=False)
            self._h_gen = None
            self._next_idx = -1

    def _start(self, kf_pos: int) -> None:
        if self._h_gen is not None:
            self._h_gen.close()
            self._h_gen = None
        if kf_pos < 0 or not self.index.exact:
            # decode from the very start: reopen rather than trust a seek to the beginning
            self._h_container.close()
            self._h_container, self._h_stream = open_container(self.path, threads=False)
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
        try:
            return self._seek_and_decode(target)
        except _Damaged as d:
            self._drop_decoder()  # the next access starts afresh from a keyframe
            raise self._damage_error(target, d) from None
        except BaseException:
            self._drop_decoder()
            raise

    def _seek_and_decode(self, target: int) -> np.ndarray:
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
                    raise _Damaged("the decoder dropped it")
                # keep every decoded frame of the GOP (no conversion cost): scrubbing backwards
                # and nearby random access then need no new seek
                self._cache.put(i, frame)
                if i == target:
                    return frame.to_ndarray(format="rgb24")
            else:
                raise _Damaged("the stream ended before it")
            kf_pos = max(-1, kf_pos - 1) if _attempt == 0 else -1
            self._start(kf_pos)
            seeked = True
        raise _Damaged("seeking to it failed")

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

        Raises
        ------
        VideoError
            Naming the first frame that cannot be decoded.
        """
        wanted = self._resolve_range(start, stop, step)
        if len(wanted) == 0:
            return
        first, last = wanted[0], wanted[-1]
        kf_pos = self.index.keyframe_for(first) if self.index.exact and first > 0 else -1
        step = wanted.step

        def is_wanted(i: int) -> bool:
            return first <= i <= last and (i - first) % step == 0

        container, stream = open_container(self.path, self._threads)
        expected = first
        try:
            for i, frame in self._frames_from(container, stream, kf_pos, is_wanted):
                if i < expected or not is_wanted(i):
                    continue  # frames before the start / between steps (possibly skipped)
                if i != expected:
                    raise _Damaged("the decoder dropped it")
                arr = frame.to_ndarray(format="rgb24")
                self._check_shape(arr, i)
                yield arr
                if i >= last:
                    return
                expected += step
            raise _Damaged("the stream ended before it")
        except _Damaged as d:
            raise self._damage_error(expected, d) from None
        finally:
            container.close()

    def verify(self, progress: Progress = None) -> dict:
        """Decode every frame once, in one thread; a report of the frames that decode (see `verify_video`).

        Decoding stops at each damaged spot (as reading does) and resumes at the next keyframe:
        the frames counted good are those ``reader[i]`` and `iter_frames` deliver.
        """
        index = self.index
        n = index.n_frames
        good = np.zeros(n, bool)
        error = None
        kf_pos = -1
        container, stream = open_container(self.path, threads=False)
        try:
            with progress_reporter(progress, f"verify {self.path.name}", n, "frame") as bar:
                while True:
                    start = int(index.keyframes[kf_pos]) if kf_pos >= 0 else 0
                    last = start - 1
                    try:
                        for i, _ in self._frames_from(container, stream, kf_pos):
                            if i >= start:  # a seek may land a little early: frames already counted
                                good[i], last = True, i
                                bar.update()
                        break
                    except _Damaged as d:
                        at = last + 1 if d.frame is None else d.frame
                        error = error or f"frame {at}: {d.reason}"
                        kf_pos = index.keyframe_for(at) + 1
                        if not index.exact or kf_pos >= len(index.keyframes):
                            break
        finally:
            container.close()
        missing = np.flatnonzero(~good)
        if error is None and len(missing):
            error = f"frame {int(missing[0])}: the stream ended before it"
        if index.truncated:
            error = error or truncation_message(self.path, index)
        return self._verify_report(good, error, lost_from=n if index.truncated else None)
