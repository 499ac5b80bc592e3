"""`vpbehavior benchmark {flyvsfly,calms21,chimpact,kabr} --data DIR --weights W`.

Runs the VideoPrism paper's CV-for-science protocol (App. H, Table 7) on one dataset:
frozen encoder, clips at the native frame rate (16 frames; ChimpACT 64; KABR 16 with
stride 5), the attention-pooling probe predicting the middle frame's label (dropout 0.5,
lr 5e-5; KABR lr 5e-6 with the EQL loss), the published splits, and the dataset's metric
(mAP over behaviors without the background; KABR: class-averaged top-1). It prints our
number next to the published VideoPrism and domain-expert numbers.

Deviations, by necessity: the probe reads per-frame token grids pooled to
``token_grid x token_grid`` from the feature cache rather than all 16 x 16 tokens of each
clip, and ChimpACT's box-level protocol uses per-subject (box-pooled) embeddings with an
MLP head instead of RoI pooling plus a cross-attention layer.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Protocol:
    """One benchmark: extraction, head, metric and the published numbers (Table 7)."""

    dataset: str
    clip_length: int
    frame_step: int
    metric: str  # "mAP" or "class_averaged_accuracy"
    kind: str
    head: str
    mode: str
    lr: float
    loss: str = "bce"
    test_split: str = "test"
    published: dict = field(default_factory=dict)
    notes: str = ""


PROTOCOLS: dict[str, Protocol] = {
    "flyvsfly": Protocol(
        "flyvsfly", 16, 1, "mAP", "tokens", "attention", "multi", 5e-5,
        published={"VideoPrism-B": 89.1, "VideoPrism-g": 92.0, "domain expert (Task Programming)": 88.6},
        notes="Task Programming split; behaviors with > 1000 training frames; background 'other' excluded",
    ),
    "calms21": Protocol(
        "calms21", 16, 1, "mAP", "tokens", "attention", "multi", 5e-5,
        published={"VideoPrism-B": 91.1, "VideoPrism-g": 91.5, "domain expert (1D ConvNet + unlabelled data)": 88.9},
        notes="task 1 (the only task with videos); mAP over attack / investigation / mount",
    ),
    "chimpact": Protocol(
        "chimpact", 64, 1, "mAP", "video", "mlp", "multi", 5e-5,
        published={"VideoPrism-B": 28.8, "VideoPrism-g": 31.5, "domain expert (SlowFast)": 24.4},
        notes="ground-truth boxes at train and test time; per-subject box-pooled embeddings",
    ),
    "kabr": Protocol(
        "kabr", 16, 5, "class_averaged_accuracy", "tokens", "attention", "single", 5e-6, loss="eql", test_split="val",
        published={"VideoPrism-B": 61.6, "VideoPrism-g": 63.3, "domain expert (X3D)": 61.9},
        notes="no public test split: evaluated on val; macro (class-averaged) top-1 accuracy; EQL loss",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .extract import add_encoder_arguments
    from .train import add_training_arguments

    parser.add_argument("dataset", choices=sorted(PROTOCOLS), help="which benchmark")
    parser.add_argument("--data", required=True, help="the dataset's root folder")
    parser.add_argument("--out", default=None, help="work folder for features, model and report (default: ./benchmark_<dataset>)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="held out of train when the data has no val split")
    add_encoder_arguments(parser)
    add_training_arguments(parser)
    # None = "the protocol's value" (filled in by _apply_protocol)
    parser.set_defaults(**dict.fromkeys(PROTOCOL_OPTIONS))


PROTOCOL_OPTIONS = ("clip_length", "frame_step", "kind", "head", "mode", "lr", "loss", "window", "dropout", "smoothing")


def _apply_protocol(args: argparse.Namespace, proto: Protocol) -> None:
    """Protocol values for every protocol option the user did not set."""
    defaults = {
        "clip_length": proto.clip_length, "frame_step": proto.frame_step, "kind": proto.kind, "head": proto.head,
        "mode": proto.mode, "lr": proto.lr, "loss": proto.loss,
        "window": proto.clip_length if proto.head == "attention" else None,
        "dropout": 0.5, "smoothing": "majority" if proto.mode == "single" else "median",
    }
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)


def check_data(proto: Protocol, data: Path):
    """Load the dataset and say exactly what is missing for this protocol."""
    from vpbehavior.io.registry import load

    if not data.exists():
        raise FileNotFoundError(
            f"{data}: no such folder; download {proto.dataset} (see datasets/{proto.dataset}/README.md) and pass its root with --data"
        )
    dataset = load(data, format=proto.dataset)
    problems = [f"failed to load {f.path}: {f.error}" for f in dataset.failures]
    labelled = [r for r in dataset if r.labels is not None]
    if not labelled:
        problems.append("no recordings with behavior labels")
    no_video = [r.name for r in labelled if r.video is None]
    if no_video:
        problems.append(f"{len(no_video)} of {len(labelled)} labelled recordings have no video (e.g. {no_video[:3]}); "
                        "VideoPrism features need the videos next to the annotations")
    if proto.dataset == "flyvsfly" and labelled and not any(r.split for r in labelled):
        # the release has no split files: make the Task Programming style video-level split
        from vpbehavior.io.flyvsfly import assign_video_splits

        try:
            for name, split in assign_video_splits(labelled).items():
                dataset[name].split = split
            print(f"assigned a video-level train/val/test split to {len(labelled)} movies (seed 0)")
        except ValueError as err:
            problems.append(f"could not assign a video-level split: {err}")
    splits = {r.split for r in labelled}
    for needed in ("train", proto.test_split):
        if needed not in splits:
            problems.append(f"no recordings in split {needed!r} (splits found: {sorted(s or 'none' for s in splits)})")
    if problems:
        raise ValueError(f"{proto.dataset} benchmark cannot run on {data}:\n  - " + "\n  - ".join(problems))
    return dataset


def results_table(proto: Protocol, ours: float, encoder: str) -> str:
    """Our number next to the published ones (percent)."""
    name = "mAP" if proto.metric == "mAP" else "macro-accuracy"
    rows = [(f"ours ({encoder})", ours * 100)] + list(proto.published.items())
    width = max(len(r[0]) for r in rows)
    lines = [f"{proto.dataset}: {name} (%)  [{proto.notes}]", f"{'method':<{width}}  {name:>14}"]
    lines += [f"{m:<{width}}  {v:14.1f}" for m, v in rows]
    return "\n".join(lines)


def apply_flyvsfly_protocol(recordings, min_train_frames: int = 1000) -> list[str]:
    """Task Programming rules, in place: untracked frames become not annotated, and behaviors with
    at most ``min_train_frames`` positive training frames are dropped. Returns the kept behaviors.
    """
    import numpy as np

    for rec in recordings:
        tracked = rec.metadata.get("tracked")
        if tracked is not None and np.shape(tracked) == rec.labels.values.shape[:2]:
            tracked = np.asarray(tracked, bool)
            rec.labels.values[~tracked] = -1  # frames where tracking failed are dropped by the benchmark
    counts: dict[str, int] = {}
    for rec in recordings:
        if rec.split == "train":
            for name, n in rec.labels.label_counts().items():
                counts[name] = counts.get(name, 0) + n
    kept = [c for c, n in counts.items() if n > min_train_frames]
    if not kept:
        raise ValueError(f"no Fly vs. Fly behavior has more than {min_train_frames} positive training frames: {counts}")
    for rec in recordings:
        rec.labels = rec.labels.with_classes(kept)
    print(f"behaviors with > {min_train_frames} training frames: {', '.join(kept)}")
    return kept


def main(args: argparse.Namespace) -> int:
    from vpbehavior._files import atomic_write_text
    from vpbehavior.pipelines.sequences import select_split

    from .evaluate import evaluate_scored, score_recordings, write_report
    from .extract import encoder_from_args, extract_all
    from .train import train_on_recordings

    proto = PROTOCOLS[args.dataset]
    _apply_protocol(args, proto)
    dataset = check_data(proto, Path(args.data))
    out = Path(args.out or f"benchmark_{proto.dataset}")
    recordings = [r for r in dataset if r.labels is not None]
    if proto.dataset == "flyvsfly":
        apply_flyvsfly_protocol(recordings)
    train = select_split(recordings, "train")
    val = [r for r in recordings if r.split == "val"] if proto.test_split != "val" else []
    test = select_split(recordings, proto.test_split)
    model, identity, config, device = encoder_from_args(args)
    if args.train_device == "cpu" and device != "cpu":
        args.train_device = device
    print(f"{proto.dataset}: {len(train)} train / {len(val)} val / {len(test)} {proto.test_split} recordings; "
          f"encoder {identity['model']} on {device}")
    _, failures = extract_all(train + val + test, model, identity, config, out / "features", args)
    if failures:
        raise ValueError("feature extraction failed for: " + "; ".join(f"{n}: {e}" for n, e in failures))
    clf = train_on_recordings(train, val, args, out / "features", args.val_fraction)
    clf.save(out / "classifier.safetensors")
    scored = score_recordings(clf, test, out / "features")
    report = evaluate_scored(clf, scored)
    report["benchmark"] = {"dataset": proto.dataset, "metric": proto.metric, "published": proto.published,
                           "protocol_notes": proto.notes}
    write_report(clf, scored, report, out / "report")
    ours = report.get(proto.metric)
    atomic_write_text(out / "benchmark.json", json.dumps({"ours": ours, **report["benchmark"]}, indent=1))
    print(results_table(proto, float("nan") if ours is None else ours, identity["model"]))
    return 0
