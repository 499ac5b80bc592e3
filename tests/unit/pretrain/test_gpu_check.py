"""scripts/gpu_check.py runs end to end on the CPU with --tiny (the GPU run is done by hand)."""

from __future__ import annotations

import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "gpu_check.py"


def test_gpu_check_smoke_on_cpu(tmp_path, capsys):
    module = runpy.run_path(str(SCRIPT), run_name="gpu_check")
    assert module["main"](["--tiny", "--device", "cpu", "--steps", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for row in ("encoder inference, eager", "sdpa (no logit cap)", "encoder inference, flex",
                "extraction (decode + encode)", "stage-2 training"):  # fmt: skip
        assert row in out
    assert "failed" not in out and "clips/s" in out and "frames/s" in out
