"""What the trainer needs from a training task (stage 1, stage 2, fine-tuning), and FLOP counts.

A `Task` is an ``nn.Module`` whose ``forward(batch)`` returns ``(loss, {name: scalar})`` for a
batch of the clip dataset already on the device; the trainer wraps it in DDP or FSDP, runs it
under autocast and never looks inside. Frozen parts (the stage-2 teacher) have
``requires_grad=False`` and live under a prefix in ``frozen_prefixes``: they are left out of
checkpoints, the optimizer and the FLOP count of backward.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vpbehavior.models.configs import VideoPrismConfig
from vpbehavior.models.layers import Transformer, TransformerLayer

#: Parameter-name fragments of embeddings, learned tokens and scales: never weight-decayed.
NO_DECAY_NAMES = ("emb", "pooling_attention_query", "mask_token", "logit_scale", "per_dim_scale")


def no_weight_decay(name: str, param: torch.Tensor) -> bool:
    """Norm gains, biases (every 1-D parameter), embeddings and learned tokens get no weight decay."""
    return param.ndim <= 1 or any(k in name for k in NO_DECAY_NAMES)


class Task(nn.Module):
    """Base of the training tasks; see the module docstring."""

    stage = "task"
    frozen_prefixes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ set-up
    def prepare(self, device: torch.device, amp_dtype: torch.dtype | None, sharded: bool) -> None:
        """Called once the task is on ``device`` (e.g. to keep a frozen teacher in bf16)."""

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for m in self.modules():
            if isinstance(m, Transformer):
                m.grad_checkpointing = enable

    def fsdp_units(self) -> list[nn.Module]:
        """Modules sharded as one FSDP unit each (every transformer layer)."""
        return [m for m in self.modules() if isinstance(m, TransformerLayer)]

    def train(self, mode: bool = True):
        super().train(mode)
        for prefix in self.frozen_prefixes:
            getattr(self, prefix).eval()  # a frozen teacher never leaves eval mode
        return self

    # ------------------------------------------------------------------ optimisation
    def lr_scale(self, name: str) -> float:
        """Learning-rate multiplier of parameter ``name`` (fine-tuning lowers the encoder's)."""
        return 1.0

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups by (learning-rate scale, decay or not); frozen parameters are left out."""
        groups: dict[tuple[float, bool], list] = {}
        names: dict[tuple[float, bool], list] = {}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            key = (self.lr_scale(name), not no_weight_decay(name, p))
            groups.setdefault(key, []).append(p)
            names.setdefault(key, []).append(name)
        return [
            {"params": groups[k], "weight_decay": weight_decay if k[1] else 0.0, "lr_scale": k[0], "names": names[k]}
            for k in sorted(groups, key=lambda k: (-k[0], not k[1]))
        ]

    # ------------------------------------------------------------------ state
    def trainable_state(self, state_dict: dict) -> dict:
        """``state_dict`` without the frozen parts (what a checkpoint stores)."""
        return {k: v for k, v in state_dict.items() if not any(k.startswith(p + ".") for p in self.frozen_prefixes)}

    def flops(self, batch: dict) -> float:
        """Training FLOPs of one micro-batch (forward x 3 for trainable parts, x 1 for frozen ones)."""
        return 0.0

    def export(self, out: Path, state_dict: dict, provenance: dict) -> list[Path]:
        """Write the outputs from a full (unsharded) state dict; returns the files written."""
        raise NotImplementedError


# --------------------------------------------------------------------------- FLOPs
def layer_flops(tokens: int, seq_len: int, dim: int, mlp: int, inner: int | None = None) -> float:
    """Forward FLOPs (2 per multiply-add) of one transformer layer over ``tokens`` tokens in
    sequences of ``seq_len``: q/k/v/out projections, attention scores and values, the MLP."""
    inner = inner or dim
    proj = 2.0 * tokens * 4 * dim * inner
    attn = 2.0 * 2 * tokens * seq_len * inner
    ffn = 2.0 * tokens * 2 * dim * mlp
    return proj + attn + ffn


def encoder_flops(cfg: VideoPrismConfig, clips: int, frames: int, n_spatial: int) -> float:
    """Forward FLOPs of the factorized encoder on ``clips`` clips of ``frames x n_spatial`` tokens."""
    tokens = clips * frames * n_spatial
    d, mlp = cfg.model_dim, cfg.mlp_dim
    patch = 2.0 * tokens * cfg.patch_size**2 * 3 * d
    spatial = cfg.num_spatial_layers * layer_flops(tokens, n_spatial, d, mlp)
    temporal = cfg.num_temporal_layers * layer_flops(tokens, frames, d, mlp)
    return patch + spatial + temporal


def pooler_flops(clips: int, seq_len: int, dim: int, inner: int) -> float:
    """Forward FLOPs of an attention pooler (one query) over ``seq_len`` tokens."""
    return 2.0 * clips * (2 * seq_len * dim * inner + 2 * seq_len * inner + 2 * dim * inner)


def lvt_head_flops(cfg: VideoPrismConfig, clips: int, seq_len: int) -> float:
    """Forward FLOPs of the LvT auxiliary layers and contrastive pooler."""
    aux = cfg.num_auxiliary_layers * layer_flops(clips * seq_len, seq_len, cfg.model_dim, cfg.mlp_dim)
    return aux + pooler_flops(clips, seq_len, cfg.model_dim, 4 * cfg.model_dim)


def text_flops(cfg: VideoPrismConfig, texts: int, length: int) -> float:
    """Forward FLOPs of the text tower (``length`` tokens plus the class token)."""
    seq = length + 1
    return cfg.num_unimodal_layers * layer_flops(texts * seq, seq, cfg.model_dim, 4 * cfg.model_dim)


#: Dense bf16 peak TFLOP/s by GPU name fragment (vendor data sheets; no sparsity).
PEAK_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A6000": 155.0,
    "A10": 125.0,
    "A40": 150.0,
    "V100": 125.0,
    "4090": 165.0,
    "3090": 71.0,
    "T4": 65.0,
}


def peak_flops(device: torch.device | str, override_tflops: float = 0.0) -> float | None:
    """Peak bf16 FLOP/s of one accelerator (None on CPU or for an unknown GPU)."""
    if override_tflops > 0:
        return override_tflops * 1e12
    if torch.device(device).type != "cuda":
        return None
    name = torch.cuda.get_device_name(torch.device(device))
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_TFLOPS[key] * 1e12
    return None
