"""`vpbehavior demo`: the whole path a lab walks, on built-in data, in a few minutes on a laptop CPU.

It writes a synthetic experiment (two animals, ground-truth behavior; training and held-out
videos), pretrains a tiny VideoPrism encoder on the training videos (stage 1, video-text
contrastive, captions made from the labels), extracts video features with the encoder before
and after pretraining and pose features, trains a classifier on each, scores the held-out folder
as `vpbehavior score` does (predictions files, bouts, ethograms, report.html), evaluates the
three classifiers on the held-out videos and prints a table. Each step is one call of the Python
API (`vpbehavior.api`), the same calls the commands make; the demo prints the command a
scientist would run for each.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import textwrap
from pathlib import Path

#: What marks a folder as the demo's own output (so a rerun may write into it).
DEMO_MARKER = "data/demo_settings.json"

#: The synthetic arena: plain background, little pixel noise, animals two patches of the tiny
#: encoder long (a quarter of the frame). On the textured, noisier default a from-scratch encoder
#: does not learn within CPU minutes (benchmarks/pretrain_synthetic.py).
ARENA = {"texture": 0.0, "pixel_std": 1.0, "body_fraction": 0.25}

#: Stage 1 from scratch, the pretraining benchmark's recipe (benchmarks/pretrain_synthetic.py,
#: docs/pretraining.md) on the tiny encoder, at twice its learning rate: about a minute on two CPU
#: cores. The contrastive loss sits at log(batch) for the first ~300-600 steps, then falls.
PRETRAIN = dict(
    lr=2e-3, weight_decay=1e-4, token_drop=0.5, batch_size=16, frame_step=2, clip_stride=4, workers=1,
    checkpoint_every=200, log_every=50,
)  # fmt: skip
PRETRAIN_STEPS = 1200

#: One probe for every feature kind (the same head, learning rate and epochs).
PROBE = dict(head="mlp", hidden=64, lr=3e-3, batch_size=128, max_epochs=20)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="vpbehavior_demo", help="output folder (default: ./vpbehavior_demo)")
    parser.add_argument("--train-videos", type=int, default=6, help="synthetic training videos (default: 6)")
    parser.add_argument("--test-videos", type=int, default=2, help="synthetic held-out videos (default: 2)")
    parser.add_argument("--frames", type=int, default=600, help="frames per synthetic video (default: 600)")
    parser.add_argument("--size", type=int, default=96, help="synthetic video height and width in pixels (default: 96)")
    parser.add_argument(
        "--weights", default="random:tiny",
        help="VideoPrism weights for the video path (default: random:tiny, a tiny randomly initialized encoder that "
        "the demo pretrains on the training videos; videoprism_public_v1_base or a local .npz / .safetensors for "
        "the released model, which is used as it is)",
    )  # fmt: skip
    parser.add_argument(
        "--pretrain-steps", type=int, default=PRETRAIN_STEPS,
        help=f"stage-1 pretraining steps of the random encoder (default: {PRETRAIN_STEPS}; 0: no pretraining)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the data, random weights and training (default: 0)"
    )


def write_data(data: Path, settings: dict) -> bool:
    """Write the synthetic experiment, or reuse the one a previous run wrote with the same settings.

    Returns whether it was written anew (outputs made from an earlier experiment are then stale).
    """
    from vpbehavior import ConfigError
    from vpbehavior.api import make_experiment

    marker = data / "demo_settings.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        print(f"reusing the synthetic experiment in {data}", flush=True)
        return False
    if data.exists():
        if not marker.is_file():
            raise ConfigError(f"{data} exists but was not written by the demo; pass another --out")
        shutil.rmtree(data)  # ours, written with other settings
    arena = settings.get("arena", {})
    synth = dict(height=settings["size"], width=settings["size"], n_frames=settings["frames"])
    if arena:
        synth["noise"] = {"texture": arena["texture"], "pixel_std": arena["pixel_std"]}
        synth["body_length"] = arena["body_fraction"] * settings["size"]
    seed = settings["seed"]
    for split, n, split_seed in (
        ("train", settings["train_videos"], seed + 1),
        ("test", settings["test_videos"], seed + 2),
    ):
        print(f"writing {n} synthetic {split} videos to {data / split}", flush=True)
        make_experiment(data / split, n_videos=n, seed=split_seed, progress=True, **synth)
    marker.write_text(json.dumps(settings))
    return True


def _say(command: str, *options: str) -> None:
    """Print the command a scientist would run: ``command`` and its options, wrapped as a shell line."""
    lines, line = [], f"$ vpbehavior {command}"
    for option in options:
        if len(line) + 1 + len(option) > 100:
            lines.append(line + " \\")
            line = "    "
        line += ("" if line == "    " else " ") + option
    print("\n" + "\n".join([*lines, line]), flush=True)


# ------------------------------------------------------------------------------- pretraining
def pretrain_encoder(folder: Path, train_dir: Path, train_recordings, weights: str, size: int, steps: int,
                     seed: int, data_settings: dict) -> tuple[Path, float | None]:  # fmt: skip
    """Stage 1 from ``weights`` (random:<config>) on the training videos into ``folder``; reused when
    ``folder`` holds a finished run with the same settings, resumed when it holds an interrupted one."""
    import vpbehavior as vpb

    tokenizer = folder / "tokenizer" / "captions.model"
    config = vpb.Stage1Config(
        data=(str(train_dir),), out=str(folder), weights=weights, tokenizer=str(tokenizer), size=size, steps=steps,
        warmup_steps=steps // 10, seed=seed, **PRETRAIN,
    )  # fmt: skip
    _say(
        f"pretrain stage1 {train_dir}", f"--weights {weights}", f"--tokenizer {tokenizer}", f"--out {folder}",
        f"--steps {steps}", f"--lr {config.lr:g}", f"--warmup-steps {config.warmup_steps}",
        f"--weight-decay {config.weight_decay:g}", f"--token-drop {config.token_drop:g}",
        f"--batch-size {config.batch_size}", f"--size {size}", f"--frame-step {config.frame_step}",
        f"--clip-stride {config.clip_stride}", f"--workers {config.workers}", f"--seed {seed}",
    )  # fmt: skip
    settings = {"config": config.to_dict(), "data": data_settings}
    marker = folder / "demo_pretrain.json"
    output = folder / "stage1_lvt.safetensors"
    same = marker.is_file() and json.loads(marker.read_text()) == settings
    if same and output.is_file() and vpb.read_provenance(output).get("config") == settings["config"]:
        print(f"reusing the pretrained encoder {output} (same settings)", flush=True)
        return output, vpb.read_provenance(output).get("final_loss")
    if folder.exists() and not same:
        shutil.rmtree(folder)  # ours (inside the demo folder), made with other settings or from other data
    if not tokenizer.is_file():
        vpb.train_caption_tokenizer(train_recordings, tokenizer.parent)
    captions = tokenizer.with_suffix(".txt").read_text().splitlines()
    print(
        "Stage 1 pairs each training clip with a sentence made from the labels at its middle frame, e.g.\n"
        f"  {max(captions, key=len)!r}  ({len(captions)} distinct sentences)\n"
        + textwrap.fill(
            "and trains the video and text towers from scratch to match them; the text tower reads them with a word "
            f"tokenizer the demo made from these sentences ({tokenizer}). The loss stays near log(batch) = "
            f"{math.log(config.batch_size):.2f} for a few hundred steps, while the encoder still sees every clip "
            "alike, and then falls.",
            100,
            break_long_words=False,
            break_on_hyphens=False,
        ),
        flush=True,
    )
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(settings))  # before training: an interrupted run resumes from its checkpoint
    result = vpb.pretrain("stage1", config=config, progress=True)
    resumed = f" (resumed from step {result.resumed_from})" if result.resumed_from else ""
    print(f"pretrained {result.steps} steps{resumed} in {result.seconds:.0f} s; final loss {result.final_loss:.3f}")
    return result.outputs[0], result.final_loss


# ------------------------------------------------------------------------------- the demo
def _outputs(out: Path, entries: list[tuple[str, str]]) -> None:
    """The folder's outputs, briefly: one line per group of paths (``name`` may hold a glob)."""
    print(f"\noutputs in {out}/")
    shown = [(name, what) for name, what in entries if all(any(out.glob(n.rstrip("/"))) for n in name.split())]
    width = max(len(name) for name, _ in shown)
    for name, what in shown:
        print(f"  {name:<{width}}  {what}")


