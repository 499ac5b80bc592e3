"""`vpbehavior score` on a folder as a lab has one: synthetic videos, the real H.264 fly video with its
SLEAP file, a zero-byte .mp4 and a text file named .mp4.

Shown here: outputs for the good videos, both bad ones in failures.csv, exit status 1; a rerun that runs
no encoder forward and changes no byte; a run killed with SIGKILL and rerun ends like an uninterrupted
one; two shards, two concurrent runs and two worker processes each give exactly one run's outputs;
score's probabilities are evaluate's; the BORIS, .slp and NWB exports read back.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vpbehavior as vpb
from vpbehavior.cli import main
from vpbehavior.io.predictions import predicted_bouts, read_bouts, read_predictions
from vpbehavior.testing.fixtures import find_shared_dir

os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"  # as on many cluster file systems: our own locks must do

SYNTH = dict(height=72, width=72, n_frames=120, progress=False)
FLY = "centered_pair_low_quality"
BAD = {"empty": "empty (0 bytes)", "notes": "not a video"}
RUN = ["--device", "cpu", "--batch-size", "16"]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HDF5_USE_FILE_LOCKING": "FALSE"}


@contextlib.contextmanager
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1): bit-identical numbers
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cli(*args) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), _one_thread():
        rc = main([str(a) for a in args])
    return rc, out.getvalue()


def snapshot(out: Path, exports: bool = True) -> dict[str, str]:
    """SHA-256 of every output file (not the lock / failure state in .score, not the feature cache)."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if path.is_dir() or rel.parts[0] in (".score", "features"):
            continue
        if not exports and path.name.endswith((".nwb", ".slp", ".boris.tsv", ".frames.csv")):
            continue
        files[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    vpb.make_experiment(root / "train", n_videos=3, seed=1, **SYNTH)
    vpb.make_experiment(root / "data", n_videos=2, seed=2, **SYNTH)
    shared = find_shared_dir()
    fly = shared / "recordings" / "sleap_fly_pair" if shared else None
    good = ["synthetic_00", "synthetic_01"]
    if fly is not None and (fly / f"{FLY}.mp4").is_file():
        shutil.copy(fly / f"{FLY}.mp4", root / "data")
        shutil.copy(fly / "centered_pair_predictions.slp", root / "data")
        good.insert(0, FLY)
    (root / "data" / "empty.mp4").write_bytes(b"")
    (root / "data" / "notes.mp4").write_text("field notes, day 3: not a video\n")
    with _one_thread():
        encoder = vpb.load_encoder("random:tiny", device="cpu")
        train = vpb.load(root / "train").recordings
        config = vpb.ExtractConfig(size=72, token_grid=0, batch_size=16, device="cpu")
        assert vpb.extract_features(train, encoder, config, cache=root / "feats").ok
        clf = vpb.train_classifier(train, config=vpb.TrainConfig(kind="video", hidden=32, max_epochs=3),
                                   features=root / "feats")  # fmt: skip
    clf.save(root / "clf.safetensors")
    return {"root": root, "data": root / "data", "clf": root / "clf.safetensors", "good": good}


@pytest.fixture(scope="module")
def reference(experiment):
    """One uninterrupted run of the whole folder (its own feature cache in OUT/features)."""
    out = experiment["root"] / "ref"
    rc, stdout = _cli("score", experiment["data"], "--classifier", experiment["clf"], "--out", out, *RUN)
    return {"out": out, "rc": rc, "stdout": stdout, "files": snapshot(out)}


def test_folder_with_bad_videos_scores_the_good_ones(experiment, reference):
    out, good = reference["out"], experiment["good"]
    assert reference["rc"] == 1, reference["stdout"]  # some failed
    for name in good:
        assert f"scored: {name}" in reference["stdout"]
        for suffix in (".predictions.h5", ".bouts.csv", ".ethogram.png"):
            assert (out / f"{name}{suffix}").stat().st_size > 0
    assert not any(out.glob("empty.*")) and not any(out.glob("notes.*"))
    with open(out / "failures.csv") as fh:
        failures = {Path(r["video"]).stem: r for r in csv.DictReader(fh)}
    assert set(failures) == set(BAD)
    for name, reason in BAD.items():
        assert failures[name]["stage"] == "load" and reason in failures[name]["reason"]
        assert failures[name]["video"] == str(experiment["data"] / f"{name}.mp4")
    # the predictions file: what the classifier said, and how it was made
    clf = vpb.load_classifier(experiment["clf"])
    pred = read_predictions(out / "synthetic_00.predictions.h5")
    assert pred.classes == clf.classes and pred.subjects == ("animal0", "animal1") and pred.fps == 30.0
    assert pred.scores.shape == (120, 2, len(clf.classes)) and pred.presence.all()
    prov = pred.provenance
    assert prov["classifier"]["sha256"] == clf.info["sha256"]
    assert prov["encoder"]["weights_sha256"] == clf.feature_spec["encoder"]["weights_sha256"]
    assert prov["extraction"] == clf.feature_spec["extraction"] and prov["vpbehavior"] == vpb.__version__
    video = experiment["data"] / "synthetic_00.mp4"
    assert prov["inputs"]["video"] == {"path": str(video.resolve()), "size": video.stat().st_size,
                                       "mtime_ns": video.stat().st_mtime_ns}  # fmt: skip
    with open(out / "synthetic_00.bouts.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(r["start_frame"]), int(r["stop_frame"]), r["subject"], r["behavior"]) for r in rows] == [
        (b.start, b.stop, b.subject, b.behavior) for b in read_bouts(out / "synthetic_00.predictions.h5")
    ]
    # the folder: summary (video x subject x behavior), settings, report
    with open(out / "summary.csv") as fh:
        summary = list(csv.DictReader(fh))
    assert {r["video"] for r in summary} == set(good)
    assert len([r for r in summary if r["video"] == "synthetic_00"]) == 2 * len(clf.classes)
    info = json.loads((out / "score.json").read_text())
    assert info["classifier"]["sha256"] == clf.info["sha256"] and info["versions"]["vpbehavior"] == vpb.__version__
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == len(good) and "<script" not in report
    if FLY in good:  # the real fly video: every SLEAP track is a subject, scored where it is tracked
        fly = read_predictions(out / f"{FLY}.predictions.h5")
        assert fly.n_frames == 1100 and len(fly.subjects) == 27 and not fly.presence.all()
        assert np.isnan(fly.scores[~fly.presence]).all() and not fly.calls[~fly.presence].any()


def test_rerun_computes_nothing_and_changes_no_byte(experiment, reference):
    out = reference["out"]
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*.predictions.h5")}
    encoder = vpb.load_encoder("random:tiny", device="cpu")
    forwards = []
    encoder.register_forward_hook(lambda *a: forwards.append(1))
    with _one_thread():
        result = vpb.score(experiment["data"], experiment["clf"], out,
                           vpb.ScoreConfig(device="cpu", batch_size=16), encoder=encoder)  # fmt: skip
    assert forwards == []
    assert result.up_to_date == experiment["good"] and not result.scored
    assert sorted(o.name for o in result.failures) == sorted(BAD) and result.exit_status == 1
    assert snapshot(out) == reference["files"]
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.predictions.h5")} == mtimes  # not even rewritten


def test_stale_or_damaged_predictions_are_redone(experiment, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for suffix in (".mp4", ".slp", ".behavior.json"):
        shutil.copy(experiment["data"] / f"synthetic_01{suffix}", data)
    out, config = tmp_path / "out", vpb.ScoreConfig(device="cpu", batch_size=16)

    def run(classifier=experiment["clf"]):
        with _one_thread():
            return vpb.score(data, classifier, out, config)

    assert run().scored == ["synthetic_01"]
    assert run().up_to_date == ["synthetic_01"]
    video = data / "synthetic_01.mp4"
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 10**9))  # the video changed
    assert run().scored == ["synthetic_01"]
    other = vpb.load_classifier(experiment["clf"])
    other.postprocess.min_bout = 3  # another classifier file
    other.save(tmp_path / "other.safetensors")
    assert run(tmp_path / "other.safetensors").scored == ["synthetic_01"]
    assert read_predictions(out / "synthetic_01.predictions.h5").provenance["postprocess"]["min_bout"] == 3
    path = out / "synthetic_01.predictions.h5"
    path.write_bytes(path.read_bytes()[:4000])  # damaged (e.g. by a disk problem)
    (out / "synthetic_01.ethogram.png").unlink()
    assert run(tmp_path / "other.safetensors").scored == ["synthetic_01"]
    assert read_predictions(path).n_frames == 120 and (out / "synthetic_01.ethogram.png").is_file()


