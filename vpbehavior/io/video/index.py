"""The frame index of a video file: every frame's identity and the keyframes to seek to.

`load_index` returns the index of a file from this process's memo, the on-disk cache
(``VPBEHAVIOR_INDEX_CACHE``) or a new scan. There are two kinds of index:

- **timestamps** (``exact=True``), from one packet scan (no decoding): every frame's pts in
  presentation order and the keyframes. The scan then checks, by decoding a little, that
  decoded timestamps agree with the packets (the first frames), that a seek by timestamp lands
  on the keyframe asked for (a keyframe in the middle; by pts, else by dts, whichever the
  demuxer honours: mp4 / mov / mkv / webm seek by pts, MPEG-TS by dts) and that the end
  decodes (the last GOP). Frames are then identified by their pts.
- **decoded** (``exact=False``), built by decoding every frame once, for streams whose
  timestamps cannot identify frames after a seek: MPEG program streams (``.mpg``, ``.vob``,
  where the parser interpolates timestamps and a seek shifts them), raw elementary streams
  (``.h264``, ``.m2v``, no timestamps at all), AVI with B-frames (no presentation times), or a
  file that fails one of the checks above. Frames are numbered in decoding (presentation)
  order; the keyframes whose picture is unique are remembered by a fingerprint of their
  content, so random access seeks near a keyframe, recognises where it landed by the first
  such keyframe that comes out, and counts from there: exact, without timestamps.

A file whose data ends early or is damaged gets an index of the complete prefix only
(``truncated``). Either problem is reported once per file per process as a `DataWarning`;
`data_problems` gives the same lines for ``probe_video``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from vpbehavior._files import atomic_output
from vpbehavior.core.errors import VideoError
from vpbehavior.io.video._av import ff_message, import_av, open_container
from vpbehavior.reporting import DataWarning, logger, warn_data

#: Environment variable naming a folder where frame indices of video files are persisted.
INDEX_CACHE_ENV = "VPBEHAVIOR_INDEX_CACHE"

_INDEX_VERSION = 3
_HEAD_CHECK_FRAMES = 32  # decoded at open to check that timestamps agree with the index
_TAIL_CHECK_MAX_GOP = 600  # last GOP is test-decoded at open when it is at most this long
_SEEK_CHECK_SLACK = 64  # frames a test seek may decode beyond two GOPs before reaching its keyframe

#: FFmpeg demuxers whose timestamps are made up by the stream parser (program streams
#: interpolate them between the few the file carries; raw elementary streams have none):
#: after a seek they do not identify frames, so these files get a decoded index.
PARSER_TIMESTAMP_FORMATS = frozenset(
    {
        "mpeg",  # MPEG-1/2 program stream: .mpg, .mpeg, .vob
        "mpegvideo",  # raw MPEG-1/2 video: .m1v, .m2v
        "h264",
        "hevc",
        "vvc",
        "m4v",  # raw MPEG-4 Part 2
        "h261",
        "h263",
        "cavsvideo",
        "vc1",
        "obu",  # raw AV1
        "mjpeg",  # raw concatenated JPEGs
    }
)

# handle kinds in FrameIndex.handles
_TS, _BYTE = 0, 1

# Frame indexes built in this process, by (resolved path, size, mtime): loading a dataset and
# then extracting its features opens every video twice; the second open reuses the index.
_INDEX_MEMO: dict[tuple[str, int, int], FrameIndex] = {}
_INDEX_MEMO_SIZE = 256
# (file key, kind of problem) already reported in this process
_REPORTED: set[tuple[tuple[str, int, int], str]] = set()


class VideoTruncatedWarning(DataWarning):
    """A video ends early or has damaged data; only a complete prefix of frames is exposed."""


def frame_fingerprint(frame) -> int:
    """64-bit fingerprint of a decoded frame's picture (its luma), to recognise a keyframe after a seek."""
    gray = np.ascontiguousarray(frame.to_ndarray(format="gray"))
    return int.from_bytes(hashlib.blake2b(gray.data, digest_size=8).digest(), "little", signed=True)