def main(args: argparse.Namespace) -> int:
    import vpbehavior as vpb
    from vpbehavior import ConfigError
    from vpbehavior._outputs import check_output_folder

    if min(args.train_videos, args.test_videos) < 1 or args.frames < 32 or args.size < 64:
        raise ConfigError("the demo needs at least 1 training and 1 test video of 32+ frames and --size 64 or more")
    if args.pretrain_steps < 0:
        raise ConfigError(f"--pretrain-steps must be >= 0, got {args.pretrain_steps}")
    out = check_output_folder(args.out, "demo output", (DEMO_MARKER,), force_flag=None)
    random_weights = args.weights.startswith("random:")
    encoder = vpb.load_encoder(args.weights, seed=args.seed)  # fails now, not after writing the data
    # pretraining needs a multiple of the patch; extraction uses the same size for both encoders
    size = args.size - args.size % encoder.patch_size if random_weights else 0
    data = out / "data"
    settings = {k: getattr(args, k) for k in ("frames", "size", "seed", "train_videos", "test_videos")}
    settings["arena"] = ARENA
    if write_data(data, settings):
        shutil.rmtree(out / "pretrain", ignore_errors=True)  # made from an earlier experiment
    train, test = vpb.load(data / "train"), vpb.load(data / "test")
    _say(f"inspect {data / 'train'}")
    print(repr(train))
    for rec in train.recordings[:2]:
        print(f"  {rec!r}")

    name = args.weights.removeprefix("random:")
    # (table label, weights, encoder, tag of its feature cache / classifier / report) of each video row
    videos = []
    if random_weights:
        videos.append((f"video: {name}, random init", args.weights, encoder, "random"))
        if args.pretrain_steps:
            weights, final_loss = pretrain_encoder(
                out / "pretrain", data / "train", train.recordings, weights=args.weights, size=size,
                steps=args.pretrain_steps, seed=args.seed, data_settings=settings,
            )  # fmt: skip
            loss = f", loss {final_loss:.2f}" if final_loss is not None else ""
            label = f"video: {name}, pretrained ({args.pretrain_steps} steps{loss})"
            videos.append((label, str(weights), vpb.load_encoder(str(weights)), "pretrained"))
        else:
            print("\n--pretrain-steps 0: no pretraining; the video path uses the random encoder only")
    else:
        print(f"\n--weights {args.weights}: the released / given weights are used as they are (no pretraining)")
        videos.append((f"video: {args.weights}", args.weights, encoder, "video"))

    rows = []
    pose_config = vpb.TrainConfig(kind="pose", **PROBE)
    jobs = [("pose (keypoint motion)", pose_config, None, "pose")]
    for label, weights, model, tag in videos:
        features = out / f"features_{tag}"
        extract = vpb.ExtractConfig(size=size, token_grid=2, batch_size=8).resolved(model)
        for split, dataset in (("train", train), ("test", test)):
            seed_flag = [f"--seed {args.seed}"] if weights.startswith("random:") else []
            _say(
                f"extract {data / split}", f"--features {features}", f"--weights {weights}", *seed_flag,
                f"--size {extract.size}", f"--token-grid {extract.token_grid}", f"--batch-size {extract.batch_size}",
            )  # fmt: skip
            result = vpb.extract_features(dataset.recordings, model, extract, cache=features, progress=True)
            if result.failures:
                raise vpb.DataError("feature extraction failed: " + "; ".join(f"{n}: {e}" for n, e in result.failures))
        jobs.append((label, vpb.TrainConfig(kind="video", **PROBE), features, tag))

    for label, config, features, tag in jobs:
        classifier_file = out / (
            f"classifier_{tag}.safetensors" if tag == "pose" else f"classifier_video_{tag}.safetensors"
        )
        report_dir = out / classifier_file.stem.replace("classifier", "report")
        feature_flag = [f"--features {features}"] if features else []
        _say(
            f"train {data / 'train'}", *feature_flag, f"--kind {config.kind}", f"--head {config.head}",
            f"--hidden {config.hidden}", f"--lr {config.lr:g}", f"--train-batch-size {config.batch_size}",
            f"--epochs {config.max_epochs}", f"--out {classifier_file}",
        )  # fmt: skip
        clf = vpb.train_classifier(train.recordings, config=config, features=features, progress=True)
        clf.save(classifier_file)
        _say(f"evaluate {data / 'test'}", *feature_flag, f"--classifier {classifier_file}", f"--out {report_dir}")
        report = vpb.evaluate(clf, test.recordings, features=features)
        report.write(report_dir)
        rows.append((label, report, classifier_file, features))

    # the held-out folder scored as a lab scores new recordings, with the last video classifier
    # (the pretrained encoder's, or the given weights')
    _, _, classifier_file, features = rows[-1]
    scores = out / "scores"
    _say(f"score {data / 'test'}", f"--classifier {classifier_file}", f"--out {scores}", f"--features {features}")
    scored = vpb.score(data / "test", classifier_file, scores, vpb.ScoreConfig(features=str(features)), progress=True)
    for outcome in scored.failures:
        print(f"failed: {outcome.name} ({outcome.stage}: {outcome.reason})")

    kinds = ", ".join(f.stem.removeprefix("classifier_") for _, _, f, _ in rows)
    _outputs(out, [
        ("data/train/ data/test/", f"{len(train.recordings)} + {len(test.recordings)} synthetic videos (.mp4) with "
                                   "labels (.behavior.json) and pose (.slp)"),
        ("pretrain/", "stage-1 run: stage1_lvt.safetensors (the pretrained encoder), metrics.csv, tokenizer/"),
        (" ".join(f"features_{tag}/" for *_, tag in videos), "feature caches, one .features.h5 per video"),
        ("classifier_*.safetensors", f"the classifiers: {kinds}"),
        ("report_*/", "their held-out evaluations: report.json, per_class.csv, pr_curves.png, ethogram.png"),
        ("scores/", "data/test scored: per video .predictions.h5, .bouts.csv, .ethogram.png; report.html"),
    ])  # fmt: skip

    n_test = len(test.recordings)
    n_frames = sum(r.n_frames for r in test.recordings)
    print(f"\nheld-out synthetic videos ({n_test} recordings, {n_frames} frames, per-frame labels per animal)")
    width = max(len(r[0]) for r in rows)
    print(f"{'features':<{width}} {'mAP':>6} {'macro F1':>9} {'bout F1@0.5':>12}")
    for label, r, *_ in rows:
        print(f"{label:<{width}} {r.mAP:>6.3f} {r.macro_f1:>9.3f} {r.segmental_f1:>12.3f}")
    chance = _chance_map(rows[0][1])
    if chance is not None:
        print(f"{'(random scores)':<{width}} {chance:>6.3f}  <- mAP by chance: the behaviors' mean frequency")
    if random_weights:
        lift = (
            "stage-1 pretraining on the training videos" if len(videos) > 1 else "pretraining (drop --pretrain-steps 0)"
        )
        text = (
            f"The {name} encoder is a toy (width {encoder.model_dim}; VideoPrism base: 768) that sees only these "
            f"{len(train.recordings)} training videos. With random weights its features carry little of the animals' "
            f"motion; {lift} teaches it some; the pose features, made for exactly this, stay ahead. For the released "
            "VideoPrism (downloads the official weights from the Hugging Face hub, or pass a local .npz / .safetensors "
            "file):"
        )
        text = textwrap.fill(text, 100, break_long_words=False, break_on_hyphens=False)
        print("\n" + text + f"\n  vpbehavior demo --out {out} --weights videoprism_public_v1_base")
    report_html = scored.files.get("report", scores / "report.html")
    first = test.recordings[0]
    print(f"\nscore report (per video: ethogram, bout counts, time budget): {report_html}")
    print(
        "see a held-out video with its labels, pose and predictions in napari (pip install -e '.[napari]'):\n"
        f"  napari --plugin vpbehavior {first.video} {scores / (first.name + '.predictions.h5')}"
    )
    return scored.exit_status


def _chance_map(report) -> float | None:
    """The mAP that random scores get on the evaluated frames: the mean prevalence of the behaviors shown."""
    rows = [r for r in report.per_class if r.get("support") and r.get("annotated")]
    return sum(r["support"] / r["annotated"] for r in rows) / len(rows) if rows else None
