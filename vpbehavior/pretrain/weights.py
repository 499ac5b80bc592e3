"""Models in and out of training: the starting weights, and outputs with their provenance.

Every output is a ``.safetensors`` file in the parameter naming `vpbehavior.models.checkpoints`
reads (``vision_encoder.*`` for a video encoder, the LvT names for a video-text model) with the
model config under ``vpbehavior_config``, so it loads wherever encoder weights are accepted
(``vpbehavior.load_encoder(path)``, ``--weights path``, ``VideoPrism.from_pretrained(path)``).
How it was made is in the header under ``vpbehavior_provenance`` (`read_provenance`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vpbehavior.core.errors import ConfigError, DataError, MissingFileError
from vpbehavior.models import VideoPrism, VideoPrismConfig, build_model, get_config
from vpbehavior.models.checkpoints import FORMAT_KEY

PROVENANCE_KEY = "vpbehavior_provenance"


def resolve_config(spec: str) -> VideoPrismConfig:
    """A config by registered name, or from a JSON file (our ``to_dict`` or an official config)."""
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise MissingFileError(f"{path}: model config file not found", path)
        try:
            return VideoPrismConfig.from_dict(json.loads(path.read_text()))
        except ValueError as err:
            raise DataError(f"not a VideoPrism config: {err}", path) from None
    return get_config(spec)


#: Pixel statistics the from-scratch patch projection is initialized for (see `center_patch_projection`).
PIXEL_MEAN, PIXEL_STD = 0.5, 0.25


@torch.no_grad()
def center_patch_projection(model: VideoPrism, mean: float = PIXEL_MEAN, std: float = PIXEL_STD) -> VideoPrism:
    """Initialize a from-scratch model's patch projection for raw ``[0, 1]`` pixels (our choice).

    VideoPrism feeds pixels in [0, 1] without mean/std normalization (the released weights
    expect exactly that). A randomly initialized projection then passes on mostly the frames'
    mean brightness, every clip maps to nearly the same embedding (cosine ~0.998 between
    different synthetic clips) and contrastive training barely starts. Scaling the kernel by
    ``1 / std`` and setting the bias to ``-mean * sum(kernel)`` makes the first layer see
    centred, unit-scale inputs, as if the pixels were normalized, while the model and its input
    convention stay the official ones.
    """
    linear = model.vision_encoder.patch_projection.linear
    linear.weight.mul_(1.0 / std)
    linear.bias.copy_(-mean * linear.weight.sum(1))
    return model


def load_model(weights: str, seed: int = 0, attention: str = "auto") -> tuple[VideoPrism, str]:
    """``(model, origin)`` for ``weights``: ``random:<config name or .json>`` (a from-scratch model,
    `center_patch_projection` applied) or anything `VideoPrism.from_pretrained` reads (a file, a
    released name, a hub repo)."""
    weights = str(weights)
    impl = None if attention == "auto" else attention
    if weights.startswith("random:"):
        spec = weights.removeprefix("random:")
        model = center_patch_projection(build_model(resolve_config(spec), attention_impl=impl, seed=seed))
        return model, f"random:{spec}:seed{seed}"
    model = VideoPrism.from_pretrained(weights, attention_impl=impl)
    origin = str(Path(weights).resolve()) if Path(weights).exists() else weights
    return model, origin


def video_config(config: VideoPrismConfig, name: str) -> VideoPrismConfig:
    """The plain video-encoder config of ``config`` (an LvT's vision tower)."""
    return config.replace(
        num_auxiliary_layers=0, vocabulary_size=0, num_unimodal_layers=0, name=name, hf_repo=None, hf_filename=None
    )


def with_text_tower(model: VideoPrism, vocabulary_size: int | None = None, seed: int = 0) -> VideoPrism:
    """An LvT model around ``model``'s vision tower: the model itself when it has text, else a new
    (randomly initialized) text tower, auxiliary layers and pooler the size of the released ones
    (12 text layers at base and large; the tiny configs' 2)."""
    cfg = model.config
    if cfg.is_lvt:
        return model
    small = cfg.model_dim < 256
    lvt_cfg = cfg.replace(
        num_auxiliary_layers=2,
        vocabulary_size=int(vocabulary_size or (64 if small else 32000)),
        num_unimodal_layers=2 if small else 12,
        name=f"{cfg.name}+text",
        hf_repo=None,
        hf_filename=None,
    )
    lvt = build_model(lvt_cfg, seed=seed)
    lvt.vision_encoder.load_state_dict(model.vision_encoder.state_dict())
    return lvt


def save_weights(
    path: str | os.PathLike,
    state_dict: Mapping[str, torch.Tensor],
    config: VideoPrismConfig,
    provenance: Mapping[str, Any] | None = None,
    check: bool = True,
) -> Path:
    """Write ``state_dict`` + ``config`` (+ provenance) as safetensors, atomically.

    ``check``: the names and shapes must be exactly those of ``config``'s model (so the file
    loads with ``VideoPrism.load`` / ``load_encoder``).
    """
    from safetensors.torch import save_file

    from vpbehavior._files import atomic_output

    path = Path(path)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state_dict.items()}
    if check:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in VideoPrism.model_class(config)(config).state_dict().items()}
        got = {k: tuple(v.shape) for k, v in tensors.items()}
        if got != expected:
            missing = sorted(set(expected) - set(got))[:3]
            extra = sorted(set(got) - set(expected))[:3]
            raise ValueError(f"state dict does not fit config {config.name!r}: missing {missing}, unexpected {extra}")
    metadata = {"format": "pt", FORMAT_KEY: json.dumps(config.to_dict())}
    if provenance is not None:
        metadata[PROVENANCE_KEY] = json.dumps(provenance, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]) -> Path:
    """A plain safetensors file (e.g. a fine-tuning head) with JSON metadata values."""
    from safetensors.torch import save_file

    from vpbehavior._files import atomic_output

    path = Path(path)
    flat = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
    meta = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in metadata.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        save_file(flat, str(tmp), metadata=meta)
    return path


def read_provenance(path: str | os.PathLike) -> dict:
    """How a file written by pretraining or fine-tuning was made (``{}`` for other weights files)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: weights file not found", path)
    try:
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise DataError(f"not a readable safetensors file: {err}", path) from None
    text = meta.get(PROVENANCE_KEY)
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        raise DataError("its provenance header is not JSON", path, field=PROVENANCE_KEY) from None


def check_tokenizer(tokenizer: str | None, model: VideoPrism) -> None:
    """The tokenizer file exists and its ids fit the model's vocabulary."""
    if tokenizer is None:
        raise ConfigError(
            "stage 1 needs the text tower's SentencePiece model: pass --tokenizer path/to/spm.model "
            "(c4_en for the released LvT models)"
        )
    from vpbehavior.models.tokenizer import Tokenizer

    if not Path(tokenizer).is_file():
        raise MissingFileError(f"{tokenizer}: SentencePiece model not found", tokenizer)
    vocab = Tokenizer(tokenizer).vocab_size
    if vocab > model.config.vocabulary_size:
        raise ConfigError(
            f"the tokenizer has {vocab} pieces but the text tower only {model.config.vocabulary_size} embeddings"
        )
