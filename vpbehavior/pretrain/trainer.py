"""The training loop shared by stage 1, stage 2 and fine-tuning.

- **Processes**: one, or many under ``torchrun`` (``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in the
  environment): NCCL on GPUs (each process takes ``cuda:LOCAL_RANK``), gloo on CPUs. The task is
  wrapped in DDP, or with ``fsdp`` sharded per transformer layer with FSDP2 (``fully_shard``).
- **Precision**: bf16 autocast where the hardware runs it natively (`vpbehavior.runtime`),
  fp32 master weights.
- **Optimiser**: AdamW; no weight decay on norms, biases, embeddings and learned tokens; linear
  warm-up from 0, cosine decay to ``min_lr``; gradient clipping; gradient accumulation (DDP
  synchronizes only the last micro-batch); optional gradient checkpointing.
- **Checkpoints** every ``checkpoint_every`` steps and at the end, written atomically with
  `vpbehavior.runtime.save_checkpoint` to ``out/checkpoints/step_XXXXXXX.pt``: the trainable
  weights, optimizer and scheduler state, every process's RNG states and the step, which is the
  position in the data (`StepSampler`). Resuming from one ends bit-identical to a run that was
  never interrupted. Files are read back with ``torch.load(weights_only=True)``, which refuses
  numpy's RNG state tuple (it holds a numpy array and dtype objects), so RNG states are stored
  as tensors and plain numbers (`pack_rng_state`).
- **Metrics** every ``log_every`` steps to ``out/metrics.csv`` (always) and TensorBoard (when
  ``tensorboard`` is installed): loss and its parts, learning rate, gradient norm, clips/s and,
  on GPUs, MFU (analytic model FLOPs / time / peak bf16 FLOP/s of the GPUs).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from vpbehavior.core.errors import ConfigError
from vpbehavior.reporting import Progress, progress_reporter
from vpbehavior.runtime import autocast_dtype, load_checkpoint, resolve_device, save_checkpoint

from .data import ClipDataset, StepSampler, make_loader
from .task import Task, peak_flops

logger = logging.getLogger("vpbehavior")
CHECKPOINT_FORMAT = 1


# --------------------------------------------------------------------------- processes
@dataclass
class Processes:
    """Where this process stands among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    created_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def init_processes(device: str = "auto") -> Processes:
    """Join the process group torchrun describes (if any) and pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    name = resolve_device(device)
    if name.startswith("cuda") and world > 1:
        name = f"cuda:{local}"
        torch.cuda.set_device(local)
    created = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if name.startswith("cuda") else "gloo")
        created = True
    if dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    return Processes(rank, world, local, torch.device(name), created)


def _barrier(procs: Processes) -> None:
    if procs.distributed:
        dist.barrier()


# --------------------------------------------------------------------------- RNG states
def pack_rng_state() -> dict:
    """This process's RNG states as tensors and plain numbers (loadable with weights_only=True)."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def unpack_rng_state(state: dict) -> None:
    """Restore what `pack_rng_state` returned."""
    py = state["python"]
    random.setstate((int(py["version"]), tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, int(n["pos"]), int(n["has_gauss"]), float(n["cached_gaussian"])))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- schedule
