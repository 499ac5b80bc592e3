"""Transformer building blocks of VideoPrism.

Module and attribute names mirror the official Flax modules (``layer_norm``,
``self_attention/{query,key,value,post}``, ``ff_layer/ffn_layer1/linear`` ...), so the
checkpoint converter is a name-for-name mapping and forward hooks on these modules see
the same tensors as Flax's ``capture_intermediates``.

Attention semantics (official): ``q`` is scaled by ``head_dim ** -0.5``, logits are
soft-capped as ``cap * tanh(logits / cap)`` (skipped when ``cap <= 0``), masked logits are
*replaced* by ``-0.7 * float32_max`` and the softmax runs in float32. A row whose keys are
all masked therefore becomes a uniform average over all keys (never NaN).

Attention backends (``attention_impl``):

``"eager"``
    Materialises the logits; the exact reference path, also returns probabilities.
``"sdpa"``
    ``F.scaled_dot_product_attention``; only used when no soft-cap is active (SDPA cannot
    cap), otherwise falls back to eager.
``"flex"``
    ``torch.nn.attention.flex_attention`` with the cap and the mask in ``score_mod``. Outside
    ``torch.compile`` the call goes through a compiled flex kernel (eager flex is an unfused
    reference implementation).
``"auto"``
    SDPA when uncapped; when capped, flex on CUDA and eager on CPU. Measured on a 2-core
    CPU (torch 2.13, base spatial attention [16, 12, 256, 64], cap 50): eager 1.9 s,
    compiled flex 0.8 s per call, but compiling flex costs 40-75 s per new shape (and
    dynamo recompiles per batch/frame count/padding pattern, falling back to the slow
    unfused flex after 8 shapes), so "auto" keeps the exact eager path on CPU; ask for
    ``"flex"`` explicitly for long fixed-shape CPU runs.

The fused paths replace masked logits by ``-1e30`` instead of ``-0.7 * float32_max``:
fused kernels may rescale scores internally (e.g. by ``log2(e)`` for ``exp2``), which
would overflow the official constant to ``-inf`` and turn fully masked rows into NaN.
Both constants give the same probabilities: with at least one valid key the masked terms underflow to
exactly 0, and in a fully masked row all logits are equal, so the row is uniform.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .configs import ATTENTION_IMPLS

# Official replacement value for masked logits (``py_utils.get_large_negative_number``).
MASK_VALUE = -0.7 * float(torch.finfo(torch.float32).max)
# Value used by the fused kernels (see module docstring).
FUSED_MASK_VALUE = -1e30
LN_EPS = 1e-6

# Set to False to run flex_attention's unfused reference implementation outside
# torch.compile (checks score_mod semantics without compiling; used by fast tests).
FLEX_COMPILE = os.environ.get("VPBEHAVIOR_FLEX_COMPILE", "1") != "0"
_compiled_flex: Callable | None = None


def _flex_attention() -> Callable:
    """Return flex_attention, compiled unless we are already inside torch.compile."""
    global _compiled_flex
    from torch.nn.attention.flex_attention import flex_attention

    if torch.compiler.is_compiling() or not FLEX_COMPILE:
        return flex_attention
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention, dynamic=False)
    return _compiled_flex


def layer_norm(dim: int) -> nn.LayerNorm:
    """LayerNorm with the official epsilon.

    The Flax gain is stored as an offset (``1 + scale``); the converter stores the
    effective gain in ``weight``, so this is a plain :class:`torch.nn.LayerNorm`.
    """
    return nn.LayerNorm(dim, eps=LN_EPS)


def build_attention_mask(
    batch: int,
    q_len: int,
    kv_len: int,
    key_valid: torch.Tensor | None = None,
    query_valid: torch.Tensor | None = None,
    causal: bool = False,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """Boolean mask ``[B, 1, Tq, Tk]`` (True = attend) or None when nothing is masked."""
    mask = None
    if key_valid is not None:
        mask = key_valid[:, None, None, :].expand(batch, 1, q_len, kv_len)
    if query_valid is not None:
        qm = query_valid[:, None, :, None].expand(batch, 1, q_len, kv_len)
        mask = qm if mask is None else mask & qm
    if causal:
        c = torch.ones(q_len, kv_len, dtype=torch.bool, device=device).tril()
        c = c[None, None].expand(batch, 1, q_len, kv_len)
        mask = c if mask is None else mask & c
    return mask


def eager_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cap: float,
    mask: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference attention on ``[B, H, T, d]`` inputs (``q`` already scaled).

    Returns the output ``[B, H, Tq, d]`` and the probabilities ``[B, H, Tq, Tk]``.
    """
    logits = torch.matmul(q, k.transpose(-1, -2))
    if cap > 0:
        logits = cap * torch.tanh(logits / cap)
    logits = logits.float()
    if mask is not None:
        logits = logits.masked_fill(~mask, MASK_VALUE)
    probs = torch.softmax(logits, dim=-1).to(v.dtype)
    return torch.matmul(probs, v), probs


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Uncapped attention through ``F.scaled_dot_product_attention``."""
    attn_mask = None
    if mask is not None:
        attn_mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device)
        attn_mask = attn_mask.masked_fill(~mask, FUSED_MASK_VALUE)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=1.0)


def flex_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cap: float,
    key_valid: torch.Tensor | None,
    query_valid: torch.Tensor | None,
    causal: bool,
) -> torch.Tensor:
    """Soft-capped, masked attention through flex_attention (``q`` already scaled)."""
    has_mask = key_valid is not None or query_valid is not None or causal

    def score_mod(score, b, h, q_idx, kv_idx):
        if cap > 0:
            score = cap * torch.tanh(score / cap)
        if has_mask:
            valid = torch.ones_like(score, dtype=torch.bool)
            if key_valid is not None:
                valid = valid & key_valid[b, kv_idx]
            if query_valid is not None:
                valid = valid & query_valid[b, q_idx]
            if causal:
                valid = valid & (q_idx >= kv_idx)
            score = torch.where(valid, score, FUSED_MASK_VALUE)
        return score

    return _flex_attention()(q, k, v, score_mod=score_mod, scale=1.0)


class PerDimScale(nn.Module):
    """Learned per-dimension query scale ``1.442695041 / sqrt(d) * softplus(p)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.per_dim_scale = nn.Parameter(torch.zeros(dim))

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        scale = 1.442695041 / math.sqrt(self.dim) * F.softplus(self.per_dim_scale.float())
        return q * scale.to(q.dtype)


