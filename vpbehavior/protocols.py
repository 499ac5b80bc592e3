"""The VideoPrism paper's CV-for-science benchmark protocols (App. H, Table 7), runnable on each dataset.

Frozen encoder, clips at the native frame rate (16 frames; ChimpACT 64; KABR 16 with stride 5),
the attention-pooling probe predicting the middle frame's label (dropout 0.5, lr 5e-5; KABR lr
5e-6 with the EQL loss), the published splits, and the dataset's metric (mAP over behaviors
without the background; KABR: class-averaged top-1). `run_benchmark` prints nothing: it returns
our number next to the published VideoPrism and domain-expert numbers.

Deviations, by necessity: the probe reads per-frame token grids pooled to ``token_grid x
token_grid`` from the feature cache rather than all 16 x 16 tokens of each clip, and ChimpACT's
box-level protocol uses per-subject (box-pooled) embeddings with an MLP head instead of RoI
pooling plus a cross-attention layer.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from vpbehavior.core import Dataset, Recording
from vpbehavior.core.errors import ConfigError, DataError, MissingFileError
from vpbehavior.reporting import Progress, logger


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
    published: dict = field(default_factory=dict)
    notes: str = ""

    def extract_settings(self) -> dict:
        return {"clip_length": self.clip_length, "frame_step": self.frame_step}

    def train_settings(self) -> dict:
        return {
            "kind": self.kind,
            "head": self.head,
            "mode": self.mode,
            "lr": self.lr,
            "loss": self.loss,
            "window": self.clip_length if self.head == "attention" else None,
            "dropout": 0.5,
            "smoothing": "majority" if self.mode == "single" else "median",
        }


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
        "kabr", 16, 5, "class_averaged_accuracy", "tokens", "attention", "single", 5e-6, loss="eql",
        published={"VideoPrism-B": 61.6, "VideoPrism-g": 63.3, "domain expert (X3D)": 61.9},
        notes="no public test split: evaluated on val; macro (class-averaged) top-1 accuracy; EQL loss",
    ),
}  # fmt: skip


@dataclass
class BenchmarkResult:
    """Our number beside the published ones, and where the work went."""

    protocol: Protocol
    ours: float | None
    encoder: str
    report: dict
    out: Path

    def table(self) -> str:
        """Our number next to the published ones (percent)."""
        proto = self.protocol
        name = "mAP" if proto.metric == "mAP" else "macro-accuracy"
        ours = float("nan") if self.ours is None else self.ours * 100
        rows = [(f"ours ({self.encoder})", ours)] + list(proto.published.items())
        width = max(len(r[0]) for r in rows)
        lines = [f"{proto.dataset}: {name} (%)  [{proto.notes}]", f"{'method':<{width}}  {name:>14}"]
        lines += [f"{m:<{width}}  {v:14.1f}" for m, v in rows]
        return "\n".join(lines)


def check_data(proto: Protocol, data: Path) -> Dataset:
    """Load the dataset and say exactly what is missing for this protocol."""
    from vpbehavior.io.registry import load

    if not data.exists():
        raise MissingFileError(
            f"{data}: no such folder; download {proto.dataset} (see datasets/{proto.dataset}/README.md) "
            "and pass its root with --data",
            data,
        )
    dataset = load(data, format=proto.dataset)
    problems = [f"failed to load {f.path}: {f.error}" for f in dataset.failures]
    labelled = [r for r in dataset if r.labels is not None]
    if not labelled:
        problems.append("no recordings with behavior labels")
    no_video = [r.name for r in labelled if r.video is None]
    if no_video:
        problems.append(
            f"{len(no_video)} of {len(labelled)} labelled recordings have no video (e.g. {no_video[:3]}); "
            "VideoPrism features need the videos next to the annotations"
        )
    if proto.dataset == "flyvsfly" and labelled and not any(r.split for r in labelled):
        # the release has no split files: make the Task Programming style video-level split
        from vpbehavior.io.flyvsfly import assign_video_splits

        try:
            splits = assign_video_splits(labelled)
            dataset = dataset.replace(
                recordings=[r.replace(split=splits.get(r.name, r.split)) for r in dataset.recordings],
                test_split="test",
            )
            logger.info("assigned a video-level train/val/test split to %d movies (seed 0)", len(labelled))
        except ValueError as err:
            problems.append(f"could not assign a video-level split: {err}")
    splits = {r.split for r in dataset if r.labels is not None}
    test_split = dataset.test_split or "test"
    for needed in ("train", test_split):
        if needed not in splits:
            problems.append(f"no recordings in split {needed!r} (splits found: {sorted(s or 'none' for s in splits)})")
    if problems:
        raise DataError(f"{proto.dataset} benchmark cannot run on {data}: " + "; ".join(problems))
    return dataset


def keep_frequent_behaviors(recordings: list[Recording], min_train_frames: int = 1000) -> list[Recording]:
    """The Task Programming rule: behaviors with at most ``min_train_frames`` positive training frames are dropped.

    (Its other rule, untracked frames are not annotated, holds everywhere: absent subjects are never scored.)
    """
    counts: dict[str, int] = {}
    for rec in recordings:
        if rec.split == "train":
            for name, n in rec.labels.label_counts().items():
                counts[name] = counts.get(name, 0) + n
    kept = [c for c, n in counts.items() if n > min_train_frames]
    if not kept:
        raise DataError(f"no behavior has more than {min_train_frames} positive training frames: {counts}")
    logger.info("behaviors with > %d training frames: %s", min_train_frames, ", ".join(kept))
    return [rec.replace(labels=rec.labels.with_classes(kept)) for rec in recordings]


def run_benchmark(
    name: str,
    data: str | Path,
    weights: str = "videoprism_public_v1_base",
    *,
    out: str | Path | None = None,
    extract: dict | None = None,
    train: dict | None = None,
    seed: int = 0,
    progress: Progress = False,
) -> BenchmarkResult:
    """Run one protocol end to end: extract, train on train (+ val), evaluate on the test split.

    ``extract`` and ``train`` override fields of the protocol's `ExtractConfig` / `TrainConfig`
    (e.g. ``extract={"device": "cuda", "batch_size": 16}``).
    """
    from vpbehavior._files import atomic_write_text
    from vpbehavior.classify.config import TrainConfig
    from vpbehavior.classify.data import select_split
    from vpbehavior.classify.evaluation import evaluate
    from vpbehavior.classify.training import train_classifier
    from vpbehavior.features.extract import ExtractConfig, extract_features, load_encoder

    if name not in PROTOCOLS:
        raise ConfigError(f"unknown benchmark {name!r}; choose one of {sorted(PROTOCOLS)}")
    proto = PROTOCOLS[name]
    extract_config = ExtractConfig(**{**proto.extract_settings(), **(extract or {})})
    train_config = TrainConfig(**{**proto.train_settings(), **(train or {})})
    dataset = check_data(proto, Path(data))
    out = Path(out or f"benchmark_{proto.dataset}")
    recordings = [r for r in dataset if r.labels is not None]
    if proto.dataset == "flyvsfly":
        recordings = keep_frequent_behaviors(recordings)
    test_split = dataset.test_split or "test"
    train_recs = select_split(recordings, "train")
    val_recs = [r for r in recordings if r.split == "val"] if test_split != "val" else []
    test_recs = select_split(recordings, test_split)
    encoder = load_encoder(weights, device=extract_config.device, seed=seed)
    extracted = extract_features(train_recs + val_recs + test_recs, encoder, extract_config, cache=out / "features",
                                 progress=progress)  # fmt: skip
    if extracted.failures:
        raise DataError("feature extraction failed for: " + "; ".join(f"{n}: {e}" for n, e in extracted.failures))
    if train_config.device == "cpu" and extract_config.device.startswith("cuda"):
        train_config = dataclasses.replace(train_config, device=extract_config.device)
    clf = train_classifier(train_recs, val_recs, train_config, features=out / "features", progress=progress)
    clf.save(out / "classifier.safetensors")
    report = evaluate(clf, test_recs, features=out / "features", progress=progress)
    report.metrics["benchmark"] = {
        "dataset": proto.dataset, "metric": proto.metric, "published": proto.published, "protocol_notes": proto.notes,
    }  # fmt: skip
    report.write(out / "report")
    ours = report.metrics.get(proto.metric)
    atomic_write_text(out / "benchmark.json", json.dumps({"ours": ours, **report.metrics["benchmark"]}, indent=1))
    return BenchmarkResult(proto, ours, encoder.origin, report.metrics, out)
