"""Scoring speed and memory: `vpbehavior.score` end to end beside the encoder alone; peak memory vs video length.

1. Throughput, per encoder config (random weights; the architecture decides the cost), in one process:

   - encoder only: the encoder's forward passes over as many clips as the video needs, on clips
     already in memory (no decoding, no pooling, no files);
   - end to end: `vpbehavior.score` of a folder holding that one video (decode in the background
     thread, encoder, pooling, feature cache, classifier, predictions file, bouts, ethogram,
     summary, report), with a fresh feature cache.

   Frames/s counts video frames; "extraction" is `extract_recording` inside the run (decoding,
   resizing, encoder, pooling, cache writes). A short warm-up run first takes the one-off costs of
   a process (imports) out. Goal: end to end >= 90% of encoder only.

2. Peak memory (max RSS of a fresh process running `vpbehavior score`) for a 1-minute and a
   20-minute video at a small frame size with the tiny encoder. Goal: 20 min <= 1.2x 1 min. The
   clip planner's own peak (`plan_clips`, measured alone) is shown beside it.

Usage: python benchmarks/score_folder.py [--tiny-frames 3000] [--base-frames 48] [--base-size 144]
       [--fps 15] [--minutes 1,20] [--device cpu] [--skip-memory] [--skip-speed]

Base runs at --base-size (default 144 px, its patch 18 x 8) so the CPU run takes minutes; pass
--base-size 288 for the released resolution.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


def write_video(folder: Path, n_frames: int, size: int, fps: float, seed: int = 0) -> Path:
    """A synthetic video (no pose: one frame-level subject) of ``n_frames`` frames."""
    from vpbehavior.io.synthetic import SyntheticConfig, generate
    from vpbehavior.io.video import write_video as _write

    rec = generate(SyntheticConfig(height=size, width=size, n_frames=n_frames, fps=fps, seed=seed))
    folder.mkdir(parents=True, exist_ok=True)
    return _write(folder / f"bench_{n_frames}.mp4", rec.iter_frames(), fps, codec="h264", preset="veryfast")


def make_classifier(model, config, path: Path, n_classes: int = 5) -> Path:
    """A linear classifier on this encoder's frame features (untrained: only the cost matters here)."""
    import torch

    from vpbehavior.classify.classifier import BehaviorClassifier
    from vpbehavior.classify.config import TrainConfig
    from vpbehavior.classify.heads import build_head
    from vpbehavior.features.extract import encoder_identity

    torch.manual_seed(0)
    dim = model.model_dim
    head = build_head("linear", (dim,), n_classes)
    spec = {
        "kind": "video",
        "encoder": encoder_identity(model),
        "extraction": config.provenance(),
        "per_subject": False,
    }
    clf = BehaviorClassifier(
        head, [f"b{i}" for i in range(n_classes)], TrainConfig(kind="video", head="linear"), (dim,), feature_spec=spec
    )
    return clf.save(path)


def encoder_only(model, config, n_frames: int, device: str) -> float:
    """Seconds for the encoder's forward passes over every clip of an ``n_frames`` video."""
    import torch

    from vpbehavior.features.extract import plan_clips
    from vpbehavior.runtime import autocast

    n_clips = len(plan_clips(n_frames, config.clip_length, config.stride, config.frame_step))
    b, size = config.batch_size, config.size
    batch = torch.from_numpy(
        np.random.default_rng(0).integers(0, 255, (b, config.clip_length, size, size, 3), dtype=np.uint8)
    ).to(device)
    with torch.inference_mode(), autocast(device):
        model(batch[:1].float().div_(255.0))  # warm-up
        start = time.perf_counter()
        for i in range(0, n_clips, b):
            k = min(b, n_clips - i)
            model(batch[:k].float().div_(255.0)).embeddings.float().cpu()
    return time.perf_counter() - start


