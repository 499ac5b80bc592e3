"""vpbehavior.runtime: device and dtype choice, seeding, checkpoints."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from vpbehavior import runtime
from vpbehavior.core.errors import ConfigError, DataError, MissingFileError


def test_devices():
    assert runtime.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert runtime.resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="unknown device"):
        runtime.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            runtime.resolve_device("cuda:0")


def test_bf16_only_where_native(monkeypatch):
    runtime.cpu_has_native_bf16.cache_clear()
    flags = open("/proc/cpuinfo").read()
    assert runtime.cpu_has_native_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
    expected = torch.bfloat16 if runtime.cpu_has_native_bf16() else None
    assert runtime.autocast_dtype("cpu") == expected
    monkeypatch.setenv("VPBEHAVIOR_CPU_BF16", "0")
    assert runtime.autocast_dtype("cpu") is None
    with runtime.autocast("cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_rng_state_round_trip():
    runtime.seed_everything(3)
    state = runtime.rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_checkpoints_load_tensors_only(tmp_path):
    path = runtime.save_checkpoint(tmp_path / "c.pt", {"step": 3, "w": torch.ones(2), "names": ["a"]})
    loaded = runtime.load_checkpoint(path)
    assert loaded["step"] == 3 and torch.equal(loaded["w"], torch.ones(2))
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"x": object()}))
    with pytest.raises(DataError, match="evil.pt") as err:
        runtime.load_checkpoint(evil)
    assert "weights_only" not in str(err.value)
    with pytest.raises(MissingFileError):
        runtime.load_checkpoint(tmp_path / "none.pt")
