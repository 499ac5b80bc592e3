"""Damaged inputs met as a user meets them: inspect says what is wrong, extract reports and goes on,
no half-written file is left behind, and train goes on without the recordings it cannot use."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import vpbehavior as vpb
from vpbehavior.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    vpb.make_experiment(root / "data", n_videos=3, seed=4, height=64, width=64, n_frames=300, progress=False)
    video = root / "data" / "synthetic_01.mp4"
    raw = bytearray(video.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4096] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    video.write_bytes(bytes(raw))
    return root


def test_extract_reports_a_corrupt_video_and_leaves_no_partial_file(folder, tmp_path, capsys):
    features = tmp_path / "features"
    rc = main(["extract", str(folder / "data"), "--features", str(features), "--weights", "random:tiny",
               "--size", "72", "--token-grid", "0", "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    damaged = [line for line in out.splitlines() if line.startswith("failed: synthetic_01")]
    if rc == 0:  # the decoder may conceal the damage; then every frame must still be there
        assert len(list(features.glob("*.features.h5"))) == 3
        return
    assert rc == 1 and damaged, out
    assert "synthetic_01.mp4" in damaged[0]
    assert len(list(features.glob("*.features.h5"))) == 2
    assert not list(features.glob("*.partial")) and not list(features.glob(".*"))
    # train goes on with the two usable recordings and lists the third
    rc = main(["train", str(folder / "data"), "--features", str(features), "--kind", "video", "--epochs", "2",
               "--out", str(tmp_path / "clf.safetensors")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1 and "left out (features unusable): synthetic_01" in out
    assert (tmp_path / "clf.safetensors").is_file()


def test_inspect_one_video_says_what_it_is(folder, capsys):
    video = folder / "data" / "synthetic_00.mp4"
    assert main(["inspect", str(video)]) == 0
    out = capsys.readouterr().out
    assert "format:      video" in out and "64x64" in out and "codec" in out and "300 frames" in out
    assert "synthetic_00.slp" in out and "synthetic_00.behavior.json" in out  # the paired files
    assert main(["inspect", str(video), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "video" and summary["video"]["n_frames"] == 300
    assert summary["video"]["width"] == 64 and summary["video"]["duration"] == pytest.approx(10.0, abs=0.1)


def test_inspect_verify_finds_the_damage(folder, capsys):
    rc = main(["inspect", str(folder / "data" / "synthetic_01.mp4"), "--verify", "--json"])
    summary = json.loads(capsys.readouterr().out)
    verified = summary["video"]["verified"]
    assert (rc == 1) == (verified["first_bad_frame"] is not None)
    assert verified["good_frames"] <= summary["video"]["n_frames"]


def test_truncated_video_warns_when_loaded(folder, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for suffix in (".mp4", ".slp", ".behavior.json"):
        shutil.copy(folder / "data" / f"synthetic_02{suffix}", data / f"synthetic_02{suffix}")
    video = data / "synthetic_02.mp4"
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    main(["inspect", str(data)])
    err = capsys.readouterr().err
    assert "synthetic_02.mp4" in err and "warning" in err
