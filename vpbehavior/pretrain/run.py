"""Build a stage's model, data and trainer from its config, and run it."""

from __future__ import annotations

from collections.abc import Callable

from vpbehavior.core.errors import ConfigError, DataError
from vpbehavior.reporting import Progress
from vpbehavior.runtime import seed_everything

from .config import FinetuneConfig, PretrainConfig, Stage1Config, Stage2Config
from .data import (
    ClipDataset,
    ClipSampling,
    MaskSpec,
    VideoSource,
    captioned_items,
    collect_sources,
    labelled_items,
    manifest_items,
    read_manifest,
    window_items,
)
from .trainer import Trainer, TrainResult
from .weights import check_tokenizer, load_model, with_text_tower


def _sampling(cfg: PretrainConfig, model, train: bool = True) -> ClipSampling:
    frames = cfg.frames or model.num_frames
    size = cfg.size or model.image_size
    if size % model.patch_size:
        raise ConfigError(f"size {size} is not a multiple of the model's patch size {model.patch_size}")
    return ClipSampling(
        frames=frames,
        frame_step=cfg.frame_step,
        size=size,
        clip_stride=cfg.clip_stride,
        min_crop=cfg.min_crop,
        crop_aspect=cfg.crop_aspect,
        hflip=cfg.hflip,
        vflip=cfg.vflip,
        train=train,
    )


def _data_summary(sources: list[VideoSource], n_items: int) -> dict:
    return {
        "videos": len(sources),
        "frames": int(sum(s.n_frames for s in sources)),
        "clips_per_epoch": n_items,
        "first_videos": [str(s.video) for s in sources[:20]],
    }


def _data(cfg: PretrainConfig, data):
    source = data if data is not None else cfg.data
    if source is None or (isinstance(source, (tuple, list)) and not source):
        raise ConfigError("no data: pass recordings, folders or videos to train on")
    return collect_sources(source, cfg.format)


def build_stage1(cfg: Stage1Config, data=None) -> Trainer:
    """Stage 1 (video-text contrastive) from its config."""
    from .stage1 import ContrastiveTask

    seed_everything(cfg.seed)
    model, origin = load_model(cfg.weights, cfg.seed, cfg.attention)
    vocab = None
    if cfg.tokenizer is not None and not model.config.is_lvt:
        from vpbehavior.models.tokenizer import Tokenizer

        vocab = Tokenizer(cfg.tokenizer).vocab_size
    model = with_text_tower(model, vocab, cfg.seed)
    check_tokenizer(cfg.tokenizer, model)
    sampling = _sampling(cfg, model)
    sources = _data(cfg, data)
    source = cfg.captions if cfg.captions != "auto" else ("manifest" if cfg.manifest else "labels")
    if source == "manifest":
        if not cfg.manifest:
            raise ConfigError("--captions manifest needs --manifest (a CSV or JSONL of video, start, end, text)")
        items = manifest_items(read_manifest(cfg.manifest), sources, sampling)
    else:
        items = captioned_items(sources, sampling, cfg.species)
        if not items:
            raise DataError("stage 1 needs captions: no clip has behavior labels; pass --manifest with captions")
    grid = (sampling.size // model.patch_size,) * 2
    mask = MaskSpec("tube", cfg.token_drop, grid) if cfg.token_drop > 0 else None
    dataset = ClipDataset(
        sources,
        items,
        sampling,
        seed=cfg.seed,
        mask=mask,
        tokenizer=cfg.tokenizer,
        text_length=model.config.max_text_length,
        species=cfg.species,
    )
    task = ContrastiveTask(model, cfg.temperature, cfg.learn_temperature)
    provenance = {"started_from": origin, "captions": source, "data": _data_summary(sources, len(items))}
    return Trainer(task, dataset, cfg, provenance)


def build_stage2(cfg: Stage2Config, data=None) -> Trainer:
    """Stage 2 (masked distillation) from its config."""
    from .stage2 import DistillationTask

    seed_everything(cfg.seed)
    teacher, origin = load_model(cfg.weights, cfg.seed, cfg.attention)
    student, student_origin = None, origin
    if cfg.student:
        student, student_origin = load_model(cfg.student, cfg.seed, cfg.attention)
    sampling = _sampling(cfg, teacher)
    sources = _data(cfg, data)
    items = window_items(sources, sampling)
    grid = (sampling.size // teacher.patch_size,) * 2
    dataset = ClipDataset(
        sources, items, sampling, seed=cfg.seed, mask=MaskSpec("block", cfg.mask_ratio, grid), shuffle=cfg.shuffle
    )
    task = DistillationTask(
        teacher,
        student,
        decoder_layers=cfg.decoder_layers,
        decoder_dim=cfg.decoder_dim,
        decoder_heads=cfg.decoder_heads,
        token_weight=cfg.token_weight,
        global_weight=cfg.global_weight,
        shuffle=cfg.shuffle,
    )
    provenance = {
        "teacher": origin,
        "started_from": student_origin,
        "global_target": "lvt pooler" if teacher.config.is_lvt else "mean token",
        "data": _data_summary(sources, len(items)),
    }
    return Trainer(task, dataset, cfg, provenance)


def _split_sources(sources: list[VideoSource], split: str) -> list[VideoSource]:
    labelled = [s for s in sources if s.recording is not None and s.recording.labels is not None]
    if split == "all":
        return labelled
    chosen = [s for s in labelled if s.recording.split == split]
    if not chosen and split == "train" and not any(s.recording.split for s in labelled):
        return labelled  # data without splits: all of it
    return chosen


def build_finetune(cfg: FinetuneConfig, data=None) -> Trainer:
    """End-to-end fine-tuning from its config."""
    from .finetuning import FinetuneTask

    seed_everything(cfg.seed)
    model, origin = load_model(cfg.weights, cfg.seed, cfg.attention)
    sampling = _sampling(cfg, model)
    sources = _split_sources(_data(cfg, data), cfg.split)
    if not sources:
        raise DataError(f"no labelled recording with a video in split {cfg.split!r} to fine-tune on")
    classes = tuple(dict.fromkeys(c for s in sources for c in s.recording.labels.classes))
    items = labelled_items(sources, sampling, classes)
    dataset = ClipDataset(sources, items, sampling, seed=cfg.seed, classes=classes)
    task = FinetuneTask(
        model,
        classes,
        head=cfg.head,
        dropout=cfg.dropout,
        encoder_lr_scale=cfg.encoder_lr_scale,
        layer_decay=cfg.layer_decay,
    )
    provenance = {"started_from": origin, "classes": list(classes), "data": _data_summary(sources, len(items))}
    return Trainer(task, dataset, cfg, provenance)


BUILDERS = {"stage1": build_stage1, "stage2": build_stage2, "finetune": build_finetune}


def run(
    config: PretrainConfig,
    data=None,
    *,
    progress: Progress = False,
    on_step: Callable | None = None,
) -> TrainResult:
    """Train the stage ``config`` describes (its class says which) and write its outputs."""
    builder = BUILDERS.get(getattr(config, "stage", None))
    if builder is None:
        raise ConfigError(f"not a stage config: {type(config).__name__}")
    return builder(config, data).fit(progress=progress, on_step=on_step)
