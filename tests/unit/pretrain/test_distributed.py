"""Two processes (torchrun, gloo; DDP or FSDP) train what one process trains with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow


def _args(stage, videos, out, extra=()):
    return [
        "pretrain",
        stage,
        str(videos),
        "--out",
        str(out),
        "--frames",
        "4",
        "--size",
        "36",
        "--batch-size",
        "4",
        "--steps",
        "3",
        "--warmup-steps",
        "1",
        "--lr",
        "1e-3",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--log-every",
        "1",
        "--clip-stride",
        "7",
        "--precision",
        "fp32",
        *extra,
    ]  # fmt: skip  (fp32: bf16 rounding differs between one and two processes on CPUs with native bf16)


def _torchrun(args, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "vpbehavior.cli", *args]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.parametrize(
    "stage, extra, output",
    [
        ("stage2", ["--weights", "random:tiny_lvt", "--decoder-layers", "1", "--grad-accum", "2"],
         "stage2_encoder.safetensors"),
        ("stage1", ["--weights", "random:tiny_lvt", "--token-drop", "0.5"], "stage1_lvt.safetensors"),
        ("stage2", ["--weights", "random:tiny_lvt", "--decoder-layers", "1", "--fsdp"], "stage2_encoder.safetensors"),
    ],
    ids=["stage2-ddp-accumulation", "stage1-ddp-gathered-negatives", "stage2-fsdp"],
)  # fmt: skip
def test_two_processes_match_one(videos, spm_model, tmp_path, stage, extra, output):
    from vpbehavior.cli import main

    if stage == "stage1":
        extra = [*extra, "--tokenizer", str(spm_model)]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(_args(stage, videos, one, [a for a in extra if a != "--fsdp"])) == 0  # FSDP needs 2+ processes
    printed = _torchrun(_args(stage, videos, two, extra))
    assert printed.count("trained 3 steps") == 1  # only process 0 reports
    a, b = _weights(one / output), _weights(two / output)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=2e-5, msg=k)
    # and the runs did train (the weights moved from the shared initialization)
    from vpbehavior.models import build_model

    initial = build_model("tiny_lvt", seed=0).state_dict()
    moved = [k for k in a if k in initial and not torch.allclose(a[k], initial[k])]
    assert moved