@dataclass
class FrameIndex:
    """Per-file frame index.

    Attributes
    ----------
    pts
        Timestamps index (``exact``): presentation timestamp of every frame, in presentation
        order (stream time base). Decoded index: just ``0..n-1``.
    keyframes
        Frame indices of the keyframes random access starts from (sorted). Decoded index: the
        keyframes whose picture is unique in the file (the anchors).
    seek_ts
        Timestamps index: the timestamp passed to the demuxer to seek to each keyframe (its pts
        or its dts, whichever lands on it). Decoded index: unused (zeros).
    time_base
        Stream time base as ``(numerator, denominator)``.
    last_duration
        Duration of the last frame in time-base units (0 if unknown).
    exact
        Whether frames are identified by timestamps (a timestamps index). Otherwise they are
        numbered by decoding (a decoded index), which is just as exact but opens slower.
    truncated
        Whether the file ended early or had damaged data (the index holds the valid prefix).
    metadata_frames
        Frame count the container's header claims (0 if none); informative only.
    problem
        What made the index a prefix (``""`` if not truncated).
    fingerprints
        Decoded index: `frame_fingerprint` of each keyframe in ``keyframes``.
    handles
        Decoded index: ``[m, 3]`` int64 rows ``(approximate frame, kind, value)``: where a seek
        can land near a keyframe packet, by timestamp (kind 0, stream time base) or byte
        position (kind 1); the approximate frame is the packet's position in decoding order.
    reason
        Decoded index: why the timestamps were not used.
    """

    pts: np.ndarray
    keyframes: np.ndarray
    seek_ts: np.ndarray
    time_base: tuple[int, int]
    last_duration: int = 0
    exact: bool = True
    truncated: bool = False
    metadata_frames: int = 0
    problem: str = ""
    fingerprints: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    handles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    reason: str = ""
    pts_to_index: dict = field(default_factory=dict, repr=False, compare=False)
    anchor_of: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pts_to_index = {int(p): i for i, p in enumerate(self.pts.tolist())}
        self.anchor_of = {int(f): int(k) for f, k in zip(self.fingerprints.tolist(), self.keyframes.tolist())}

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    @property
    def kind(self) -> str:
        """``"timestamps"`` or ``"decoded"``."""
        return "timestamps" if self.exact else "decoded"

    def keyframe_for(self, i: int) -> int:
        """Position in ``keyframes`` of the last keyframe at or before frame ``i`` (-1: none)."""
        return int(np.searchsorted(self.keyframes, i, side="right")) - 1

    def handle_for(self, frame: int, back: int = 0) -> tuple[int, int] | None:
        """Decoded index: ``(kind, value)`` of the ``back``-th seek handle before ``frame`` (None: start)."""
        h = int(np.searchsorted(self.handles[:, 0], frame, side="right")) - 1 - back
        if h < 0 or self.handles[h, 0] <= 0:
            return None
        return int(self.handles[h, 1]), int(self.handles[h, 2])

    def prefix(self, n: int, problem: str) -> FrameIndex:
        """The index of the first ``n`` frames only, marked truncated by ``problem``."""
        keep = self.keyframes < n
        return FrameIndex(
            self.pts[:n],
            self.keyframes[keep],
            self.seek_ts[keep],
            self.time_base,
            0,
            self.exact,
            True,
            self.metadata_frames,
            problem,
            self.fingerprints[keep] if len(self.fingerprints) else self.fingerprints,
            self.handles[self.handles[:, 0] < n] if len(self.handles) else self.handles,
            self.reason,
        )

    def save(self, path: Path) -> None:
        meta = [_INDEX_VERSION, *self.time_base, self.last_duration, int(self.exact), int(self.truncated)]
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                pts=self.pts,
                keyframes=self.keyframes,
                seek_ts=self.seek_ts,
                meta=np.array([*meta, self.metadata_frames], dtype=np.int64),
                problem=np.array(self.problem),
                fingerprints=self.fingerprints.astype(np.int64),
                handles=self.handles.astype(np.int64).reshape(-1, 3),
                reason=np.array(self.reason),
            )

    @classmethod
    def load(cls, path: Path) -> FrameIndex | None:
        """The index saved at ``path``, or None if unreadable or of another version."""
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
                    str(z["problem"]),
                    z["fingerprints"],
                    z["handles"].reshape(-1, 3),
                    str(z["reason"]),
                )
        except Exception:
            return None


