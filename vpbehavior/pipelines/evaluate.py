"""`vpbehavior evaluate DATA --model CLF --out REPORT`: metrics, bouts and plots on held-out data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def score_recordings(clf, recordings, cache_dir=None, progress: bool = True) -> list[dict]:
    """Scores, calls and targets per (recording, subject) with the classifier's own features.

    Raises a ValueError when the features differ from those the classifier was trained on
    (another encoder, other extraction options or pose-feature settings).
    """
    from tqdm.auto import tqdm

    from vpbehavior.features.pose_features import PoseFeatureConfig
    from vpbehavior.pipelines.sequences import recording_features, same_features, subject_rows, targets_for

    spec = clf.feature_spec
    pose_config = PoseFeatureConfig.from_dict(spec["pose"]) if "pose" in spec else None
    out = []
    for rec in tqdm(recordings, desc="scoring", disable=not progress or len(recordings) < 2, leave=False):
        feats, rec_spec = recording_features(rec, spec.get("kind", "video"), cache_dir, pose_config)
        if not same_features(spec, rec_spec):
            diff = sorted(k for k in set(spec) | set(rec_spec) if spec.get(k) != rec_spec.get(k))
            raise ValueError(
                f"recording {rec.name!r}: its features differ from those the classifier was trained on ({', '.join(diff)}); "
                "extract them with the same encoder and options"
            )
        targets = targets_for(rec, clf.classes, clf.single_label, clf.background)
        bg = clf.classes.index(clf.background) if clf.background in clf.classes else None
        for subject, x, y in subject_rows(rec, feats, targets, rec_spec, bg):
            scores, calls = clf.predict(x)
            out.append({"recording": rec.name, "subject": subject, "fps": rec.fps,
                        "scores": scores, "calls": calls, "targets": y})
    return out


def evaluate_scored(clf, scored: list[dict], iou: float = 0.5) -> dict:
    """The evaluation report (see `vpbehavior.classify.metrics.evaluation_report`) over scored sequences."""
    import numpy as np

    from vpbehavior.classify.metrics import evaluation_report

    y = np.concatenate([s["targets"] for s in scored])
    scores = np.concatenate([s["scores"] for s in scored])
    calls = np.concatenate([s["calls"] for s in scored])
    bounds = np.cumsum([0] + [len(s["targets"]) for s in scored])
    report = evaluation_report(
        y, scores, calls, clf.classes, clf.background, list(zip(bounds[:-1], bounds[1:])), iou,
        single_label=clf.single_label, thresholds=None if clf.single_label else clf.postprocess.thresholds,
    )
    report["recordings"] = sorted({s["recording"] for s in scored})
    report["feature_spec"] = {k: v for k, v in clf.feature_spec.items() if k != "encoder"}
    report["encoder"] = clf.feature_spec.get("encoder", {}).get("model")
    report["head"] = clf.config.head
    return report


def write_report(clf, scored: list[dict], report: dict, out: str | Path) -> dict[str, Path]:
    """report.json, per_class.csv, bouts.csv, pr_curves.png, ethogram.png in ``out``."""
    import numpy as np

    from vpbehavior._files import atomic_write_text
    from vpbehavior.classify.postprocess import bouts_table, write_csv
    from vpbehavior.plots import plot_ethogram, plot_pr_curves

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"report": out / "report.json"}
    atomic_write_text(files["report"], json.dumps(report, indent=1, allow_nan=False))
    files["per_class"] = write_csv(out / "per_class.csv", report["per_class"])
    rows = []
    for s in scored:
        rows += bouts_table(s["calls"], clf.classes, s["recording"], s["subject"], s["scores"], s["fps"], clf.background)
    files["bouts"] = write_csv(out / "bouts.csv", rows)
    y = np.concatenate([s["targets"] for s in scored])
    scores = np.concatenate([s["scores"] for s in scored])
    files["pr_curves"] = plot_pr_curves(y, scores, clf.classes, out / "pr_curves.png", clf.background)
    first = scored[0]
    files["ethogram"] = plot_ethogram(
        [("true", first["targets"] == 1), ("predicted", first["calls"])], clf.classes, out / "ethogram.png",
        first["fps"], f"{first['recording']} / {first['subject']}", clf.background,
    )
    return files


def format_summary(report: dict) -> str:
    """A short table for the terminal."""
    def f(v):
        return "   n/a" if v is None else f"{v:6.3f}"

    lines = [f"recordings: {len(report['recordings'])}, frames x subjects: {report['n_frames']}",
             f"mAP {f(report['mAP'])}   macro F1 {f(report['macro_f1'])}   segmental F1@{report['segmental_iou']} {f(report['segmental_f1'])}"]
    if "class_averaged_accuracy" in report:
        lines.append(f"class-averaged top-1 {f(report['class_averaged_accuracy'])}   top-1 {f(report['top1_accuracy'])}")
    width = max(len(c["class"]) for c in report["per_class"])
    lines.append(f"{'class':<{width}}      AP      F1    prec  recall  support")
    for c in report["per_class"]:
        mark = " (background)" if c["background"] else ""
        lines.append(f"{c['class']:<{width}}  {f(c['ap'])}  {f(c['f1'])}  {f(c['precision'])}  {f(c['recall'])}  {c['support']:7d}{mark}")
    return "\n".join(lines)


def _default_test_split(dataset) -> str:
    """The dataset's test split ("test", or what the loader names, e.g. KABR's "val"); "all" when unsplit.

    A dataset that has splits but no test split raises rather than silently scoring training data.
    """
    present = {r.split for r in dataset if r.split}
    named = dataset.metadata.get("test_split")
    for candidate in (named, "test"):
        if candidate in present:
            return candidate
    if present:
        raise ValueError(f"{dataset.root}: no test split among {sorted(present)}; pass --split NAME (or --split all)")
    return "all"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="a dataset folder with behavior labels")
    parser.add_argument("--model", required=True, help="classifier file from `vpbehavior train`")
    parser.add_argument("--features", default=None, help="feature cache folder (video feature kinds)")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--format", default="auto", help="dataset format (default: detect)")
    parser.add_argument("--split", default=None, help="split to evaluate (default: the dataset's test split; all when the data has no splits)")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for the bout-level F1")


def main(args: argparse.Namespace) -> int:
    from vpbehavior.classify.train import BehaviorClassifier
    from vpbehavior.io.registry import load
    from vpbehavior.pipelines.sequences import select_split

    clf = BehaviorClassifier.load(args.model)
    dataset = load(args.data, format=args.format)
    for failure in dataset.failures:
        print(f"skipped (failed to load): {failure}")
    split = args.split or _default_test_split(dataset)
    recordings = [r for r in select_split(dataset.recordings, split) if r.labels is not None]
    if not recordings:
        raise ValueError(f"{args.data}: no labelled recordings to evaluate in split {split!r}")
    scored = score_recordings(clf, recordings, args.features)
    report = evaluate_scored(clf, scored, args.iou)
    files = write_report(clf, scored, report, args.out)
    print(format_summary(report))
    print(f"report: {files['report']}")
    return 0
