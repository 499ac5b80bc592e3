"""`vpbehavior train DATA --features FEATURES --out model.safetensors`: train a behavior classifier."""

from __future__ import annotations

import argparse


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Head, loss and post-processing options (shared with `vpbehavior benchmark`)."""
    g = parser.add_argument_group("classifier")
    g.add_argument("--kind", default="video", choices=("video", "tokens", "pose", "video+pose"),
                   help="input features (tokens = pooled token grids, for --head attention)")
    g.add_argument("--head", default="mlp", choices=("linear", "mlp", "conv", "attention"))
    g.add_argument("--mode", default="multi", choices=("multi", "single"),
                   help="multi-label (sigmoid) or single-label (softmax) classification")
    g.add_argument("--loss", default="bce", choices=("bce", "focal", "eql"))
    g.add_argument("--class-weights", default="none", choices=("none", "balanced"))
    g.add_argument("--window", type=int, default=None, help="frames the head sees (conv: 31, attention: 16)")
    g.add_argument("--hidden", type=int, default=256)
    g.add_argument("--layers", type=int, default=2)
    g.add_argument("--dropout", type=float, default=None)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--weight-decay", type=float, default=1e-4)
    g.add_argument("--train-batch-size", type=int, default=256, help="frames per training step")
    g.add_argument("--epochs", type=int, default=50)
    g.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs")
    g.add_argument("--sequence-norm", default="auto", choices=("auto", "on", "off"),
                   help="z-score features over each recording first (auto: on for video / tokens, off for pose)")
    g.add_argument("--train-seed", type=int, default=0)
    g.add_argument("--train-device", default="cpu")
    p = parser.add_argument_group("post-processing")
    p.add_argument("--smoothing", default="median", choices=("none", "median", "majority"))
    p.add_argument("--smooth-window", type=int, default=1, help="smoothing window in frames")
    p.add_argument("--min-bout", type=int, default=1, help="minimum bout length in frames")
    p.add_argument("--max-gap", type=int, default=0, help="merge bouts separated by at most this many frames")


def config_from_args(args: argparse.Namespace):
    from vpbehavior.classify.train import TrainConfig

    return TrainConfig(
        head=args.head, window=args.window, hidden=args.hidden, layers=args.layers, dropout=args.dropout,
        loss=args.loss, class_weights=args.class_weights, lr=args.lr, weight_decay=args.weight_decay,
        batch_size=args.train_batch_size, max_epochs=args.epochs, patience=args.patience, seed=args.train_seed,
        device=args.train_device,
        sequence_norm=args.sequence_norm == "on" or (args.sequence_norm == "auto" and args.kind in ("video", "tokens")),
    )


def train_on_recordings(train_recs, val_recs, args, cache_dir=None, val_fraction: float = 0.2, progress: bool = True):
    """Train a classifier from recordings (val_recs empty: split ``val_fraction`` of train off)."""
    from vpbehavior.classify.postprocess import PostProcessor
    from vpbehavior.classify.train import split_sequences, train_classifier
    from vpbehavior.pipelines.sequences import build_sequences, same_features, vocabulary

    single = args.mode == "single"
    smoothing = args.smoothing if single or args.smoothing != "majority" else "median"
    classes, background = vocabulary(train_recs, single)
    train, spec = build_sequences(train_recs, args.kind, classes, cache_dir, single, background)
    if val_recs:
        val, val_spec = build_sequences(val_recs, args.kind, classes, cache_dir, single, background)
        if not same_features(spec, val_spec):
            raise ValueError("validation recordings have features made differently from the training recordings")
    else:
        train, val = split_sequences(train, val_fraction, args.train_seed)
    post = PostProcessor(single_label=single, smoothing=smoothing, window=args.smooth_window,
                         min_bout=args.min_bout, max_gap=args.max_gap)
    return train_classifier(train, val, classes, config_from_args(args), single, background, spec, post, progress=progress)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="a dataset folder with behavior labels")
    parser.add_argument("--features", default=None, help="feature cache folder from `vpbehavior extract` (video kinds)")
    parser.add_argument("--out", required=True, help="classifier file to write (.safetensors)")
    parser.add_argument("--format", default="auto", help="dataset format (default: detect)")
    parser.add_argument("--split", default=None, help="training split (default: 'train' if the data has splits, else all)")
    parser.add_argument("--val-split", default=None, help="validation split (default: 'val' if present, else --val-fraction)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="recordings held out for early stopping and thresholds")
    add_training_arguments(parser)


def pick_splits(recordings, split: str | None, val_split: str | None):
    """(train, val) recordings following the data's published splits when present."""
    from vpbehavior.pipelines.sequences import select_split

    splits = {r.split for r in recordings}
    if split is None:
        split = "train" if "train" in splits else "all"
    if val_split is None:
        val_split = "val" if "val" in splits and split != "all" else None
    train = [r for r in select_split(recordings, split, "training recordings") if r.labels is not None]
    val = [r for r in select_split(recordings, val_split, "validation recordings") if r.labels is not None] if val_split else []
    if not train:
        raise ValueError(f"no labelled recordings in split {split!r}")
    return train, val


def main(args: argparse.Namespace) -> int:
    from vpbehavior.io.registry import load

    dataset = load(args.data, format=args.format)
    for failure in dataset.failures:
        print(f"skipped (failed to load): {failure}")
    train, val = pick_splits(dataset.recordings, args.split, args.val_split)
    clf = train_on_recordings(train, val, args, args.features, args.val_fraction)
    path = clf.save(args.out)
    info = clf.info
    val_map = info.get("val_mAP")
    print(f"trained {args.head} on {info['train_frames']} frames ({len(train)} recordings), "
          f"best epoch {info['best_epoch']} of {info['epochs_run']}, {info['train_seconds']:.1f} s; "
          f"validation mAP {'n/a' if val_map is None else f'{val_map:.4f}'}")
    print(f"classes: {', '.join(clf.classes)}")
    print(f"saved {path}")
    return 0
