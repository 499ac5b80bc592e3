"""Frame- and bout-level metrics for behavior classification.

Conventions shared by every function here:

- Targets are int arrays ``[N, C]`` with 1 (present), 0 (absent) and -1 (not annotated),
  or class ids ``[N]`` with -1 for "not annotated". Cells labelled -1 are excluded from
  every metric (they are neither positives nor negatives).
- A class without any annotated positive has an undefined average precision and recall:
  those are NaN, and every macro average (mAP, macro F1, ...) skips NaN entries, like
  scikit-learn's ``zero_division=np.nan``. Precision is NaN when nothing is predicted
  positive; F1 is NaN when the class has neither positives nor predicted positives.
- Averages over behaviors exclude the background class (``background=``), following
  CalMS21 / Fly vs. Fly / VideoPrism App. H.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from vpbehavior.core.labels import runs


# ------------------------------------------------------------------ helpers
def _as_targets(y: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"targets must be [N, C] (or [N]), got shape {y.shape}")
    if scores is not None and np.shape(scores) != y.shape and np.shape(scores) != y.shape[:1]:
        raise ValueError(f"scores shape {np.shape(scores)} does not match targets shape {y.shape}")
    return y.astype(np.int64, copy=False)


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _keep_columns(n: int, classes: Sequence[str] | None, background: str | Sequence[str] | None) -> np.ndarray:
    """Boolean [C]: the classes that enter macro averages (background excluded)."""
    keep = np.ones(n, bool)
    if background is None or classes is None:
        return keep
    excluded = {background} if isinstance(background, str) else set(background)
    for j, name in enumerate(classes):
        if name in excluded:
            keep[j] = False
    return keep


# ------------------------------------------------------------------ ranking metrics
def precision_recall_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and thresholds for one class (annotated cells only).

    ``y_true`` holds 1 / 0 / -1; -1 cells are dropped. Returns arrays ordered by
    decreasing threshold (one point per distinct score). Empty arrays when no cell is annotated.
    """
    y_true = np.asarray(y_true).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if y_true.shape != scores.shape:
        raise ValueError(f"y_true {y_true.shape} and scores {scores.shape} differ in shape")
    keep = y_true >= 0
    y_true, scores = y_true[keep] == 1, scores[keep]
    if scores.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last index of each distinct score
    tps = np.cumsum(t)[last].astype(np.float64)
    fps = (last + 1) - tps
    n_pos = t.sum()
    precision = tps / (tps + fps)
    recall = tps / n_pos if n_pos else np.full_like(tps, np.nan)
    return precision, recall, s[last]


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of one class, as ``sklearn.metrics.average_precision_score``.

    AP = sum_n (R_n - R_{n-1}) P_n over distinct thresholds. NaN when the class has no
    annotated positive (scikit-learn would warn and return 0).
    """
    precision, recall, _ = precision_recall_curve(y_true, scores)
    if recall.size == 0 or np.isnan(recall).any():
        return float("nan")
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_class_ap(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AP per class ``[C]`` from targets ``[N, C]`` (1/0/-1) and scores ``[N, C]``."""
    y = _as_targets(y, scores)
    scores = np.asarray(scores, dtype=np.float64).reshape(y.shape)
    return np.array([average_precision(y[:, j], scores[:, j]) for j in range(y.shape[1])])


def mean_average_precision(
    y: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[str] | None = None,
    background: str | Sequence[str] | None = None,
) -> float:
    """mAP over the behaviors of interest: background excluded, classes without positives skipped."""
    ap = per_class_ap(y, scores)
    return _nanmean(ap[_keep_columns(ap.size, classes, background)])


