"""`vpbehavior demo`, the README's main command, runs end to end on built-in data."""

import json

from vpbehavior.cli import main


def test_demo_runs_and_reports_both_paths(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--train-videos", "3", "--test-videos", "1", "--frames", "300"]) == 0
    printed = capsys.readouterr().out
    assert "pose (keypoint motion)" in printed and "video: tiny (random init)" in printed
    assert "near chance by design" in printed and "--weights videoprism_public_v1_base" in printed
    for kind in ("pose", "video"):
        report = json.loads((out / f"report_{kind}" / "report.json").read_text())
        assert report["recordings"] == ["synthetic_00"]
        assert 0.0 <= report["mAP"] <= 1.0
        assert (out / f"report_{kind}" / "ethogram.png").stat().st_size > 0
    # even from three short videos the pose path is far above chance (mAP of random scores ~ mean prevalence)
    pose = json.loads((out / "report_pose" / "report.json").read_text())
    rows = [r for r in pose["per_class"] if r["support"]]
    chance = sum(r["support"] / r["annotated"] for r in rows) / len(rows)
    assert pose["mAP"] > 2 * chance, (pose["mAP"], chance)


def test_demo_data_is_reused_only_with_the_same_settings(tmp_path):
    import pytest

    from vpbehavior.io.video import probe_video
    from vpbehavior.pipelines.demo import write_data

    data = tmp_path / "data"
    settings = dict(frames=40, size=64, seed=0, train_videos=1, test_videos=1)
    write_data(data, settings)
    video = data / "train" / "synthetic_00.mp4"
    first = video.stat().st_mtime_ns
    write_data(data, settings)
    assert video.stat().st_mtime_ns == first  # reused
    write_data(data, {**settings, "frames": 50})
    assert probe_video(video)["n_frames"] == 50  # other settings: written anew
    stranger = tmp_path / "mine"
    stranger.mkdir()
    with pytest.raises(ValueError, match="not written by the demo"):
        write_data(stranger, settings)
