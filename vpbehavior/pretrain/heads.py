"""Trainable parts on top of the encoder: the two stage-2 decoders and the fine-tuning head.

Built from the encoder's own blocks (`vpbehavior.models.layers`: pre-LN, exact GELU, the
soft-capped attention with its eager / SDPA / flex kernels, gradient checkpointing).

Token decoder (stage 2, paper Alg. 1 and Table 11), in this order:

1. the student's visible outputs go back to their positions and a learned MASK token fills
   every masked position (a full ``T * N`` sequence, model width ``D``);
2. the sequence is permuted along the token axis (`shuffle_slots`, one permutation per clip);
3. a decoder position embedding indexed by *slot* is added after the shuffle, so slot ``i``
   carries position ``i``'s embedding whatever token landed there;
4. MLP projector ``D -> d``, ``L`` transformer layers of width ``d``, LayerNorm, MLP projector
   ``d -> D``, linear alignment layer;
5. output slot ``i`` is compared with the teacher's token at position ``i`` (`token_targets`).

The paper gives the decoder shape for g only (width 512, MLP 2048, 4 layers); for other sizes we
use width ``min(512, D)``, MLP ``4 * width`` and heads ``width / 64`` (our choice). Where the
MASK token and the slot embedding live (model width, before the projector) and the final
LayerNorm are our choices too; the paper does not say. The slot embedding is factorized like the
encoder's (a spatial and a temporal table, resized the same way), so any clip shape works.

Global decoder: projector ``D -> d``, ``L`` layers over the *visible* tokens (no position
embedding, no shuffle), an attention pooler (the LvT pooler's shape: per-dim query scale, inner
width ``4 d``), projector ``d -> D``, linear alignment; compared with the teacher's global
embedding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vpbehavior.models.encoder import PositionEmbedding
from vpbehavior.models.layers import Transformer, layer_norm
from vpbehavior.models.lvt import AttentionPooler


def decoder_shape(model_dim: int, width: int = 0, heads: int = 0) -> tuple[int, int]:
    """``(width, heads)`` of the stage-2 decoders (0 = our defaults, see the module docstring)."""
    width = width or min(512, model_dim)
    heads = heads or max(1, width // 64)
    if width % heads:
        raise ValueError(f"decoder width {width} is not divisible by {heads} heads")
    return width, heads


class MLPProjector(nn.Module):
    """``Linear -> GELU -> Linear`` between the model width and the decoder width."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def fill_masked(
    visible_tokens: torch.Tensor, visible: torch.Tensor, mask_token: torch.Tensor, n_positions: int
) -> torch.Tensor:
    """Full sequence ``[B, T * N, D]``: visible outputs at their positions, ``mask_token`` elsewhere.

    ``visible_tokens`` is the encoder's output ``[B, T * N_vis, D]`` (index ``t * N_vis + j``) for
    the spatial positions ``visible [B, N_vis]``, the same in every frame.
    """
    b, tv, d = visible_tokens.shape
    nv = visible.shape[1]
    t = tv // nv
    frame = torch.arange(t, device=visible.device)[None, :, None] * n_positions
    positions = (frame + visible[:, None, :]).reshape(b, tv)  # t * N + visible[j]
    base = mask_token.to(visible_tokens.dtype).expand(b, t * n_positions, d)
    return base.scatter(1, positions[..., None].expand(-1, -1, d), visible_tokens)


