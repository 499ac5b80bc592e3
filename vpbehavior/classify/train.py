"""Train a head on frozen per-frame features; save and load the result as one file.

Data come as `FeatureSequence`s: one contiguous run of frames of one subject of one
recording, with per-frame features ``[T, ...]`` and targets ``[T, C]`` (1/0/-1). Windows
around each target frame are gathered on the fly from one padded array, so no window is
ever materialized for the whole dataset.

A trained `BehaviorClassifier` is saved as a single ``.safetensors`` file: the head's
weights plus a JSON header (``__metadata__["vpbehavior"]``) holding everything needed to
score later: head kind and options, classes, background, single- vs multi-label, feature
normalization, the feature spec (encoder identity / pose-feature config), thresholds and
post-processing.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .heads import HEADS, build_head, default_window
from .losses import BehaviorLoss, balanced_weights, class_frequencies
from .metrics import _json_ready, mean_average_precision
from .postprocess import PostProcessor, choose_thresholds

FORMAT_VERSION = 1


@dataclass
class FeatureSequence:
    """Contiguous per-frame features and targets of one subject in one recording."""

    features: np.ndarray
    targets: np.ndarray | None
    recording: str = ""
    subject: str = "all"
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.targets is not None and len(self.targets) != len(self.features):
            raise ValueError(
                f"{self.recording}/{self.subject}: {len(self.features)} feature frames but {len(self.targets)} target frames"
            )

    def __len__(self) -> int:
        return len(self.features)


def sequence_normalize(features: np.ndarray) -> np.ndarray:
    """Z-score every channel over the frames of one sequence (NaN-aware; constant channels -> 0).

    Removes what is static in a recording (background, lighting, camera) so that what changes
    over time stands out; used for video features when ``TrainConfig.sequence_norm`` is set.
    """
    x = np.asarray(features, np.float32)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, 0, keepdims=True)
        std = np.nanstd(x, 0, keepdims=True)
    return (x - np.nan_to_num(mean)) / np.where(np.nan_to_num(std) > 1e-6, std, 1.0)


def _prepare(sequences: Sequence[FeatureSequence], per_sequence: bool) -> list[FeatureSequence]:
    if not per_sequence:
        return list(sequences)
    return [FeatureSequence(sequence_normalize(s.features), s.targets, s.recording, s.subject, s.fps) for s in sequences]


class WindowedFrames:
    """All sequences in one edge-padded array; gathers ``[B, W, ...]`` windows by frame index."""

    def __init__(self, sequences: Sequence[FeatureSequence], window: int) -> None:
        if not sequences:
            raise ValueError("no sequences to train or score on")
        self.window = int(window)
        half_l, half_r = self.window // 2, self.window - 1 - self.window // 2
        parts, centers, targets = [], [], []
        offset = 0
        for seq in sequences:
            feats = np.asarray(seq.features, dtype=np.float32)
            pad = [(half_l, half_r)] + [(0, 0)] * (feats.ndim - 1)
            parts.append(np.pad(feats, pad, mode="edge") if len(feats) else feats)
            centers.append(offset + half_l + np.arange(len(feats)))
            if seq.targets is not None:
                targets.append(np.asarray(seq.targets, dtype=np.int8))
            offset += len(feats) + half_l + half_r
        self.data = np.concatenate(parts)
        self.centers = np.concatenate(centers)
        self.targets = np.concatenate(targets) if len(targets) == len(sequences) else None
        starts = np.cumsum([0] + [len(s) for s in sequences])
        self.ranges = [(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        self.frame_shape = self.data.shape[1:]
        self._offsets = np.arange(self.window) - half_l

    def __len__(self) -> int:
        return len(self.centers)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Windows ``[B, W, ...]`` around frame rows ``rows`` (indices into the concatenated frames)."""
        return self.data[self.centers[rows][:, None] + self._offsets[None, :]]


