"""`vpbehavior export PREDICTIONS --to boris|slp|nwb|csv`: predictions in other tools' formats."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", help="a <name>.predictions.h5 file, or a score output folder (all of them)")
    parser.add_argument(
        "--to", required=True,
        help="comma-separated formats: boris (BORIS events table), slp (sleap-io events in a copy of the .slp), "
        "nwb (needs pynwb), csv (per-frame table) (required)",
    )  # fmt: skip
    parser.add_argument(
        "--out", default=None, help="folder for the exported files (default: beside each predictions file)"
    )
    parser.add_argument(
        "--pose",
        default=None,
        help="the .slp file to copy the events into (default: the one recorded in the predictions)",
    )
    parser.add_argument("--video", default=None, help="the video the predictions are of (default: the recorded one)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    import vpbehavior
    from vpbehavior.api import PREDICTIONS_SUFFIX as SUFFIX
    from vpbehavior.api import ScoreConfig, export_file

    kinds = ScoreConfig(export=args.to).exports
    if not kinds:
        raise vpbehavior.ConfigError("--to names no format; use e.g. --to boris,slp")
    source = Path(args.predictions)
    if source.is_dir():
        from vpbehavior.api import predictions_files

        files = [p for _, p in predictions_files(source)]
        if not files:
            raise vpbehavior.DataError(f"{source}: no {SUFFIX} files in this folder", source)
        if len(files) > 1 and (args.pose or args.video):
            raise vpbehavior.ConfigError("--pose and --video name one video's files; export one predictions file")
    else:
        files = [source]
    for path in files:
        out = args.out
        if out is not None and source.is_dir():
            out = Path(out) / path.parent.relative_to(source)
        written = export_file(path, kinds, out, pose=args.pose, video=args.video)
        for kind, target in written.items():
            print(f"{kind}: {target}")
    return 0
