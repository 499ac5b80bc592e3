"""Evaluate a classifier on labelled recordings the way the field does: mAP, F1, bouts.

Scoring goes through `BehaviorClassifier.predict` (one code path with scoring new videos); the
targets are the labels in the classifier's class space, per row. Cells where a subject is absent
or not annotated are left out of every metric.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior.core import FRAME_LEVEL, Predictions, Recording
from vpbehavior.core.errors import DataError
from vpbehavior.reporting import Progress, track

from .classifier import BehaviorClassifier
from .data import row_targets, targets_for
from .metrics import evaluation_report


@dataclass(frozen=True)
class ScoredRecording:
    """A recording's predictions next to its targets ``[T, R, C]`` (rows as in the predictions)."""

    predictions: Predictions
    targets: np.ndarray


@dataclass
class EvaluationReport:
    """Metrics over the evaluated recordings (see `vpbehavior.classify.metrics.evaluation_report`).

    ``metrics`` is the JSON-ready dict (mAP, macro_f1, segmental_f1, per_class, ...); the main
    numbers are also attributes. ``scored`` keeps each recording's predictions and targets.
    """

    metrics: dict
    scored: list[ScoredRecording] = field(default_factory=list, repr=False)

    @property
    def mAP(self) -> float | None:
        return self.metrics.get("mAP")

    @property
    def macro_f1(self) -> float | None:
        return self.metrics.get("macro_f1")

    @property
    def segmental_f1(self) -> float | None:
        return self.metrics.get("segmental_f1")

    @property
    def per_class(self) -> list[dict]:
        return self.metrics["per_class"]

    def to_dict(self) -> dict:
        return dict(self.metrics)

    def __repr__(self) -> str:
        def f(v):
            return "n/a" if v is None else f"{v:.3f}"

        return (
            f"EvaluationReport(mAP {f(self.mAP)}, macro F1 {f(self.macro_f1)}, bout F1 {f(self.segmental_f1)}, "
            f"{len(self.metrics.get('recordings', []))} recordings, {self.metrics.get('n_cells')} annotated cells)"
        )

    def summary(self) -> str:
        """A short table for the terminal."""

        def f(v):
            return "   n/a" if v is None else f"{v:6.3f}"

        m = self.metrics
        lines = [
            f"recordings: {len(m['recordings'])}, evaluated frame x subject cells (annotated, subject present): "
            f"{m['n_cells']}",
            f"mAP {f(m['mAP'])}   macro F1 {f(m['macro_f1'])}   bout F1@IoU {m['segmental_iou']} {f(m['segmental_f1'])}",
        ]
        if "class_averaged_accuracy" in m:
            lines.append(f"class-averaged top-1 {f(m['class_averaged_accuracy'])}   top-1 {f(m['top1_accuracy'])}")
        width = max(len(c["class"]) for c in m["per_class"])
        lines.append(f"{'class':<{width}}      AP      F1    prec  recall  positives")
        for c in m["per_class"]:
            mark = " (background)" if c["background"] else ""
            lines.append(
                f"{c['class']:<{width}}  {f(c['ap'])}  {f(c['f1'])}  {f(c['precision'])}  {f(c['recall'])}"
                f"  {c['support']:9d}{mark}"
            )
        return "\n".join(lines)

    def write(self, out: str | Path) -> dict[str, Path]:
        """report.json, per_class.csv, bouts.csv, pr_curves.png and ethogram.png in folder ``out``."""
        from vpbehavior._files import atomic_write_text
        from vpbehavior.plots import plot_ethogram, plot_pr_curves

        from .postprocess import bouts_table, write_csv

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = {"report": out / "report.json"}
        atomic_write_text(files["report"], json.dumps(self.metrics, indent=1, allow_nan=False))
        files["per_class"] = write_csv(out / "per_class.csv", self.per_class)
        rows = []
        classes, background = self.metrics["classes"], self.metrics["background"]
        for s in self.scored:
            p = s.predictions
            for j, subject in enumerate(p.subjects):
                rows += bouts_table(p.calls[:, j], classes, p.recording, subject, p.scores[:, j], p.fps, background)
        files["bouts"] = write_csv(out / "bouts.csv", rows)
        y, scores, _, _ = _stack(self.scored)
        files["pr_curves"] = plot_pr_curves(y, scores, classes, out / "pr_curves.png", background)
        first = self.scored[0]
        p = first.predictions
        files["ethogram"] = plot_ethogram(
            [("true", first.targets[:, 0] == 1), ("predicted", p.calls[:, 0])],
            classes,
            out / "ethogram.png",
            p.fps,
            f"{p.recording} / {p.subjects[0]}",
            background,
        )
        return files


