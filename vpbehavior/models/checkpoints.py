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

Errors are the user's to fix and say so in one line (`vpbehavior.core.errors`): a missing
file is a `MissingFileError`; a damaged, truncated, foreign or pickle-bearing file, or one
whose arrays do not fit the config, is a `DataError` naming the file and the first offending
array; an unknown name and an unreachable hub are a `ConfigError` that says how to pass a
local file instead. No message ever suggests loading a file unsafely.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import struct
import sys
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vpbehavior.core.errors import ConfigError, DataError, MissingFileError

from .configs import CONFIGS, HF_REPOS, RELEASED_NAMES, VideoPrismConfig, get_config

PathLike = str | os.PathLike
FORMAT_KEY = "vpbehavior_config"
#: Suffixes read with ``torch.load(weights_only=True)``; ``.npz`` is official Flax; the rest safetensors.
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
WEIGHTS_SUFFIXES = (".npz", ".safetensors", *TORCH_SUFFIXES)
# The largest header the safetensors format (and library) accepts.
_SAFETENSORS_MAX_HEADER = 100_000_000
# Seconds to wait for the hub's first answer before saying it cannot be reached.
_HUB_PROBE_TIMEOUT = 5.0

logger = logging.getLogger("vpbehavior")


def _one_line(text: object, limit: int = 200) -> str:
    """``text`` with all whitespace runs as single spaces, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _require_file(path: Path) -> None:
    if not path.exists():
        raise MissingFileError(f"{path}: weights file not found", path)
    if not path.is_file():
        raise DataError("not a weights file (it is a folder or a special file)", path)


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
    """Guess the config from parameter shapes (the logit cap is assumed to be 50).

    Raises
    ------
    DataError
        When an array the guess needs is missing or has the wrong number of dimensions.
    """
    lvt = "params/text_encoder/token_emb/emb_var" in params
    root = "params/vision_encoder" if lvt else "params"

    def shape(name: str, ndim: int) -> tuple[int, ...]:
        if name not in params:
            raise DataError(f"not a VideoPrism checkpoint: it has no array {name!r}", field=name)
        got = tuple(np.shape(params[name]))
        if len(got) != ndim:
            raise DataError(
                f"array {name!r} has shape {got}; a VideoPrism checkpoint has {ndim} dimensions there", field=name
            )
        return got

    pp3, d = shape(f"{root}/patch_projection/linear/kernel", 2)
    patch = int(round((pp3 // 3) ** 0.5))
    n = shape(f"{root}/spatial_pos_emb/emb_var", 2)[0]
    g = int(round(n**0.5))
    t0 = shape(f"{root}/temporal_pos_emb/emb_var", 2)[0]
    stack = f"{root}/spatial_encoder/transformers_stack/x_layers"
    ls, _, heads, _ = shape(f"{stack}/self_attention/query/w", 4)
    mlp = shape(f"{stack}/ff_layer/ffn_layer1/linear/kernel", 3)[-1]
    lt = shape(f"{root}/temporal_encoder/transformers_stack/x_layers/layer_norm/scale", 2)[0]
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
            num_auxiliary_layers=shape(aux, 2)[0] if aux in params else 0,
            vocabulary_size=shape("params/text_encoder/token_emb/emb_var", 2)[0],
            num_unimodal_layers=shape("params/text_encoder/unimodal_transformer/x_layers/layer_norm/scale", 2)[0],
        )
    try:
        cfg = VideoPrismConfig(**kwargs)
    except ConfigError as err:
        raise DataError(f"array shapes do not describe a VideoPrism model: {err}") from None
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


def _first_mismatch(
    expected: Mapping[str, tuple[int, ...]], got: Mapping[str, tuple[int, ...]], what: str, path: PathLike | None
) -> None:
    """Raise a `DataError` naming the first parameter of ``got`` that does not fit ``expected``."""
    missing = [k for k in expected if k not in got]
    wrong = [k for k in expected if k in got and tuple(got[k]) != tuple(expected[k])]
    unexpected = sorted(k for k in got if k not in expected)
    if not (missing or wrong or unexpected):
        return
    if missing:
        first, problem = missing[0], "is missing"
    elif wrong:
        first = wrong[0]
        problem = f"has shape {tuple(got[first])}, expected {tuple(expected[first])}"
    else:
        first, problem = unexpected[0], "is unexpected"
    counts = f"{len(missing)} missing, {len(wrong)} wrong shapes, {len(unexpected)} unexpected"
    raise DataError(f"weights do not match {what}: parameter {first!r} {problem} ({counts})", path, field=first)


def convert_flax_params(
    params: Mapping[str, Any], config: str | Mapping | VideoPrismConfig, *, path: PathLike | None = None
) -> dict[str, np.ndarray]:
    """Convert official Flax arrays to our state-dict names (numpy views, no copies).

    ``path`` (the file the arrays came from) only goes into error messages.

    Raises
    ------
    DataError
        (a ``ValueError``) naming the first parameter that is missing, unexpected, of the
        wrong shape or not numeric for ``config``.
    """
    cfg = get_config(config)
    expected = flax_param_shapes(cfg)
    _first_mismatch(expected, {k: tuple(np.shape(v)) for k, v in params.items()}, f"config {cfg.name!r}", path)
    out: dict[str, np.ndarray] = {}
    for name in sorted(params):
        arr = params[name]
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        if arr.dtype.kind not in "fiub":
            raise DataError(f"array {name!r} has dtype {arr.dtype}, not numbers", path, field=name)
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


# numpy raises these for a damaged or truncated member of an .npz archive
_NPZ_MEMBER_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


def load_npz(path: PathLike) -> dict[str, np.ndarray]:
    """Read an official npz checkpoint safely (no pickles).

    Raises
    ------
    MissingFileError
        When there is no file at ``path``.
    DataError
        When the file is not an ``.npz`` archive (empty, truncated, another format) or an
        array in it is damaged or holds Python objects (those are never unpickled).
    """
    path = Path(path)
    _require_file(path)
    if path.stat().st_size == 0:
        raise DataError("not an .npz checkpoint: the file is empty", path)
    try:
        data = np.load(path, allow_pickle=False)
    except zipfile.BadZipFile:
        raise DataError("not a readable .npz checkpoint: the zip archive is damaged or truncated", path) from None
    except (ValueError, OSError, EOFError):
        # numpy's message for a file that is neither zip nor .npy speaks of unsafe loading
        raise DataError(
            "not an .npz checkpoint: it is neither a zip archive of arrays nor a .npy array", path
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise DataError("holds a single .npy array, not an .npz archive of named arrays", path)
    out: dict[str, np.ndarray] = {}
    with data:
        for key in data.files:
            try:
                out[key] = data[key]
            except ValueError as err:
                if "bject arrays" in str(err):
                    raise DataError(
                        f"array {key!r} holds Python objects (dtype object); only numeric arrays are read, "
                        "objects are never unpickled",
                        path,
                        field=key,
                    ) from None
                raise DataError(f"array {key!r} is damaged or truncated", path, field=key) from None
            except _NPZ_MEMBER_ERRORS:
                raise DataError(f"array {key!r} is damaged or truncated", path, field=key) from None
    return out


def to_state_dict(arrays: Mapping[str, np.ndarray], dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Materialise converted numpy arrays as contiguous torch tensors."""
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(dtype) for k, v in arrays.items()}


