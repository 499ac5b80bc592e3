"""`vpbehavior extract DATA --out FEATURES`: frozen VideoPrism features for every recording."""

from __future__ import annotations

import argparse

DEFAULT_WEIGHTS = "videoprism_public_v1_base"


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    """Encoder and extraction options (shared with `vpbehavior benchmark`)."""
    g = parser.add_argument_group("encoder")
    g.add_argument("--weights", default=None,
                   help=f"VideoPrism weights: .npz / .safetensors / folder / released name (default {DEFAULT_WEIGHTS})")
    g.add_argument("--model", default=None,
                   help="a config name (tiny, base, ...) with random weights instead of --weights (for tests and timing)")
    g.add_argument("--seed", type=int, default=0, help="seed of a randomly initialized --model")
    g.add_argument("--clip-length", type=int, default=0, help="frames per clip (default: the model's)")
    g.add_argument("--stride", type=int, default=0, help="frames between clip starts (default: half a clip)")
    g.add_argument("--frame-step", type=int, default=1, help="spacing of frames inside a clip (KABR: 5)")
    g.add_argument("--size", type=int, default=0, help="input resolution in pixels (default: the model's, 288 for base)")
    g.add_argument("--token-grid", type=int, default=4, help="pooled token grid stored per frame for the attention probe (0: none)")
    g.add_argument("--no-subjects", action="store_true", help="skip per-subject (box-pooled) embeddings")
    g.add_argument("--batch-size", type=int, default=4, help="clips per encoder call")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (bf16 autocast on GPU)")
    g.add_argument("--prefetch", type=int, default=2, help="decoded batches kept ready by the decoding thread")


def encoder_from_args(args: argparse.Namespace):
    """(model, identity, ExtractConfig, device) from parsed arguments."""
    from vpbehavior.features.extract import ExtractConfig, encoder_identity, load_encoder, resolve_device

    if args.weights and args.model:
        raise ValueError("pass either --weights or --model, not both")
    device = resolve_device(args.device)
    spec = f"random:{args.model}" if args.model else (args.weights or DEFAULT_WEIGHTS)
    model = load_encoder(spec, device=device, seed=args.seed)
    config = ExtractConfig(
        clip_length=args.clip_length, stride=args.stride, frame_step=args.frame_step, size=args.size,
        token_grid=args.token_grid, subjects=not args.no_subjects,
    ).resolved(model)
    return model, encoder_identity(model), config, device


def extract_all(recordings, model, identity, config, out, args, progress: bool = True) -> tuple[list, list]:
    """Extract every recording; returns (cache paths, failures as (name, error))."""
    from tqdm.auto import tqdm

    from vpbehavior.features.extract import extract_recording

    paths, failures = [], []
    for rec in tqdm(recordings, desc="recordings", disable=not progress or len(recordings) < 2):
        try:
            paths.append(extract_recording(
                rec, model, out, config, batch_size=args.batch_size, device=str(next(model.parameters()).device),
                prefetch=args.prefetch, overwrite=getattr(args, "overwrite", False), progress=progress, identity=identity,
            ))
        except Exception as err:  # batch work goes on; every failure is reported at the end
            failures.append((rec.name, str(err) if isinstance(err, (OSError, ValueError)) else f"{type(err).__name__}: {err}"))
    return paths, failures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="a dataset folder, split folder, recording or video")
    parser.add_argument("--out", "--features", dest="out", required=True, help="feature cache folder (HDF5 per recording)")
    parser.add_argument("--format", default="auto", help="dataset format (default: detect)")
    parser.add_argument("--split", default="all", help="only recordings of this split (default: all)")
    parser.add_argument("--overwrite", action="store_true", help="recompute even up-to-date caches")
    add_encoder_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from vpbehavior.io.registry import load
    from vpbehavior.pipelines.sequences import select_split

    dataset = load(args.data, format=args.format)
    for failure in dataset.failures:
        print(f"skipped (failed to load): {failure}")
    recordings = [r for r in select_split(dataset.recordings, args.split) if r.video is not None]
    if not recordings:
        raise ValueError(f"{args.data}: no recordings with a video to extract features from")
    model, identity, config, device = encoder_from_args(args)
    print(f"encoder {identity['model']} (sha256 {identity['weights_sha256'][:12]}), device {device}, "
          f"clips {config.clip_length}x{config.frame_step} stride {config.stride}, {config.size}px")
    paths, failures = extract_all(recordings, model, identity, config, args.out, args)
    print(f"features of {len(paths)} recordings in {args.out}")
    for name, err in failures:
        print(f"failed: {name}: {err}")
    return 1 if failures else 0