# -- reporting --------------------------------------------------------------------------------


def truncation_message(path: Path, index: FrameIndex) -> str:
    """One line: the file, what is wrong, and how many frames are usable of how many claimed."""
    why = f" ({index.problem})" if index.problem else ""
    claim = (
        f"of the {index.metadata_frames} frames its header lists"
        if index.metadata_frames
        else "(its header gives no frame count)"
    )
    return f"{path}: video is truncated or damaged{why}; only the first {index.n_frames} frames {claim} are usable"


def counting_message(path: Path, index: FrameIndex | None = None) -> str:
    """One line: the file's timestamps are not used, and what that costs."""
    why = f" ({index.reason})" if index is not None and index.reason else ""
    n = f" ({index.n_frames} frames)" if index is not None else ""
    return (
        f"{path}: frame timestamps are unreliable for seeking{why}; indexed by decoding every frame "
        f"once{n}. Random access stays frame-exact (it seeks to keyframes recognised by their "
        "picture) but opening is slower; remux to mp4 (ffmpeg -i in.mpg -c copy out.mp4) for "
        "timestamp seeking."
    )


def data_problems(path: Path, index: FrameIndex) -> list[str]:
    """The data problems of a file's index, one line each (what opening the file warns about)."""
    out = [truncation_message(path, index)] if index.truncated else []
    if not index.exact:
        out.append(counting_message(path, index))
    return out


def _outside_stacklevel() -> int:
    """``stacklevel`` (for a ``warnings.warn`` called by the caller) of the first frame outside this package."""
    package = __name__.rpartition(".")[0]
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _report_once(key: tuple[str, int, int], path: Path, index: FrameIndex) -> None:
    """Warn about the index's data problems, once per file (and kind of problem) per process."""
    for kind, message, category in (
        ("truncated", truncation_message(path, index) if index.truncated else None, VideoTruncatedWarning),
        ("counting", None if index.exact else counting_message(path, index), DataWarning),
    ):
        if message is None or (key, kind) in _REPORTED:
            continue
        _REPORTED.add((key, kind))
        warn_data(message, stacklevel=_outside_stacklevel(), category=category)


# -- building, caching ------------------------------------------------------------------------


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _cache_file(path: Path, key: tuple[str, int, int], index_dir: str | os.PathLike) -> Path:
    digest = hashlib.sha1(f"{key[0]}|{key[1]}|{key[2]}|{_INDEX_VERSION}".encode()).hexdigest()[:20]
    return Path(index_dir) / f"{path.stem}-{digest}.npz"


def load_index(path: Path, container, stream, index_dir: str | os.PathLike | None = None) -> FrameIndex:
    """The frame index of ``path``: from this process's memo, the on-disk cache, or a new scan.

    ``container`` / ``stream`` are an open container positioned at the start (used for a scan).
    Data problems are warned about once per file per process.
    """
    key = _file_key(path)
    cache_file = _cache_file(path, key, index_dir) if index_dir else None
    index = _INDEX_MEMO.get(key)
    if index is None and cache_file is not None and cache_file.exists():
        index = FrameIndex.load(cache_file)
    if index is None:
        index = build_index(path, container, stream)
    _INDEX_MEMO[key] = index
    while len(_INDEX_MEMO) > _INDEX_MEMO_SIZE:
        _INDEX_MEMO.pop(next(iter(_INDEX_MEMO)))
    if cache_file is not None and not cache_file.exists():
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            index.save(cache_file)
        except OSError as e:
            logger.warning("%s: could not persist frame index to %s: %s", path, cache_file, e)
    _report_once(key, path, index)
    return index


