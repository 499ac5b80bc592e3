"""The training loop: a head on frozen per-frame features, early stopping, robust thresholds.

`fit` trains on `FeatureSequence`s; `train_classifier` is the path from recordings (with their
labels and cached features) to a `BehaviorClassifier`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vpbehavior.core import Recording
from vpbehavior.core.errors import INPUT_ERRORS, ConfigError, DataError
from vpbehavior.reporting import Progress, logger, progress_reporter, warn_data
from vpbehavior.runtime import autocast, resolve_device

from .classifier import BehaviorClassifier
from .config import TrainConfig
from .data import (
    FeatureSequence,
    WindowedFrames,
    build_sequences,
    check_features,
    same_features,
    sequence_normalize,
    split_sequences,
    vocabulary,
)
from .heads import build_head
from .losses import BehaviorLoss, balanced_weights, class_frequencies
from .metrics import mean_average_precision
from .postprocess import best_f1_threshold

#: Fewer validation positives than this and a class's threshold is not tuned (0.5 is kept).
MIN_THRESHOLD_POSITIVES = 10


def _prepare(sequences: Sequence[FeatureSequence], per_sequence: bool) -> list[FeatureSequence]:
    if not per_sequence:
        return list(sequences)
    return [
        FeatureSequence(sequence_normalize(s.features), s.targets, s.recording, s.subject, s.fps) for s in sequences
    ]


def _feature_stats(data: WindowedFrames) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean / std over all frames (and token positions) of the padded array."""
    flat = data.data.reshape(-1, data.data.shape[-1])
    mean = np.nanmean(flat, 0, dtype=np.float64)
    std = np.nanstd(flat, 0, dtype=np.float64)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def robust_thresholds(y: np.ndarray, scores: np.ndarray, default: float = 0.5) -> tuple[list[float], list[str]]:
    """Per-class thresholds ``[C]`` and how each was chosen, robust to weak classifiers.

    The best-F1 threshold on validation is kept only when it is trustworthy: the class has at
    least `MIN_THRESHOLD_POSITIVES` annotated positives, and the threshold calls at most twice as
    many frames as are positive (plus 5% of the frames). Otherwise a weak classifier's best-F1
    threshold collapses towards 0 and calls the behavior everywhere; the threshold then becomes the
    one that calls as many frames as are positive (prevalence-matched), or ``default`` without
    positives. Thresholds are clamped to [0.01, 0.99].
    """
    thresholds, methods = [], []
    for j in range(y.shape[1]):
        annotated = y[:, j] >= 0
        yj, sj = y[annotated, j], scores[annotated, j]
        n_pos = int((yj == 1).sum())
        if n_pos < MIN_THRESHOLD_POSITIVES or n_pos == yj.size:
            thresholds.append(float(default))
            methods.append(f"default {default} ({n_pos} validation positives)")
            continue
        prevalence = n_pos / yj.size
        t = best_f1_threshold(yj, sj, default)
        called = float((sj >= t).mean())
        if called <= 2 * prevalence + 0.05:
            method = "best F1 on validation"
        else:
            t = float(np.quantile(sj, 1 - prevalence))
            method = (
                f"prevalence-matched (best-F1 threshold called {called:.0%} of frames, {prevalence:.0%} are positive)"
            )
        thresholds.append(float(np.clip(t, 0.01, 0.99)))
        methods.append(method)
    return thresholds, methods