def _stack(scored: Sequence[ScoredRecording]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Targets (absent cells not annotated), scores and calls of every row, ``[N, C]`` each, and row bounds."""
    ys, ss, cs, bounds = [], [], [], [0]
    for s in scored:
        p = s.predictions
        for j in range(len(p.subjects)):
            y = s.targets[:, j].copy()
            y[~p.presence[:, j]] = -1
            ys.append(y)
            ss.append(np.nan_to_num(p.scores[:, j], nan=0.0))
            cs.append(p.calls[:, j])
            bounds.append(bounds[-1] + len(y))
    return np.concatenate(ys), np.concatenate(ss), np.concatenate(cs), list(zip(bounds[:-1], bounds[1:]))


def score_recordings(
    classifier: BehaviorClassifier,
    recordings: Sequence[Recording],
    features: str | Path | None = None,
    progress: Progress = False,
) -> list[ScoredRecording]:
    """Predictions and targets of each recording, through `BehaviorClassifier.predict`."""
    out = []
    for rec in track(list(recordings), progress, "scoring", unit="recording"):
        pred = classifier.predict(rec, features=features)
        targets = row_targets(rec, pred.subjects, classifier.classes, classifier.single_label, classifier.background)
        out.append(ScoredRecording(pred, targets))
    return out


def evaluate(
    classifier: BehaviorClassifier,
    recordings: Sequence[Recording],
    *,
    features: str | Path | None = None,
    iou: float = 0.5,
    progress: Progress = False,
) -> EvaluationReport:
    """Score labelled recordings and compare the calls with their labels.

    Recordings without labels are left out, and so are recordings whose features cannot be read
    (each with a warning; listed in ``metrics["left_out"]``). Raises DataError when none is left.
    """
    from .training import usable_recordings

    labelled = [r for r in recordings if r.labels is not None]
    if not labelled:
        raise DataError("no labelled recordings to evaluate")
    labelled, left_out = usable_recordings(labelled, classifier.kind, features)
    if not labelled:
        raise DataError("no labelled recording to evaluate has usable features: " + "; ".join(
            f"{name}: {why}" for name, why in left_out[:3]))  # fmt: skip
    scored = score_recordings(classifier, labelled, features, progress)
    thresholds = None if classifier.single_label else classifier.postprocess.thresholds
    metrics = _metrics(scored, classifier.classes, classifier.background, iou, classifier.single_label, thresholds)
    metrics["feature_spec"] = {k: v for k, v in classifier.feature_spec.items() if k != "encoder"}
    metrics["encoder"] = (classifier.feature_spec.get("encoder") or {}).get("model")
    metrics["head"] = classifier.config.head
    metrics["classifier"] = str(classifier.path) if classifier.path else None
    metrics["left_out"] = dict(left_out)
    methods = classifier.info.get("threshold_methods") or {}
    for row in metrics["per_class"]:
        row["threshold_method"] = methods.get(row["class"])
    return EvaluationReport(metrics, scored)


def _metrics(scored, classes, background, iou: float, single_label: bool, thresholds=None) -> dict:
    y, scores, calls, bounds = _stack(scored)
    metrics = evaluation_report(
        y, scores, calls, classes, background, bounds, iou, single_label=single_label, thresholds=thresholds
    )
    metrics["n_cells"] = int((y >= 0).all(1).sum())
    metrics["recordings"] = [s.predictions.recording for s in scored]
    return metrics


def _predictions_list(predictions) -> list[Predictions]:
    """Predictions objects from objects, predictions files, or folders of them (searched recursively)."""
    from vpbehavior.io.predictions import SUFFIX, read_predictions

    items = [predictions] if isinstance(predictions, (str, Path, Predictions)) else list(predictions)
    out = []
    for item in items:
        if isinstance(item, Predictions):
            out.append(item)
        elif Path(item).is_dir():
            files = sorted(Path(item).rglob(f"*{SUFFIX}"))
            if not files:
                raise DataError(f"no predictions files (*{SUFFIX}) in this folder", item)
            out += [read_predictions(f) for f in files]
        else:
            out.append(read_predictions(item))
    return out


def evaluate_predictions(predictions, recordings: Sequence[Recording], *, iou: float = 0.5) -> EvaluationReport:
    """Compare predictions made elsewhere (zero-shot search, `score`, another tool) with labelled recordings.

    ``predictions``: `Predictions`, predictions files, or folders of them; each is matched to the
    recording of the same name, and its classes to the labels' classes by name (case and spacing
    aside). Frame-level predictions (subject "all") are compared with "any animal does it", as for
    a frame-level classifier. Predictions without a labelled recording, and classes the labels do
    not have, are left out with a warning.
    """
    from vpbehavior.core.names import match_name
    from vpbehavior.reporting import warn_data

    by_name = {r.name: r for r in recordings if r.labels is not None}
    if not by_name:
        raise DataError("no labelled recordings to evaluate against")
    preds = _predictions_list(predictions)
    classes = None
    scored = []
    for p in preds:
        rec = by_name.get(p.recording)
        if rec is None:
            warn_data(f"predictions of {p.recording!r}: no labelled recording of that name; left out")
            continue
        names = [match_name(c, rec.labels.classes) for c in p.classes]
        if classes is None:
            classes = [n for n in names if n is not None]
            unknown = [c for c, n in zip(p.classes, names) if n is None]
            if unknown:
                warn_data(f"classes {unknown} of the predictions are not in the labels of {rec.name!r}; left out")
            if not classes:
                raise DataError(
                    f"no class of the predictions {list(p.classes)} is in the labels {list(rec.labels.classes)}"
                )
        elif [n for n in names if n is not None] != classes:
            raise DataError(f"predictions of {p.recording!r} have classes {list(p.classes)}, the others {classes}")
        keep = [i for i, n in enumerate(names) if n is not None]
        if len(keep) < len(names):
            p = Predictions(p.recording, p.scores[..., keep], p.calls[..., keep], classes, p.subjects, p.presence,
                            p.fps, p.background if p.background in classes else None, p.provenance)  # fmt: skip
        names = classes
        if rec.n_frames != p.n_frames:
            raise DataError(f"predictions of {p.recording!r} cover {p.n_frames} frames, the recording {rec.n_frames}")
        if tuple(p.subjects) == (FRAME_LEVEL,):
            targets = row_targets(rec, p.subjects, names, False, p.background)  # "any animal" unless frame-level
        else:
            missing = [s for s in p.subjects if s not in rec.subjects]
            if missing:
                raise DataError(f"predictions of {p.recording!r} name subjects {missing} the recording lacks")
            full = targets_for(rec, names, False, p.background)
            targets = full[:, [rec.subjects.index(s) for s in p.subjects]]
        scored.append(ScoredRecording(p, targets))
    if not scored:
        raise DataError("none of the predictions belongs to a labelled recording: " + ", ".join(
            sorted({p.recording for p in preds})[:5]))  # fmt: skip
    metrics = _metrics(scored, classes, scored[0].predictions.background, iou, single_label=False)
    metrics["source"] = sorted({str(s.predictions.provenance.get("kind", "predictions")) for s in scored})
    metrics["left_out"] = {}
    return EvaluationReport(metrics, scored)
