"""`vpbehavior demo`: the whole path on built-in data, in a few minutes on a laptop CPU.

It writes a synthetic experiment (two animals, ground-truth behavior; training and
held-out videos), extracts video features with a VideoPrism encoder and pose features,
trains a classifier on each, evaluates both on the held-out videos and prints a table.
Every step is the same command a scientist runs on their own data; the demo prints them.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="vpbehavior_demo", help="output folder (default: ./vpbehavior_demo)")
    parser.add_argument("--train-videos", type=int, default=6)
    parser.add_argument("--test-videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=600, help="frames per synthetic video")
    parser.add_argument("--size", type=int, default=96, help="synthetic video height and width in pixels")
    parser.add_argument("--model", default="tiny",
                        help="encoder config name (random init) for the video path; use --weights for real weights")
    parser.add_argument("--weights", default=None, help="VideoPrism weights (file, released name or hub repo id)")
    parser.add_argument("--seed", type=int, default=0)


def _run(argv: list[str]) -> None:
    """Run one pipeline command as the CLI would (pipelines do not import the CLI)."""
    import importlib

    print(f"\n$ vpbehavior {shlex.join(argv)}", flush=True)
    module = importlib.import_module(f"vpbehavior.pipelines.{argv[0]}")
    parser = argparse.ArgumentParser(prog=f"vpbehavior {argv[0]}")
    module.add_arguments(parser)
    rc = module.main(parser.parse_args(argv[1:]))
    if rc:
        raise RuntimeError(f"`vpbehavior {shlex.join(argv)}` failed with exit status {rc}")


def _write_data(data: Path, args: argparse.Namespace) -> None:
    """Write the synthetic experiment, or reuse the one a previous run wrote with the same settings."""
    import shutil

    from vpbehavior.io.synthetic import make_experiment

    settings = {"frames": args.frames, "size": args.size, "seed": args.seed,
                "train_videos": args.train_videos, "test_videos": args.test_videos}
    marker = data / "demo_settings.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        print(f"reusing the synthetic experiment in {data}", flush=True)
        return
    if data.exists():
        if not marker.is_file():
            raise ValueError(f"{data} exists but was not written by the demo; pass another --out")
        shutil.rmtree(data)  # ours, written with other settings
    synth = dict(height=args.size, width=args.size, n_frames=args.frames)
    for split, n, seed in (("train", args.train_videos, args.seed + 1), ("test", args.test_videos, args.seed + 2)):
        print(f"writing {n} synthetic {split} videos to {data / split}", flush=True)
        make_experiment(data / split, n_videos=n, seed=seed, **synth)
    marker.write_text(json.dumps(settings))


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    data, features = out / "data", out / "features"
    _write_data(data, args)
    _run(["inspect", str(data / "train")])
    encoder = ["--weights", args.weights] if args.weights else ["--model", args.model, "--seed", str(args.seed)]
    for split in ("train", "test"):
        _run(["extract", str(data / split), "--out", str(features), *encoder, "--size", str(args.size) if not args.weights else "0",
              "--token-grid", "2", "--batch-size", "8"])
    results = {}
    for kind in ("pose", "video"):
        model = out / f"classifier_{kind}.safetensors"
        _run(["train", str(data / "train"), "--features", str(features), "--kind", kind, "--head", "mlp",
              "--hidden", "64", "--lr", "3e-3", "--train-batch-size", "128", "--epochs", "20", "--out", str(model)])
        report_dir = out / f"report_{kind}"
        _run(["evaluate", str(data / "test"), "--features", str(features), "--model", str(model), "--out", str(report_dir)])
        results[kind] = json.loads((report_dir / "report.json").read_text())
    encoder_name = args.weights or f"{args.model} (random init)"
    print(f"\nheld-out synthetic videos ({len(results['pose']['recordings'])} recordings, per-frame labels per animal)")
    print(f"{'features':<28} {'mAP':>6} {'macro F1':>9} {'bout F1@0.5':>12}")
    for kind, label in (("pose", "pose (keypoint motion)"), ("video", f"video: {encoder_name}")):
        r = results[kind]
        print(f"{label:<28} {r['mAP']:>6.3f} {r['macro_f1']:>9.3f} "
              f"{r['segmental_f1']:>12.3f}")
    print(f"\nreports (JSON, CSV, PR curves, ethograms): {out / 'report_pose'}, {out / 'report_video'}")
    return 0
