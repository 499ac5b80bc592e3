"""Model configurations by name.

Field names follow the official Flax ``CONFIGS`` (``patch_size``, ``pos_emb_shape``,
``model_dim`` ...), so an official config dict can be passed straight to
:func:`get_config`.

Registered names: ``base``, ``large``, ``giant`` (unreleased, no weights), ``lvt_base``,
``lvt_large``, ``tiny`` and ``tiny_lvt`` (the parity-fixture configs), plus the released
names ``videoprism_public_v1_base``, ``videoprism_public_v1_large``,
``videoprism_lvt_public_v1_base`` and ``videoprism_lvt_public_v1_large``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vpbehavior.core.errors import ConfigError

ATTENTION_IMPLS = ("auto", "eager", "sdpa", "flex")
# Official keys that carry no information for the PyTorch model.
_IGNORED_KEYS = {"scan", "dtype", "fprop_dtype", "remat"}


@dataclass(frozen=True)
class VideoPrismConfig:
    """Architecture of a VideoPrism video encoder, optionally with the LvT text tower.

    A config describes an LvT (video-text) model when ``vocabulary_size > 0``. Inconsistent
    values raise `ConfigError` (a ``ValueError``).
    """

    patch_size: int
    pos_emb_shape: tuple[int, int, int]
    model_dim: int
    num_spatial_layers: int
    num_temporal_layers: int
    num_heads: int
    mlp_dim: int
    atten_logit_cap: float = 50.0
    num_auxiliary_layers: int = 0
    vocabulary_size: int = 0
    num_unimodal_layers: int = 0
    enable_causal_atten: bool = True
    norm_policy: str = "pre"
    name: str = "custom"
    max_text_length: int = 64
    attention_impl: str = "auto"
    hf_repo: str | None = None
    hf_filename: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pos_emb_shape", tuple(int(s) for s in self.pos_emb_shape))
        if len(self.pos_emb_shape) != 3:
            raise ConfigError(f"pos_emb_shape must be (T, H, W), got {self.pos_emb_shape}")
        sizes = dict(
            patch_size=self.patch_size, model_dim=self.model_dim, num_heads=self.num_heads, mlp_dim=self.mlp_dim
        )
        bad = [f"{k}={v}" for k, v in sizes.items() if v <= 0] + [f"pos_emb_shape={self.pos_emb_shape}"] * (
            min(self.pos_emb_shape) <= 0
        )
        if bad:
            raise ConfigError(f"VideoPrism config sizes must be positive, got {', '.join(bad)}")
        if self.model_dim % self.num_heads:
            raise ConfigError(f"model_dim {self.model_dim} is not divisible by num_heads {self.num_heads}")
        if self.norm_policy != "pre":
            raise ConfigError(f"only norm_policy='pre' is supported, got {self.norm_policy!r}")
        if self.attention_impl not in ATTENTION_IMPLS:
            raise ConfigError(f"attention_impl must be one of {ATTENTION_IMPLS}, got {self.attention_impl!r}")

    @property
    def is_lvt(self) -> bool:
        """True for the video-text (LvT) model."""
        return self.vocabulary_size > 0

    @property
    def head_dim(self) -> int:
        return self.model_dim // self.num_heads

    @property
    def num_frames(self) -> int:
        """Frames of the stored temporal position table."""
        return self.pos_emb_shape[0]

    @property
    def image_size(self) -> int:
        """Native square input size in pixels."""
        return self.pos_emb_shape[1] * self.patch_size

    def replace(self, **changes: Any) -> VideoPrismConfig:
        """Copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (inverse of :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        d["pos_emb_shape"] = list(self.pos_emb_shape)
        if not d["extra"]:
            d.pop("extra")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VideoPrismConfig:
        """Build from our dict or an official Flax config dict."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs, extra = {}, dict(d.get("extra", {}))
        for key, value in d.items():
            if key in names and key != "extra":
                kwargs[key] = value
            elif key not in _IGNORED_KEYS and key != "extra":
                extra[key] = value
        if extra:
            raise ConfigError(f"unknown VideoPrism config keys: {sorted(extra)}")
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs
        ]
        if missing:
            raise ConfigError(f"VideoPrism config is missing keys: {missing}")
        return cls(**kwargs)


_BASE = dict(
    patch_size=18,
    pos_emb_shape=(16, 16, 16),
    model_dim=768,
    num_spatial_layers=12,
    num_temporal_layers=4,
    num_heads=12,
    mlp_dim=3072,
    atten_logit_cap=50.0,
)
_LARGE = dict(
    patch_size=18,
    pos_emb_shape=(8, 16, 16),
    model_dim=1024,
    num_spatial_layers=24,
    num_temporal_layers=4,
    num_heads=16,
    mlp_dim=4096,
    atten_logit_cap=50.0,
)
# Paper-only giant (never released): D 1408, 40 spatial layers, 16 heads, MLP 6144.
_GIANT = dict(
    patch_size=18,
    pos_emb_shape=(16, 16, 16),
    model_dim=1408,
    num_spatial_layers=40,
    num_temporal_layers=4,
    num_heads=16,
    mlp_dim=6144,
    atten_logit_cap=50.0,
)
_TEXT = dict(num_auxiliary_layers=2, vocabulary_size=32000, num_unimodal_layers=12, enable_causal_atten=True)
_TINY = dict(
    patch_size=12,
    pos_emb_shape=(4, 3, 3),
    model_dim=32,
    num_spatial_layers=2,
    num_temporal_layers=1,
    num_heads=2,
    mlp_dim=64,
    atten_logit_cap=50.0,
)
_TINY_TEXT = dict(num_auxiliary_layers=2, vocabulary_size=64, num_unimodal_layers=2, enable_causal_atten=True)

CONFIGS: dict[str, VideoPrismConfig] = {
    "base": VideoPrismConfig(
        **_BASE,
        name="videoprism_public_v1_base",
        hf_repo="google/videoprism-base-f16r288",
        hf_filename="flax_base_f16r288_repeated.npz",
    ),
    "large": VideoPrismConfig(
        **_LARGE,
        name="videoprism_public_v1_large",
        hf_repo="google/videoprism-large-f8r288",
        hf_filename="flax_large_f8r288_repeated.npz",
    ),
    "giant": VideoPrismConfig(**_GIANT, name="giant"),
    "lvt_base": VideoPrismConfig(
        **_BASE,
        **_TEXT,
        name="videoprism_lvt_public_v1_base",
        hf_repo="google/videoprism-lvt-base-f16r288",
        hf_filename="flax_lvt_base_f16r288_repeated.npz",
    ),
    "lvt_large": VideoPrismConfig(
        **_LARGE,
        **_TEXT,
        name="videoprism_lvt_public_v1_large",
        hf_repo="google/videoprism-lvt-large-f8r288",
        hf_filename="flax_lvt_large_f8r288_repeated.npz",
    ),
    "tiny": VideoPrismConfig(**_TINY, name="tiny"),
    "tiny_lvt": VideoPrismConfig(**_TINY, **_TINY_TEXT, name="tiny_lvt"),
}
RELEASED_NAMES = {
    "videoprism_public_v1_base": "base",
    "videoprism_public_v1_large": "large",
    "videoprism_lvt_public_v1_base": "lvt_base",
    "videoprism_lvt_public_v1_large": "lvt_large",
}
HF_REPOS = {CONFIGS[k].hf_repo: k for k in RELEASED_NAMES.values()}


def list_configs() -> list[str]:
    """Registered short names."""
    return list(CONFIGS)


def get_config(config: str | Mapping[str, Any] | VideoPrismConfig, **overrides: Any) -> VideoPrismConfig:
    """Resolve a config name, released model name, HF repo id, dict or config object.

    An unknown name raises `ConfigError` listing the known names.
    """
    if isinstance(config, VideoPrismConfig):
        cfg = config
    elif isinstance(config, str):
        key = RELEASED_NAMES.get(config, HF_REPOS.get(config, config))
        if key not in CONFIGS:
            raise ConfigError(
                f"unknown VideoPrism config {config!r}; known configs: {', '.join(list_configs())}; "
                f"released names: {', '.join(RELEASED_NAMES)}"
            )
        cfg = CONFIGS[key]
    elif isinstance(config, Mapping):
        cfg = VideoPrismConfig.from_dict(config)
    else:
        raise TypeError(f"config must be a name, dict or VideoPrismConfig, got {type(config)}")
    return cfg.replace(**overrides) if overrides else cfg
