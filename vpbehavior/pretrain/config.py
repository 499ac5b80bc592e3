"""Configs of `vpbehavior pretrain stage1`, `vpbehavior pretrain stage2` and `vpbehavior finetune`.

Torch-free, so the command line builds its flags fast. Every field is also a flag of its command
(`vpbehavior.pipelines._flags`) and a key of the config file (JSON or YAML, `read_config_file`);
flags given on the command line win over the file, the file over the defaults.

Where the paper (Zhao et al. 2024, Sec. 2.3, App. C, Tables 10-11) gives a value it is the default
or is named in the help; the values it leaves open are our choices and say so ("our choice").
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vpbehavior._config import check_choices, config_from_dict, option
from vpbehavior.core.errors import ConfigError, DataError, MissingFileError

PRECISIONS = ("auto", "bf16", "fp32")
CAPTION_SOURCES = ("auto", "manifest", "labels")
HEADS = ("attention", "mean")
ATTENTION = ("auto", "eager", "sdpa", "flex")


@dataclass(frozen=True)
class PretrainConfig:
    """What every training command shares: data, clips, optimisation and the run."""

    data: tuple = option((), "recordings: dataset folders, lab folders of videos, video files", cli=False)
    out: str = option("pretrain_out", "output folder: checkpoints/, metrics.csv, the final weights")
    format: str = option("auto", "format of the data folders (default: detect from the files)")
    weights: str = option("videoprism_public_v1_base", "the model to start from")
    # -- clips
    frames: int = option(0, "frames per clip (0: the model's temporal table, 16 for base, 8 for large)")
    frame_step: int = option(1, "spacing of the frames inside a clip")
    size: int = option(0, "input size in pixels, a multiple of the patch (0: the model's, 288)")
    clip_stride: int = option(0, "frames between the windows sampled from a video (0: one clip span)")
    min_crop: float = option(
        0.4, "random resized crop: smallest crop area as a fraction of the frame (1: whole frame; our choice)"
    )
    crop_aspect: float = option(1.33, "random resized crop: aspect jitter, ratio drawn in [1/a, a] (our choice)")
    hflip: bool = option(True, "random horizontal flips")
    vflip: bool = option(False, "random vertical flips too (label-preserving for top-down cameras)")
    # -- optimisation
    steps: int = option(1000, "optimizer steps")
    batch_size: int = option(32, "clips per optimizer step, over all processes and accumulation steps")
    grad_accum: int = option(1, "micro-batches accumulated per optimizer step (per process)")
    lr: float = option(1e-4, "peak learning rate")
    min_lr: float = option(1e-6, "learning rate at the end of the cosine decay")
    warmup_steps: int = option(100, "linear warm-up from 0 over this many steps")
    weight_decay: float = option(0.05, "AdamW weight decay (never on norms, biases, embeddings, tokens)")
    beta1: float = option(0.9, "AdamW beta1")
    beta2: float = option(0.95, "AdamW beta2 (the paper uses Adafactor; 0.95 is the masked-modelling norm, our choice)")
    grad_clip: float = option(1.0, "clip the gradient norm to this (0: no clipping)")
    precision: str = option("auto", "bf16 autocast where the hardware runs it natively (auto), or force", PRECISIONS)
    grad_checkpointing: bool = option(False, "recompute transformer layers in backward (less memory, ~30% slower)")
    fsdp: bool = option(False, "shard parameters, gradients and optimizer state (FSDP) instead of DDP; for large")
    attention: str = option("auto", "attention kernel: auto (flex on CUDA, exact eager on CPU)", ATTENTION)
    # -- run
    checkpoint_every: int = option(500, "write a resumable checkpoint every N steps (and at the end)")
    keep_checkpoints: int = option(2, "checkpoints kept in out/checkpoints (older ones are removed)")
    resume: bool = option(True, "continue from the newest checkpoint in --out when there is one")
    log_every: int = option(10, "log metrics every N steps (metrics.csv; TensorBoard when installed)")
    workers: int = option(4, "DataLoader worker processes decoding clips (0: decode in the main process)")
    seed: int = option(0, "seed of data order, crops, masks and initialization")
    device: str = option("auto", "cpu, cuda or auto; under torchrun each process takes cuda:LOCAL_RANK")
    peak_tflops: float = option(0.0, "accelerator peak bf16 TFLOP/s for MFU (0: from the GPU name)")

    stage = "pretrain"

    def __post_init__(self) -> None:
        check_choices(self)
        if isinstance(self.data, (str, Path)):
            object.__setattr__(self, "data", (str(self.data),))
        object.__setattr__(self, "data", tuple(str(d) for d in self.data))
        positive = ("frame_step", "steps", "batch_size", "grad_accum", "checkpoint_every", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("frames", "size", "clip_stride", "warmup_steps", "workers", "keep_checkpoints"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.min_crop <= 1:
            raise ConfigError(f"min-crop must lie in (0, 1], got {self.min_crop}")
        if self.crop_aspect < 1:
            raise ConfigError(f"crop-aspect must be >= 1, got {self.crop_aspect}")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ConfigError(f"need 0 <= min-lr <= lr and lr > 0, got lr={self.lr}, min-lr={self.min_lr}")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ConfigError("grad-clip and weight-decay must be >= 0")
        if self.batch_size % self.grad_accum:
            raise ConfigError(f"batch-size {self.batch_size} is not divisible by grad-accum {self.grad_accum}")

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["data"] = list(self.data)
        return d


@dataclass(frozen=True)
class Stage1Config(PretrainConfig):
    """Stage 1: video-text contrastive training (symmetric InfoNCE, learnable temperature)."""

    weights: str = option(
        "videoprism_lvt_public_v1_base",
        "the video-text (LvT) model to start from; random:<config> trains from scratch; a plain video "
        "model gets a new text tower",
    )
    tokenizer: str | None = option(None, "SentencePiece .model of the text tower (c4_en for the released LvT)")
    manifest: str | None = option(None, "captions file (CSV or JSONL with video, start, end, text)")
    captions: str = option(
        "auto", "caption source: the manifest, text made from behavior labels, or auto (manifest if given)",
        CAPTION_SOURCES,
    )  # fmt: skip
    species: str = option("", "noun after subject names in label captions ('mouse': the resident mouse attacks ...)")
    token_drop: float = option(0.5, "FLIP-style tube masking: fraction of spatial positions dropped (paper: 0.5)")
    temperature: float = option(0.07, "initial softmax temperature (learned unless --no-learn-temperature)")
    learn_temperature: bool = option(True, "learn the temperature (logit scale capped at 100)")
    lr: float = option(1e-4, "peak learning rate (paper text: 1e-4 for B)")
    weight_decay: float = option(1e-4, "AdamW weight decay (paper: 1e-4)")

    stage = "stage1"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.token_drop < 1:
            raise ConfigError(f"token-drop must lie in [0, 1), got {self.token_drop}")
        if not 0 < self.temperature <= 1:
            raise ConfigError(f"temperature must lie in (0, 1], got {self.temperature}")


@dataclass(frozen=True)
class Stage2Config(PretrainConfig):
    """Stage 2: masked video modelling with global and token-wise distillation and token shuffling."""

    weights: str = option(
        "videoprism_lvt_public_v1_base",
        "the frozen teacher (a stage-1 output or a released model; an LvT model's pooler gives the "
        "global target, a plain video model's mean token)",
    )
    student: str | None = option(None, "weights the student starts from (default: the teacher's video encoder)")
    mask_ratio: float = option(0.65, "BEVT block masking ratio, one 2-D mask per clip (paper: 0.65)")
    shuffle: bool = option(True, "shuffle the token decoder's input (the paper's token shuffling)")
    decoder_layers: int = option(4, "transformer layers of each decoder (paper: 4)")
    decoder_dim: int = option(0, "decoder width (0: min(512, model width); paper g: 512)")
    decoder_heads: int = option(0, "decoder heads (0: width / 64, at least 1)")
    token_weight: float = option(1.0, "weight of the token-wise loss (paper: equal weights)")
    global_weight: float = option(1.0, "weight of the global loss (paper: equal weights)")
    lr: float = option(1e-4, "peak learning rate (paper: 5e-4 at batch 4096 from scratch; lower for adaptation)")

    stage = "stage2"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.mask_ratio < 1:
            raise ConfigError(f"mask-ratio must lie in (0, 1), got {self.mask_ratio}")
        if self.decoder_layers < 1 or self.decoder_dim < 0 or self.decoder_heads < 0:
            raise ConfigError("decoder-layers must be >= 1, decoder-dim and decoder-heads >= 0")
        if self.token_weight < 0 or self.global_weight < 0 or self.token_weight + self.global_weight == 0:
            raise ConfigError("token-weight and global-weight must be >= 0 and not both 0")


@dataclass(frozen=True)
class FinetuneConfig(PretrainConfig):
    """End-to-end fine-tuning: encoder and a classification head on labelled clips."""

    out: str = option("finetune_out", "output folder: checkpoints/, metrics.csv, the encoder and head")
    head: str = option("attention", "head: attention pooler + linear (the MAP probe), or mean pool + linear", HEADS)
    dropout: float = option(0.5, "dropout before the head's linear layer (App. H: 0.5)")
    lr: float = option(1e-3, "peak learning rate of the head")
    encoder_lr_scale: float = option(0.1, "the encoder's learning rate as a fraction of the head's")
    layer_decay: float = option(1.0, "layer-wise learning-rate decay of the encoder (1: none; 0.75 is common)")
    split: str = option("train", "recordings of this split (all: every labelled recording)")
    min_crop: float = option(0.6, "random resized crop: smallest crop area as a fraction of the frame")
    weight_decay: float = option(0.05, "AdamW weight decay")
    steps: int = option(500, "optimizer steps")

    stage = "finetune"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not 0 < self.encoder_lr_scale <= 10 or not 0 < self.layer_decay <= 1:
            raise ConfigError("encoder-lr-scale must lie in (0, 10] and layer-decay in (0, 1]")


CONFIG_CLASSES = {"stage1": Stage1Config, "stage2": Stage2Config, "finetune": FinetuneConfig}


def read_config_file(path: str | Path) -> dict:
    """A config file's values: JSON (``.json``) or YAML (anything else); keys may use - or _."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: config file not found", path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
    except Exception as err:  # json / yaml parse errors
        raise DataError(f"not a readable config file: {' '.join(str(err).split())[:200]}", path) from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise DataError(f"a config file holds one mapping of fields, not {type(values).__name__}", path)
    return {str(k).replace("-", "_"): v for k, v in values.items()}


def make_config(cls: type, values: dict | None = None, path: str | Path | None = None):
    """``cls`` from a dict (e.g. a config file), naming the file and key when something is wrong."""
    values = dict(values or {})
    if "data" in values and isinstance(values["data"], (str, Path)):
        values["data"] = [values["data"]]
    if "data" in values:
        values["data"] = tuple(values["data"])
    return config_from_dict(cls, values, path, what=f"{cls.stage} config")
