"""The trainer: exact resume, RNG states in weights-only checkpoints, schedule, metrics, config file and CLI."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
import torch

from vpbehavior.pretrain.trainer import latest_checkpoint, lr_factor, pack_rng_state, unpack_rng_state
from vpbehavior.runtime import load_checkpoint, rng_state, save_checkpoint


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's state
    # numpy's own state tuple does not load with weights_only=True ...
    save_checkpoint(tmp_path / "raw.pt", {"rng": rng_state()})
    with pytest.raises(ValueError, match="not a readable"):
        load_checkpoint(tmp_path / "raw.pt")
    # ... so the trainer stores it as tensors and numbers
    save_checkpoint(tmp_path / "packed.pt", {"rng": pack_rng_state()})
    want = (random.random(), np.random.standard_normal(), np.random.random(), torch.rand(2))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    unpack_rng_state(load_checkpoint(tmp_path / "packed.pt")["rng"])
    got = (random.random(), np.random.standard_normal(), np.random.random(), torch.rand(2))
    assert got[:3] == want[:3] and torch.equal(got[3], want[3])


def test_schedule_warms_up_then_decays_to_the_floor():
    assert lr_factor(0, 100, 10, 0.01) == 0.0
    assert lr_factor(5, 100, 10, 0.01) == pytest.approx(0.5)
    assert lr_factor(10, 100, 10, 0.01) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, 0.01) == pytest.approx(0.505)
    assert lr_factor(100, 100, 10, 0.01) == pytest.approx(0.01)
    values = [lr_factor(s, 100, 10, 0.01) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))


class _Stop(Exception):
    pass


def _stage2(videos, out, tiny, **changes):
    from vpbehavior.pretrain.config import Stage2Config

    fields = {**tiny, "size": 36, "grad_accum": 2, "clip_stride": 7, "min_crop": 0.5, "hflip": True, "steps": 6,
              "lr": 1e-3, "decoder_layers": 1, "checkpoint_every": 2, "keep_checkpoints": 2}  # fmt: skip
    fields.update(changes)
    return Stage2Config(data=(str(videos),), weights="random:tiny_lvt", out=str(out), **fields)


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_an_interrupted_and_resumed_run_ends_bit_identical(videos, tmp_path, tiny):
    from vpbehavior.pretrain import pretrain

    whole = pretrain("stage2", config=_stage2(videos, tmp_path / "whole", tiny))

    def interrupt(step, task):
        if step == 3:
            raise _Stop

    with pytest.raises(_Stop):
        pretrain("stage2", config=_stage2(videos, tmp_path / "cut", tiny), on_step=interrupt)
    assert latest_checkpoint(tmp_path / "cut").name == "step_0000002.pt"
    # resumed with clips decoded in a worker process this time: the data is the same
    resumed = pretrain("stage2", config=_stage2(videos, tmp_path / "cut", tiny, workers=1))
    assert resumed.resumed_from == 2
    assert whole.final_state.keys() == resumed.final_state.keys()
    for k, v in whole.final_state.items():
        assert torch.equal(v, resumed.final_state[k]), k
    rows_whole, rows_cut = _rows(whole.metrics_file), _rows(resumed.metrics_file)
    assert [r["step"] for r in rows_cut] == [str(s) for s in range(1, 7)]  # no step logged twice
    assert [r["loss"] for r in rows_cut] == [r["loss"] for r in rows_whole]
    assert {"token_loss", "global_loss", "lr", "grad_norm", "clips_per_s", "mfu"} <= set(rows_cut[0])
    assert sorted(p.name for p in (tmp_path / "cut" / "checkpoints").glob("*.pt")) == [
        "step_0000004.pt",
        "step_0000006.pt",
    ]
    state = load_checkpoint(latest_checkpoint(tmp_path / "cut"))  # weights-only, no teacher inside
    assert state["step"] == 6 and not any(k.startswith("teacher.") for k in state["model"])


def test_resume_refuses_other_settings(videos, tmp_path, tiny):
    from vpbehavior import ConfigError
    from vpbehavior.pretrain import pretrain

    pretrain("stage2", config=_stage2(videos, tmp_path, tiny, steps=2, grad_accum=1))
    with pytest.raises(ConfigError, match="batch_size"):
        pretrain("stage2", config=_stage2(videos, tmp_path, tiny, steps=2, grad_accum=1, batch_size=8))
    with pytest.raises(ConfigError, match="earlier run"):
        pretrain("stage2", config=_stage2(videos, tmp_path, tiny, steps=2, grad_accum=1, resume=False))


def test_command_line_with_a_config_file(videos, tmp_path, capsys):
    import yaml

    import vpbehavior
    from vpbehavior.cli import main
    from vpbehavior.pretrain.config import Stage2Config

    cfg = tmp_path / "stage2.yaml"
    cfg.write_text(yaml.safe_dump({
        "data": [str(videos)], "weights": "random:tiny", "frames": 4, "size": 36, "batch-size": 2, "steps": 50,
        "workers": 0, "decoder_layers": 1, "log_every": 1, "out": str(tmp_path / "ignored"),
    }))  # fmt: skip
    out = tmp_path / "run"
    assert main(["pretrain", "stage2", "--config", str(cfg), "--steps", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "trained 2 steps" in printed and "stage2_encoder.safetensors" in printed
    provenance = vpbehavior.read_provenance(out / "stage2_encoder.safetensors")
    assert provenance["config"]["steps"] == 2 and provenance["config"]["batch_size"] == 2  # flag > file > default
    assert provenance["global_target"] == "mean token" and provenance["teacher"] == "random:tiny:seed0"
    assert provenance["config"]["mask_ratio"] == Stage2Config().mask_ratio
    assert vpbehavior.load_encoder(str(out / "stage2_encoder.safetensors")).config.vocabulary_size == 0
    assert main(["pretrain", "stage2", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert main(["finetune", str(videos), "--steps", "1", "--weights", "random:tiny", "--frames", "4", "--size", "36",
                 "--batch-size", "2", "--workers", "0", "--out", str(tmp_path / "ft")]) == 0  # fmt: skip
    assert (tmp_path / "ft" / "finetuned_encoder.safetensors").is_file()


def test_api_entry_points():
    import vpbehavior
    import vpbehavior.pretrain

    assert callable(vpbehavior.pretrain) and callable(vpbehavior.finetune)
    assert {"pretrain", "finetune", "Stage1Config", "Stage2Config", "FinetuneConfig"} <= set(vpbehavior.api.__all__)
    with pytest.raises(ValueError, match="unknown stage"):
        vpbehavior.pretrain("stage3")
    with pytest.raises(ValueError, match="mask-ratio"):
        vpbehavior.Stage2Config(mask_ratio=1.5)


def test_gradient_checkpointing_changes_memory_not_results(videos, tmp_path, tiny):
    from vpbehavior.pretrain import pretrain
    from vpbehavior.pretrain.run import build_stage2

    plain = pretrain("stage2", config=_stage2(videos, tmp_path / "plain", tiny, steps=2, grad_accum=1))
    ckpt_cfg = _stage2(videos, tmp_path / "ckpt", tiny, steps=2, grad_accum=1, grad_checkpointing=True)
    trainer = build_stage2(ckpt_cfg)
    calls = []
    layer = trainer.task.student.spatial_encoder.layers[0]
    layer.register_forward_pre_hook(lambda m, i: calls.append(1))  # (recomputation stops before forward hooks)
    result = trainer.fit()
    assert len(calls) == 2 * 2  # each of the 2 steps runs the layer twice: forward, and again in backward
    for k, v in plain.final_state.items():
        assert torch.equal(v, result.final_state[k]), k