def speed_row(name: str, size: int, n_frames: int, batch: int, device: str, work: Path) -> dict:
    import vpbehavior as vpb
    from vpbehavior.features.extract import ExtractConfig, load_encoder

    model = load_encoder(f"random:{name}", device=device)
    config = ExtractConfig(size=size, token_grid=0, batch_size=batch, device=device).resolved(model)
    folder = work / f"{name}_data"
    write_video(folder, n_frames, max(size, 96), 30.0)
    clf = make_classifier(model, config, work / f"{name}.safetensors")
    t_encoder = encoder_only(model, config, n_frames, device)
    # warm-up on a short video: one-off costs of a run (imports of matplotlib, scipy, h5py) are not per video
    write_video(work / f"{name}_warm", 2 * config.clip_length, max(size, 96), 30.0)
    vpb.score(work / f"{name}_warm", clf, work / f"{name}_warm_out", vpb.ScoreConfig(device=device), encoder=model)
    marks: dict[str, float] = {}

    def hook(update):  # when the video's extraction starts and ends
        if update.task.startswith("extract"):
            marks.setdefault("start", time.perf_counter())
            if update.finished:
                marks["stop"] = time.perf_counter()

    start = time.perf_counter()
    result = vpb.score(folder, clf, work / f"{name}_out", vpb.ScoreConfig(device=device, batch_size=batch),
                       encoder=model, progress=hook)  # fmt: skip
    t_end = time.perf_counter() - start
    assert result.scored and result.ok, result
    return {
        "config": f"{name} @ {config.size} px, {config.clip_length} x stride {config.stride}",
        "frames": n_frames,
        "encoder_fps": n_frames / t_encoder,
        "extract_fps": n_frames / (marks["stop"] - marks["start"]),
        "end_to_end_fps": n_frames / t_end,
        "ratio": t_encoder / t_end,
    }


CHILD = """
import json, resource, sys, time
import vpbehavior as vpb
start = time.perf_counter()
r = vpb.score(sys.argv[1], sys.argv[2], sys.argv[3], vpb.ScoreConfig(device=sys.argv[4], batch_size=16))
assert r.ok, r
print(json.dumps({"seconds": time.perf_counter() - start,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PLANNER = """
import json, sys, tracemalloc
from vpbehavior.features.extract import plan_clips
tracemalloc.start()
plan_clips(int(sys.argv[1]), 4, 2)
print(json.dumps({"planner_mb": tracemalloc.get_traced_memory()[1] / 2**20}))
"""


def memory_row(minutes: float, fps: float, device: str, work: Path, clf: Path) -> dict:
    n = int(round(minutes * 60 * fps))
    folder = work / f"mem_{n}"
    write_video(folder, n, 72, fps, seed=1)
    env = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}
    run = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(clf), str(work / f"mem_out_{n}"), device],
                         capture_output=True, text=True, env=env)  # fmt: skip
    if run.returncode:
        raise RuntimeError(run.stderr[-2000:])
    row = json.loads(run.stdout.strip().splitlines()[-1])
    plan = subprocess.run([sys.executable, "-c", PLANNER, str(n)], capture_output=True, text=True, env=env)
    row.update(json.loads(plan.stdout.strip().splitlines()[-1]) if plan.returncode == 0 else {"planner_mb": math.nan})
    row.update(minutes=minutes, frames=n)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny-frames", type=int, default=3000)
    parser.add_argument("--base-frames", type=int, default=48)
    parser.add_argument("--base-size", type=int, default=144)
    parser.add_argument("--fps", type=float, default=15.0, help="frame rate of the memory videos (default: 15)")
    parser.add_argument("--minutes", default="1,20")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    import torch

    from vpbehavior.features.extract import ExtractConfig, load_encoder

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"{os.cpu_count()} cores visible")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_speed:
            rows = [
                speed_row("tiny", 72, args.tiny_frames, 16, args.device, work),
                speed_row("base", args.base_size, args.base_frames, 2, args.device, work),
            ]
            print("\nthroughput (video frames/s)")
            print(f"{'config':<34} {'frames':>7} {'encoder only':>13} {'extraction':>11} {'end to end':>11} "
                  f"{'end to end / encoder':>21}")  # fmt: skip
            for r in rows:
                print(f"{r['config']:<34} {r['frames']:>7} {r['encoder_fps']:>13.1f} {r['extract_fps']:>11.1f} "
                      f"{r['end_to_end_fps']:>11.1f} {100 * r['ratio']:>20.0f}%")  # fmt: skip
        if not args.skip_memory:
            model = load_encoder("random:tiny", device=args.device)
            config = ExtractConfig(size=72, token_grid=0, batch_size=16, device=args.device).resolved(model)
            clf = make_classifier(model, config, work / "mem.safetensors")
            rows = [memory_row(float(m), args.fps, args.device, work, clf) for m in args.minutes.split(",")]
            print(f"\npeak memory of `vpbehavior score` (tiny encoder, 72 px, {args.fps:g} fps; fresh process each)")
            print(
                f"{'video':>8} {'frames':>7} {'peak RSS MB':>12} {'vs first':>9} {'clip planner MB':>16} {'seconds':>8}"
            )
            for r in rows:
                print(f"{r['minutes']:>6g} m {r['frames']:>7} {r['maxrss_mb']:>12.0f} "
                      f"{r['maxrss_mb'] / rows[0]['maxrss_mb']:>8.2f}x {r['planner_mb']:>16.1f} {r['seconds']:>8.1f}")  # fmt: skip
    print(f"\nmax RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
