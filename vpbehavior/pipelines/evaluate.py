"""`vpbehavior evaluate DATA --classifier CLF --out REPORT` (or ``--predictions PATH``): metrics, bouts and plots on held-out data."""

from __future__ import annotations

import argparse

from ._flags import FEATURES_HELP, add_loading_flags, load_data

REPORT_FILES = ("report.json",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="a dataset folder with behavior labels")
    parser.add_argument("--classifier", default=None, help="classifier file from `vpbehavior train` (default: none)")
    parser.add_argument(
        "--predictions", default=None, metavar="PATH",
        help="evaluate predictions made elsewhere instead: a folder of .predictions.h5 files (from `vpbehavior "
        "search --zero-shot` or `vpbehavior score`) or one file, matched to recordings by name (default: none)",
    )  # fmt: skip
    parser.add_argument(
        "--features", default=None, help=FEATURES_HELP + "; needed for video feature kinds (default: none)"
    )
    parser.add_argument("--out", required=True, help="report folder to write")
    add_loading_flags(parser)
    parser.add_argument(
        "--split", default=None,
        help="split to evaluate (default: the dataset's test split; all recordings when it has no splits)",
    )  # fmt: skip
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for the bout-level F1 (default: 0.5)")
    parser.add_argument("--force", action="store_true", help="write into --out even if it holds other files")


def main(args: argparse.Namespace) -> int:
    import vpbehavior
    from vpbehavior._outputs import check_output_folder
    from vpbehavior.api import select_split

    if not 0 < args.iou <= 1:
        raise vpbehavior.ConfigError(f"--iou must lie in (0, 1], got {args.iou}")
    if (args.classifier is None) == (args.predictions is None):
        raise vpbehavior.ConfigError("evaluate needs --classifier CLF or --predictions PATH (one of them)")
    out = check_output_folder(args.out, "evaluation report", REPORT_FILES, args.force)
    clf = vpbehavior.load_classifier(args.classifier) if args.classifier else None
    dataset = load_data(args)
    split = args.split or vpbehavior.default_test_split(dataset)
    recordings = [r for r in select_split(dataset.recordings, split) if r.labels is not None]
    if not recordings:
        raise vpbehavior.DataError(f"{args.data}: no labelled recordings to evaluate in split {split!r}")
    if clf is None:
        report = vpbehavior.evaluate_predictions(args.predictions, recordings, iou=args.iou)
    else:
        report = vpbehavior.evaluate(clf, recordings, features=args.features, iou=args.iou, progress=True)
    for name, reason in report.metrics["left_out"].items():
        print(f"left out (features unusable): {name}: {reason}")
    files = report.write(out)
    print(report.summary())
    print(f"report: {files['report']}")
    return 1 if report.metrics["left_out"] or dataset.failures else 0