@dataclass
class TrainConfig:
    """Training options (all JSON-serializable; saved with the classifier)."""

    head: str = "mlp"
    window: int | None = None
    hidden: int = 256
    layers: int = 2
    dropout: float | None = None
    loss: str = "bce"
    class_weights: str | list = "none"
    focal_gamma: float = 2.0
    eql_lambda: float | None = None
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    max_epochs: int = 50
    steps_per_epoch: int | None = None
    patience: int = 5
    standardize: bool = True
    sequence_norm: bool = False
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose one of {HEADS}")
        if self.window is None:
            self.window = default_window(self.head)
        if self.head in ("linear", "mlp") and self.window != 1:
            raise ValueError(f"the {self.head} head sees one frame; window must be 1, not {self.window}")

    def head_options(self) -> dict:
        opts: dict = {}
        if self.dropout is not None:
            opts["dropout"] = self.dropout
        if self.head == "mlp":
            opts.update(hidden=self.hidden, layers=self.layers)
        elif self.head == "conv":
            opts.update(hidden=self.hidden, layers=self.layers)
        elif self.head == "attention" and self.dropout is None:
            opts["dropout"] = 0.5  # VideoPrism App. H
        return opts


class BehaviorClassifier:
    """A trained head with everything needed to score new features."""

    def __init__(
        self,
        head: torch.nn.Module,
        classes: Sequence[str],
        config: TrainConfig,
        frame_shape: tuple[int, ...],
        single_label: bool = False,
        background: str | None = None,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        feature_spec: dict | None = None,
        postprocess: PostProcessor | None = None,
        info: dict | None = None,
    ) -> None:
        self.head = head.eval()
        self.classes = tuple(classes)
        self.config = config
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.single_label = single_label
        self.background = background
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)
        self.feature_spec = feature_spec or {}
        self.postprocess = postprocess or PostProcessor(single_label=single_label)
        self.info = info or {}

    @property
    def window(self) -> int:
        return int(self.config.window)

    def _normalize(self, x: np.ndarray) -> np.ndarray:
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    @torch.no_grad()
    def scores_windowed(self, data: WindowedFrames, rows: np.ndarray | None = None, batch_size: int = 1024) -> np.ndarray:
        """Probabilities ``[N, C]`` (sigmoid or softmax) for frame rows of ``data``."""
        device = torch.device(self.config.device if torch.cuda.is_available() or self.config.device == "cpu" else "cpu")
        self.head.to(device).eval()
        rows = np.arange(len(data)) if rows is None else rows
        out = []
        for i in range(0, len(rows), batch_size):
            x = torch.from_numpy(self._normalize(data.gather(rows[i : i + batch_size]))).to(device)
            logits = self.head(x).float()
            out.append((torch.softmax(logits, 1) if self.single_label else torch.sigmoid(logits)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_scores(self, features: np.ndarray) -> np.ndarray:
        """Probabilities ``[T, C]`` for one contiguous sequence of per-frame features ``[T, ...]``."""
        features = np.asarray(features, np.float32)
        if features.shape[1:] != self.frame_shape:
            raise ValueError(
                f"features have per-frame shape {features.shape[1:]}, the classifier expects {self.frame_shape} "
                f"(feature spec: {self.feature_spec.get('kind', '?')})"
            )
        if self.config.sequence_norm:
            features = sequence_normalize(features)
        return self.scores_windowed(WindowedFrames([FeatureSequence(features, None)], self.window))

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(scores [T, C], calls [T, C] bool)`` after post-processing."""
        scores = self.predict_scores(features)
        return scores, self.postprocess.apply(scores)

    # ------------------------------------------------------------------ persistence
    def metadata(self) -> dict:
        return {
            "format": "vpbehavior-classifier",
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "background": self.background,
            "single_label": self.single_label,
            "frame_shape": list(self.frame_shape),
            "config": asdict(self.config),
            "feature_spec": self.feature_spec,
            "postprocess": self.postprocess.to_dict(),
            "info": _json_ready(self.info),
        }

    def save(self, path: str | Path) -> Path:
        """Write one ``.safetensors`` file (weights + JSON metadata) atomically."""
        from safetensors.torch import save_file

        from vpbehavior._files import atomic_output

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"head.{k}": v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        if self.mean is not None:
            tensors["norm.mean"] = torch.from_numpy(self.mean)
            tensors["norm.std"] = torch.from_numpy(self.std)
        with atomic_output(path) as tmp:
            save_file(tensors, str(tmp), metadata={"vpbehavior": json.dumps(self.metadata())})
        return path

    @classmethod
    def load(cls, path: str | Path) -> BehaviorClassifier:
        """Read a file written by `save` (no pickle involved)."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such classifier file")
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta_text = (fh.metadata() or {}).get("vpbehavior")
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        except Exception as err:  # safetensors raises its own error types
            raise ValueError(f"{path}: not a readable safetensors classifier ({err})") from None
        if meta_text is None:
            raise ValueError(f"{path}: safetensors file without vpbehavior metadata (not a classifier)")
        meta = json.loads(meta_text)
        if meta.get("format") != "vpbehavior-classifier" or meta.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported classifier format {meta.get('format')} v{meta.get('format_version')}")
        config = TrainConfig(**meta["config"])
        frame_shape = tuple(meta["frame_shape"])
        head = build_head(config.head, frame_shape, len(meta["classes"]), window=config.window, **config.head_options())
        head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
        mean = tensors["norm.mean"].numpy() if "norm.mean" in tensors else None
        std = tensors["norm.std"].numpy() if "norm.std" in tensors else None
        return cls(
            head, meta["classes"], config, frame_shape, meta["single_label"], meta["background"], mean, std,
            meta["feature_spec"], PostProcessor.from_dict(meta["postprocess"]), meta.get("info", {}),
        )


# ------------------------------------------------------------------ splitting
def split_sequences(
    sequences: Sequence[FeatureSequence], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[FeatureSequence], list[FeatureSequence]]:
    """Train / validation split by recording; with one recording, the last frames of each sequence."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    names = sorted({s.recording for s in sequences})
    if len(names) >= 2:
        rng = np.random.default_rng(seed)
        n_val = max(1, int(round(val_fraction * len(names))))
        val_names = set(rng.permutation(names)[:n_val].tolist())
        return [s for s in sequences if s.recording not in val_names], [s for s in sequences if s.recording in val_names]
    train, val = [], []
    for s in sequences:
        cut = int(round(len(s) * (1 - val_fraction)))
        train.append(FeatureSequence(s.features[:cut], None if s.targets is None else s.targets[:cut], s.recording, s.subject, s.fps))
        val.append(FeatureSequence(s.features[cut:], None if s.targets is None else s.targets[cut:], s.recording, s.subject, s.fps))
    return train, val


# ------------------------------------------------------------------ training
def _feature_stats(data: WindowedFrames) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean / std over all frames (and token positions) of the padded array."""
    flat = data.data.reshape(-1, data.data.shape[-1])
    mean = np.nanmean(flat, 0, dtype=np.float64)
    std = np.nanstd(flat, 0, dtype=np.float64)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def train_classifier(
    train: Sequence[FeatureSequence],
    val: Sequence[FeatureSequence] | None,
    classes: Sequence[str],
    config: TrainConfig | None = None,
    single_label: bool = False,
    background: str | None = None,
    feature_spec: dict | None = None,
    postprocess: PostProcessor | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BehaviorClassifier:
    """Train a head with early stopping on the validation split.

    Early stopping watches validation mAP (background excluded) when it is defined, else
    the validation loss. Thresholds (multi-label) are then chosen on the validation scores
    (on the training scores when there is no validation split) and stored in the
    classifier's post-processor.
    """
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    classes = tuple(classes)
    tr = WindowedFrames(_prepare(train, config.sequence_norm), config.window)
    if tr.targets is None:
        raise ValueError("training sequences need targets")
    if tr.targets.shape[1] != len(classes):
        raise ValueError(f"targets have {tr.targets.shape[1]} columns for {len(classes)} classes")
    va = WindowedFrames(_prepare(val, config.sequence_norm), config.window) if val else None
    rows = np.flatnonzero((tr.targets >= 0).any(1))
    if rows.size == 0:
        raise ValueError("no annotated training frames")
    mean, std = _feature_stats(tr) if config.standardize else (None, None)
    if isinstance(config.class_weights, str):
        if config.class_weights not in ("none", "balanced"):
            raise ValueError(f"class_weights must be 'none', 'balanced' or a list, not {config.class_weights!r}")
        weights = balanced_weights(tr.targets[rows], single_label) if config.class_weights == "balanced" else None
    else:
        weights = np.asarray(config.class_weights, np.float32)
        if weights.shape != (len(classes),):
            raise ValueError(f"{weights.size} class weights for {len(classes)} classes")
    bg = classes.index(background) if background in classes else None
    loss_fn = BehaviorLoss(config.loss, single_label, weights, config.focal_gamma, class_frequencies(tr.targets[rows]), config.eql_lambda, bg)
    device = torch.device(config.device)
    head = build_head(config.head, tr.frame_shape, len(classes), window=config.window, **config.head_options()).to(device)
    loss_fn.to(device)
    clf = BehaviorClassifier(head, classes, config, tr.frame_shape, single_label, background, mean, std, feature_spec, postprocess)
    steps = config.steps_per_epoch or math.ceil(rows.size / config.batch_size)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=steps * config.max_epochs, pct_start=0.05)
    use_amp = device.type == "cuda"

    def run_val() -> tuple[float, float, np.ndarray | None]:
        if va is None or va.targets is None:
            return float("nan"), float("nan"), None
        scores = clf.scores_windowed(va, batch_size=2048)
        head.train()
        y = va.targets
        mAP = mean_average_precision(y, scores, classes, background)
        with torch.no_grad():
            p = torch.from_numpy(scores).clamp(1e-6, 1 - 1e-6)
            logits = torch.log(p) if single_label else torch.log(p / (1 - p))
            vloss = float(loss_fn(logits.to(device), torch.from_numpy(y.astype(np.int64)).to(device)))
        return mAP, vloss, scores

    best = (-math.inf, None, 0)  # (criterion, state, epoch)
    history = []
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(range(config.max_epochs), desc=f"train {config.head}", disable=not progress, leave=False)
    for epoch in bar:
        t_epoch = time.perf_counter()
        head.train()
        order = rng.permutation(rows)
        if steps * config.batch_size > order.size:
            order = np.resize(order, steps * config.batch_size)
        total = 0.0
        for k in range(steps):
            batch = order[k * config.batch_size : (k + 1) * config.batch_size]
            x = torch.from_numpy(clf._normalize(tr.gather(batch))).to(device, non_blocking=True)
            y = torch.from_numpy(tr.targets[batch].astype(np.int64)).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = head(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        mAP, vloss, _ = run_val()
        criterion = mAP if not math.isnan(mAP) else (-vloss if not math.isnan(vloss) else -total / steps)
        history.append({"epoch": epoch, "train_loss": total / steps, "val_loss": vloss, "val_mAP": mAP,
                        "seconds": round(time.perf_counter() - t_epoch, 3)})
        bar.set_postfix(loss=f"{total / steps:.4f}", val_mAP=f"{mAP:.3f}")
        if log:
            log(f"epoch {epoch}: train loss {total / steps:.4f}, val loss {vloss:.4f}, val mAP {mAP:.4f}")
        if criterion > best[0] + 1e-6:
            best = (criterion, copy.deepcopy(head.state_dict()), epoch)
        elif epoch - best[2] >= config.patience:
            break
    if best[1] is not None:
        head.load_state_dict(best[1])
    head.eval()
    if va is not None and va.targets is not None:
        y_cal, s_cal = va.targets, clf.scores_windowed(va, batch_size=2048)
    else:
        y_cal, s_cal = tr.targets[rows], clf.scores_windowed(tr, rows, batch_size=2048)
    if not single_label:
        clf.postprocess.thresholds = choose_thresholds(y_cal, s_cal).tolist()
    clf.info = {
        "best_epoch": best[2],
        "epochs_run": len(history),
        "train_seconds": round(time.perf_counter() - t0, 3),
        "train_frames": int(rows.size),
        "val_frames": 0 if va is None else len(va),
        "val_mAP": mean_average_precision(y_cal, s_cal, classes, background) if va is not None else None,
        "history": history,
    }
    return clf