def test_sigkill_midway_then_rerun_equals_an_uninterrupted_run(experiment, reference, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vpbehavior.cli", "score", str(experiment["data"]), "--classifier",
           str(experiment["clf"]), "--out", str(out), *RUN]  # fmt: skip
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("features/*.partial")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the first video's features are half written
    time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert list(out.glob("features/*.partial")) and not list(out.glob("*.predictions.h5"))
    assert list(out.glob(".score/locks/*.lock"))  # the dead run's claim is still there
    rc, stdout = _cli("score", experiment["data"], "--classifier", experiment["clf"], "--out", out, *RUN)
    assert rc == 1 and all(f"scored: {n}" in stdout for n in experiment["good"]), stdout
    assert snapshot(out) == reference["files"]
    assert not list(out.glob(".score/locks/*.lock")) and not list(out.rglob("*.partial"))
    leftovers = [p for p in out.rglob(".*") if p.relative_to(out).parts[0] != ".score"]
    assert leftovers == []  # no hidden temporaries or lock files


def test_two_shards_give_exactly_one_runs_outputs(experiment, reference, tmp_path):
    out = tmp_path / "sharded"
    common = [experiment["data"], "--classifier", experiment["clf"], "--out", out, "--features",
              reference["out"] / "features", *RUN]  # fmt: skip
    rc0, first = _cli("score", *common, "--shard", "0/2")
    # sorted by path: centered_pair..., empty, notes, synthetic_00, synthetic_01 -> every 2nd from 0 and from 1
    order = sorted([*experiment["good"], *BAD])
    mine = order[0::2]
    assert {ln.split(": ")[1].split(" ")[0] for ln in first.splitlines() if ln.startswith(("scored", "failed"))} == set(
        mine
    )
    rc1, _ = _cli("score", *common, "--shard", "1/2")
    assert rc0 == 1 and rc1 == 1  # each shard has one bad video
    assert snapshot(out) == reference["files"]