def check_state_dict(
    state: Mapping[str, Any],
    expected: Mapping[str, tuple[int, ...]],
    config_name: str,
    path: PathLike | None = None,
) -> None:
    """Raise a one-line `DataError` unless ``state`` holds exactly the floating-point tensors ``expected``.

    ``expected`` maps parameter names to shapes (a model's ``state_dict``); the message names
    ``path`` and the first parameter that is missing, unexpected, of the wrong shape or not a
    floating-point tensor.
    """
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise DataError(f"entry {name!r} is a {type(value).__name__}, not a tensor", path, field=name)
    _first_mismatch(expected, {k: tuple(v.shape) for k, v in state.items()}, f"config {config_name!r}", path)
    for name, value in state.items():
        if not value.is_floating_point():
            raise DataError(f"parameter {name!r} has dtype {value.dtype}, expected floating point", path, field=name)


# --------------------------------------------------------------------------- names vs paths
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+")


def looks_like_path(spec: str) -> bool:
    """True when ``spec`` can only mean a file: a weights suffix, or a path a hub id never has.

    Hub ids are ``name`` or ``org/name``; anything with a weights suffix (``.npz``,
    ``.safetensors``, ``.pt`` ...), starting with ``.``, ``/`` or ``~``, holding a backslash,
    a drive letter or more than one ``/`` is a path.
    """
    lower = spec.lower()
    if lower.endswith(WEIGHTS_SUFFIXES):
        return True
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1 or os.path.isabs(spec):
        return True
    if os.sep != "/" and os.sep in spec:
        return True
    return bool(re.match(r"[A-Za-z]:", spec))


