"""`vpbehavior demo`: the whole path on built-in data, in a few minutes on a laptop CPU.

It writes a synthetic experiment (two animals, ground-truth behavior; training and held-out
videos), extracts video features with a VideoPrism encoder and pose features, trains a
classifier on each, evaluates both on the held-out videos and prints a table. Each step is one
call of the Python API (`vpbehavior.api`), the same calls the commands make; the demo prints
the command a scientist would run for each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: What marks a folder as the demo's own output (so a rerun may write into it).
DEMO_MARKER = "data/demo_settings.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="vpbehavior_demo", help="output folder (default: ./vpbehavior_demo)")
    parser.add_argument("--train-videos", type=int, default=6, help="synthetic training videos (default: 6)")
    parser.add_argument("--test-videos", type=int, default=2, help="synthetic held-out videos (default: 2)")
    parser.add_argument("--frames", type=int, default=600, help="frames per synthetic video (default: 600)")
    parser.add_argument("--size", type=int, default=96, help="synthetic video height and width in pixels (default: 96)")
    parser.add_argument(
        "--weights", default="random:tiny",
        help="VideoPrism weights for the video path (default: random:tiny, a tiny randomly initialized encoder; "
        "videoprism_public_v1_base or a local .npz / .safetensors for the released model)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of random weights (default: 0)")


def write_data(data: Path, settings: dict) -> None:
    """Write the synthetic experiment, or reuse the one a previous run wrote with the same settings."""
    import shutil

    from vpbehavior import ConfigError
    from vpbehavior.api import make_experiment

    marker = data / "demo_settings.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        print(f"reusing the synthetic experiment in {data}", flush=True)
        return
    if data.exists():
        if not marker.is_file():
            raise ConfigError(f"{data} exists but was not written by the demo; pass another --out")
        shutil.rmtree(data)  # ours, written with other settings
    synth = dict(height=settings["size"], width=settings["size"], n_frames=settings["frames"])
    seed = settings["seed"]
    for split, n, split_seed in (
        ("train", settings["train_videos"], seed + 1),
        ("test", settings["test_videos"], seed + 2),
    ):
        print(f"writing {n} synthetic {split} videos to {data / split}", flush=True)
        make_experiment(data / split, n_videos=n, seed=split_seed, progress=True, **synth)
    marker.write_text(json.dumps(settings))


def _say(command: str) -> None:
    print(f"\n$ vpbehavior {command}", flush=True)


def main(args: argparse.Namespace) -> int:
    import vpbehavior as vpb
    from vpbehavior import ConfigError
    from vpbehavior._outputs import check_output_folder

    if min(args.train_videos, args.test_videos) < 1 or args.frames < 32 or args.size < 64:
        raise ConfigError("the demo needs at least 1 training and 1 test video of 32+ frames and --size 64 or more")
    out = check_output_folder(args.out, "demo output", (DEMO_MARKER,))
    random_weights = args.weights.startswith("random:")
    encoder = vpb.load_encoder(args.weights, seed=args.seed)  # fails now, not after writing the data
    extract = vpb.ExtractConfig(size=args.size if random_weights else 0, token_grid=2, batch_size=8).resolved(encoder)
    data, features = out / "data", out / "features"
    settings = {k: getattr(args, k) for k in ("frames", "size", "seed", "train_videos", "test_videos")}
    write_data(data, settings)
    train, test = vpb.load(data / "train"), vpb.load(data / "test")
    _say(f"inspect {data / 'train'}")
    print(repr(train))
    for rec in train.recordings[:2]:
        print(f"  {rec!r}")

    for split, dataset in (("train", train), ("test", test)):
        _say(
            f"extract {data / split} --features {features} --weights {args.weights} --seed {args.seed} "
            f"--size {extract.size} --token-grid {extract.token_grid} --batch-size {extract.batch_size}"
        )
        result = vpb.extract_features(dataset.recordings, encoder, extract, cache=features, progress=True)
        if result.failures:
            raise vpb.DataError("feature extraction failed: " + "; ".join(f"{n}: {e}" for n, e in result.failures))

    reports = {}
    for kind in ("pose", "video"):
        config = vpb.TrainConfig(kind=kind, head="mlp", hidden=64, lr=3e-3, batch_size=128, max_epochs=20)
        classifier_file = out / f"classifier_{kind}.safetensors"
        _say(
            f"train {data / 'train'} --features {features} --kind {kind} --head {config.head} --hidden {config.hidden} "
            f"--lr {config.lr:g} --train-batch-size {config.batch_size} --epochs {config.max_epochs} --out {classifier_file}"
        )
        clf = vpb.train_classifier(train.recordings, config=config, features=features, progress=True)
        clf.save(classifier_file)
        report_dir = out / f"report_{kind}"
        _say(f"evaluate {data / 'test'} --features {features} --classifier {classifier_file} --out {report_dir}")
        reports[kind] = vpb.evaluate(clf, test.recordings, features=features)
        reports[kind].write(report_dir)

    encoder_name = f"{args.weights.removeprefix('random:')} (random init)" if random_weights else args.weights
    n_test = len(test.recordings)
    print(f"\nheld-out synthetic videos ({n_test} recordings, per-frame labels per animal)")
    print(f"{'features':<28} {'mAP':>6} {'macro F1':>9} {'bout F1@0.5':>12}")
    for kind, label in (("pose", "pose (keypoint motion)"), ("video", f"video: {encoder_name}")):
        r = reports[kind]
        print(f"{label:<28} {r.mAP:>6.3f} {r.macro_f1:>9.3f} {r.segmental_f1:>12.3f}")
    if random_weights:
        print(
            "\nThe video path used a randomly initialized encoder, so its numbers sit near chance by design: it shows\n"
            "the path runs, not what VideoPrism features are worth. For the released model, run\n"
            f"  vpbehavior demo --out {out} --weights videoprism_public_v1_base\n"
            "(downloads the official weights from the Hugging Face hub; or pass a local .npz / .safetensors file)."
        )
    print(f"\nreports (JSON, CSV, PR curves, ethograms): {out / 'report_pose'}, {out / 'report_video'}")
    return 0