def build_index(path: Path, container, stream) -> FrameIndex:
    """Scan the packets of ``stream`` (from the start); check the result by decoding a little.

    Falls back to a decoded index (`FrameIndex.exact` False) when the timestamps cannot
    identify frames after a seek.
    """
    av = import_av()
    tb = stream.time_base or Fraction(1, 1)
    rows: list[tuple] = []  # (pts, dts, is_keyframe, duration, pos), in decoding order
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
            rows.append((pkt.pts, pkt.dts, bool(pkt.is_keyframe), pkt.duration or 0, pkt.pos))
    except av.error.FFmpegError as e:
        truncated, problem = True, f"read error: {ff_message(e)}"
    if not rows:
        raise VideoError("contains no decodable video frames" + (f" ({problem})" if problem else ""), path=path)
    metadata_frames = int(stream.frames or 0)
    fmt = container.format.name
    if not truncated and metadata_frames and len(rows) < metadata_frames and fmt.startswith("mov"):
        # mp4 sample tables list every frame; fewer packets means the data was cut off
        truncated, problem = True, "file ends before all frames listed in its header"

    handles = _handles(rows)
    pts_list = [r[0] for r in rows]
    if fmt in PARSER_TIMESTAMP_FORMATS:
        reason = f"the {fmt!r} demuxer derives timestamps from the stream, and they shift after a seek"
    elif any(p is None for p in pts_list):
        reason = "frames without presentation timestamps"
    elif len(set(pts_list)) != len(pts_list):
        reason = "duplicate presentation timestamps (e.g. B-frames in AVI)"
    else:
        reason = ""
    if not reason:
        index = _timestamps_index(path, rows, tb, truncated, first_bad_dts, bad_pts, problem, metadata_frames)
        if not _timestamps_agree(path, index):
            reason = "decoded timestamps disagree with the packets"
        else:
            checked = _with_working_seek(path, index, rows)
            if checked is None:
                reason = "a seek by timestamp does not land on the keyframe asked for"
            else:
                index = checked
                if index.truncated or index.n_frames - int(index.keyframes[-1]) <= _TAIL_CHECK_MAX_GOP:
                    index = _check_tail(path, index)
                return index
    return _decoded_index(path, tb, metadata_frames, handles, reason)


def _timestamps_index(
    path: Path, rows, tb: Fraction, truncated: bool, first_bad_dts, bad_pts, problem: str, metadata_frames: int
) -> FrameIndex:
    if truncated:
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
            raise VideoError(f"truncated or corrupt ({problem}); no complete frames", path=path)
    rows = sorted(rows, key=lambda r: r[0])
    pts = np.array([r[0] for r in rows], dtype=np.int64)
    keyframes = np.array([i for i, r in enumerate(rows) if r[2]], dtype=np.int64)
    seek_ts = np.array([r[0] for r in rows if r[2]], dtype=np.int64)
    if len(keyframes) == 0:
        keyframes, seek_ts = np.array([0]), np.array([pts[0]])
    return FrameIndex(
        pts, keyframes, seek_ts, (tb.numerator, tb.denominator), int(rows[-1][3]), True, truncated,
        metadata_frames, problem,
    )  # fmt: skip