def resolve_released(name: str) -> tuple[str, str, VideoPrismConfig] | None:
    """``(repo_id, filename, config)`` for a released name, short name or repo id."""
    key = RELEASED_NAMES.get(name, HF_REPOS.get(name, name))
    cfg = CONFIGS.get(key)
    if cfg is None or cfg.hf_repo is None:
        return None
    return cfg.hf_repo, cfg.hf_filename, cfg


def resolve_hub_spec(name: str, filename: str | None = None) -> tuple[str, str, VideoPrismConfig | None]:
    """``(repo_id, filename, config or None)`` for a released name or a hub repo id.

    Raises `ConfigError` for a config without released weights, a repo id without
    ``filename`` (other than the official repos), and a name that is none of these.
    """
    released = resolve_released(name)
    if released is not None:
        repo, fname, cfg = released
        return repo, filename or fname, cfg
    released_names = ", ".join(RELEASED_NAMES)
    if name in CONFIGS:
        raise ConfigError(
            f"config {name!r} has no released weights; pass a weights file (.npz, .safetensors, .pt) "
            f"or a released name: {released_names}"
        )
    if _REPO_ID.fullmatch(name) and ".." not in name:
        if filename is None:
            raise ConfigError(
                f"{name!r} is not an official VideoPrism repo, so the file to fetch is unknown; pass filename= "
                "(an official .npz or one of our .safetensors files), or download the file and pass its path"
            )
        return name, filename, None
    raise ConfigError(
        f"unknown weights {name!r}: no such file, and not a released VideoPrism name ({released_names}) "
        "or a hub repo id (org/name)"
    )


# --------------------------------------------------------------------------- hub
def _hub_offline() -> bool:
    """huggingface_hub's offline switch, read now (the library reads it once at import)."""
    from huggingface_hub import constants

    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or env in {"1", "ON", "YES", "TRUE"}


def _hub_endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _network_errors() -> tuple[type[BaseException], ...]:
    """Connection failures of whichever HTTP library huggingface_hub uses (requests, httpx)."""
    errors: list[type[BaseException]] = [OSError]  # requests' errors and OfflineModeIsEnabled are OSErrors
    for module in ("httpx2", "httpx"):
        transport = getattr(sys.modules.get(module), "TransportError", None)
        if isinstance(transport, type) and issubclass(transport, BaseException):
            errors.append(transport)
    return tuple(errors)


def _probe_hub(endpoint: str) -> str | None:
    """One request to the hub, no retries: None if it answered, else why not (one line).

    huggingface_hub retries a refused or timed-out connection with backoff for about half a
    minute; asking once first lets an unreachable hub fail at once. The hub's own HTTP
    session is used, so its proxy and certificate settings apply.
    """
    from huggingface_hub import get_session

    timeout = float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or _HUB_PROBE_TIMEOUT)
    try:
        get_session().head(endpoint + "/", timeout=timeout)
    except _network_errors() as err:
        return _one_line(err, 120) or type(err).__name__
    return None


def _download_hint(endpoint: str, repo_id: str, filename: str, revision: str | None) -> str:
    url = f"{endpoint}/{repo_id}/resolve/{revision or 'main'}/{filename}"
    return f"on a machine with internet download {url}, copy it here and pass its path (--weights /path/to/{filename})"


def _error_kinds(err: BaseException) -> set[str]:
    """Class names in ``err``'s hierarchy (huggingface_hub moved its exceptions between versions)."""
    return {cls.__name__ for cls in type(err).__mro__}


