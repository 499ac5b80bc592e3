"""Classifier heads over frozen per-frame features.

Every head takes a window of per-frame inputs centered on the frame to classify,
``x [B, W, F]`` (or ``[B, W, G, D]`` token grids for the attention probe), and returns
logits ``[B, C]`` for the middle frame ``W // 2``:

- ``linear``: one linear layer on the middle frame (W = 1).
- ``mlp``: LayerNorm, hidden layers with GELU and dropout, linear (W = 1).
- ``conv``: a temporal 1D convolution stack (dilated, residual) over the window, read out
  at the middle frame.
- ``attention``: the VideoPrism paper's MAP probe: a learned query cross-attends to all
  tokens of the clip (W frames x G tokens), then an MLP block and a linear classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DEFAULT_WINDOWS, HEADS


class LinearHead(nn.Module):
    """Linear classifier on the middle frame's features."""

    def __init__(self, in_dim: int, n_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(x[:, x.shape[1] // 2]))


class MLPHead(nn.Module):
    """LayerNorm -> (Linear, GELU, Dropout) x layers -> Linear, on the middle frame."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 256, layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.LayerNorm(in_dim)]
        width = in_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout)]
            width = hidden
        blocks.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, x.shape[1] // 2])


class TemporalConvHead(nn.Module):
    """Dilated residual 1D convolutions over the window, read out at the middle frame."""

    def __init__(
        self, in_dim: int, n_classes: int, hidden: int = 128, layers: int = 3, kernel: int = 3, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden))
        self.convs = nn.ModuleList(
            nn.Conv1d(hidden, hidden, kernel, dilation=2**i, padding=(kernel - 1) // 2 * 2**i) for i in range(layers)
        )
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x).transpose(1, 2)  # [B, hidden, W]
        for conv in self.convs:
            h = h + self.dropout(self.act(conv(h)))
        return self.fc(h[:, :, h.shape[2] // 2])


class AttentionPoolHead(nn.Module):
    """Multi-head attention pooling probe (MAP): a learned query attends to all clip tokens.

    Input ``[B, W, G, D]`` (W frames of G tokens) or ``[B, W, D]``. A learned temporal
    position embedding tells the probe which frame is the middle one.
    """

    def __init__(
        self, dim: int, n_classes: int, window: int, num_heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if dim % num_heads:
            num_heads = next(h for h in range(num_heads, 0, -1) if dim % h == 0)
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.time_emb = nn.Parameter(torch.zeros(1, window, 1, dim))
        self.norm_in = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x[:, :, None]
        b, w, g, d = x.shape
        if w != self.time_emb.shape[1]:
            raise ValueError(f"attention probe was built for windows of {self.time_emb.shape[1]} frames, got {w}")
        tokens = self.norm_in((x + self.time_emb).reshape(b, w * g, d))
        pooled, _ = self.attn(self.query.expand(b, -1, -1), tokens, tokens, need_weights=False)
        pooled = pooled + self.mlp(self.norm_mlp(pooled))
        return self.fc(self.dropout(pooled[:, 0]))


def build_head(kind: str, in_shape: tuple[int, ...], n_classes: int, window: int = 1, **options) -> nn.Module:
    """A head by name for per-frame inputs of shape ``in_shape`` (``(F,)`` or ``(G, D)``).

    ``options`` go to the head's constructor (hidden, layers, dropout, kernel, num_heads ...).
    """
    if kind not in HEADS:
        raise ValueError(f"unknown head {kind!r}; choose one of {HEADS}")
    if kind == "attention":
        return AttentionPoolHead(in_shape[-1], n_classes, window, **options)
    if len(in_shape) != 1:
        raise ValueError(f"the {kind} head needs flat per-frame features, got per-frame shape {in_shape}")
    if kind == "linear":
        return LinearHead(in_shape[0], n_classes, **options)
    if kind == "mlp":
        return MLPHead(in_shape[0], n_classes, **options)
    return TemporalConvHead(in_shape[0], n_classes, **options)


def default_window(kind: str) -> int:
    """Frames a head sees by default: 1 for linear/MLP, 31 for conv, 16 for attention."""
    return DEFAULT_WINDOWS[kind]