def fit(
    train: Sequence[FeatureSequence],
    val: Sequence[FeatureSequence] | None,
    classes: Sequence[str],
    config: TrainConfig | None = None,
    background: str | None = None,
    feature_spec: dict | None = None,
    progress: Progress = False,
) -> BehaviorClassifier:
    """Train a head with early stopping on the validation sequences.

    Early stopping watches validation mAP (background excluded) when it is defined, else the
    validation loss. Thresholds (multi-label) are then chosen on the validation scores (on the
    training scores when there is no validation split) by `robust_thresholds`.
    """
    config = config or TrainConfig()
    single_label = config.single_label
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    classes = tuple(classes)
    seq_norm = config.uses_sequence_norm
    tr = WindowedFrames(_prepare(train, seq_norm), config.window)
    if tr.targets is None:
        raise DataError("training sequences need targets")
    if tr.targets.shape[1] != len(classes):
        raise DataError(f"targets have {tr.targets.shape[1]} columns for {len(classes)} classes")
    va = WindowedFrames(_prepare(val, seq_norm), config.window) if val else None
    rows = np.flatnonzero((tr.targets >= 0).any(1))
    if rows.size == 0:
        raise DataError("no annotated training frames")
    mean, std = _feature_stats(tr) if config.standardize else (None, None)
    weights = balanced_weights(tr.targets[rows], single_label) if config.class_weights == "balanced" else None
    bg = classes.index(background) if background in classes else None
    freqs = class_frequencies(tr.targets[rows])
    loss_fn = BehaviorLoss(config.loss, single_label, weights, config.focal_gamma, freqs, config.eql_lambda, bg)
    device = torch.device(resolve_device(config.device))
    head = build_head(config.head, tr.frame_shape, len(classes), window=config.window, **config.head_options())
    head.to(device)
    loss_fn.to(device)
    clf = BehaviorClassifier(head, classes, config, tr.frame_shape, background, mean, std, feature_spec)
    steps = config.steps_per_epoch or math.ceil(rows.size / config.batch_size)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=steps * config.max_epochs, pct_start=0.05)

    def run_val() -> tuple[float, float]:
        if va is None or va.targets is None:
            return float("nan"), float("nan")
        scores = clf.scores_windowed(va, batch_size=2048)
        head.train()
        y = va.targets
        val_map = mean_average_precision(y, scores, classes, background)
        with torch.no_grad():
            p = torch.from_numpy(scores).clamp(1e-6, 1 - 1e-6)
            logits = torch.log(p) if single_label else torch.log(p / (1 - p))
            vloss = float(loss_fn(logits.to(device), torch.from_numpy(y.astype(np.int64)).to(device)))
        return val_map, vloss

    best = (-math.inf, None, 1)  # (criterion, state, epoch counted from 1)
    history = []
    stopped_early = False
    t0 = time.perf_counter()
    with progress_reporter(progress, f"train {config.head}", config.max_epochs, "epoch") as bar:
        for epoch in range(1, config.max_epochs + 1):
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
                with autocast(str(device), enabled=device.type == "cuda"):  # small heads: fp32 on CPU
                    logits = head(x)
                loss = loss_fn(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach())
            val_map, vloss = run_val()
            criterion = val_map if not math.isnan(val_map) else (-vloss if not math.isnan(vloss) else -total / steps)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": total / steps,
                    "val_loss": vloss,
                    "val_mAP": val_map,
                    "seconds": round(time.perf_counter() - t_epoch, 3),
                }
            )
            bar.update(1, loss=f"{total / steps:.4f}", val_mAP=f"{val_map:.3f}")
            logger.info("epoch %d: train loss %.4f, val loss %.4f, val mAP %.4f", epoch, total / steps, vloss, val_map)
            if criterion > best[0] + 1e-6:
                best = (criterion, copy.deepcopy(head.state_dict()), epoch)
            elif epoch - best[2] >= config.patience:
                stopped_early = True
                break
    if best[1] is not None:
        head.load_state_dict(best[1])
    head.eval()
    if va is not None and va.targets is not None:
        y_cal, s_cal = va.targets, clf.scores_windowed(va, batch_size=2048)
    else:
        y_cal, s_cal = tr.targets[rows], clf.scores_windowed(tr, rows, batch_size=2048)
    methods: list[str] = []
    if not single_label:
        if config.thresholds == "robust":
            clf.postprocess.thresholds, methods = robust_thresholds(y_cal, s_cal)
        else:
            clf.postprocess.thresholds, methods = [0.5] * len(classes), ["fixed 0.5"] * len(classes)
    clf.info = {
        "best_epoch": best[2],
        "epochs_run": len(history),
        "stopped_early": stopped_early,
        "train_seconds": round(time.perf_counter() - t0, 3),
        "train_cells": int(rows.size),
        "val_cells": 0 if va is None else int((va.targets >= 0).any(1).sum()) if va.targets is not None else 0,
        "val_mAP": mean_average_precision(y_cal, s_cal, classes, background) if va is not None else None,
        "threshold_methods": dict(zip(classes, methods)),
        "history": history,
    }
    return clf


def train_classifier(
    train: Sequence[Recording],
    val: Sequence[Recording] | None = None,
    config: TrainConfig | None = None,
    *,
    features: str | Path | None = None,
    progress: Progress = False,
) -> BehaviorClassifier:
    """Train a behavior classifier on recordings with labels.

    Parameters
    ----------
    train, val
        Labelled recordings. Without ``val``, ``config.val_fraction`` of the training recordings
        (or of the frames, with a single recording) is held out for early stopping and thresholds.
        Recordings without labels are left out, and so are recordings whose features cannot be
        read (each with a warning; they are listed in ``classifier.info["left_out"]``).
    config
        `TrainConfig` (feature kind, head, loss, post-processing ...).
    features
        The feature cache folder, for video feature kinds.
    progress
        True (a bar), False, or a callback (see `vpbehavior.reporting`).
    """
    config = config or TrainConfig()
    if config.kind in ("video", "tokens", "video+pose") and features is None:
        raise ConfigError(f"feature kind {config.kind!r} needs the feature cache folder (features=..., --features)")
    train, left_train = usable_recordings([r for r in train if r.labels is not None], config.kind, features)
    val, left_val = usable_recordings([r for r in (val or []) if r.labels is not None], config.kind, features)
    if not train:
        reasons = "; ".join(f"{name}: {why}" for name, why in left_train[:3])
        raise DataError("no labelled training recordings with usable features" + (f" ({reasons})" if reasons else ""))
    classes, background = vocabulary(train, config.single_label)
    train_seqs, spec = build_sequences(train, config.kind, classes, features, config.single_label, background)
    if val:
        val_seqs, val_spec = build_sequences(val, config.kind, classes, features, config.single_label, background)
        if not same_features(spec, val_spec):
            raise DataError("validation recordings have features made differently from the training recordings")
    else:
        train_seqs, val_seqs = split_sequences(train_seqs, config.val_fraction, config.seed)
    clf = fit(train_seqs, val_seqs, classes, config, background, spec, progress)
    frames = {s.recording: len(s) for s in train_seqs}
    clf.info.update(
        train_recordings=len(frames),
        train_frames=int(sum(frames.values())),
        val_recordings=len({s.recording for s in val_seqs}) if val or len(train) > 1 else 0,
        val_split="given" if val else ("recordings held out" if len(train) > 1 else "last frames held out"),
        left_out=dict(left_train + left_val),
    )
    return clf


def usable_recordings(recordings: Sequence[Recording], kind: str, features) -> tuple[list, list[tuple[str, str]]]:
    """Recordings whose features can be read, and ``(name, reason)`` for the others (each warned about)."""
    ok, left_out = [], []
    for rec in recordings:
        try:
            check_features(rec, kind, features)
            ok.append(rec)
        except INPUT_ERRORS as err:
            left_out.append((rec.name, str(err)))
            warn_data(f"left out {rec.name!r}: its features cannot be used ({err})")
    return ok, left_out