def _hub_error(err: BaseException, repo_id: str, filename: str, hint: str) -> ConfigError | None:
    """Our one-line error for a huggingface_hub failure, or None for anything else."""
    kinds = _error_kinds(err)
    where = f"{filename} from hub repo {repo_id}"
    if "LocalEntryNotFoundError" in kinds or "OfflineModeIsEnabled" in kinds:
        cause = err.__cause__ or err.__context__
        reason = _one_line(str(cause).splitlines()[0], 120) if cause is not None and str(cause) else ""
        why = f"the hub answered: {reason}" if reason else "the hub could not be reached"
        return ConfigError(f"cannot download {where} ({why}) and the file is not in the local hub cache; {hint}")
    if "GatedRepoError" in kinds:
        return ConfigError(f"cannot download {where}: the repo is gated; accept its terms and log in (hf auth login)")
    if "RepositoryNotFoundError" in kinds:
        return ConfigError(f"cannot download {where}: no such repo on the hub (or it is private)")
    if "RevisionNotFoundError" in kinds:
        return ConfigError(f"cannot download {where}: no such revision in the repo")
    if "EntryNotFoundError" in kinds:
        return ConfigError(f"cannot download {where}: the repo has no such file")
    if "HFValidationError" in kinds:
        return ConfigError(f"cannot download {where}: {_one_line(err)}")
    if "HfHubHTTPError" in kinds or isinstance(err, _network_errors()):
        return ConfigError(f"cannot download {where}: {_one_line(err, 160)}; {hint}")
    return None


def hub_download(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
) -> Path:
    """Download (or find in the cache) one file from the Hugging Face hub.

    Honours huggingface_hub's cache, ``HF_ENDPOINT`` and offline mode (``HF_HUB_OFFLINE=1``
    or ``local_files_only``: the cache only). An unreachable hub is noticed after one request
    (a few seconds at most, ``HF_HUB_ETAG_TIMEOUT`` when set); a cached copy is then used.

    Raises
    ------
    ConfigError
        When the file cannot be had: hub unreachable or offline and not cached (the message
        says which URL to download elsewhere and how to pass the file), no such repo,
        revision or file, gated repo, or huggingface_hub not installed.
    """
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            f"fetching {filename} from hub repo {repo_id} needs huggingface_hub (pip install huggingface_hub); "
            "or download the file and pass its path"
        ) from None
    endpoint = _hub_endpoint()
    hint = _download_hint(endpoint, repo_id, filename, revision)
    kwargs: dict[str, Any] = dict(
        repo_id=repo_id,
        filename=filename,
        revision=revision,
        cache_dir=None if cache_dir is None else str(cache_dir),
        endpoint=endpoint,
    )
    offline = local_files_only or _hub_offline()
    if not offline:
        problem = _probe_hub(endpoint)
        if problem is not None:
            try:
                cached = Path(hf_hub_download(**kwargs, local_files_only=True))
            except Exception:  # not cached (or the cache is unreadable): report the network problem
                raise ConfigError(
                    f"cannot reach the Hugging Face hub at {endpoint} ({problem}) to download {filename} "
                    f"from {repo_id}, and it is not in the local hub cache; {hint}"
                ) from None
            logger.warning("hub %s unreachable (%s); using the cached %s", endpoint, problem, cached)
            return cached
    try:
        return Path(hf_hub_download(**kwargs, local_files_only=offline))
    except Exception as err:
        if offline and _error_kinds(err) & {"LocalEntryNotFoundError", "OfflineModeIsEnabled"}:
            switch = "local_files_only=True" if local_files_only else "HF_HUB_OFFLINE is set"
            raise ConfigError(
                f"cannot load {filename} from hub repo {repo_id}: hub downloads are off ({switch}) "
                f"and the file is not in the local hub cache; {hint}"
            ) from err
        mapped = _hub_error(err, repo_id, filename, hint)
        if mapped is None:
            raise
        raise mapped from err


