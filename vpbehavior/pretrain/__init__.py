"""Pretraining and fine-tuning the VideoPrism encoder on a lab's own footage.

    import vpbehavior as vpb

    # the common lab path: stage 2 alone, the released model as teacher and starting point
    result = vpb.pretrain("stage2", data=["rig_videos/"], out="adapted", steps=2000)
    encoder = vpb.load_encoder(result.outputs[0])          # like any encoder; provenance in its header

    vpb.pretrain("stage1", data=["labelled/"], tokenizer="c4_en.model")   # video-text contrastive
    vpb.finetune(data=["labelled/"], weights="adapted/stage2_encoder.safetensors")

Stages (the configs' help says which values come from the paper and which are our choices):

- `stage1` (`Stage1Config`, `stage1.ContrastiveTask`): symmetric InfoNCE between pooled video
  and text embeddings, learnable temperature, FLIP-style tube masking;
- `stage2` (`Stage2Config`, `stage2.DistillationTask`): masked distillation from a frozen
  teacher, global and token-wise, with token shuffling;
- `finetune` (`FinetuneConfig`, `finetuning.FinetuneTask`): encoder + head on labelled clips.

Modules: `config` (torch-free), `data` (sources, captions, clips, order), `masking`, `heads`
(decoders, classifier head), `task` (task interface, FLOPs), `stage1`, `stage2`, `finetuning`
(the three tasks), `trainer` (DDP / FSDP, AMP, checkpoints, exact resume, metrics), `weights`
(start models, outputs with provenance), `run` (config -> model, data, trainer).

``vpbehavior.pretrain`` is both this package and a function: calling the module runs `pretrain`.
"""

from __future__ import annotations

from vpbehavior._modules import call_through

from .config import CONFIG_CLASSES, FinetuneConfig, PretrainConfig, Stage1Config, Stage2Config, make_config


def _config(stage: str, config, overrides: dict):
    cls = CONFIG_CLASSES.get(stage)
    if cls is None:
        from vpbehavior.core.errors import ConfigError

        raise ConfigError(f"unknown stage {stage!r}; one of {', '.join(CONFIG_CLASSES)}")
    if config is None:
        return make_config(cls, overrides)
    if isinstance(config, dict):
        return make_config(cls, {**config, **overrides})
    if not isinstance(config, cls):
        raise TypeError(f"{stage} takes a {cls.__name__}, not {type(config).__name__}")
    return config.replace(**overrides) if overrides else config


def pretrain(stage: str, data=None, config=None, *, progress=False, on_step=None, **overrides):
    """Run pretraining ``stage`` ("stage1" or "stage2"; "finetune" works too) and return a `TrainResult`.

    ``data``: folders, video files, a `Dataset` or `Recording`\\ s (default: ``config.data``);
    ``config``: a `Stage1Config` / `Stage2Config` or a dict of its fields; ``overrides``: fields
    to change (``out=``, ``steps=`` ...). ``progress`` is the usual hook; ``on_step(step, task)``
    is called after every optimizer step.
    """
    from .run import run

    return run(_config(stage, config, overrides), data, progress=progress, on_step=on_step)


def finetune(data=None, config=None, *, progress=False, on_step=None, **overrides):
    """Fine-tune an encoder and a head end to end on labelled clips; returns a `TrainResult`.

    The encoder it writes (``finetuned_encoder.safetensors``) loads wherever encoder weights are
    accepted. Arguments as for `pretrain`, with a `FinetuneConfig`.
    """
    from .run import run

    return run(_config("finetune", config, overrides), data, progress=progress, on_step=on_step)


def read_provenance(path):
    """How a weights file written by pretraining or fine-tuning was made (``{}`` for other files)."""
    from .weights import read_provenance as _read

    return _read(path)


call_through(__name__, pretrain)  # ``vpbehavior.pretrain(...)`` stays the function once this package is imported

__all__ = [
    "FinetuneConfig",
    "PretrainConfig",
    "Stage1Config",
    "Stage2Config",
    "finetune",
    "pretrain",
    "read_provenance",
]
