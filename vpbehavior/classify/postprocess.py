"""From per-frame scores to behavior calls: thresholds, smoothing, bout rules, bouts tables.

Multi-label (sigmoid) scores ``[T, C]`` are thresholded per class; single-label (softmax)
scores take the arg-max. The order of operations in `PostProcessor.apply` is:
smooth scores (median filter over time) -> threshold / arg-max -> majority filter
(single-label) -> merge gaps shorter than ``max_gap`` -> drop bouts shorter than ``min_bout``.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior.core.labels import runs

from .metrics import precision_recall_curve


# ------------------------------------------------------------------ thresholds
def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray, default: float = 0.5) -> float:
    """The score threshold maximizing F1 of one class on annotated cells.

    Returns the midpoint between the best distinct score and the next lower one (so it
    generalizes a little better than the exact score), or ``default`` when the class has
    no annotated positive.
    """
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    if recall.size == 0 or np.isnan(recall).any() or recall.max() == 0:
        return float(default)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    k = int(np.argmax(f1))
    lower = thresholds[k + 1] if k + 1 < thresholds.size else thresholds[k] - 1e-6
    return float((thresholds[k] + lower) / 2)


def choose_thresholds(y: np.ndarray, scores: np.ndarray, default: float = 0.5) -> np.ndarray:
    """Per-class thresholds ``[C]`` maximizing F1 on validation targets ``[N, C]`` (1/0/-1)."""
    y = np.asarray(y)
    scores = np.asarray(scores)
    if y.shape != scores.shape:
        raise ValueError(f"targets {y.shape} and scores {scores.shape} differ in shape")
    return np.array([best_f1_threshold(y[:, j], scores[:, j], default) for j in range(y.shape[1])])


# ------------------------------------------------------------------ smoothing and bout rules
def median_smooth(scores: np.ndarray, window: int) -> np.ndarray:
    """Median filter of ``[T, C]`` scores along time (odd ``window``; 1 = identity)."""
    from scipy.ndimage import median_filter

    scores = np.asarray(scores, dtype=np.float32)
    if window <= 1:
        return scores
    window = int(window) | 1
    return median_filter(scores, size=(window, 1), mode="nearest")


def majority_smooth(ids: np.ndarray, window: int, n_classes: int) -> np.ndarray:
    """Mode filter of class ids ``[T]`` over a centered window (ties: the lowest id)."""
    ids = np.asarray(ids, dtype=np.int64)
    if window <= 1 or ids.size == 0:
        return ids
    from scipy.ndimage import uniform_filter1d

    onehot = np.eye(n_classes, dtype=np.float32)[ids]
    counts = uniform_filter1d(onehot, size=int(window) | 1, axis=0, mode="nearest")
    return counts.argmax(1)


def merge_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False of at most ``max_gap`` frames between two positive runs, per column."""
    mask = np.asarray(mask, bool).copy()
    if max_gap <= 0:
        return mask
    squeeze = mask.ndim == 1
    m = mask[:, None] if squeeze else mask
    for j in range(m.shape[1]):
        for start, stop in runs(~m[:, j]):
            if start > 0 and stop < m.shape[0] and stop - start <= max_gap:
                m[start:stop, j] = True
    return m[:, 0] if squeeze else m


def remove_short_bouts(mask: np.ndarray, min_bout: int) -> np.ndarray:
    """Drop positive runs shorter than ``min_bout`` frames, per column."""
    mask = np.asarray(mask, bool).copy()
    if min_bout <= 1:
        return mask
    squeeze = mask.ndim == 1
    m = mask[:, None] if squeeze else mask
    for j in range(m.shape[1]):
        for start, stop in runs(m[:, j]):
            if stop - start < min_bout:
                m[start:stop, j] = False
    return m[:, 0] if squeeze else m


def absorb_short_runs(ids: np.ndarray, min_bout: int) -> np.ndarray:
    """Single-label: runs of one id shorter than ``min_bout`` take the longer neighbor's id.

    The shortest short run goes first (ties: the earliest); equal neighbors then merge.
    One pass over the runs with a heap: O(R log R) for R runs.
    """
    ids = np.asarray(ids, dtype=np.int64).copy()
    if min_bout <= 1 or ids.size == 0:
        return ids
    edges = np.flatnonzero(np.diff(ids)) + 1
    start = np.r_[0, edges].tolist()
    length = (np.r_[edges, ids.size] - np.r_[0, edges]).tolist()
    value = ids[np.r_[0, edges]].tolist()
    n = len(start)
    prev, nxt = list(range(-1, n - 1)), [*range(1, n), -1]
    alive, n_alive = [True] * n, n
    heap = [(length[k], start[k], k) for k in range(n) if length[k] < min_bout]
    heapq.heapify(heap)
    while heap and n_alive > 1:
        size, _, k = heapq.heappop(heap)
        if not alive[k] or length[k] != size:
            continue  # stale entry
        left, right = prev[k], nxt[k]
        left_len = length[left] if left >= 0 else -1
        right_len = length[right] if right >= 0 else -1
        value[k] = value[left] if left_len >= right_len else value[right]
        first = left if left >= 0 and value[left] == value[k] else k
        last = right if right >= 0 and value[right] == value[k] else k
        j = nxt[first]
        while first != last:  # fold first..last into `first`
            length[first] += length[j]
            alive[j] = False
            n_alive -= 1
            nxt[first] = nxt[j]
            if nxt[j] >= 0:
                prev[nxt[j]] = first
            if j == last:
                break
            j = nxt[first]
        value[first] = value[k]
        if length[first] < min_bout:
            heapq.heappush(heap, (length[first], start[first], first))
    for k in range(n):
        if alive[k]:
            ids[start[k] : start[k] + length[k]] = value[k]
    return ids