def _handles(rows) -> np.ndarray:
    """Seek handles of the keyframe packets: ``(position in decoding order, kind, value)``."""
    out = []
    for d, (pts, dts, key, _duration, pos) in enumerate(rows):
        if not key:
            continue
        ts = dts if dts is not None else pts
        if ts is not None:
            out.append((d, _TS, ts))
        elif pos is not None and pos >= 0:
            out.append((d, _BYTE, pos))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def seek_to(container, stream, kind: int, value: int) -> None:
    """Seek ``container`` backwards to a handle (timestamp of ``stream``, or byte position)."""
    if kind == _BYTE:
        container.seek(int(value), backward=True, unsupported_byte_offset=True)
    else:
        container.seek(int(value), stream=stream, backward=True, any_frame=False)


def _decode_pts(path: Path, seek_ts: int | None = None, limit: int | None = None) -> tuple[list, list, str]:
    """Decode from the start (or after seeking): the pts of each frame (up to ``limit``), which of
    them the decoder marked corrupt, and what stopped decoding early (``""``: nothing)."""
    av = import_av()
    container, stream = open_container(path)
    pts: list = []
    corrupt: list = []
    try:
        if seek_ts is not None:
            container.seek(int(seek_ts), stream=stream, backward=True, any_frame=False)
        for pkt in container.demux(stream):
            if pkt.is_corrupt:
                continue
            for f in pkt.decode():
                pts.append(f.pts)
                corrupt.append(bool(f.is_corrupt))
                if limit is not None and len(pts) >= limit:
                    return pts, corrupt, ""
    except av.error.FFmpegError as e:
        return pts, corrupt, f"decoding failed: {ff_message(e)}"
    finally:
        container.close()
    return pts, corrupt, ""


def _timestamps_agree(path: Path, index: FrameIndex) -> bool:
    k = min(_HEAD_CHECK_FRAMES, index.n_frames)
    pts, corrupt, _ = _decode_pts(path, None, k + 8)
    decoded = [p for p, bad in zip(pts, corrupt) if not bad and (p is None or p in index.pts_to_index)]
    return decoded[:k] == index.pts[:k].tolist()


def _seek_lands(path: Path, index: FrameIndex, kf_pos: int, ts: int) -> bool:
    """Whether seeking to ``ts`` and decoding gives keyframe ``kf_pos`` before any later frame,
    with only timestamps the index has."""
    av = import_av()
    start = int(index.keyframes[kf_pos])
    budget = start - int(index.keyframes[max(0, kf_pos - 2)]) + _SEEK_CHECK_SLACK  # two GOPs early, and some
    container, stream = open_container(path)
    n = 0
    try:
        container.seek(int(ts), stream=stream, backward=True, any_frame=False)
        for pkt in container.demux(stream):
            for f in pkt.decode():
                n += 1
                if f.is_corrupt:
                    continue  # leading frames of an open GOP
                i = index.pts_to_index.get(f.pts) if f.pts is not None else None
                if i is None:
                    return False  # a timestamp the packets do not have: shifted by the seek
                if i >= start:
                    return i == start
            if n > budget:
                return False
    except av.error.FFmpegError:
        return False
    finally:
        container.close()
    return False