# ------------------------------------------------------------------ thresholded metrics
def precision_recall_f1(y: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and counts from binary predictions ``[N, C]``.

    Returns arrays ``[C]`` under ``precision``, ``recall``, ``f1``, ``support`` (annotated
    positives), ``tp``, ``fp``, ``fn``. Undefined ratios are NaN (see module docstring).
    """
    y = _as_targets(y)
    predicted = np.asarray(predicted).astype(bool).reshape(y.shape)
    annotated = y >= 0
    pos = y == 1
    tp = (pos & predicted).sum(0).astype(np.float64)
    fp = (~pos & predicted & annotated).sum(0).astype(np.float64)
    fn = (pos & ~predicted).sum(0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


def macro_f1(
    y: np.ndarray,
    predicted: np.ndarray,
    classes: Sequence[str] | None = None,
    background: str | Sequence[str] | None = None,
) -> float:
    """Mean F1 over the behaviors of interest (background excluded, undefined skipped)."""
    f1 = precision_recall_f1(y, predicted)["f1"]
    return _nanmean(f1[_keep_columns(f1.size, classes, background)])


def class_averaged_accuracy(y_ids: np.ndarray, pred_ids: np.ndarray, n_classes: int | None = None) -> float:
    """Macro (class-averaged) top-1 accuracy, KABR's metric: the mean of per-class recall.

    Frames with ``y_ids == -1`` are excluded; classes absent from the targets are skipped
    (as ``sklearn.metrics.balanced_accuracy_score``).
    """
    return _nanmean(per_class_accuracy(y_ids, pred_ids, n_classes))


def per_class_accuracy(y_ids: np.ndarray, pred_ids: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Per-class recall ``[C]`` of single-label predictions (NaN for classes without frames)."""
    cm = confusion_matrix(y_ids, pred_ids, n_classes)
    support = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def top1_accuracy(y_ids: np.ndarray, pred_ids: np.ndarray) -> float:
    """Micro (per-frame) top-1 accuracy over annotated frames."""
    y_ids, pred_ids = np.asarray(y_ids).ravel(), np.asarray(pred_ids).ravel()
    keep = y_ids >= 0
    return float((y_ids[keep] == pred_ids[keep]).mean()) if keep.any() else float("nan")


def confusion_matrix(y_ids: np.ndarray, pred_ids: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts ``[C, C]``: row = true class, column = predicted class; -1 targets excluded."""
    y_ids, pred_ids = np.asarray(y_ids).ravel(), np.asarray(pred_ids).ravel()
    if y_ids.shape != pred_ids.shape:
        raise ValueError(f"targets {y_ids.shape} and predictions {pred_ids.shape} differ in shape")
    keep = y_ids >= 0
    y_ids, pred_ids = y_ids[keep].astype(np.int64), pred_ids[keep].astype(np.int64)
    if n_classes is None:
        n_classes = int(max(y_ids.max(initial=-1), pred_ids.max(initial=-1)) + 1)
    if y_ids.size and (y_ids.max() >= n_classes or pred_ids.max() >= n_classes or pred_ids.min() < 0):
        raise ValueError(f"class ids must lie in [0, {n_classes - 1}]")
    return np.bincount(y_ids * n_classes + pred_ids, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def multilabel_confusion(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-class 2x2 tables ``[C, 2, 2]`` ([[tn, fp], [fn, tp]]) over annotated cells."""
    y = _as_targets(y)
    predicted = np.asarray(predicted).astype(bool).reshape(y.shape)
    annotated, pos = y >= 0, y == 1
    tn = (annotated & ~pos & ~predicted).sum(0)
    fp = (annotated & ~pos & predicted).sum(0)
    fn = (pos & ~predicted).sum(0)
    tp = (pos & predicted).sum(0)
    return np.stack([np.stack([tn, fp], -1), np.stack([fn, tp], -1)], 1)


# ------------------------------------------------------------------ bout-level metrics
def _match_count(true_runs: list[tuple[int, int]], pred_runs: list[tuple[int, int]], iou: float) -> int:
    """One-to-one matches with IoU >= ``iou`` (greedy by decreasing IoU)."""
    pairs = []
    for i, (a0, a1) in enumerate(true_runs):
        for j, (b0, b1) in enumerate(pred_runs):
            inter = min(a1, b1) - max(a0, b0)
            if inter <= 0:
                continue
            value = inter / (max(a1, b1) - min(a0, b0))
            if value >= iou:
                pairs.append((value, i, j))
    used_t, used_p, n = set(), set(), 0
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            n += 1
    return n


def segmental_counts(y: np.ndarray, predicted: np.ndarray, iou: float = 0.5) -> dict[str, np.ndarray]:
    """Bout-level TP / FP / FN per class for one contiguous sequence ``[T, C]``.

    Bouts are runs of positive frames; frames labelled -1 are removed from both the true
    and the predicted runs first (they split runs). A predicted bout is a true positive if
    it matches a distinct true bout with temporal IoU >= ``iou``.
    """
    y = _as_targets(y)
    predicted = np.asarray(predicted).astype(bool).reshape(y.shape)
    annotated = y >= 0
    out = {k: np.zeros(y.shape[1]) for k in ("tp", "fp", "fn")}
    for j in range(y.shape[1]):
        true_runs = runs(y[:, j] == 1)
        pred_runs = runs(predicted[:, j] & annotated[:, j])
        tp = _match_count(true_runs, pred_runs, iou)
        out["tp"][j] += tp
        out["fp"][j] += len(pred_runs) - tp
        out["fn"][j] += len(true_runs) - tp
    return out


def segmental_f1(sequences: Sequence[tuple[np.ndarray, np.ndarray]], iou: float = 0.5) -> np.ndarray:
    """Bout-level F1 per class ``[C]`` summed over sequences of ``(targets [T, C], predicted [T, C])``.

    NaN for a class with neither true nor predicted bouts.
    """
    total = None
    for y, pred in sequences:
        counts = segmental_counts(y, pred, iou)
        total = counts if total is None else {k: total[k] + counts[k] for k in total}
    if total is None:
        raise ValueError("segmental_f1 needs at least one sequence")
    tp, fp, fn = total["tp"], total["fp"], total["fn"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


# ------------------------------------------------------------------ the evaluation report
def evaluation_report(
    y: np.ndarray,
    scores: np.ndarray,
    predicted: np.ndarray,
    classes: Sequence[str],
    background: str | None = None,
    sequences: Sequence[tuple[int, int]] | None = None,
    iou: float = 0.5,
    single_label: bool = False,
    thresholds: np.ndarray | None = None,
) -> dict:
    """All metrics in one JSON-ready dict.

    Parameters
    ----------
    y, scores, predicted
        Targets (1/0/-1), scores and final binary predictions (after post-processing), ``[N, C]``.
    classes, background
        Vocabulary and the background class excluded from averages.
    sequences
        ``(start, stop)`` row ranges of contiguous sequences for the bout-level F1;
        default: all rows are one sequence.
    single_label
        Also report top-1, class-averaged accuracy and the confusion matrix (argmax of
        ``scores`` vs the target's positive class).
    """
    y = _as_targets(y, scores)
    scores = np.asarray(scores, dtype=np.float64).reshape(y.shape)
    predicted = np.asarray(predicted).astype(bool).reshape(y.shape)
    classes = list(classes)
    if len(classes) != y.shape[1]:
        raise ValueError(f"{len(classes)} class names for {y.shape[1]} score columns")
    keep = _keep_columns(len(classes), classes, background)
    ap = per_class_ap(y, scores)
    prf = precision_recall_f1(y, predicted)
    sequences = sequences or [(0, y.shape[0])]
    seg = segmental_f1([(y[a:b], predicted[a:b]) for a, b in sequences], iou)
    per_class = []
    for j, name in enumerate(classes):
        per_class.append(
            {
                "class": name,
                "background": not keep[j],
                "ap": ap[j],
                "precision": prf["precision"][j],
                "recall": prf["recall"][j],
                "f1": prf["f1"][j],
                "segmental_f1": seg[j],
                "support": int(prf["support"][j]),
                "annotated": int((y[:, j] >= 0).sum()),
                "predicted": int(predicted[:, j].sum()),
                "threshold": None if thresholds is None else float(thresholds[j]),
            }
        )
    report = {
        "classes": classes,
        "background": background,
        "n_frames": int(y.shape[0]),
        "mAP": _nanmean(ap[keep]),
        "macro_f1": _nanmean(prf["f1"][keep]),
        "macro_precision": _nanmean(prf["precision"][keep]),
        "macro_recall": _nanmean(prf["recall"][keep]),
        "segmental_f1": _nanmean(seg[keep]),
        "segmental_iou": iou,
        "classes_without_positives": [c for j, c in enumerate(classes) if prf["support"][j] == 0],
        "per_class": per_class,
    }
    if single_label:
        annotated = (y >= 0).all(1) & (y == 1).any(1)
        y_ids = np.where(annotated, (y == 1).argmax(1), -1)
        pred_ids = scores.argmax(1)
        report["top1_accuracy"] = top1_accuracy(y_ids, pred_ids)
        report["class_averaged_accuracy"] = class_averaged_accuracy(y_ids, pred_ids, len(classes))
        report["confusion_matrix"] = confusion_matrix(y_ids, pred_ids, len(classes)).tolist()
    else:
        report["confusion_matrix"] = multilabel_confusion(y, predicted).tolist()
    return _json_ready(report)


def _json_ready(obj):
    """Floats with NaN -> None, numpy scalars -> Python (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def warn_if_no_positives(y: np.ndarray, classes: Sequence[str]) -> list[str]:
    """Names of classes without annotated positives (a warning is issued if any)."""
    y = _as_targets(y)
    missing = [c for j, c in enumerate(classes) if not (y[:, j] == 1).any()]
    if missing:
        warnings.warn(
            f"no annotated positives for {missing}: their AP / recall are undefined (NaN) and skipped in averages",
            stacklevel=2,
        )
    return missing
