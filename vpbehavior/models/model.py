"""User-facing VideoPrism models: the video encoder and the LvT video-text model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vpbehavior.core.errors import ConfigError, DataError, MissingFileError

from . import checkpoints as ckpt
from .configs import VideoPrismConfig, get_config
from .encoder import FactorizedEncoder, vision_transformer
from .layers import Attention, Transformer
from .lvt import AttentionPooler, TextEncoder, l2_normalize

PathLike = str | os.PathLike
ConfigLike = str | Mapping[str, Any] | VideoPrismConfig


@dataclass
class VideoPrismOutput:
    """Outputs of a forward pass.

    Attributes
    ----------
    embeddings : Tensor
        ``[B, T * N, D]`` spatiotemporal tokens (index ``t * N + n``).
    spatial_features : Tensor
        ``[B, T * N, D]`` output of the spatial stage (after ``spatial_ln``).
    video_embeddings, frame_embeddings, text_embeddings : Tensor or None
        LvT only: ``[B, D]``, ``[B, T, D]`` and ``[B_text, D]``.
    """

    embeddings: torch.Tensor | None = None
    spatial_features: torch.Tensor | None = None
    video_embeddings: torch.Tensor | None = None
    frame_embeddings: torch.Tensor | None = None
    text_embeddings: torch.Tensor | None = None


class VideoPrism(nn.Module):
    """VideoPrism video encoder.

    Parameters
    ----------
    config : str, dict or VideoPrismConfig
        Config name (see :mod:`vpbehavior.models.configs`), official config dict or object.
    attention_impl : str, optional
        ``"auto"``, ``"eager"``, ``"sdpa"`` or ``"flex"``; overrides the config.

    Use :func:`build_model`, :meth:`from_flax`, :meth:`from_pretrained` or :meth:`load` to
    get the right class (video or LvT) for a config.
    """

    def __init__(self, config: ConfigLike = "base", attention_impl: str | None = None) -> None:
        super().__init__()
        cfg = get_config(config)
        if attention_impl is not None:
            cfg = cfg.replace(attention_impl=attention_impl)
        self.config = cfg
        self.vision_encoder = FactorizedEncoder(cfg)

    # ------------------------------------------------------------------ properties
    @property
    def model_dim(self) -> int:
        return self.config.model_dim

    @property
    def patch_size(self) -> int:
        return self.config.patch_size

    @property
    def num_heads(self) -> int:
        return self.config.num_heads

    @property
    def image_size(self) -> int:
        """Native input size in pixels (288 for the released models)."""
        return self.config.image_size

    @property
    def num_frames(self) -> int:
        """Frames of the stored temporal table (any T works through interpolation)."""
        return self.config.num_frames

    # ------------------------------------------------------------------ switches
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute transformer layers in backward (saves activation memory)."""
        for m in self.modules():
            if isinstance(m, Transformer):
                m.grad_checkpointing = enable

    def set_attention_impl(self, impl: str) -> None:
        """Switch every attention layer to ``impl`` (``auto``/``eager``/``sdpa``/``flex``)."""
        for m in self.modules():
            if isinstance(m, Attention):
                m.set_attention_impl(impl)
        self.config = self.config.replace(attention_impl=impl)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        video: torch.Tensor,
        frame_paddings: torch.Tensor | None = None,
        token_indices: torch.Tensor | None = None,
    ) -> VideoPrismOutput:
        """Encode ``video [B, T, H, W, 3]`` in [0, 1].

        ``frame_paddings [B, T]`` marks padded frames with 1; ``token_indices`` keeps a
        subset of spatial positions (see :meth:`FactorizedEncoder.forward`).
        """
        emb, spatial = self.vision_encoder(video, frame_paddings, token_indices)
        return VideoPrismOutput(embeddings=emb, spatial_features=spatial)

    def forward_features(self, video: torch.Tensor, frame_paddings: torch.Tensor | None = None) -> torch.Tensor:
        """Spatiotemporal tokens ``[B, T * N, D]`` only."""
        return self.vision_encoder(video, frame_paddings)[0]

    # ------------------------------------------------------------------ construction
    @staticmethod
    def model_class(config: ConfigLike) -> type[VideoPrism]:
        """The class that implements ``config`` (video or LvT)."""
        return VideoPrismLvT if get_config(config).is_lvt else VideoPrism

    @classmethod
    def from_flax(
        cls,
        npz_path_or_dict: PathLike | Mapping[str, Any],
        config: ConfigLike | None = None,
        *,
        attention_impl: str | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> VideoPrism:
        """Build a model from an official Flax checkpoint (npz path or name->array dict).

        ``config`` defaults to the config inferred from the parameter shapes. A damaged file
        or arrays that do not fit the config raise `DataError` naming the file and array.
        """
        if isinstance(npz_path_or_dict, Mapping):
            params, path = npz_path_or_dict, None
        else:
            path = Path(npz_path_or_dict)
            params = ckpt.load_npz(path)
        if config is None:
            try:
                cfg = ckpt.infer_config(params)
            except DataError as err:
                if path is None:
                    raise
                raise DataError(str(err), path, err.field) from None
        else:
            cfg = get_config(config)
        arrays = ckpt.convert_flax_params(params, cfg, path=path)
        state = ckpt.to_state_dict(arrays, dtype)
        return cls._from_state_dict(state, cfg, attention_impl, device, path=path)

    @classmethod
    def _from_state_dict(
        cls,
        state: Mapping[str, torch.Tensor],
        cfg: VideoPrismConfig,
        attention_impl: str | None,
        device: str | torch.device = "cpu",
        path: Path | None = None,
    ) -> VideoPrism:
        klass = VideoPrism.model_class(cfg)
        with torch.device("meta"):
            model = klass(cfg, attention_impl=attention_impl)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        ckpt.check_state_dict(state, expected, cfg.name, path)
        model.load_state_dict(dict(state), strict=True, assign=True)
        return model.to(device).eval()

    @classmethod
    def from_pretrained(
        cls,
        name_or_repo_or_path: PathLike,
        config: ConfigLike | None = None,
        *,
        filename: str | None = None,
        revision: str | None = None,
        cache_dir: PathLike | None = None,
        local_files_only: bool = False,
        attention_impl: str | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> VideoPrism:
        """Load released or saved weights.

        ``name_or_repo_or_path`` may be a local ``.npz`` (official), ``.safetensors`` /
        ``.pt`` (ours) or a folder holding one of them; a released name
        (``videoprism_public_v1_base``, ``videoprism_lvt_public_v1_large``, ``base``, ...);
        or a hub repo id (``google/videoprism-base-f16r288``; other repos need
        ``filename``). Hub files are fetched with ``huggingface_hub`` (its cache and
        offline mode apply).

        Every user mistake is a one-line `VpbehaviorError`: a path (a ``Path``, or a string
        with a path separator or weights suffix) that does not exist is a `MissingFileError`;
        an unknown name, or a hub that cannot be reached for a file not in the cache, is a
        `ConfigError` (the latter says which file to download and how to pass it); a damaged,
        pickle-bearing or mismatching file is a `DataError` naming the file.
        """
        spec = name_or_repo_or_path
        path = Path(spec).expanduser()
        if path.exists():
            return cls._from_local(path, config, attention_impl, dtype, device)
        name = os.fspath(spec)
        if not isinstance(spec, str) or ckpt.looks_like_path(name):
            hint = "" if path.is_absolute() else f" (looked for {path.absolute()})"
            raise MissingFileError(f"{name}: weights file not found{hint}", path)
        repo, filename, released_cfg = ckpt.resolve_hub_spec(name, filename)
        if config is None:
            config = released_cfg
        local = ckpt.hub_download(
            repo,
            filename,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
        )
        return cls._from_local(local, config, attention_impl, dtype, device)

    @classmethod
    def _from_local(
        cls,
        path: Path,
        config: ConfigLike | None,
        attention_impl: str | None,
        dtype: torch.dtype,
        device: str | torch.device,
    ) -> VideoPrism:
        if path.is_dir():
            found = [p for ext in ("safetensors", "pt", "pth", "ckpt", "npz") for p in sorted(path.glob(f"*.{ext}"))]
            if not found:
                raise MissingFileError(
                    f"{path}: no weights file in this folder (expected one .safetensors, .pt, .pth, .ckpt or .npz)",
                    path,
                )
            if len(found) > 1:
                names = ", ".join(p.name for p in found[:6]) + (", ..." if len(found) > 6 else "")
                raise ConfigError(f"{path}: several weights files in this folder ({names}); pass the one to use")
            path = found[0]
        if path.suffix.lower() == ".npz":
            return cls.from_flax(path, config, attention_impl=attention_impl, dtype=dtype, device=device)
        model = cls.load(path, attention_impl=attention_impl, device=device)
        return model.to(dtype)

    @classmethod
    def load(
        cls,
        path: PathLike,
        *,
        attention_impl: str | None = None,
        device: str | torch.device = "cpu",
    ) -> VideoPrism:
        """Load a file written by :meth:`save` (safetensors, or ``.pt`` weights-only).

        A missing file raises `MissingFileError`; a damaged, foreign, pickle-bearing or
        mismatching one raises `DataError` naming the file (and the first bad parameter).
        """
        state, cfg = ckpt.load_checkpoint(path)
        return cls._from_state_dict(state, cfg, attention_impl, device, path=Path(path))

    def save(self, path: PathLike) -> Path:
        """Save weights and config (safetensors; ``.pt``/``.pth`` use torch.save)."""
        return ckpt.save_checkpoint(self.state_dict(), self.config, path)


class VideoPrismLvT(VideoPrism):
    """VideoPrism video-text model (official ``FactorizedVideoCLIP``)."""

    def __init__(self, config: ConfigLike = "lvt_base", attention_impl: str | None = None):
        super().__init__(config, attention_impl)
        c = self.config
        if not c.is_lvt:
            raise ValueError(f"config {c.name!r} has no text tower (vocabulary_size == 0)")
        impl = c.attention_impl
        self.auxiliary_encoder = vision_transformer(c, c.num_auxiliary_layers, impl)
        self.contrastive_vision_pooler = AttentionPooler(c.model_dim, c.num_heads, 4 * c.model_dim, impl)
        self.text_encoder = TextEncoder(
            c.vocabulary_size,
            c.model_dim,
            c.num_heads,
            c.num_unimodal_layers,
            c.atten_logit_cap,
            c.enable_causal_atten,
            impl,
        )

    def pool_tokens(
        self, tokens: torch.Tensor, num_frames: int, normalize: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip and per-frame embeddings from vision-tower tokens ``[B, T * N, D]``."""
        b, tn, d = tokens.shape
        x = self.auxiliary_encoder(tokens)
        video = self.contrastive_vision_pooler(x)[:, 0]
        frames = self.contrastive_vision_pooler(x.reshape(b * num_frames, tn // num_frames, d))
        frames = frames.reshape(b, num_frames, d)
        if normalize:
            video, frames = l2_normalize(video), l2_normalize(frames)
        return video, frames

    def encode_video(
        self,
        video: torch.Tensor,
        frame_paddings: torch.Tensor | None = None,
        normalize: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``video [B, T, H, W, 3]`` -> ``(video_embeddings [B, D], frame_embeddings [B, T, D])``.

        The auxiliary layers and the pooler ignore ``frame_paddings`` (as in the official
        model); the paddings only reach the vision tower.
        """
        tokens, _ = self.vision_encoder(video, frame_paddings)
        return self.pool_tokens(tokens, video.shape[1], normalize)

    def encode_text(
        self,
        token_ids: torch.Tensor | np.ndarray,
        paddings: torch.Tensor | np.ndarray | None = None,
        normalize: bool = True,
    ) -> torch.Tensor:
        """``token_ids [B, L]`` with ``paddings [B, L]`` (1 = pad) -> ``[B, D]``."""
        device = self.text_encoder.cls_emb.device
        ids = torch.as_tensor(token_ids, device=device).long()
        pads = None if paddings is None else torch.as_tensor(paddings, device=device)
        emb = self.text_encoder(ids, pads)
        return l2_normalize(emb) if normalize else emb

    def forward(
        self,
        video: torch.Tensor | None = None,
        token_ids: torch.Tensor | None = None,
        paddings: torch.Tensor | None = None,
        frame_paddings: torch.Tensor | None = None,
        normalize: bool = True,
        token_indices: torch.Tensor | None = None,
    ) -> VideoPrismOutput:
        """Video and/or text branch; video outputs include the vision-tower tokens."""
        out = VideoPrismOutput()
        if video is not None:
            emb, spatial = self.vision_encoder(video, frame_paddings, token_indices)
            out.embeddings, out.spatial_features = emb, spatial
            out.video_embeddings, out.frame_embeddings = self.pool_tokens(emb, video.shape[1], normalize)
        if token_ids is not None:
            out.text_embeddings = self.encode_text(token_ids, paddings, normalize)
        return out


def build_model(config: ConfigLike, *, attention_impl: str | None = None, seed: int | None = None) -> VideoPrism:
    """Randomly initialised model (video or LvT, as the config says); ``seed`` leaves torch's global RNG as it was."""
    if seed is None:
        return VideoPrism.model_class(config)(config, attention_impl=attention_impl)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VideoPrism.model_class(config)(config, attention_impl=attention_impl)