def test_two_runs_started_together_split_the_work(experiment, reference, tmp_path):
    out = tmp_path / "together"
    cmd = [sys.executable, "-m", "vpbehavior.cli", "score", str(experiment["data"]), "--classifier",
           str(experiment["clf"]), "--out", str(out), *RUN]  # fmt: skip
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [1, 1], outputs
    scored = [{ln.split(": ", 1)[1] for ln in o.splitlines() if ln.startswith("scored: ")} for o in outputs]
    assert scored[0] | scored[1] == set(experiment["good"]) and not scored[0] & scored[1], outputs  # each once
    for o, other in zip(outputs, scored[::-1]):  # the rest each run found done (mostly while it ran)
        lines = [ln.split(": ", 1) for ln in o.splitlines() if ln.startswith(("scored", "up to date"))]
        assert sorted(name for _, name in lines) == sorted(experiment["good"])
        assert {name for status, name in lines if status == "scored by another run"} <= other
    assert snapshot(out) == reference["files"]


def test_worker_processes_give_one_runs_outputs(experiment, reference, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the spawned workers' torch threads
    out = tmp_path / "workers"
    config = vpb.ScoreConfig(workers=2, features=str(reference["out"] / "features"), device="cpu", batch_size=16)
    result = vpb.score(experiment["data"], experiment["clf"], out, config)
    assert result.scored == experiment["good"] and len(result.failures) == 2
    assert snapshot(out) == reference["files"]


def test_score_probabilities_are_evaluates(experiment, reference):
    clf = vpb.load_classifier(experiment["clf"])
    labelled = [r for r in vpb.load(experiment["data"]).recordings if r.labels is not None]
    assert [r.name for r in labelled] == ["synthetic_00", "synthetic_01"]
    with _one_thread():
        report = vpb.evaluate(clf, labelled, features=reference["out"] / "features")
    for scored in report.scored:
        pred = read_predictions(reference["out"] / f"{scored.predictions.recording}.predictions.h5")
        np.testing.assert_array_equal(pred.scores, scored.predictions.scores)
        np.testing.assert_array_equal(pred.calls, scored.predictions.calls)
        assert pred.subjects == scored.predictions.subjects


def test_progress_reports_the_folder_and_the_current_video(experiment, tmp_path):
    updates = []
    config = vpb.ScoreConfig(pattern="synthetic_01*", device="cpu", batch_size=16)
    with _one_thread():
        result = vpb.score(experiment["data"], experiment["clf"], tmp_path / "one", config, progress=updates.append)
    assert result.scored == ["synthetic_01"] and result.exit_status == 0
    folder = [u for u in updates if u.task == "score"]
    assert folder[0].total == 1 and folder[-1].finished and folder[-1].done == 1
    video = [u for u in updates if u.task == "extract synthetic_01"]
    assert video and video[-1].finished and video[-1].done == video[-1].total


def test_exports_read_back(experiment, reference, tmp_path):
    import sleap_io as sio
    from pynwb import NWBHDF5IO

    from vpbehavior.io.label_formats import read_label_file

    out = tmp_path / "exports"
    rc, _ = _cli("score", experiment["data"], "--classifier", experiment["clf"], "--out", out, "--features",
                 reference["out"] / "features", "--pattern", "synthetic_00*", "--export", "boris,slp,nwb,csv", *RUN)  # fmt: skip
    assert rc == 0
    pred = read_predictions(out / "synthetic_00.predictions.h5")
    bouts = predicted_bouts(pred)
    want = {(b.start, b.stop, b.subject, b.behavior) for b in bouts}
    # BORIS: our own BORIS reader gives the same bouts
    labels = read_label_file(
        out / "synthetic_00.boris.tsv", n_frames=pred.n_frames, fps=pred.fps, media="synthetic_00.mp4"
    )
    assert {(b.start, b.stop, b.subject, b.behavior) for b in labels.to_bouts()} == want
    # sleap-io: the events are there, the pose and the user's own events are as they were
    original = sio.load_file(str(experiment["data"] / "synthetic_00.slp"))
    copy = sio.load_file(str(out / "synthetic_00.predictions.slp"))
    np.testing.assert_array_equal(copy.numpy(), original.numpy())
    predicted = [e for e in copy.events if isinstance(e, sio.PredictedEvent)]
    user = [e for e in copy.events if not isinstance(e, sio.PredictedEvent)]
    assert len(user) == len(original.events) > 0
    assert {(e.start_frame, e.end_frame + 1, e.subject.name, e.type.name) for e in predicted} == want
    assert all(len(e.scores) == e.end_frame + 1 - e.start_frame for e in predicted)
    # NWB: one TimeIntervals per subject and behavior, and the probabilities
    with NWBHDF5IO(str(out / "synthetic_00.nwb"), "r") as nwb_io:
        nwb = nwb_io.read()
        got = set()
        for table in nwb.intervals.values():
            subject, behavior = table.name.split("__")
            starts, stops = table["start_time"].data[:], table["stop_time"].data[:]
            got |= {(round(a * pred.fps), round(b * pred.fps), subject, behavior) for a, b in zip(starts, stops)}
        assert got == want and len(nwb.intervals) == 2 * len(pred.classes)
        probs = nwb.processing["behavior"]["probabilities_animal0"]
        np.testing.assert_array_equal(probs.data[:], pred.scores[:, 0]) and probs.rate == pred.fps
    with open(out / "synthetic_00.frames.csv") as fh:
        assert sum(1 for _ in fh) == 1 + pred.n_frames * 2
    # `vpbehavior export` on the real fly predictions: events into a copy of its .slp
    if FLY in experiment["good"]:
        rc, _ = _cli(
            "export", reference["out"] / f"{FLY}.predictions.h5", "--to", "slp,boris", "--out", tmp_path / "fly"
        )
        assert rc == 0
        fly = read_predictions(reference["out"] / f"{FLY}.predictions.h5")
        copy = sio.load_file(str(tmp_path / "fly" / f"{FLY}.predictions.slp"))
        original = sio.load_file(str(experiment["data"] / "centered_pair_predictions.slp"))
        np.testing.assert_array_equal(copy.numpy(), original.numpy())
        assert len(copy.events) == len(predicted_bouts(fly)) and not original.events
        back = read_label_file(tmp_path / "fly" / f"{FLY}.boris.tsv", n_frames=fly.n_frames, fps=fly.fps)
        assert len(back.to_bouts()) == len(predicted_bouts(fly))


def test_usage_errors_and_summarize(experiment, reference, tmp_path, capsys):
    args = [experiment["data"], "--classifier", experiment["clf"], "--out", tmp_path / "x", *RUN]
    assert main([str(a) for a in ["score", *args, "--weights", "random:tiny:seed1"]]) == 2
    err = capsys.readouterr().err.strip()
    assert "not those the classifier was trained on" in err and len(err.splitlines()) == 1
    assert main(["score", str(experiment["data"]), "--out", str(tmp_path / "x")]) == 2  # no --classifier
    assert "--classifier" in capsys.readouterr().err
    assert main([str(a) for a in ["score", *args, "--shard", "2/2"]]) == 2
    assert not (tmp_path / "x").exists()
    # --summarize rebuilds the folder's files from the predictions alone
    copy = tmp_path / "copy"
    shutil.copytree(reference["out"], copy, ignore=shutil.ignore_patterns("features"))
    for name in ("summary.csv", "failures.csv", "report.html"):
        (copy / name).unlink()
    assert main(["score", "--summarize", str(copy)]) == 0
    assert snapshot(copy) == reference["files"]
    assert main(["score", str(experiment["data"]), "--summarize", str(copy)]) == 2
