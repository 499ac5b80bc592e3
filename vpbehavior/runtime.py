"""Where and how computation runs: device, dtype and autocast, seeding, checkpoints and resume.

Shared by feature extraction, classifier training and pretraining, so each makes the same
choices. bf16 autocast is used only where the hardware runs it natively: CUDA devices with
bf16 support, and CPUs with AVX-512 BF16 or AMX. On a CPU without them bf16 is emulated and
about 7x slower than fp32 (fp16 worse), so fp32 is chosen there.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior.core.errors import ConfigError, DataError, MissingFileError


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; checks that a requested device exists."""
    import torch

    device = str(device or "auto")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but CUDA is not available (use --device cpu)")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
        return device
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("device 'mps' requested but it is not available")
        return device
    if device != "cpu":
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    return device


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX), read from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def autocast_dtype(device: str):
    """The reduced-precision dtype to autocast to on ``device``, or None for plain fp32."""
    import torch

    kind = str(device).split(":")[0]
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "cpu" and cpu_has_native_bf16() and os.environ.get("VPBEHAVIOR_CPU_BF16", "1") != "0":
        return torch.bfloat16
    return None


def autocast(device: str, enabled: bool = True):
    """A context manager running ops in `autocast_dtype(device)`, or doing nothing where fp32 is best."""
    import torch

    dtype = autocast_dtype(device) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(str(device).split(":")[0], dtype=dtype)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The state of every global random generator, for an exact resume."""
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a training checkpoint atomically (tensors, numbers, strings, lists and dicts only)."""
    import torch

    from vpbehavior._files import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`; never unpickles arbitrary objects."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: checkpoint file not found", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        if "weights_only" in first or "Unsupported global" in first:
            first = "it holds Python objects other than tensors and plain values, which are never loaded"
        raise DataError(f"not a readable vpbehavior checkpoint: {first}", path) from None
