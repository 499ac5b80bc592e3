"""Checkpoints: official Flax ``.npz`` -> torch, hub download, our own safetensors files.

Everything that knows the official parameter names lives here. Flax keys are the variable
paths joined by ``/`` starting with ``params/``; scanned stacks keep the layer on axis 0
under ``.../x_layers/...``. Our module tree mirrors the Flax tree, so a key converts by
rule:

* ``params/`` is dropped; the plain video model lives under ``vision_encoder.``;
* ``transformers_stack/x_layers/...`` and ``unimodal_transformer/x_layers/...`` are split
  along axis 0 into ``layers.{i}.``;
* ``kernel [in, out]`` -> ``weight = kernel.T``; ``scale`` -> ``weight = 1 + scale``;
* attention ``w [D, H, hd]`` -> ``weight = w.reshape(D, H*hd).T`` (``post``: no transpose);
  ``b [H, hd]`` -> ``bias = b.reshape(-1)``; everything else keeps its name.

Untrusted files are never unpickled: ``np.load(allow_pickle=False)``, safetensors, or
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .configs import CONFIGS, HF_REPOS, RELEASED_NAMES, VideoPrismConfig, get_config

PathLike = str | os.PathLike
FORMAT_KEY = "vpbehavior_config"


# --------------------------------------------------------------------------- names/shapes
def _stack_shapes(prefix: str, layers: int, dim: int, heads: int, mlp: int) -> dict:
    hd = dim // heads
    out: dict[str, tuple[int, ...]] = {}
    for ln in ("layer_norm", "ff_layer/layer_norm"):
        out[f"{prefix}/{ln}/scale"] = (layers, dim)
        out[f"{prefix}/{ln}/bias"] = (layers, dim)
    for proj in ("query", "key", "value", "post"):
        out[f"{prefix}/self_attention/{proj}/w"] = (layers, dim, heads, hd)
    for proj in ("query", "key", "value"):
        out[f"{prefix}/self_attention/{proj}/b"] = (layers, heads, hd)
    out[f"{prefix}/self_attention/post/b"] = (layers, dim)
    out[f"{prefix}/ff_layer/ffn_layer1/linear/kernel"] = (layers, dim, mlp)
    out[f"{prefix}/ff_layer/ffn_layer1/linear/bias"] = (layers, mlp)
    out[f"{prefix}/ff_layer/ffn_layer2/linear/kernel"] = (layers, mlp, dim)
    out[f"{prefix}/ff_layer/ffn_layer2/linear/bias"] = (layers, dim)
    return out


def flax_param_shapes(config: str | Mapping | VideoPrismConfig) -> dict[str, tuple[int, ...]]:
    """Every official Flax parameter name and shape for ``config``."""
    c = get_config(config)
    d, h, p = c.model_dim, c.num_heads, c.patch_size
    t0, h0, w0 = c.pos_emb_shape
    root = "params/vision_encoder" if c.is_lvt else "params"
    out: dict[str, tuple[int, ...]] = {
        f"{root}/patch_projection/linear/kernel": (p * p * 3, d),
        f"{root}/patch_projection/linear/bias": (d,),
        f"{root}/spatial_pos_emb/emb_var": (h0 * w0, d),
        f"{root}/temporal_pos_emb/emb_var": (t0, d),
    }
    for ln in ("spatial_ln", "temporal_ln"):
        out[f"{root}/{ln}/scale"] = (d,)
        out[f"{root}/{ln}/bias"] = (d,)
    out.update(
        _stack_shapes(f"{root}/spatial_encoder/transformers_stack/x_layers", c.num_spatial_layers, d, h, c.mlp_dim)
    )
    out.update(
        _stack_shapes(f"{root}/temporal_encoder/transformers_stack/x_layers", c.num_temporal_layers, d, h, c.mlp_dim)
    )
    if not c.is_lvt:
        return out
    if c.num_auxiliary_layers:
        out.update(
            _stack_shapes(
                "params/auxiliary_encoder/transformers_stack/x_layers", c.num_auxiliary_layers, d, h, c.mlp_dim
            )
        )
    pool = "params/contrastive_vision_pooler"
    phd = 4 * d // h
    out[f"{pool}/pooling_attention_query"] = (1, d)
    for proj in ("query", "key", "value", "post"):
        out[f"{pool}/pooling_attention/{proj}/w"] = (d, h, phd)
    for proj in ("query", "key", "value"):
        out[f"{pool}/pooling_attention/{proj}/b"] = (h, phd)
    out[f"{pool}/pooling_attention/post/b"] = (d,)
    out[f"{pool}/pooling_attention/per_dim_scale/per_dim_scale"] = (phd,)
    out[f"{pool}/pooling_attention_layer_norm/scale"] = (d,)
    out[f"{pool}/pooling_attention_layer_norm/bias"] = (d,)
    out["params/text_encoder/token_emb/emb_var"] = (c.vocabulary_size, d)
    out["params/text_encoder/cls_emb"] = (1, 1, d)
    out["params/text_encoder/unimodal_ln/scale"] = (d,)
    out["params/text_encoder/unimodal_ln/bias"] = (d,)
    out.update(_stack_shapes("params/text_encoder/unimodal_transformer/x_layers", c.num_unimodal_layers, d, h, 4 * d))
    return out


def infer_config(params: Mapping[str, Any], **overrides: Any) -> VideoPrismConfig:
    """Guess the config from parameter shapes (the logit cap is assumed to be 50)."""
    lvt = "params/text_encoder/token_emb/emb_var" in params
    root = "params/vision_encoder" if lvt else "params"

    def shape(name: str) -> tuple[int, ...]:
        if name not in params:
            raise KeyError(f"checkpoint has no parameter {name!r}; is it a VideoPrism npz?")
        return tuple(params[name].shape)

    pp3, d = shape(f"{root}/patch_projection/linear/kernel")
    patch = int(round((pp3 // 3) ** 0.5))
    n = shape(f"{root}/spatial_pos_emb/emb_var")[0]
    g = int(round(n**0.5))
    t0 = shape(f"{root}/temporal_pos_emb/emb_var")[0]
    stack = f"{root}/spatial_encoder/transformers_stack/x_layers"
    ls, _, heads, _ = shape(f"{stack}/self_attention/query/w")
    mlp = shape(f"{stack}/ff_layer/ffn_layer1/linear/kernel")[-1]
    lt = shape(f"{root}/temporal_encoder/transformers_stack/x_layers/layer_norm/scale")[0]
    kwargs: dict[str, Any] = dict(
        patch_size=patch,
        pos_emb_shape=(t0, g, g),
        model_dim=d,
        num_spatial_layers=ls,
        num_temporal_layers=lt,
        num_heads=heads,
        mlp_dim=mlp,
        atten_logit_cap=50.0,
    )
    if lvt:
        aux = "params/auxiliary_encoder/transformers_stack/x_layers/layer_norm/scale"
        kwargs.update(
            num_auxiliary_layers=shape(aux)[0] if aux in params else 0,
            vocabulary_size=shape("params/text_encoder/token_emb/emb_var")[0],
            num_unimodal_layers=shape("params/text_encoder/unimodal_transformer/x_layers/layer_norm/scale")[0],
        )
    cfg = VideoPrismConfig(**kwargs)
    for key, ref in CONFIGS.items():  # recognise a released config (keeps its name/repo)
        if ref.replace(name=cfg.name, hf_repo=None, hf_filename=None) == cfg:
            cfg = CONFIGS[key]
            break
    return cfg.replace(**overrides) if overrides else cfg


# --------------------------------------------------------------------------- conversion
def _torch_names(flax_name: str, is_lvt: bool) -> tuple[str, bool]:
    """Torch module path (without the leaf) and whether the array is a scanned stack."""
    path = flax_name.split("/")
    if path[0] != "params":
        raise KeyError(f"Flax parameter names start with 'params/': {flax_name!r}")
    path = path[1:]
    if not is_lvt:
        path = ["vision_encoder", *path]
    stacked = False
    out = []
    i = 0
    while i < len(path):
        if path[i] == "transformers_stack" and i + 1 < len(path) and path[i + 1] == "x_layers":
            out.append("layers")
            stacked = True
            i += 2
            continue
        if path[i] == "x_layers":
            out.append("layers")
            stacked = True
        else:
            out.append(path[i])
        i += 1
    return ".".join(out), stacked


def _convert_leaf(module: str, leaf: str, arr: np.ndarray) -> tuple[str, np.ndarray]:
    parent = module.rsplit(".", 1)[-1]
    if leaf == "kernel":
        return f"{module}.weight", arr.T
    if leaf == "scale":
        return f"{module}.weight", (arr.astype(np.float32) + 1.0)
    if leaf == "bias":
        return f"{module}.bias", arr
    if leaf == "w":
        d = arr.shape[0]
        flat = arr.reshape(d, -1)
        return f"{module}.weight", (flat if parent == "post" else flat.T)
    if leaf == "b":
        return f"{module}.bias", arr.reshape(-1)
    return f"{module}.{leaf}" if module else leaf, arr


def convert_flax_params(params: Mapping[str, Any], config: str | Mapping | VideoPrismConfig) -> dict[str, np.ndarray]:
    """Convert official Flax arrays to our state-dict names (numpy views, no copies).

    Raises
    ------
    ValueError
        When a name is missing, unexpected, or has the wrong shape for ``config``.
    """
    cfg = get_config(config)
    expected = flax_param_shapes(cfg)
    missing = sorted(set(expected) - set(params))
    unexpected = sorted(set(params) - set(expected))
    wrong = sorted(
        f"{k}: got {tuple(params[k].shape)}, expected {expected[k]}"
        for k in set(expected) & set(params)
        if tuple(params[k].shape) != expected[k]
    )
    if missing or unexpected or wrong:
        raise ValueError(
            f"checkpoint does not match config {cfg.name!r}: missing={missing[:8]} "
            f"({len(missing)}), unexpected={unexpected[:8]} ({len(unexpected)}), "
            f"wrong shapes={wrong[:8]} ({len(wrong)})"
        )
    out: dict[str, np.ndarray] = {}
    for name in sorted(params):
        arr = params[name]
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        module_leaf, stacked = _torch_names(name, cfg.is_lvt)
        module, leaf = module_leaf.rsplit(".", 1) if "." in module_leaf else ("", module_leaf)
        if stacked:
            head, tail = module.split(".layers", 1)
            for i in range(arr.shape[0]):
                key, value = _convert_leaf(f"{head}.layers.{i}{tail}", leaf, arr[i])
                out[key] = value
        else:
            key, value = _convert_leaf(module, leaf, arr)
            out[key] = value
    return out


def load_npz(path: PathLike) -> dict[str, np.ndarray]:
    """Read an official npz checkpoint safely (no pickles)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def to_state_dict(arrays: Mapping[str, np.ndarray], dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Materialise converted numpy arrays as contiguous torch tensors."""
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(dtype) for k, v in arrays.items()}


# --------------------------------------------------------------------------- hub
def resolve_released(name: str) -> tuple[str, str, VideoPrismConfig] | None:
    """``(repo_id, filename, config)`` for a released name, short name or repo id."""
    key = RELEASED_NAMES.get(name, HF_REPOS.get(name, name))
    cfg = CONFIGS.get(key)
    if cfg is None or cfg.hf_repo is None:
        return None
    return cfg.hf_repo, cfg.hf_filename, cfg


def hub_download(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
) -> Path:
    """Download (or find in the cache) one file from the Hugging Face hub."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "loading VideoPrism weights by hub id needs `pip install huggingface_hub`; or pass a local .npz path"
        ) from err
    return Path(
        hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            local_files_only=local_files_only,
        )
    )