@dataclass
class PostProcessor:
    """Score -> call rules, saved with a classifier.

    Attributes
    ----------
    thresholds
        Per-class thresholds (multi-label); empty = 0.5 everywhere.
    single_label
        Arg-max calls (softmax heads) instead of thresholds.
    smoothing
        "none", "median" (scores) or "majority" (single-label ids).
    window
        Smoothing window in frames (odd).
    min_bout
        Minimum bout length in frames.
    max_gap
        Gaps of at most this many frames between two bouts of a class are filled.
    """

    thresholds: list[float] = field(default_factory=list)
    single_label: bool = False
    smoothing: str = "median"
    window: int = 1
    min_bout: int = 1
    max_gap: int = 0

    def __post_init__(self) -> None:
        if self.smoothing not in ("none", "median", "majority"):
            raise ValueError(f"smoothing must be 'none', 'median' or 'majority', not {self.smoothing!r}")
        if self.smoothing == "majority" and not self.single_label:
            raise ValueError("majority smoothing needs single-label (softmax) scores; use 'median'")
        if self.window < 1 or self.min_bout < 1 or self.max_gap < 0:
            raise ValueError("window and min_bout must be >= 1 and max_gap >= 0")
        self.thresholds = [float(t) for t in self.thresholds]

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Binary calls ``[T, C]`` from the scores of one contiguous sequence ``[T, C]``."""
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim != 2:
            raise ValueError(f"scores must be [frames, classes], got {scores.shape}")
        n_classes = scores.shape[1]
        if self.smoothing == "median":
            scores = median_smooth(scores, self.window)
        if self.single_label:
            ids = scores.argmax(1)
            if self.smoothing == "majority":
                ids = majority_smooth(ids, self.window, n_classes)
            ids = absorb_short_runs(ids, self.min_bout)
            return np.eye(n_classes, dtype=bool)[ids]
        thresholds = np.asarray(self.thresholds or [0.5] * n_classes, dtype=np.float32)
        if thresholds.size != n_classes:
            raise ValueError(f"{thresholds.size} thresholds for {n_classes} classes")
        calls = scores >= thresholds
        calls = merge_gaps(calls, self.max_gap)
        return remove_short_bouts(calls, self.min_bout)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PostProcessor:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown post-processing fields: {sorted(unknown)}")
        return cls(**d)


# ------------------------------------------------------------------ bouts tables
BOUT_COLUMNS = (
    "recording",
    "subject",
    "behavior",
    "start_frame",
    "stop_frame",
    "n_frames",
    "start_s",
    "stop_s",
    "mean_score",
    "max_score",
)


def bouts_table(
    calls: np.ndarray,
    classes: Sequence[str],
    recording: str = "",
    subject: str = "all",
    scores: np.ndarray | None = None,
    fps: float | None = None,
    background: str | None = None,
) -> list[dict]:
    """Rows (dicts with `BOUT_COLUMNS`) for the positive runs of calls ``[T, C]``.

    ``stop_frame`` is exclusive. Times are None when ``fps`` is unknown. The background
    class gets no rows.
    """
    calls = np.asarray(calls, bool)
    rows = []
    for j, name in enumerate(classes):
        if name == background:
            continue
        for start, stop in runs(calls[:, j]):
            seg = scores[start:stop, j] if scores is not None else None
            rows.append(
                {
                    "recording": recording,
                    "subject": subject,
                    "behavior": name,
                    "start_frame": start,
                    "stop_frame": stop,
                    "n_frames": stop - start,
                    "start_s": round(start / fps, 4) if fps else None,
                    "stop_s": round(stop / fps, 4) if fps else None,
                    "mean_score": round(float(seg.mean()), 4) if seg is not None else None,
                    "max_score": round(float(seg.max()), 4) if seg is not None else None,
                }
            )
    return sorted(rows, key=lambda r: (r["recording"], r["start_frame"], r["subject"], r["behavior"]))


def write_csv(path: str | Path, rows: Sequence[dict], columns: Sequence[str] | None = None) -> Path:
    """Write dict rows as CSV atomically (temp file + rename)."""
    from vpbehavior._files import atomic_write_text

    columns = list(columns or (rows[0].keys() if rows else BOUT_COLUMNS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    path = Path(path)
    atomic_write_text(path, buf.getvalue())
    return path
