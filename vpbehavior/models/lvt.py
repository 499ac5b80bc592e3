"""LvT (video-text) parts: contrastive attention pooler and causal text encoder."""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import Attention, Transformer, layer_norm


def l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Official normalisation ``x / sqrt(sum(x^2) + eps)`` computed in float32."""
    xf = x.float()
    return (xf * torch.rsqrt((xf * xf).sum(-1, keepdim=True) + eps)).to(x.dtype)


class AttentionPooler(nn.Module):
    """Multi-head attention pooling with one learned query (``contrastive_vision_pooler``).

    q/k/v project to ``hidden_dim`` (4 * D in the released models); the query is scaled by a
    learned :class:`~vpbehavior.models.layers.PerDimScale`; no soft-cap, no mask, no
    residual, no MLP; LayerNorm on the output.
    """

    def __init__(self, dim: int, num_heads: int, hidden_dim: int, attention_impl: str = "auto") -> None:
        super().__init__()
        self.pooling_attention_query = nn.Parameter(torch.empty(1, dim))
        nn.init.normal_(self.pooling_attention_query, std=dim**-0.5)
        self.pooling_attention = Attention(
            dim,
            num_heads,
            head_dim=hidden_dim // num_heads,
            logit_cap=0.0,
            per_dim_scale=True,
            attention_impl=attention_impl,
        )
        self.pooling_attention_layer_norm = layer_norm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens [B, N, D]`` -> pooled ``[B, 1, D]``."""
        b = tokens.shape[0]
        q = self.pooling_attention_query[None].expand(b, -1, -1).to(tokens.dtype)
        return self.pooling_attention_layer_norm(self.pooling_attention(q, kv=tokens))


class TokenEmbedding(nn.Module):
    """Token table ``emb_var [V, D]``; the lookup is multiplied by ``sqrt(D)``."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.emb_var = nn.Parameter(torch.empty(vocab_size, dim))
        nn.init.normal_(self.emb_var, std=dim**-0.5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb_var[ids] * math.sqrt(self.emb_var.shape[-1])


class SinusoidalPositionEmbedding(nn.Module):
    """Fixed sin/cos table (sin half then cos half, timescales 1..1e4)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, length: int, device: torch.device | None = None) -> torch.Tensor:
        """Return ``[1, length, D]`` float32 for positions ``0 .. length - 1``."""
        half = self.dim // 2
        increment = math.log(1e4) / max(half - 1, 1)
        inv = torch.exp(torch.arange(half, dtype=torch.float32, device=device) * -increment)
        pos = torch.arange(length, dtype=torch.float32, device=device)
        scaled = pos[:, None] * inv[None, :]
        table = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=-1)
        if self.dim % 2:
            table = nn.functional.pad(table, (0, 1))
        return table[None]


class TextEncoder(nn.Module):
    """Causal text transformer with a class token appended after the padding."""

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        num_heads: int,
        num_layers: int,
        logit_cap: float,
        causal: bool = True,
        attention_impl: str = "auto",
    ) -> None:
        super().__init__()
        self.dim = dim
        self.causal = causal
        self.token_emb = TokenEmbedding(vocab_size, dim)
        self.pos_emb = SinusoidalPositionEmbedding(dim)
        self.cls_emb = nn.Parameter(torch.empty(1, 1, dim))
        nn.init.normal_(self.cls_emb, std=dim**-0.5)
        self.unimodal_transformer = Transformer(num_layers, dim, num_heads, 4 * dim, logit_cap, "relu", attention_impl)
        self.unimodal_ln = layer_norm(dim)

    def forward(self, token_ids: torch.Tensor, paddings: torch.Tensor | None = None) -> torch.Tensor:
        """``token_ids [B, L]`` (int), ``paddings [B, L]`` (1 = pad) -> ``[B, D]``."""
        b, length = token_ids.shape
        x = self.token_emb(token_ids)
        x = x + self.pos_emb(length, device=x.device).to(x.dtype)
        cls = self.cls_emb.expand(b, 1, self.dim).to(x.dtype) * math.sqrt(self.dim)
        x = torch.cat([x, cls], dim=1)
        valid = None
        if paddings is not None:
            if paddings.shape != token_ids.shape:
                raise ValueError(f"paddings {tuple(paddings.shape)} must match token_ids {tuple(token_ids.shape)}")
            valid = torch.cat(
                [paddings.to(x.device) < 0.5, torch.ones(b, 1, dtype=torch.bool, device=x.device)],
                dim=1,
            )
        x = self.unimodal_transformer(x, valid, causal=self.causal)
        x = self.unimodal_ln(x)
        return x[:, -1]