# --------------------------------------------------------------------------- our format
def save_checkpoint(state_dict: Mapping[str, torch.Tensor], config: VideoPrismConfig, path: PathLike) -> Path:
    """Write weights + config; ``.pt``/``.pth``/``.ckpt``/``.bin`` use torch.save, anything else safetensors.

    The file is written to a temporary name first and renamed, so an interrupted save
    never leaves a truncated checkpoint behind.
    """
    from vpbehavior._files import atomic_output

    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    cfg_json = json.dumps(config.to_dict())
    with atomic_output(path) as tmp:
        if path.suffix.lower() in TORCH_SUFFIXES:
            torch.save({"config": cfg_json, "state_dict": tensors}, tmp)
        else:
            from safetensors.torch import save_file

            save_file(tensors, str(tmp), metadata={"format": "pt", FORMAT_KEY: cfg_json})
    return path


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with torch's errors (which invite unsafe loading) replaced."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"\bGLOBAL ([\w.]+)", str(err))
        if found:
            raise DataError(
                f"refused to load: it holds a pickled Python object ({found.group(1)}), not only tensors, and "
                "unpickling it could run code; use a .safetensors or .npz file, or a .pt written by vpbehavior",
                path,
            ) from None
        raise DataError(
            "not a readable torch checkpoint: damaged, truncated, or holding pickled data other than tensors "
            "(never unpickled)",
            path,
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, struct.error, KeyError, IndexError) as err:
        text = _one_line(str(err).split(". ")[0], 120)
        reason = f" ({text})" if text and "weights_only" not in text and "pickle" not in text else ""
        raise DataError(f"not a readable torch checkpoint: damaged or truncated{reason}", path) from None


def _safetensors_header(path: Path) -> dict[str, Any]:
    """Check a safetensors file's framing and return its JSON header (`DataError` if damaged)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise DataError(f"not a safetensors file: {size} bytes is too short for its 8-byte header length", path)
        (length,) = struct.unpack("<Q", head)
        if length > _SAFETENSORS_MAX_HEADER:
            raise DataError(
                f"not a safetensors file, or damaged: its header length field claims {length} bytes, "
                f"more than the format's {_SAFETENSORS_MAX_HEADER}",
                path,
                field="header length",
            )
        if 8 + length > size:
            raise DataError(
                f"truncated or not a safetensors file: its header length field claims {length} bytes "
                f"but only {size - 8} follow",
                path,
                field="header length",
            )
        raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError
        raise DataError("not a safetensors file: its header is not JSON", path, field="header") from None
    if not isinstance(header, dict):
        raise DataError("not a safetensors file: its header is not a JSON object", path, field="header")
    data_bytes = size - 8 - length
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise DataError(f"damaged safetensors header: tensor {name!r} has no valid data_offsets", path, field=name)
        if offsets[1] > data_bytes:
            raise DataError(
                f"truncated: tensor {name!r} needs {offsets[1]} data bytes but the file holds {data_bytes}",
                path,
                field=name,
            )
    return header


def _config_from_json(text: Any, path: Path, field: str) -> VideoPrismConfig:
    try:
        d = json.loads(text)
        if not isinstance(d, Mapping):
            raise ValueError("not a JSON object")
        return VideoPrismConfig.from_dict(d)
    except (ValueError, TypeError) as err:  # JSON errors and ConfigError are ValueErrors
        raise DataError(f"the stored model config is invalid: {_one_line(err, 160)}", path, field=field) from None


def load_checkpoint(path: PathLike) -> tuple[dict[str, torch.Tensor], VideoPrismConfig]:
    """Read a file written by :func:`save_checkpoint` (never unpickles arbitrary code).

    Raises
    ------
    MissingFileError
        When there is no file at ``path``.
    DataError
        When the file is damaged, truncated, pickle-bearing, or not one of ours.
    """
    path = Path(path)
    _require_file(path)
    if path.suffix.lower() in TORCH_SUFFIXES:
        blob = _torch_load(path)
        if not isinstance(blob, dict) or "config" not in blob or "state_dict" not in blob:
            raise DataError("not a vpbehavior checkpoint (a .pt file needs 'config' and 'state_dict' entries)", path)
        state, cfg = blob["state_dict"], _config_from_json(blob["config"], path, "config")
        if not isinstance(state, Mapping):
            raise DataError("not a vpbehavior checkpoint: 'state_dict' is not a mapping of tensors", path)
        return dict(state), cfg
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = _safetensors_header(path).get("__metadata__") or {}
    if not isinstance(meta, dict) or FORMAT_KEY not in meta:
        raise DataError(f"has no {FORMAT_KEY!r} metadata; not a vpbehavior checkpoint", path, field=FORMAT_KEY)
    cfg = _config_from_json(meta[FORMAT_KEY], path, FORMAT_KEY)
    try:
        state = load_file(str(path))
    except SafetensorError as err:
        raise DataError(f"not a readable safetensors file: {_one_line(err, 160)}", path) from None
    return state, cfg