# --------------------------------------------------------------------------- our format
def save_checkpoint(state_dict: Mapping[str, torch.Tensor], config: VideoPrismConfig, path: PathLike) -> Path:
    """Write weights + config; ``.pt``/``.pth`` use torch.save, anything else safetensors.

    The file is written to a temporary name first and renamed, so an interrupted save
    never leaves a truncated checkpoint behind.
    """
    from vpbehavior._files import atomic_output

    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    cfg_json = json.dumps(config.to_dict())
    with atomic_output(path) as tmp:
        if path.suffix in (".pt", ".pth"):
            torch.save({"config": cfg_json, "state_dict": tensors}, tmp)
        else:
            from safetensors.torch import save_file

            save_file(tensors, str(tmp), metadata={"format": "pt", FORMAT_KEY: cfg_json})
    return path


def load_checkpoint(path: PathLike) -> tuple[dict[str, torch.Tensor], VideoPrismConfig]:
    """Read a file written by :func:`save_checkpoint` (never unpickles arbitrary code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.suffix in (".pt", ".pth"):
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or "config" not in blob or "state_dict" not in blob:
            raise ValueError(f"{path} is not a vpbehavior checkpoint (needs config+state_dict)")
        return blob["state_dict"], VideoPrismConfig.from_dict(json.loads(blob["config"]))
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if FORMAT_KEY not in meta:
        raise ValueError(f"{path} has no '{FORMAT_KEY}' metadata; not a vpbehavior checkpoint")
    return load_file(str(path)), VideoPrismConfig.from_dict(json.loads(meta[FORMAT_KEY]))
