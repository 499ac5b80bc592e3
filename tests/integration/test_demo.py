"""`vpbehavior demo`, the README's main command, runs end to end on built-in data."""

import json
import re

import pytest

from vpbehavior.cli import main

SMALL = ["--train-videos", "3", "--test-videos", "2", "--frames", "300"]


def _table(printed: str) -> dict[str, tuple[float, float, float]]:
    """The held-out table's rows: label -> (mAP, macro F1, bout F1)."""
    rows = {}
    for line in printed.splitlines():
        m = re.match(r"^(pose \(keypoint motion\)|video: .+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", line)
        if m:
            rows[m.group(1)] = tuple(float(x) for x in m.groups()[1:])
    return rows


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One small demo (3 + 2 videos of 300 frames, the default 1200 pretraining steps: ~1.5 CPU minutes)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["demo", "--out", str(out), *SMALL])
    return out, status, printed.getvalue()


def test_demo_runs_the_whole_path(demo_run):
    out, status, printed = demo_run
    assert status == 0, printed
    rows = _table(printed)
    labels = list(rows)
    assert labels[0] == "pose (keypoint motion)" and labels[1] == "video: tiny, random init", labels
    assert re.fullmatch(r"video: tiny, pretrained \(1200 steps, loss [\d.]+\)", labels[2]), labels
    for label in labels:
        assert all(0.0 <= v <= 1.0 for v in rows[label]), (label, rows[label])
    # every step prints the command a scientist would run, pretraining included
    for command in ("inspect", "pretrain stage1", "extract", "train", "evaluate", "score"):
        assert f"$ vpbehavior {command} " in printed, command
    assert "--tokenizer " in printed and str(out / "pretrain" / "tokenizer" / "captions.model") in printed

    for tag in ("pose", "video_random", "video_pretrained"):
        report = json.loads((out / f"report_{tag}" / "report.json").read_text())
        assert report["recordings"] == ["synthetic_00", "synthetic_01"]
        assert (out / f"report_{tag}" / "ethogram.png").stat().st_size > 0
        assert (out / f"classifier_{tag}.safetensors").is_file()
    assert (out / "pretrain" / "stage1_lvt.safetensors").is_file()
    assert any((out / "features_random").glob("*.features.h5"))
    assert any((out / "features_pretrained").glob("*.features.h5"))
    # the held-out folder scored as `vpbehavior score` does
    scores = out / "scores"
    for name in ("report.html", "summary.csv", "synthetic_00.predictions.h5", "synthetic_01.bouts.csv"):
        assert (scores / name).stat().st_size > 0, name
    assert f"score report (per video: ethogram, bout counts, time budget): {scores / 'report.html'}" in printed
    assert f"napari --plugin vpbehavior {out / 'data' / 'test' / 'synthetic_00.mp4'} " in printed
    assert str(scores / "synthetic_00.predictions.h5") in printed
    assert "--weights videoprism_public_v1_base" in printed


def test_demo_pretraining_beats_random_init(demo_run):
    """On the default seed pretraining lifts the video features well above their random init.

    Pretraining on two CPU threads is not bit-reproducible, so the pretrained row varies between
    runs: at this size random init mAP 0.252, pretrained 0.353-0.411 in three runs (pose 0.412).
    """
    out, status, printed = demo_run
    rows = _table(printed)
    (pose, random_init, pretrained) = (rows[k][0] for k in rows)
    assert pretrained > random_init + 0.05, rows
    # chance (random scores) is the behaviors' mean frequency; pose, from three short training videos,
    # stays well above it (at the default size 0.95 vs 0.17)
    report = json.loads((out / "report_pose" / "report.json").read_text())
    present = [r for r in report["per_class"] if r["support"]]
    chance = sum(r["support"] / r["annotated"] for r in present) / len(present)
    assert pose > 1.5 * chance, (pose, chance)
    assert f"{chance:.3f}  <- mAP by chance" in printed


def test_demo_rerun_reuses_data_and_pretraining(demo_run, capsys):
    out, _, _ = demo_run
    pretrained = out / "pretrain" / "stage1_lvt.safetensors"
    first = pretrained.stat().st_mtime_ns
    assert main(["demo", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "reusing the synthetic experiment" in printed
    assert f"reusing the pretrained encoder {pretrained} (same settings)" in printed
    assert pretrained.stat().st_mtime_ns == first
    assert len(_table(printed)) == 3


def test_demo_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine.txt").write_text("a scientist's file")
    assert main(["demo", "--out", str(tmp_path), *SMALL]) == 2
    assert (tmp_path / "mine.txt").read_text() == "a scientist's file"


def test_demo_data_is_reused_only_with_the_same_settings(tmp_path):
    from vpbehavior.io.video import probe_video
    from vpbehavior.pipelines.demo import ARENA, write_data

    data = tmp_path / "data"
    settings = dict(frames=40, size=64, seed=0, train_videos=1, test_videos=1, arena=ARENA)
    assert write_data(data, settings)
    video = data / "train" / "synthetic_00.mp4"
    first = video.stat().st_mtime_ns
    assert not write_data(data, settings)
    assert video.stat().st_mtime_ns == first  # reused
    assert write_data(data, {**settings, "frames": 50})
    assert probe_video(video)["n_frames"] == 50  # other settings: written anew
    stranger = tmp_path / "mine"
    stranger.mkdir()
    with pytest.raises(ValueError, match="not written by the demo"):
        write_data(stranger, settings)


def test_label_captions_are_every_caption_stage_1_makes(tmp_path):
    """The caption tokenizer is trained on exactly the captions stage 1 will tokenize (else their words are unk)."""
    import vpbehavior as vpb
    from vpbehavior.models import Tokenizer
    from vpbehavior.models.tokenizer import canonicalize_text
    from vpbehavior.pretrain.data import caption_from_labels

    vpb.make_experiment(tmp_path / "data", n_videos=2, seed=3, n_frames=120, height=64, width=64)
    recordings = vpb.load(tmp_path / "data").recordings
    expected = {
        canonicalize_text(c) for rec in recordings for t in range(rec.n_frames) if (c := caption_from_labels(rec, t))
    }
    assert set(vpb.label_captions(recordings)) == expected
    tokenizer = Tokenizer(vpb.train_caption_tokenizer(recordings, tmp_path / "tok"))
    for caption in expected:
        assert 0 not in tokenizer.encode(caption), caption  # no unknown piece