class Attention(nn.Module):
    """Multi-head attention with biases, optional logit soft-cap and padding masks.

    Parameters
    ----------
    dim : int
        Input and output width.
    num_heads : int
        Number of heads.
    head_dim : int, optional
        Per-head width; ``dim // num_heads`` by default.
    logit_cap : float
        Soft-cap; ``<= 0`` disables it.
    per_dim_scale : bool
        Scale queries with a learned :class:`PerDimScale` instead of ``head_dim ** -0.5``.
    attention_impl : str
        One of ``ATTENTION_IMPLS``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        head_dim: int | None = None,
        logit_cap: float = 0.0,
        per_dim_scale: bool = False,
        attention_impl: str = "auto",
    ) -> None:
        super().__init__()
        head_dim = head_dim or dim // num_heads
        inner = num_heads * head_dim
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.logit_cap = float(logit_cap)
        self.query = nn.Linear(dim, inner)
        self.key = nn.Linear(dim, inner)
        self.value = nn.Linear(dim, inner)
        self.post = nn.Linear(inner, dim)
        self.per_dim_scale = PerDimScale(head_dim) if per_dim_scale else None
        # No-op tap: forward hooks on it see the probabilities (eager path only).
        self.attn_probs = nn.Identity()
        self.attention_impl = "auto"
        self.set_attention_impl(attention_impl)

    def set_attention_impl(self, impl: str) -> None:
        """Select the attention backend (``auto``, ``eager``, ``sdpa`` or ``flex``)."""
        if impl not in ATTENTION_IMPLS:
            raise ValueError(f"attention_impl must be one of {ATTENTION_IMPLS}, got {impl!r}")
        self.attention_impl = impl

    def resolve_impl(self, device: torch.device, dtype: torch.dtype) -> str:
        """Backend actually used for a call on ``device`` with activations of ``dtype``."""
        impl = self.attention_impl
        if dtype == torch.float16:
            return "eager"  # -1e30 is not representable; keep the exact reference path.
        capped = self.logit_cap > 0
        if impl == "auto":
            if not capped:
                return "sdpa"
            return "flex" if device.type == "cuda" else "eager"
        if impl == "sdpa" and capped:
            return "eager"
        return impl

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        kv: torch.Tensor | None = None,
        key_valid: torch.Tensor | None = None,
        query_valid: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        """Attend from ``x`` ``[B, Tq, D]`` to ``kv`` (default ``x``) ``[B, Tk, D]``.

        ``key_valid`` / ``query_valid`` are boolean ``[B, Tk]`` / ``[B, Tq]`` (True = real).
        """
        kv = x if kv is None else kv
        b, tq, _ = x.shape
        tk = kv.shape[1]
        q = self.query(x).view(b, tq, self.num_heads, self.head_dim)
        if self.per_dim_scale is not None:
            q = self.per_dim_scale(q)
        else:
            q = q * self.head_dim**-0.5
        q = q.transpose(1, 2)
        k = self._heads(self.key(kv))
        v = self._heads(self.value(kv))
        impl = self.resolve_impl(q.device, q.dtype)
        if impl == "flex":
            out = flex_attention(q, k, v, self.logit_cap, key_valid, query_valid, causal)
        else:
            mask = build_attention_mask(b, tq, tk, key_valid, query_valid, causal, q.device)
            if impl == "sdpa":
                out = sdpa_attention(q, k, v, mask)
            else:
                out, probs = eager_attention(q, k, v, self.logit_cap, mask)
                self.attn_probs(probs)
        out = out.transpose(1, 2).reshape(b, tq, self.num_heads * self.head_dim)
        return self.post(out)


class DenseAct(nn.Module):
    """Dense layer followed by an activation (Flax ``ffn_layerN``)."""

    def __init__(self, d_in: int, d_out: int, activation: str = "none") -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        if self.activation == "gelu":
            return F.gelu(x)  # exact erf GELU
        if self.activation == "relu":
            return F.relu(x)
        return x


class FeedForward(nn.Module):
    """Pre-LN residual MLP; padded positions are zeroed after each dense layer."""

    def __init__(self, dim: int, hidden: int, activation: str = "gelu") -> None:
        super().__init__()
        self.layer_norm = layer_norm(dim)
        self.ffn_layer1 = DenseAct(dim, hidden, activation)
        self.ffn_layer2 = DenseAct(hidden, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """``keep`` is ``[B, T, 1]`` with 1 for real and 0 for padded positions."""
        h = self.ffn_layer1(self.layer_norm(x))
        if keep is not None:
            h = h * keep
        h = self.ffn_layer2(h)
        if keep is not None:
            h = h * keep
        return x + h


class TransformerLayer(nn.Module):
    """Pre-LN transformer block: ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_dim: int,
        logit_cap: float,
        activation: str = "gelu",
        attention_impl: str = "auto",
    ) -> None:
        super().__init__()
        self.layer_norm = layer_norm(dim)
        self.self_attention = Attention(dim, num_heads, logit_cap=logit_cap, attention_impl=attention_impl)
        self.ff_layer = FeedForward(dim, mlp_dim, activation)

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        """``valid``: boolean ``[B, T]`` (True = real token) or None."""
        query_valid = valid if (causal and valid is not None) else None
        x = x + self.self_attention(self.layer_norm(x), key_valid=valid, query_valid=query_valid, causal=causal)
        keep = None if valid is None else valid[..., None].to(x.dtype)
        return self.ff_layer(x, keep)


