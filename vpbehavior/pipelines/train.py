"""`vpbehavior train DATA --features DIR --out CLF`: train a frame-level behavior classifier."""

from __future__ import annotations

import argparse

from ._flags import FEATURES_HELP, add_config_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import TrainConfig

    parser.add_argument("data", help="a dataset folder with behavior labels")
    parser.add_argument("--out", required=True, help="classifier file to write (.safetensors)")
    parser.add_argument(
        "--features", default=None, help=FEATURES_HELP + "; needed for video feature kinds (default: none)"
    )
    parser.add_argument("--format", default="auto", help="dataset format (default: detect from the files)")
    parser.add_argument(
        "--split", default=None, help="training split (default: 'train' if the data has splits, else all)"
    )
    parser.add_argument(
        "--val-split", default=None, help="validation split (default: 'val' if present, else --val-fraction)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out even if it is not a classifier file")
    add_config_flags(parser.add_argument_group("classifier"), TrainConfig)


def pick_splits(recordings, split: str | None, val_split: str | None):
    """(train, val) recordings following the data's published splits when present."""
    from vpbehavior import DataError
    from vpbehavior.api import select_split

    splits = {r.split for r in recordings}
    if split is None:
        split = "train" if "train" in splits else "all"
    if val_split is None:
        val_split = "val" if "val" in splits and split != "all" else None
    train = [r for r in select_split(recordings, split, "training recordings") if r.labels is not None]
    val = (
        [r for r in select_split(recordings, val_split, "validation recordings") if r.labels is not None]
        if val_split
        else []
    )
    if not train:
        raise DataError(f"no labelled recordings in split {split!r}")
    return train, val


def usable_recordings(recordings, kind: str, features) -> tuple[list, list[tuple[str, str]]]:
    """Recordings whose features can be read, and (name, reason) for the others (left out)."""
    from vpbehavior.api import check_features
    from vpbehavior.core.errors import INPUT_ERRORS

    ok, left_out = [], []
    for rec in recordings:
        try:
            check_features(rec, kind, features)
            ok.append(rec)
        except INPUT_ERRORS as err:
            left_out.append((rec.name, str(err)))
    return ok, left_out


def main(args: argparse.Namespace) -> int:
    import vpbehavior
    from vpbehavior._outputs import check_output_file, is_classifier_file

    from ._flags import config_from_args

    config = config_from_args(vpbehavior.TrainConfig, args)
    out = check_output_file(args.out, "vpbehavior classifier", is_classifier_file, args.force)
    dataset = vpbehavior.load(args.data, format=args.format)
    for failure in dataset.failures:
        print(f"skipped (failed to load): {failure}")
    train, val = pick_splits(dataset.recordings, args.split, args.val_split)
    train, left_train = usable_recordings(train, config.kind, args.features)
    val, left_val = usable_recordings(val, config.kind, args.features)
    for name, reason in left_train + left_val:
        print(f"left out (features unusable): {name}: {reason}")
    if not train:
        raise vpbehavior.DataError("no training recording has usable features; see the reasons above")
    clf = vpbehavior.train_classifier(train, val or None, config, features=args.features, progress=True)
    clf.save(out)
    info = clf.info
    val_map = info.get("val_mAP")
    stop = "stopped early" if info["stopped_early"] else "ran all epochs"
    print(
        f"trained a {config.head} head on {info['train_cells']} annotated frame x subject cells from "
        f"{info['train_recordings']} recordings ({info['train_frames']} frames); validation on "
        f"{info['val_cells']} cells: mAP {'n/a' if val_map is None else f'{val_map:.4f}'}"
    )
    print(f"best epoch {info['best_epoch']} of {info['epochs_run']} ({stop}, patience {config.patience}), "
          f"{info['train_seconds']:.1f} s")  # fmt: skip
    if info.get("threshold_methods"):
        print("thresholds:")
        for name, t in zip(clf.classes, clf.postprocess.thresholds):
            print(f"  {name}: {t:.3f} ({info['threshold_methods'][name]})")
    print(f"saved {out}")
    return 1 if left_train or left_val else 0
