"""The frame index of a video file: every frame's pts and the keyframes, from one packet scan.

`load_index` returns the index of a file from this process's memo, the on-disk cache
(``VPBEHAVIOR_INDEX_CACHE``) or a new scan. A scan demuxes the packets (no decoding), then
decodes the first frames to check that decoded timestamps agree with the packets and the last
GOP to check that the end decodes. A file whose data ends early or is damaged gets an index of
the complete prefix only (``truncated``); one whose timestamps cannot be trusted gets a counting
index (``exact=False``: frames are counted from the start). Either is reported once per file per
process as a warning; `data_problems` gives the same lines for ``probe_video``.
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

_INDEX_VERSION = 2
_HEAD_CHECK_FRAMES = 32  # decoded at open to check that timestamps agree with the index
_TAIL_CHECK_MAX_GOP = 600  # last GOP is test-decoded at open when it is at most this long

# Frame indexes built in this process, by (resolved path, size, mtime): loading a dataset and
# then extracting its features opens every video twice; the second open reuses the index.
_INDEX_MEMO: dict[tuple[str, int, int], FrameIndex] = {}
_INDEX_MEMO_SIZE = 256
# (file key, kind of problem) already reported in this process
_REPORTED: set[tuple[tuple[str, int, int], str]] = set()


class VideoTruncatedWarning(DataWarning):
    """A video ends early or has damaged data; only a complete prefix of frames is exposed."""


@dataclass
class FrameIndex:
    """Per-file frame index, built once by demuxing packets.

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
        Whether the file ended early or had damaged data (the index holds the valid prefix).
    metadata_frames
        Frame count the container's header claims (0 if none); informative only.
    problem
        What made the index a prefix (``""`` if not truncated).
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
    pts_to_index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.pts_to_index = {int(p): i for i, p in enumerate(self.pts.tolist())}

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    def keyframe_for(self, i: int) -> int:
        """Position in ``keyframes`` of the last keyframe at or before frame ``i`` (-1: none)."""
        return int(np.searchsorted(self.keyframes, i, side="right")) - 1

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


def counting_message(path: Path) -> str:
    return (
        f"{path}: frame timestamps are unreliable (e.g. B-frames in AVI); counting decoded frames "
        "instead. Random access will decode from the start (slow); remux to mp4 "
        "(ffmpeg -i in.avi -c copy out.mp4) for fast exact seeking."
    )


def data_problems(path: Path, index: FrameIndex) -> list[str]:
    """The data problems of a file's index, one line each (what opening the file warns about)."""
    out = [truncation_message(path, index)] if index.truncated else []
    if not index.exact:
        out.append(counting_message(path))
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
        ("counting", None if index.exact else counting_message(path), DataWarning),
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
    """Scan the packets of ``stream`` (from the start) and check the result by decoding a little."""
    av = import_av()
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
        truncated, problem = True, f"read error: {ff_message(e)}"
    if not rows:
        raise VideoError("contains no decodable video frames" + (f" ({problem})" if problem else ""), path=path)
    metadata_frames = int(stream.frames or 0)
    if not truncated and metadata_frames and len(rows) < metadata_frames and container.format.name.startswith("mov"):
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
            raise VideoError(f"truncated or corrupt ({problem}); no complete frames", path=path)

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
            problem,
        )
        if _timestamps_agree(path, index):
            if truncated or index.n_frames - int(index.keyframes[-1]) <= _TAIL_CHECK_MAX_GOP:
                index = _check_tail(path, index)
            return index
    # Timestamps are missing, duplicated or disagree with decoding: count decoded frames.
    return _count_index(path, tb, metadata_frames)


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


def _count_index(path: Path, tb: Fraction, metadata_frames: int) -> FrameIndex:
    """Counting index: the frames that decode from the start, up to the first damaged one."""
    pts, corrupt, stopped = _decode_pts(path)
    n = corrupt.index(True) if True in corrupt else len(pts)
    if n == 0:
        raise VideoError("contains no decodable video frames" + (f" ({stopped})" if stopped else ""), path=path)
    problem = "the decoder marked a frame as damaged" if n < len(pts) else stopped
    return FrameIndex(
        np.arange(n, dtype=np.int64),
        np.array([0]),
        np.array([0]),
        (tb.numerator, tb.denominator),
        0,
        False,
        bool(problem),
        metadata_frames,
        problem,
    )
