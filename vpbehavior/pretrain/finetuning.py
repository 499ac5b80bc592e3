"""End-to-end fine-tuning: the encoder and a classification head on labelled clips.

A clip's targets are the labels of its middle frame (SciVid's convention, which the paper's
science benchmarks follow): 1 where any subject shows the behavior, 0 where it is annotated and
none does, -1 (ignored by the loss) where it is not annotated. The loss is multi-label binary
cross-entropy over the annotated cells.

The encoder learns at ``encoder_lr_scale`` times the head's rate; with ``layer_decay < 1`` each
encoder layer further down gets another factor ``layer_decay`` (BEiT's layer-wise decay; depth
runs patch embedding -> spatial layers -> temporal layers -> head).

Outputs: ``finetuned_encoder.safetensors`` (a plain video encoder: loads wherever encoder weights
are accepted) and ``finetuned_head.safetensors`` (the head, with its classes in the header).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from vpbehavior.models import VideoPrism

from .heads import ClassifierHead
from .task import Task, encoder_flops, pooler_flops
from .weights import save_tensors, save_weights, video_config


def encoder_layer_id(name: str, n_spatial: int, n_temporal: int) -> int:
    """Depth of an encoder parameter for layer-wise decay: 0 (patch, spatial table) ...
    ``n_spatial + n_temporal + 1`` (the last norm)."""
    m = re.match(r"spatial_encoder\.layers\.(\d+)\.", name)
    if m:
        return int(m.group(1)) + 1
    if name.startswith("spatial_ln.") or name.startswith("temporal_pos_emb."):
        return n_spatial + 1
    m = re.match(r"temporal_encoder\.layers\.(\d+)\.", name)
    if m:
        return n_spatial + 1 + int(m.group(1)) + 1
    if name.startswith("temporal_ln."):
        return n_spatial + n_temporal + 1
    return 0


class FinetuneTask(Task):
    """Encoder + `ClassifierHead`, trained end to end."""

    stage = "finetune"

    def __init__(
        self,
        model: VideoPrism,
        classes: Sequence[str],
        *,
        head: str = "attention",
        dropout: float = 0.5,
        encoder_lr_scale: float = 0.1,
        layer_decay: float = 1.0,
    ) -> None:
        super().__init__()
        self.config = model.config
        self.classes = tuple(classes)
        self.encoder = model.vision_encoder
        self.head = ClassifierHead(model.config.model_dim, len(self.classes), head, model.config.num_heads, dropout)
        self.head_kind = head
        self.encoder_lr_scale = float(encoder_lr_scale)
        self.layer_decay = float(layer_decay)

    def lr_scale(self, name: str) -> float:
        if not name.startswith("encoder."):
            return 1.0
        cfg = self.config
        depth = cfg.num_spatial_layers + cfg.num_temporal_layers + 1
        layer = encoder_layer_id(name[len("encoder.") :], cfg.num_spatial_layers, cfg.num_temporal_layers)
        return self.encoder_lr_scale * self.layer_decay ** (depth - layer)

    def logits(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(video)[0])

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        video = batch["video"].float().div_(255.0)
        logits = self.logits(video).float()
        targets = batch["targets"]
        annotated = targets >= 0
        per_cell = F.binary_cross_entropy_with_logits(logits, targets.clamp(min=0).float(), reduction="none")
        loss = (per_cell * annotated).sum() / annotated.sum().clamp(min=1)
        with torch.no_grad():
            right = ((logits > 0) == (targets > 0)) & annotated
            accuracy = right.sum() / annotated.sum().clamp(min=1)
        return loss, {"accuracy": accuracy}

    def flops(self, batch: dict) -> float:
        b, t, h, w, _ = batch["video"].shape
        gh, gw = self.encoder.grid_size(h, w)
        d = self.config.model_dim
        return 3.0 * (encoder_flops(self.config, b, t, gh * gw) + pooler_flops(b, t * gh * gw, d, d))

    def export(self, out: Path, state_dict: dict, provenance: dict) -> list[Path]:
        enc = {"vision_encoder." + k[len("encoder.") :]: v for k, v in state_dict.items() if k.startswith("encoder.")}
        head = {k[len("head.") :]: v for k, v in state_dict.items() if k.startswith("head.")}
        cfg = video_config(self.config, f"{self.config.name}+finetune")
        provenance = {**provenance, "classes": list(self.classes)}
        encoder_file = save_weights(Path(out) / "finetuned_encoder.safetensors", enc, cfg, provenance)
        head_file = save_tensors(
            Path(out) / "finetuned_head.safetensors",
            head,
            {"format": "pt", "vpbehavior_head": {"kind": self.head_kind, "classes": list(self.classes),
                                                  "model_dim": self.config.model_dim}, "vpbehavior_provenance": provenance},
        )  # fmt: skip
        return [encoder_file, head_file]
