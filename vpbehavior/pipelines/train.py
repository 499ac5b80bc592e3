"""`vpbehavior train DATA --features DIR --out CLF`: train a frame-level behavior classifier."""

from __future__ import annotations

import argparse

from ._flags import FEATURES_HELP, add_config_flags, add_loading_flags, load_data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import TrainConfig

    parser.add_argument("data", help="a dataset folder with behavior labels")
    parser.add_argument("--out", required=True, help="classifier file to write (.safetensors)")
    parser.add_argument(
        "--features", default=None, help=FEATURES_HELP + "; needed for video feature kinds (default: none)"
    )
    add_loading_flags(parser)
    parser.add_argument(
        "--split", default=None, help="training split (default: 'train' if the data has splits, else all)"
    )
    parser.add_argument(
        "--val-split", default=None, help="validation split (default: 'val' if present, else --val-fraction)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out even if it is not a classifier file")
    add_config_flags(parser.add_argument_group("classifier"), TrainConfig)


def main(args: argparse.Namespace) -> int:
    import vpbehavior
    from vpbehavior._outputs import check_output_file, is_classifier_file

    from ._flags import config_from_args

    config = config_from_args(vpbehavior.TrainConfig, args)
    out = check_output_file(args.out, "vpbehavior classifier", is_classifier_file, args.force)
    dataset = load_data(args)
    train, val = vpbehavior.training_splits(dataset, args.split, args.val_split)
    clf = vpbehavior.train_classifier(train, val or None, config, features=args.features, progress=True)
    clf.save(out)
    info = clf.info
    for name, reason in info["left_out"].items():
        print(f"left out (features unusable): {name}: {reason}")
    val_map = info.get("val_mAP")
    stop = "stopped early" if info["stopped_early"] else "ran all epochs"
    print(
        f"trained a {config.head} head on {info['train_cells']} annotated frame x subject cells from "
        f"{info['train_recordings']} recordings ({info['train_frames']} frames); validation ({info['val_split']}) on "
        f"{info['val_cells']} cells: mAP {'n/a' if val_map is None else f'{val_map:.4f}'}"
    )
    print(f"best epoch {info['best_epoch']} of {info['epochs_run']} ({stop}, patience {config.patience}), "
          f"{info['train_seconds']:.1f} s")  # fmt: skip
    if info.get("threshold_methods"):
        print("thresholds:")
        for name, t in zip(clf.classes, clf.postprocess.thresholds):
            print(f"  {name}: {t:.3f} ({info['threshold_methods'][name]})")
    print(f"saved {out}")
    return 1 if info["left_out"] or dataset.failures else 0
