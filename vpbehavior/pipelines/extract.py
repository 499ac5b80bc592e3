"""`vpbehavior extract DATA --features DIR`: frozen VideoPrism features for every recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._flags import FEATURES_HELP, add_config_flags, add_encoder_flags, add_loading_flags, config_from_args, load_data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import DEFAULT_WEIGHTS, ExtractConfig

    parser.add_argument("data", help="a dataset folder, split folder, recording or video")
    parser.add_argument("--features", required=True, help=FEATURES_HELP + " to write (HDF5 per recording)")
    add_loading_flags(parser)
    parser.add_argument("--split", default="all", help="only recordings of this split (default: all)")
    parser.add_argument("--overwrite", action="store_true", help="recompute even up-to-date caches")
    g = parser.add_argument_group("encoder and extraction")
    add_encoder_flags(g, DEFAULT_WEIGHTS)
    add_config_flags(g, ExtractConfig)


def main(args: argparse.Namespace) -> int:
    import vpbehavior
    from vpbehavior._outputs import check_output_folder, write_failures
    from vpbehavior.api import select_split

    config = config_from_args(vpbehavior.ExtractConfig, args)
    check_output_folder(args.features, "feature cache", markers=(), force=True, flag="--features")
    dataset = load_data(args)
    recordings = [r for r in select_split(dataset.recordings, args.split) if r.video is not None]
    if not recordings:
        raise vpbehavior.DataError(f"{args.data}: no recordings with a video to extract features from")
    encoder = vpbehavior.load_encoder(args.weights, device=config.device, seed=args.seed)
    resolved = config.resolved(encoder)
    print(
        f"encoder {encoder.origin} on {resolved.device}: clips of {resolved.clip_length} frames (step "
        f"{resolved.frame_step}, stride {resolved.stride}) at {resolved.size} px"
    )
    result = vpbehavior.extract_features(recordings, encoder, config, cache=args.features, overwrite=args.overwrite,
                                         progress=True)  # fmt: skip
    print(f"features of {len(result.paths)} of {len(recordings)} recordings in {args.features}")
    for name, err in result.failures:
        print(f"failed: {name}: {err}")
    failures = [(str(f.path), "load", f.error) for f in dataset.failures]
    failures += [(name, "extract", err) for name, err in result.failures]
    listed = write_failures(Path(args.features) / "failures.csv", failures)
    if listed:
        print(f"failures listed in {listed}")
    return 1 if failures else 0
