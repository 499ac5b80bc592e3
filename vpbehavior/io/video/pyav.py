"""`PyAVReader`: frame-accurate reading of video files and animated GIFs, decoded with PyAV.

``reader[i]`` seeks to the last keyframe at or before frame ``i`` (from the `FrameIndex`) and
decodes forward. With a timestamps index, frames are identified by their pts and the first
frame out at or after the keyframe must be the keyframe itself (a seek that lands later is
retried from an earlier keyframe); with a decoded index, the position is recognised by the
first keyframe out whose picture fingerprint the index knows, and frames are counted from
there. Frames are never counted from an unknown position. A decoding failure raises
`VideoError` naming the file and the frame that could not be delivered: a decoder error, a
picture the decoder marks as damaged, or a frame the decoder silently dropped (the next frame
out is not the one the index expects).

Streaming (`PyAVReader.iter_frames`) decodes with FFmpeg's threads and converts each frame to
RGB at the requested size with swscale (`RGBConverter`).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from vpbehavior.core.errors import ConfigError, MissingFileError, VideoError
from vpbehavior.io.video._av import container_name, ff_message, import_av, open_container
from vpbehavior.io.video.base import VideoReader, output_size
from vpbehavior.io.video.decoders import resolve_decoder
from vpbehavior.io.video.index import (
    INDEX_CACHE_ENV,
    FrameIndex,
    frame_fingerprint,
    load_index,
    seek_to,
    truncation_message,
)
from vpbehavior.reporting import Progress, progress_reporter

_SCRUB_WINDOW = 32  # frames before a seek target that are fully decoded and cached
_TS = 0  # seek handle kind: timestamp (see FrameIndex.handles)


class _Damaged(Exception):
    """Decoding cannot go on (internal: callers turn it into a `VideoError` naming the frame).

    ``frame``: the damaged frame, where it is known and may differ from the one asked for.
    """

    def __init__(self, reason: str, frame: int | None = None):
        super().__init__(reason)
        self.reason, self.frame = reason, frame


class _LandedLate(Exception):
    """A seek landed after the keyframe asked for (internal: the caller retries from earlier)."""


class RGBConverter:
    """Decoded PyAV frames to ``uint8 [H, W, 3]`` RGB arrays at a given size, with swscale.

    Frames are converted to (planar) RGB at full size exactly as ``reader[i]`` is, then scaled:
    area averaging when both sides shrink (as OpenCV's ``INTER_AREA``), bilinear otherwise
    (``INTER_LINEAR``). The result is within a level or two of OpenCV's resize of ``reader[i]``
    (mean difference about 0.02 levels), so features do not change, and it is cheaper than
    OpenCV's resize. (Scaling and converting in a single swscale pass was tried: no faster
    here, and a level or so off, which moves features.)

    Parameters
    ----------
    size
        ``(width, height)`` of the output, or None for the frame's own size (then the result
        is exactly ``frame.to_ndarray(format="rgb24")``, what ``reader[i]`` returns).
    source
        ``(width, height)`` of the frames (chooses area averaging or bilinear).
    """

    def __init__(self, size: tuple[int, int] | None = None, source: tuple[int, int] | None = None):
        from av.video.reformatter import Interpolation, VideoReformatter

        self._native = VideoReformatter()
        self._scaler = VideoReformatter()
        self.size = None if size is None or (source is not None and tuple(size) == tuple(source)) else tuple(size)
        self.interpolation = None
        if self.size is not None:
            down = source is not None and self.size[0] < source[0] and self.size[1] < source[1]
            self.interpolation = Interpolation.AREA if down else Interpolation.BILINEAR

    def __call__(self, frame: Any) -> np.ndarray:
        if self.size is None:
            out = self._native.reformat(frame, format="rgb24", threads=1)
        else:
            # planar RGB in between: swscale scales planar formats directly (packed RGB would be
            # unpacked and repacked around the scaler); to_ndarray interleaves gbrp into RGB
            w, h = self.size
            rgb = self._native.reformat(frame, format="gbrp", threads=1)
            out = self._scaler.reformat(rgb, w, h, format="gbrp", interpolation=self.interpolation, threads=1)
        arr = out.to_ndarray()
        return arr.copy() if out is frame else arr  # never a view of a (cached) decoded frame


class PyAVReader(VideoReader):
    """Frame-accurate reader for video files and animated GIFs, decoded with PyAV.

    Parameters
    ----------
    path
        Video file (mp4, mov, mkv, webm, avi, mpg, ...; whatever FFmpeg decodes).
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
        Let FFmpeg decode with multiple threads (frame/slice threading) when streaming.
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
        self._h_rgb = None
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
            #: short container format name (``"mp4"``, ``"avi"``, ``"matroska"``, ``"mpeg"``, ``"gif"``, ...)
            self.container_format = container_name(container.format.name, self.path.suffix)
            index_dir = index_cache if index_cache is not None else os.environ.get(INDEX_CACHE_ENV)
            self.index: FrameIndex = load_index(self.path, container, stream, index_dir)
            self._rates = (stream.guessed_rate, stream.average_rate)
        finally:
            container.close()
        if self.width <= 0 or self.height <= 0:
            raise VideoError(f"video stream has no frame size ({self.width}x{self.height})", path=self.path)
        self.n_frames = self.index.n_frames
        self._anchor_print = dict(zip(self.index.keyframes.tolist(), self.index.fingerprints.tolist()))
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
        for k in ("_h_container", "_h_stream", "_h_gen", "_h_rgb"):
            state[k] = None
        return state

    def _damage_error(self, i: int, damage: _Damaged) -> VideoError:
        why = damage.reason if damage.frame in (None, i) else f"frame {damage.frame} before it: {damage.reason}"
        return VideoError(
            f"cannot decode frame {i} of {self.n_frames} ({why}); the video is damaged there "
            "(`vpbehavior inspect --verify` counts the frames that decode)",
            path=self.path,
        )

    def _seek_point(self, kf_pos: int, back: int = 0) -> tuple[int, int, int] | None:
        """``(kind, value, keyframe frame)`` to seek to for keyframe ``kf_pos``, ``back`` steps
        earlier; None: decode from the start of the file."""
        index = self.index
        if index.exact:
            p = kf_pos - back
            if p < 0 or int(index.keyframes[p]) == 0:
                return None
            return _TS, int(index.seek_ts[p]), int(index.keyframes[p])
        if kf_pos < 0:
            return None
        start = int(index.keyframes[kf_pos])
        handle = index.handle_for(start, back)
        return None if handle is None else (*handle, start)

    def _attempts(self, target: int) -> list:
        """Seek points to try for ``target``, nearest first; the last is always the start (None)."""
        kf_pos = self.index.keyframe_for(target)
        points: list = []
        for back in (0, 1) if self.index.exact else (0, 1, 4):
            point = self._seek_point(kf_pos, back)
            if point not in points:
                points.append(point)
            if point is None:
                break
        if None not in points:
            points.append(None)
        return points

    def _frames_from(self, container, stream, point, wanted: Any = None) -> Iterator[tuple[int, Any]]:
        """Seek to ``point`` (None: ``container`` is freshly opened, at the start) and yield
        ``(index, av frame)``; see `_timestamp_frames` and `_counted_frames`."""
        av = import_av()
        if point is not None:
            try:
                seek_to(container, stream, point[0], point[1])
            except av.error.FFmpegError as e:
                raise _Damaged(f"seeking failed: {ff_message(e)}") from None
        start = 0 if point is None else point[2]
        if self.index.exact:
            return self._timestamp_frames(container, stream, start, point is not None, wanted)
        return self._counted_frames(container, stream, start, point is not None)

    def _timestamp_frames(self, container, stream, start: int, seeked: bool, wanted: Any) -> Iterator[tuple[int, Any]]:
        """Frames identified by pts, from keyframe ``start`` on.

        ``wanted(i)`` (optional) tells whether frame ``i`` is needed: packets of frames that
        are not are decoded with ``skip_frame="NONREF"`` (non-reference frames are dropped
        by the decoder, about half the decoding work in B-frame H.264; reference frames, on
        which later frames depend, are always decoded). Raises `_Damaged` when decoding fails,
        including when a frame decoded without skipping never comes out (a silent drop), and
        `_LandedLate` when after a seek a frame later than ``start`` comes out first.
        """
        av = import_av()
        index = self.index
        pts_to_index = index.pts_to_index
        last_pts = int(index.pts[-1])
        prev = -1
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
            j = pts_to_index.get(pkt.pts)
            if wanted is not None:
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
                i = pts_to_index.get(frame.pts)
                if i is None:
                    if frame.pts is not None and frame.pts > last_pts:
                        return
                    continue
                if prev < 0:
                    if i < start:
                        continue  # before the keyframe (a seek may land early, between keyframes)
                    if seeked and i > start:
                        raise _LandedLate()
                if i <= prev:
                    raise VideoError(
                        f"decoded frame timestamps out of order at frame {i}; cannot guarantee frame-accurate access",
                        path=self.path,
                    )
                while prev < 0 and must_come and must_come[0] < i:
                    heapq.heappop(must_come)  # frames before the first one out may lack references
                if must_come and must_come[0] < i:
                    raise _Damaged("the decoder dropped it", must_come[0])
                if must_come and must_come[0] == i:
                    heapq.heappop(must_come)
                if frame.is_corrupt:
                    raise _Damaged("the decoder marked it as damaged", i)
                prev = i
                yield i, frame

    def _counted_frames(self, container, stream, start: int, seeked: bool) -> Iterator[tuple[int, Any]]:
        """Frames numbered by counting (decoded index): from the start of the file, or after a
        seek from the first keyframe out whose fingerprint the index knows (at most ``start``,
        else `_LandedLate`). Every keyframe of the index passed on the way is checked against
        its fingerprint, so counting can never drift."""
        av = import_av()
        n = self.index.n_frames
        prints = self._anchor_print
        anchor_of = self.index.anchor_of
        stream.codec_context.skip_frame = "DEFAULT"
        count = None if seeked else 0
        packets = container.demux(stream)
        flushing = False
        while True:
            try:
                pkt = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as e:
                raise _Damaged(f"read error: {ff_message(e)}") from None
            try:
                if pkt.is_corrupt:
                    # the index ends at the first corrupt packet: flush what is still in the decoder
                    frames, flushing = stream.codec_context.decode(None), True
                else:
                    frames = pkt.decode()
            except av.error.FFmpegError as e:
                raise _Damaged(ff_message(e)) from None
            for frame in frames:
                if count is None:
                    if not frame.key_frame or frame.is_corrupt:
                        continue
                    a = anchor_of.get(frame_fingerprint(frame))
                    if a is None:
                        continue
                    if a > start:
                        raise _LandedLate()
                    count = a
                i = count
                if i >= n:
                    return
                count += 1
                if frame.is_corrupt:
                    raise _Damaged("the decoder marked it as damaged", i)
                expected = prints.get(i)
                if expected is not None and frame_fingerprint(frame) != expected:
                    raise _Damaged("decoding is out of step with the frame index (a frame was dropped)", i)
                yield i, frame
            if flushing:
                return

    def _ensure_open(self) -> None:
        if self._h_container is None:
            self._h_container, self._h_stream = open_container(self.path, threads=False)
            self._h_gen = None
            self._next_idx = -1

    def _start(self, point) -> None:
        if self._h_gen is not None:
            self._h_gen.close()
            self._h_gen = None
        if point is None:
            # decode from the very start: reopen rather than trust a seek to the beginning
            self._h_container.close()
            self._h_container, self._h_stream = open_container(self.path, threads=False)
        self._h_gen = self._frames_from(self._h_container, self._h_stream, point, self._is_wanted)
        self._next_idx = -1

    def _rgb(self, frame: Any) -> np.ndarray:
        if self._h_rgb is None:
            self._h_rgb = RGBConverter()
        return self._h_rgb(frame)

    def _cached_array(self, item: Any) -> np.ndarray:
        return self._rgb(item)

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

    def _decode_to(self, target: int) -> np.ndarray:
        for i, frame in self._h_gen:
            self._next_idx = i + 1
            if i > target:
                raise _Damaged("the decoder dropped it")
            # keep every decoded frame of the GOP (no conversion cost): scrubbing backwards
            # and nearby random access then need no new seek
            self._cache.put(i, frame)
            if i == target:
                return self._rgb(frame)
        raise _Damaged("the stream ended before it")

    def _seek_and_decode(self, target: int) -> np.ndarray:
        index = self.index
        # frames just before the target are decoded fully (and cached, for scrubbing back);
        # earlier non-reference frames are skipped
        self._want_from = target - min(_SCRUB_WINDOW, self._cache.capacity)
        kf_pos = index.keyframe_for(target)
        kf_frame = int(index.keyframes[kf_pos]) if kf_pos >= 0 else 0
        # Continue decoding forward when the decoder already sits between the keyframe and the
        # target: never more work than a seek.
        if self._h_gen is not None and self._next_idx >= 0 and kf_frame <= self._next_idx <= target:
            return self._decode_to(target)
        for point in self._attempts(target):
            self._start(point)
            try:
                return self._decode_to(target)
            except _LandedLate:
                continue  # retry from an earlier keyframe, finally from the start
        raise _Damaged("seeking to it failed")  # pragma: no cover - the start never lands late

    def iter_frames(
        self,
        start: int = 0,
        stop: int | None = None,
        step: int = 1,
        *,
        size: int | tuple[int, int] | None = None,
        decoder: str | None = None,
    ) -> Iterator[np.ndarray]:
        """Stream frames by sequential, threaded decoding (own file handle; no seeking after the start).

        Parameters
        ----------
        start, stop, step
            As in ``range``; negative ``start`` / ``stop`` count from the end.
        size
            Output size: ``(width, height)``, an int for a square, or None for the native
            size. Frames are scaled by swscale as they come out of the decoder (area
            averaging to shrink, bilinear to enlarge), faster than resizing with OpenCV.
        decoder
            ``"pyav"`` / ``"auto"`` / None (the built-in PyAV decoder), or the name of a
            decoder registered with `vpbehavior.io.video.register_stream_decoder` (the hook
            for GPU decoding, e.g. torchcodec or NVDEC; none is built in).

        Yields
        ------
        numpy.ndarray
            ``[H, W, 3]`` uint8 RGB frames; at the native size exactly those ``reader[i]`` returns.

        Raises
        ------
        VideoError
            Naming the first frame that cannot be decoded.
        """
        wanted = self._resolve_range(start, stop, step)
        if len(wanted) == 0:
            return
        out_size = output_size(size, self.path)
        external = resolve_decoder(decoder)
        first, last = wanted[0], wanted[-1]
        step = wanted.step
        shape = (self.height, self.width, 3) if out_size is None else (out_size[1], out_size[0], 3)

        def is_wanted(i: int) -> bool:
            return first <= i <= last and (i - first) % step == 0

        if external is not None:
            yield from self._iter_external(external, first, last, step, out_size, shape)
            return
        convert = RGBConverter(out_size, (self.width, self.height))
        points = self._attempts(first) if first > 0 else [None]
        skipping = is_wanted if first > 0 or step > 1 else None  # frames to skip decoding (NONREF)
        for point in points:
            container, stream = open_container(self.path, self._threads)
            expected = first
            try:
                for i, frame in self._frames_from(container, stream, point, skipping):
                    if i < expected or not is_wanted(i):
                        continue  # frames before the start / between steps (possibly skipped)
                    if i != expected:
                        raise _Damaged("the decoder dropped it")
                    arr = convert(frame)
                    if arr.shape != shape:
                        self._check_shape(arr, i)
                    yield arr
                    if i >= last:
                        return
                    expected += step
                raise _Damaged("the stream ended before it")
            except _LandedLate:
                continue  # nothing was yielded yet: retry from an earlier keyframe
            except _Damaged as d:
                raise self._damage_error(expected, d) from None
            finally:
                container.close()
        raise self._damage_error(first, _Damaged("seeking to it failed"))  # pragma: no cover

    def _iter_external(self, factory, first: int, last: int, step: int, size, shape) -> Iterator[np.ndarray]:
        """Frames from a registered decoder, checked against the index's timestamps."""
        index = self.index
        if not index.exact:
            raise ConfigError(
                f"{self.path}: this file is indexed by decoding (its timestamps do not identify frames); "
                "stream it with the built-in decoder (decoder='pyav')"
            )
        kf_pos = index.keyframe_for(first)
        seek_pts = int(index.pts[index.keyframes[kf_pos]]) if kf_pos >= 0 and index.keyframes[kf_pos] > 0 else None
        expected = first
        last_pts = int(index.pts[-1])
        for pts, arr in factory(self.path, seek_pts, size):
            i = index.pts_to_index.get(int(pts)) if pts is not None else None
            if i is None:
                if pts is not None and pts > last_pts:
                    break
                continue
            if i < expected or (i - first) % step:
                continue
            if i != expected:
                raise self._damage_error(expected, _Damaged("the decoder dropped it"))
            arr = np.asarray(arr)
            if arr.shape != shape or arr.dtype != np.uint8:
                raise VideoError(
                    f"decoder gave frame {i} as {arr.dtype} {arr.shape}, expected uint8 {shape}", path=self.path
                )
            yield arr
            if i >= last:
                return
            expected += step
        raise self._damage_error(expected, _Damaged("the stream ended before it"))

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
                    point = self._seek_point(kf_pos) if kf_pos >= 0 else None
                    start = point[2] if point is not None else 0
                    last = start - 1
                    try:
                        for i, _ in self._frames_from(container, stream, point):
                            if i >= start and not good[i]:  # a seek may land a little early
                                good[i], last = True, i
                                bar.update()
                        break
                    except _LandedLate:
                        kf_pos += 1
                        if kf_pos >= len(index.keyframes):
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