def shuffle_slots(tokens: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Slot ``i`` of clip ``b`` receives the token at position ``perm[b, i]``."""
    return torch.gather(tokens, 1, perm[..., None].expand(-1, -1, tokens.shape[-1]))


def token_targets(teacher_tokens: torch.Tensor, perm: torch.Tensor | None = None) -> torch.Tensor:
    """The target of every decoder slot: the teacher's token at the slot's *position* (slot order).

    Slot ``i`` carries position ``i``'s embedding, so its target is the teacher token ``i``,
    never the token that was shuffled into it (``teacher_tokens[:, perm]``): the decoder has to
    put every visible token back in its place and fill in the masked ones (the paper's jigsaw).
    ``perm`` is accepted to make that explicit; it does not change the targets.
    """
    del perm
    return teacher_tokens


def cosine_distance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - cos(pred, target)`` along the last axis, in float32."""
    return 1.0 - F.cosine_similarity(pred.float(), target.float(), dim=-1, eps=1e-6)


class TokenDecoder(nn.Module):
    """Stage-2 token-wise decoder with token shuffling (see the module docstring)."""

    def __init__(
        self,
        model_dim: int,
        grid: tuple[int, int, int],
        width: int = 0,
        heads: int = 0,
        layers: int = 4,
        logit_cap: float = 50.0,
        attention_impl: str = "auto",
    ) -> None:
        super().__init__()
        width, heads = decoder_shape(model_dim, width, heads)
        t0, h0, w0 = grid
        self.mask_token = nn.Parameter(torch.zeros(1, 1, model_dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.slot_spatial_emb = PositionEmbedding((h0, w0), model_dim)
        self.slot_temporal_emb = PositionEmbedding((t0,), model_dim)
        self.in_proj = MLPProjector(model_dim, width, width)
        self.transformer = Transformer(layers, width, heads, 4 * width, logit_cap, "gelu", attention_impl)
        self.norm = layer_norm(width)
        self.out_proj = MLPProjector(width, width, model_dim)
        self.align = nn.Linear(model_dim, model_dim)

    def slot_embeddings(self, frames: int, grid: tuple[int, int]) -> torch.Tensor:
        """``[1, T * N, D]``: slot ``t * N + n`` gets temporal row ``t`` plus spatial row ``n``."""
        spatial = self.slot_spatial_emb(grid)  # [1, N, D]
        temporal = self.slot_temporal_emb((frames,))  # [1, T, D]
        return (temporal[:, :, None, :] + spatial[:, None, :, :]).reshape(1, -1, spatial.shape[-1])

    def decode(self, slots: torch.Tensor) -> torch.Tensor:
        """The decoder proper on the shuffled, position-embedded slots ``[B, T * N, D]``."""
        x = self.transformer(self.in_proj(slots))
        return self.align(self.out_proj(self.norm(x)))

    def forward(
        self,
        visible_tokens: torch.Tensor,
        visible: torch.Tensor,
        perm: torch.Tensor | None,
        frames: int,
        grid: tuple[int, int],
    ) -> torch.Tensor:
        """Predictions ``[B, T * N, D]`` in slot order (compare with `token_targets`)."""
        full = fill_masked(visible_tokens, visible, self.mask_token, grid[0] * grid[1])
        if perm is not None:
            full = shuffle_slots(full, perm)
        slots = full + self.slot_embeddings(frames, grid).to(full.dtype)
        return self.decode(slots)


class GlobalDecoder(nn.Module):
    """Stage-2 global decoder: layers over the visible tokens, then an attention pooler -> ``[B, D]``."""

    def __init__(
        self,
        model_dim: int,
        width: int = 0,
        heads: int = 0,
        layers: int = 4,
        logit_cap: float = 50.0,
        attention_impl: str = "auto",
    ) -> None:
        super().__init__()
        width, heads = decoder_shape(model_dim, width, heads)
        self.in_proj = MLPProjector(model_dim, width, width)
        self.transformer = Transformer(layers, width, heads, 4 * width, logit_cap, "gelu", attention_impl)
        self.pooler = AttentionPooler(width, heads, 4 * width, attention_impl)
        self.out_proj = MLPProjector(width, width, model_dim)
        self.align = nn.Linear(model_dim, model_dim)

    def forward(self, visible_tokens: torch.Tensor) -> torch.Tensor:
        x = self.transformer(self.in_proj(visible_tokens))
        return self.align(self.out_proj(self.pooler(x)[:, 0]))


class ClassifierHead(nn.Module):
    """Fine-tuning head: attention pooler (inner width D, as the official classifier) or mean pool,
    dropout, linear layer to the classes."""

    def __init__(self, model_dim: int, n_classes: int, kind: str = "attention", heads: int = 1, dropout: float = 0.0):
        super().__init__()
        self.kind = kind
        self.pooler = AttentionPooler(model_dim, heads, model_dim) if kind == "attention" else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(model_dim, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pooled = self.pooler(tokens)[:, 0] if self.pooler is not None else tokens.mean(1)
        return self.classifier(self.dropout(pooled))