def _with_working_seek(path: Path, index: FrameIndex, rows) -> FrameIndex | None:
    """``index`` with seek timestamps that land on its keyframes (pts, else dts); None if neither does."""
    k = len(index.keyframes)
    if k < 2:
        return index  # random access never seeks past the first keyframe
    # A few keyframes, so that damage at one of them is not taken for a demuxer that cannot seek
    # (reading still checks every seek: a late landing is retried from an earlier keyframe).
    probes = list(dict.fromkeys(p for p in (k // 2, k // 4, (3 * k) // 4) if p >= 1))
    if any(_seek_lands(path, index, p, int(index.seek_ts[p])) for p in probes):
        return index
    dts_of = {r[0]: r[1] for r in rows if r[2]}
    key_pts = index.pts[index.keyframes].tolist()
    if any(dts_of.get(p) is None for p in key_pts):
        return None
    by_dts = np.array([dts_of[p] for p in key_pts], dtype=np.int64)
    if not any(_seek_lands(path, index, p, int(by_dts[p])) for p in probes):
        return None
    index.seek_ts = by_dts
    return index


def _check_tail(path: Path, index: FrameIndex) -> FrameIndex:
    """Decode the last GOP; trim the index to the frames that actually decode."""
    first = int(index.keyframes[-1])
    pts, corrupt, stopped = _decode_pts(path, int(index.seek_ts[-1]), None)
    got = {p for p, bad in zip(pts, corrupt) if not bad}
    n_ok = first
    for p in index.pts[first:].tolist():
        if p not in got:
            break
        n_ok += 1
    if n_ok == index.n_frames:
        return index
    problem = index.problem or stopped or "the last frames do not decode"
    if n_ok == 0:
        raise VideoError(f"no frame decodes ({problem})", path=path)
    return index.prefix(n_ok, problem)


def _decoded_index(path: Path, tb: Fraction, metadata_frames: int, handles: np.ndarray, reason: str) -> FrameIndex:
    """Decoded index: the frames that decode from the start, up to the first damaged one, with
    the fingerprints of the keyframes whose picture is unique."""
    av = import_av()
    container, stream = open_container(path)
    key_frames: list[int] = []
    prints: list[int] = []
    n = 0
    problem = ""
    try:
        for pkt in container.demux(stream):
            if pkt.is_corrupt:
                problem = "corrupt or incomplete packet"
                break
            for f in pkt.decode():
                if f.is_corrupt:
                    problem = "the decoder marked a frame as damaged"
                    break
                if f.key_frame:
                    key_frames.append(n)
                    prints.append(frame_fingerprint(f))
                n += 1
            if problem:
                break
    except av.error.FFmpegError as e:
        problem = f"decoding failed: {ff_message(e)}"
    finally:
        container.close()
    if n == 0:
        raise VideoError("contains no decodable video frames" + (f" ({problem})" if problem else ""), path=path)
    counts: dict[int, int] = {}
    for p in prints:
        counts[p] = counts.get(p, 0) + 1
    unique = [(k, p) for k, p in zip(key_frames, prints) if counts[p] == 1]
    keyframes = np.array([k for k, _ in unique] or [0], dtype=np.int64)
    fingerprints = np.array([p for _, p in unique], dtype=np.int64)
    if not unique:
        keyframes = np.zeros(0, np.int64)
    index = FrameIndex(
        np.arange(n, dtype=np.int64),
        keyframes,
        np.zeros(len(keyframes), np.int64),
        (tb.numerator, tb.denominator),
        0,
        False,
        bool(problem),
        metadata_frames,
        problem,
        fingerprints,
        handles,
        reason,
    )
    return _check_decoded_tail(path, index)


def _check_decoded_tail(path: Path, index: FrameIndex) -> FrameIndex:
    """Decode the end again in one thread (as random access does); trim the index at the first
    frame marked damaged there. Frame threading can hide the damage of a last, incomplete frame."""
    av = import_av()
    point = index.handle_for(int(index.keyframes[-1]), back=1) if len(index.keyframes) else None
    container, stream = open_container(path, threads=False)
    count = 0 if point is None else None
    bad = None
    try:
        if point is not None:
            seek_to(container, stream, *point)
        for pkt in container.demux(stream):
            if pkt.is_corrupt:
                break
            for f in pkt.decode():
                if count is None:
                    if not f.key_frame or f.is_corrupt or (a := index.anchor_of.get(frame_fingerprint(f))) is None:
                        continue
                    count = a
                if count >= index.n_frames:
                    break
                if f.is_corrupt:
                    bad = count
                    break
                count += 1
            if bad is not None or (count is not None and count >= index.n_frames):
                break
    except av.error.FFmpegError:
        pass  # the full pass already stopped at a decoding error
    finally:
        container.close()
    if bad is None:
        return index
    if bad == 0:
        raise VideoError("no frame decodes (the decoder marked the first frame as damaged)", path=path)
    return index.prefix(bad, index.problem or "the decoder marked a frame as damaged")