class Transformer(nn.Module):
    """A stack of :class:`TransformerLayer` (Flax ``transformers_stack/x_layers``)."""

    def __init__(
        self,
        num_layers: int,
        dim: int,
        num_heads: int,
        mlp_dim: int,
        logit_cap: float,
        activation: str = "gelu",
        attention_impl: str = "auto",
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerLayer(dim, num_heads, mlp_dim, logit_cap, activation, attention_impl) for _ in range(num_layers)
        )
        self.grad_checkpointing = False

    def forward(
        self,
        x: torch.Tensor,
        valid: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        for layer in self.layers:
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(layer, x, valid, causal, use_reentrant=False)
            else:
                x = layer(x, valid, causal)
        return x


def resize_table(table: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Antialiased bilinear (2-D) or linear (1-D) resize of a position table.

    ``table`` is ``[*grid, D]``; returns ``[*size, D]`` (matches ``jax.image.resize``).
    """
    grid = tuple(table.shape[:-1])
    if grid == tuple(size):
        return table
    dim = table.shape[-1]
    if len(grid) == 1:
        # 1-D resize along time: a [T, D] "image" resized to [T', D] (width unchanged).
        x = F.interpolate(
            table.float()[None, None],
            size=(size[0], dim),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        return x[0, 0].to(table.dtype)
    x = table.float().movedim(-1, 0)[None]  # [1, D, *grid]
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x[0].movedim(0, -1).reshape(*size, dim).to(table.dtype)
