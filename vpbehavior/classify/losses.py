"""Losses for multi-label (sigmoid) and single-label (softmax) heads, with -1 cells ignored.

Imbalance options: per-class weights, focal loss (Lin et al. 2017) and the equalization
loss EQL (Tan et al. 2020), which KABR's baseline and VideoPrism App. H use: for rare
classes (training frequency below ``eql_lambda``) the negative gradient coming from
frames of other foreground behaviors is dropped.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

LOSSES = ("bce", "focal", "eql")


def class_frequencies(targets: np.ndarray) -> np.ndarray:
    """Positive fraction of annotated cells per class ``[C]`` from targets ``[N, C]`` (1/0/-1)."""
    targets = np.asarray(targets)
    annotated = (targets >= 0).sum(0)
    return np.where(annotated > 0, (targets == 1).sum(0) / np.maximum(annotated, 1), 0.0)


def balanced_weights(targets: np.ndarray, single_label: bool) -> np.ndarray:
    """Inverse-frequency class weights, normalized to mean 1 over classes with positives.

    Multi-label: the BCE positive weight ``neg / pos`` (clipped to [1, 100]).
    Single-label: ``1 / frequency`` for cross-entropy.
    """
    freq = class_frequencies(targets)
    if single_label:
        w = np.where(freq > 0, 1.0 / np.maximum(freq, 1e-6), 0.0)
        return (w / w[w > 0].mean()).astype(np.float32) if (w > 0).any() else np.ones_like(w, np.float32)
    return np.clip(np.where(freq > 0, (1 - freq) / np.maximum(freq, 1e-6), 1.0), 1.0, 100.0).astype(np.float32)


class BehaviorLoss(torch.nn.Module):
    """Masked loss over targets ``[B, C]`` in {1, 0, -1}.

    Parameters
    ----------
    kind
        "bce" (cross-entropy), "focal" or "eql".
    single_label
        Softmax cross-entropy over classes (rows must be one-hot or all -1) instead of
        per-class sigmoid BCE.
    class_weights
        ``[C]``: BCE positive weights (multi-label) or CE class weights (single-label).
    frequencies
        ``[C]`` training frequencies (EQL).
    background_index
        The background class (not "foreground" for EQL), if any.
    """

    def __init__(
        self,
        kind: str = "bce",
        single_label: bool = False,
        class_weights: np.ndarray | None = None,
        focal_gamma: float = 2.0,
        frequencies: np.ndarray | None = None,
        eql_lambda: float | None = None,
        background_index: int | None = None,
    ) -> None:
        super().__init__()
        if kind not in LOSSES:
            raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")
        self.kind, self.single_label, self.gamma = kind, single_label, float(focal_gamma)
        self.background_index = background_index
        self.register_buffer(
            "weights", None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        )
        rare = None
        if kind == "eql":
            if frequencies is None:
                raise ValueError("the EQL loss needs the training class frequencies")
            freq = np.asarray(frequencies, dtype=np.float64)
            lam = (
                float(np.median(freq[freq > 0])) if eql_lambda is None and (freq > 0).any() else float(eql_lambda or 0)
            )
            rare = torch.as_tensor(freq < lam)
            if background_index is not None:
                rare[background_index] = False
        self.register_buffer("rare", rare)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        return self._softmax(logits, targets) if self.single_label else self._sigmoid(logits, targets)

    def _foreground(self, targets: torch.Tensor) -> torch.Tensor:
        pos = targets == 1
        if self.background_index is not None:
            pos = pos.clone()
            pos[:, self.background_index] = False
        return pos.any(1, keepdim=True)

    def _sigmoid(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        mask = (targets >= 0).float()
        y = (targets == 1).float()
        loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none", pos_weight=self.weights)
        if self.kind == "focal":
            p = torch.sigmoid(logits)
            p_t = p * y + (1 - p) * (1 - y)
            loss = loss * (1 - p_t).pow(self.gamma)
        elif self.kind == "eql":
            drop = self._foreground(targets) & self.rare[None, :] & (y == 0)
            mask = mask * (~drop).float()
        return (loss * mask).sum() / mask.sum().clamp_min(1.0)

    def _softmax(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        annotated = (targets >= 0).all(1) & (targets == 1).any(1)
        if not annotated.any():
            return logits.sum() * 0.0
        logits, targets = logits[annotated], targets[annotated]
        ids = (targets == 1).float().argmax(1)
        if self.kind == "eql":
            drop = self._foreground(targets) & self.rare[None, :] & (targets != 1)
            logits = logits.masked_fill(drop, float("-inf"))
        log_p = F.log_softmax(logits, 1)
        nll = -log_p.gather(1, ids[:, None])[:, 0]
        if self.kind == "focal":
            nll = nll * (1 - nll.neg().exp()).pow(self.gamma)
        if self.weights is not None:
            w = self.weights[ids]
            return (nll * w).sum() / w.sum().clamp_min(1e-6)
        return nll.mean()
