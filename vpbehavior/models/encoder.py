"""The factorized VideoPrism video encoder (spatial ViT per frame, then temporal)."""

from __future__ import annotations

import torch
from torch import nn

from .configs import VideoPrismConfig
from .layers import DenseAct, Transformer, layer_norm, resize_table


class PositionEmbedding(nn.Module):
    """Learned position table ``emb_var [*grid, D]`` flattened to ``[prod(grid), D]``.

    ``forward(size)`` returns the table resized (antialiased) to ``size``, shape
    ``[1, prod(size), D]``.
    """

    def __init__(self, grid: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.grid = tuple(grid)
        n = 1
        for g in self.grid:
            n *= g
        self.emb_var = nn.Parameter(torch.empty(n, dim))
        nn.init.trunc_normal_(self.emb_var, std=0.02)

    def forward(self, size: tuple[int, ...]) -> torch.Tensor:
        dim = self.emb_var.shape[-1]
        table = self.emb_var.reshape(*self.grid, dim)
        table = resize_table(table, tuple(size))
        return table.reshape(1, -1, dim)


def patchify(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """``[BT, H, W, C]`` -> ``[BT, N, P*P*C]`` with row-major patches and
    (row-in-patch, col-in-patch, channel) inner order."""
    bt, h, w, c = frames.shape
    gh, gw = h // patch, w // patch
    x = frames.reshape(bt, gh, patch, gw, patch, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(bt, gh * gw, patch * patch * c)


def vision_transformer(config: VideoPrismConfig, num_layers: int, attention_impl: str) -> Transformer:
    """A stack of the vision tower's pre-LN GELU blocks (spatial, temporal and LvT auxiliary)."""
    c = config
    return Transformer(num_layers, c.model_dim, c.num_heads, c.mlp_dim, c.atten_logit_cap, "gelu", attention_impl)


class FactorizedEncoder(nn.Module):
    """VideoPrism vision tower (official ``FactorizedEncoder``).

    Submodule names mirror the Flax module tree: ``patch_projection``,
    ``spatial_pos_emb``, ``spatial_encoder``, ``spatial_ln``, ``temporal_pos_emb``,
    ``temporal_encoder``, ``temporal_ln``.
    """

    def __init__(self, config: VideoPrismConfig, attention_impl: str | None = None) -> None:
        super().__init__()
        impl = attention_impl or config.attention_impl
        c = config
        self.config = c
        self.patch_size = c.patch_size
        self.model_dim = c.model_dim
        t0, h0, w0 = c.pos_emb_shape
        self.patch_projection = DenseAct(c.patch_size * c.patch_size * 3, c.model_dim)
        self.spatial_pos_emb = PositionEmbedding((h0, w0), c.model_dim)
        self.spatial_encoder = vision_transformer(c, c.num_spatial_layers, impl)
        self.spatial_ln = layer_norm(c.model_dim)
        self.temporal_pos_emb = PositionEmbedding((t0,), c.model_dim)
        self.temporal_encoder = vision_transformer(c, c.num_temporal_layers, impl)
        self.temporal_ln = layer_norm(c.model_dim)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid for an input of ``height x width`` pixels (validated)."""
        if height != width:
            raise ValueError(f"VideoPrism needs square frames, got {height}x{width}")
        if height % self.patch_size:
            raise ValueError(f"frame size {height} is not a multiple of the patch size {self.patch_size}")
        return height // self.patch_size, width // self.patch_size

    def forward(
        self,
        video: torch.Tensor,
        frame_paddings: torch.Tensor | None = None,
        token_indices: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``video [B, T, H, W, 3]`` (values in [0, 1]).

        Parameters
        ----------
        video : Tensor
            ``[B, T, H, W, 3]`` float.
        frame_paddings : Tensor, optional
            ``[B, T]``, 1 for padded frames.
        token_indices : Tensor, optional
            Spatial positions to keep (same set in every frame): ``[N_vis]`` shared by the
            batch or ``[B, N_vis]`` per clip. Indices are row-major patch indices; position
            embeddings are added before the gather.

        Returns
        -------
        embeddings, spatial_features : Tensor
            Both ``[B, T * N, D]`` with token index ``t * N + n``.
        """
        if video.ndim != 5 or video.shape[-1] != 3:
            raise ValueError(f"video must be [B, T, H, W, 3], got {tuple(video.shape)}")
        b, t, h, w, _ = video.shape
        gh, gw = self.grid_size(h, w)
        dtype = self.patch_projection.linear.weight.dtype
        if not torch.is_autocast_enabled(video.device.type):
            video = video.to(dtype)
        x = self.patch_projection(patchify(video.reshape(b * t, h, w, 3), self.patch_size))
        x = x + self.spatial_pos_emb((gh, gw)).to(x.dtype)
        n = gh * gw
        if token_indices is not None:
            idx = token_indices.to(device=x.device, dtype=torch.long)
            if idx.ndim == 1:
                x = x[:, idx]
            elif idx.ndim == 2 and idx.shape[0] == b:
                idx = idx.repeat_interleave(t, dim=0)  # row b*T + t uses clip b
                x = torch.gather(x, 1, idx[..., None].expand(-1, -1, x.shape[-1]))
            else:
                raise ValueError(f"token_indices must be [N] or [B, N], got {tuple(token_indices.shape)}")
            n = x.shape[1]
        d = x.shape[-1]

        valid_frames = None
        spatial_valid = None
        if frame_paddings is not None:
            if frame_paddings.shape != (b, t):
                raise ValueError(f"frame_paddings must be [B, T] = {(b, t)}, got {tuple(frame_paddings.shape)}")
            valid_frames = frame_paddings.to(x.device) < 0.5  # [B, T]
            spatial_valid = valid_frames.reshape(b * t, 1).expand(b * t, n)

        x = self.spatial_encoder(x, spatial_valid)
        x = self.spatial_ln(x)
        spatial_features = x.reshape(b, t * n, d)

        x = x.reshape(b, t, n, d).transpose(1, 2).reshape(b * n, t, d)
        x = x + self.temporal_pos_emb((t,)).to(x.dtype)
        temporal_valid = None
        if valid_frames is not None:
            temporal_valid = valid_frames[:, None, :].expand(b, n, t).reshape(b * n, t)
        x = self.temporal_encoder(x, temporal_valid)
        x = self.temporal_ln(x)
        x = x.reshape(b, n, t, d).transpose(1, 2).reshape(b, t * n, d)
        return x, spatial_features