def lr_factor(step: int, steps: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the peak LR at ``step``: linear warm-up from 0, then cosine down to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return step / warmup
    span = max(1, steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class _Schedule:
    """Picklable LR lambda (so LambdaLR's state dict stays plain)."""

    def __init__(self, steps: int, warmup: int, min_ratio: float) -> None:
        self.steps, self.warmup, self.min_ratio = steps, warmup, min_ratio

    def __call__(self, step: int) -> float:
        return lr_factor(step, self.steps, self.warmup, self.min_ratio)


# --------------------------------------------------------------------------- metrics
class MetricsLog:
    """``metrics.csv`` (always) and TensorBoard (when importable), written by process 0 only."""

    def __init__(self, out: Path, enabled: bool, resume_step: int = 0) -> None:
        self.path = out / "metrics.csv"
        self.enabled = enabled
        self.columns: list[str] | None = None
        self._tb = None
        if not enabled:
            return
        if self.path.is_file():  # keep the rows up to the step we resume from
            with open(self.path, newline="") as fh:
                rows = list(csv.DictReader(fh))
            if rows:
                self.columns = list(rows[0])
            keep = [r for r in rows if int(float(r["step"])) <= resume_step] if resume_step else []
            if not keep:
                self.columns = None
            from vpbehavior._files import atomic_output

            with atomic_output(self.path) as tmp, open(tmp, "w", newline="") as fh:
                if keep and self.columns:
                    writer = csv.DictWriter(fh, self.columns)
                    writer.writeheader()
                    writer.writerows(keep)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional
            SummaryWriter = None
        if SummaryWriter is not None:
            self._tb = SummaryWriter(str(out / "tensorboard"), purge_step=resume_step or None)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        if self.columns is None:
            self.columns = list(row)
            with open(self.path, "w", newline="") as fh:
                csv.DictWriter(fh, self.columns).writeheader()
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, self.columns, extrasaction="ignore").writerow(
                {k: ("" if row.get(k) is None else row.get(k)) for k in self.columns}
            )
        if self._tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and v is not None and math.isfinite(v):
                    self._tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


# --------------------------------------------------------------------------- result
@dataclass
class TrainResult:
    """What a training run did and wrote."""

    out: Path
    outputs: list[Path]
    steps: int
    resumed_from: int | None
    losses: list[float]
    metrics_file: Path
    seconds: float
    final_state: dict | None = field(default=None, repr=False)

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


# --------------------------------------------------------------------------- checkpoints
def checkpoint_dir(out: Path) -> Path:
    return Path(out) / "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    """The newest ``step_*.pt`` in ``out/checkpoints``."""
    found = sorted(checkpoint_dir(out).glob("step_*.pt"))
    return found[-1] if found else None


def _prune(out: Path, keep: int) -> None:
    found = sorted(checkpoint_dir(out).glob("step_*.pt"))
    for old in found[: max(0, len(found) - max(1, keep))]:
        old.unlink(missing_ok=True)


def _gather_rng(procs: Processes) -> list[dict]:
    state = pack_rng_state()
    if not procs.distributed:
        return [state]
    everyone: list = [None] * procs.world
    dist.all_gather_object(everyone, state)
    return everyone


# --------------------------------------------------------------------------- the loop
class Trainer:
    """Runs a `Task` on a `ClipDataset` with the settings of a `PretrainConfig` (see the module docstring)."""

    def __init__(self, task: Task, dataset: ClipDataset, config, provenance: dict | None = None) -> None:
        self.task = task
        self.dataset = dataset
        self.config = config
        self.provenance = dict(provenance or {})

    # -- set-up ------------------------------------------------------------------------
    def _amp_dtype(self, device: torch.device):
        precision = self.config.precision
        if precision == "fp32":
            return None
        if precision == "bf16":
            return torch.bfloat16
        return autocast_dtype(str(device))

    def _wrap(self, procs: Processes) -> torch.nn.Module:
        task = self.task
        if self.config.fsdp:
            from torch.distributed.fsdp import fully_shard

            if not procs.distributed:
                raise ConfigError("--fsdp needs several processes (torchrun --nproc-per-node N)")
            for unit in task.fsdp_units():
                fully_shard(unit)
            fully_shard(task)
            return task
        if procs.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [procs.device.index] if procs.device.type == "cuda" else None
            return DistributedDataParallel(task, device_ids=ids)
        return task

    def _state_dicts(self, model, optimizer) -> tuple[dict, dict]:
        """Full (unsharded) model and optimizer state; complete on process 0."""
        if self.config.fsdp:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_model_state_dict,
                get_optimizer_state_dict,
            )

            opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return get_model_state_dict(self.task, options=opts), get_optimizer_state_dict(
                self.task, optimizer, options=opts
            )
        return self.task.state_dict(), optimizer.state_dict()

    def _load_state(self, model, optimizer, state: dict) -> None:
        if self.config.fsdp:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
                set_optimizer_state_dict,
            )

            opts = StateDictOptions(full_state_dict=True, strict=False)
            set_model_state_dict(self.task, state["model"], options=opts)
            set_optimizer_state_dict(self.task, optimizer, state["optimizer"], options=opts)
            return
        missing, unexpected = self.task.load_state_dict(state["model"], strict=False)
        frozen = self.task.frozen_prefixes
        missing = [k for k in missing if not any(k.startswith(p + ".") for p in frozen)]
        if missing or unexpected:
            raise ConfigError(
                f"checkpoint does not fit this model: {len(missing)} missing, {len(unexpected)} unexpected "
                f"parameters (first: {(missing or unexpected)[0]}); was it written by another config?"
            )
        optimizer.load_state_dict(state["optimizer"])

    def _save(self, procs, model, optimizer, scheduler, step: int, out: Path) -> None:
        model_state, optim_state = self._state_dicts(model, optimizer)
        rng = _gather_rng(procs)
        if procs.main:
            state = {
                "format": CHECKPOINT_FORMAT,
                "stage": self.task.stage,
                "step": step,
                "model": self.task.trainable_state(model_state),
                "optimizer": optim_state,
                "scheduler": scheduler.state_dict(),
                "rng": rng,
                "world_size": procs.world,
                "config": json.dumps(self.config.to_dict()),
            }
            save_checkpoint(checkpoint_dir(out) / f"step_{step:07d}.pt", state)
            _prune(out, self.config.keep_checkpoints)
        _barrier(procs)

    def _resume(self, procs, model, optimizer, scheduler, out: Path) -> int | None:
        path = latest_checkpoint(out)
        if path is None:
            return None
        if not self.config.resume:
            raise ConfigError(
                f"{checkpoint_dir(out)} holds checkpoints of an earlier run; resume it (drop --no-resume), "
                "or pass another --out"
            )
        state = load_checkpoint(path)
        if state.get("stage") != self.task.stage:
            raise ConfigError(f"{path} is a {state.get('stage')} checkpoint, not {self.task.stage}; use another --out")
        saved = json.loads(state["config"])
        for key in ("batch_size", "steps", "seed", "frames", "size", "lr", "warmup_steps"):
            if saved.get(key) != getattr(self.config, key):
                raise ConfigError(
                    f"{path} was written with {key}={saved.get(key)!r}, this run has {getattr(self.config, key)!r}; "
                    "resume with the same settings, or pass another --out"
                )
        self._load_state(model, optimizer, state)
        scheduler.load_state_dict(state["scheduler"])
        rng = state["rng"]
        if len(rng) == procs.world:
            unpack_rng_state(rng[procs.rank])
        else:
            logger.warning("resuming on %d processes a run of %d: RNG states reseeded", procs.world, len(rng))
            torch.manual_seed(self.config.seed * 1000 + procs.rank)
        return int(state["step"])

    # -- the loop -----------------------------------------------------------------------
    def fit(self, progress: Progress = False, on_step: Callable[[int, Task], None] | None = None) -> TrainResult:
        cfg = self.config
        procs = init_processes(cfg.device)
        try:
            return self._fit(procs, progress, on_step)
        finally:
            if procs.created_group and dist.is_initialized():
                dist.destroy_process_group()

    def _fit(self, procs: Processes, progress: Progress, on_step) -> TrainResult:
        cfg = self.config
        out = Path(cfg.out)
        if procs.main:
            checkpoint_dir(out).mkdir(parents=True, exist_ok=True)
        _barrier(procs)
        device = procs.device
        amp = self._amp_dtype(device)
        if (cfg.batch_size // cfg.grad_accum) % procs.world:
            raise ConfigError(
                f"batch-size {cfg.batch_size} / grad-accum {cfg.grad_accum} is not divisible by {procs.world} processes"
            )
        micro = cfg.batch_size // (cfg.grad_accum * procs.world)
        task = self.task.to(device)
        task.prepare(device, amp, cfg.fsdp)
        task.set_grad_checkpointing(cfg.grad_checkpointing)
        task.train()
        model = self._wrap(procs)
        groups = task.param_groups(cfg.weight_decay)
        for g in groups:
            g["lr"] = cfg.lr * g["lr_scale"]
        optimizer = torch.optim.AdamW(
            [{k: v for k, v in g.items() if k != "names"} for g in groups], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2)
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, _Schedule(cfg.steps, cfg.warmup_steps, cfg.min_lr / cfg.lr)
        )
        torch.manual_seed(cfg.seed * 1000 + procs.rank)  # dropout; data randomness is per sample
        resumed = self._resume(procs, model, optimizer, scheduler, out)
        start = resumed or 0
        sampler = StepSampler(len(self.dataset), cfg.batch_size, cfg.seed, procs.rank, procs.world, start, cfg.steps)
        loader = make_loader(self.dataset, sampler, micro, cfg.workers, pin_memory=device.type == "cuda")
        metrics = MetricsLog(out, procs.main, start)
        params = [p for p in task.parameters() if p.requires_grad]
        peak = peak_flops(device, cfg.peak_tflops)
        flops_per_step = None
        losses: list[float] = []
        outputs: list[Path] = []
        began = time.perf_counter()
        window_start, window_steps = time.perf_counter(), 0
        bar = progress_reporter(progress if procs.main else False, task.stage, cfg.steps, "step", initial=start)
        batches = iter(loader)
        try:
            for step in range(start, cfg.steps):
                optimizer.zero_grad(set_to_none=True)
                loss_sum = torch.zeros((), device=device)
                parts_sum: dict[str, torch.Tensor] = {}
                for m in range(cfg.grad_accum):
                    batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
                    if flops_per_step is None:
                        flops_per_step = task.flops(batch) * cfg.grad_accum * procs.world
                    last = m == cfg.grad_accum - 1
                    sync = contextlib.nullcontext()
                    if not last and procs.distributed and not cfg.fsdp:
                        sync = model.no_sync()
                    elif cfg.fsdp:
                        model.set_requires_gradient_sync(last)
                    with sync:
                        with _autocast(device, amp):
                            loss, parts = model(batch)
                        (loss / cfg.grad_accum).backward()
                    loss_sum += loss.detach() / cfg.grad_accum
                    for k, v in parts.items():
                        parts_sum[k] = parts_sum.get(k, 0.0) + v.detach().float() / cfg.grad_accum
                clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
                grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
                scheduler.step()
                window_steps += 1
                done = step + 1
                if done % cfg.log_every == 0 or done == cfg.steps:
                    values = torch.stack([loss_sum.float(), *[parts_sum[k] for k in sorted(parts_sum)]])
                    if procs.distributed:
                        dist.all_reduce(values)
                        values /= procs.world
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    elapsed = time.perf_counter() - window_start
                    loss_value = float(values[0])
                    losses.append(loss_value)
                    row: dict[str, Any] = {"step": done, "loss": loss_value}
                    row.update({k: float(v) for k, v in zip(sorted(parts_sum), values[1:])})
                    row.update(
                        lr=optimizer.param_groups[0]["lr"],
                        grad_norm=float(grad_norm),
                        clips_per_s=cfg.batch_size * window_steps / max(elapsed, 1e-9),
                        mfu=None
                        if peak is None or not flops_per_step
                        else flops_per_step * window_steps / max(elapsed, 1e-9) / (peak * procs.world),
                        peak_mem_gb=torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
                        elapsed_s=time.perf_counter() - began,
                    )
                    metrics.write(row)
                    bar.update(window_steps, loss=f"{loss_value:.4f}")
                    window_start, window_steps = time.perf_counter(), 0
                if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                    self._save(procs, model, optimizer, scheduler, done, out)
                if on_step is not None:
                    on_step(done, task)
            model_state, _ = self._state_dicts(model, optimizer)
            final = None
            if procs.main:
                final = {k: v.detach().cpu().clone() for k, v in task.trainable_state(model_state).items()}
                provenance = {
                    **self.provenance,
                    "stage": task.stage,
                    "steps": cfg.steps,
                    "global_batch": cfg.batch_size,
                    "processes": procs.world,
                    "final_loss": losses[-1] if losses else None,
                    "config": cfg.to_dict(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
                outputs = task.export(out, model_state, provenance)
            _barrier(procs)
        finally:
            bar.close()
            metrics.close()
            self.dataset.close()
        return TrainResult(
            out, outputs, cfg.steps, resumed, losses, metrics.path, time.perf_counter() - began, final_state=final
        )


def _autocast(device: torch.device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
