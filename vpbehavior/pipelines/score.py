"""`vpbehavior score DATA --classifier CLF --out OUT`: predictions, bouts, ethograms and a summary per folder.

`vpbehavior score --summarize OUT` rebuilds the folder's summary.csv, failures.csv and report.html
from whatever predictions exist (e.g. after the tasks of a SLURM array job).
"""

from __future__ import annotations

import argparse
import signal

from ._flags import add_config_flags, add_loading_flags, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import ScoreConfig

    parser.add_argument(
        "data", nargs="?", default=None,
        help="a folder in any format `vpbehavior load` reads, or one video (default: none, with --summarize)",
    )  # fmt: skip
    parser.add_argument("--classifier", default=None, help="classifier file from `vpbehavior train` (default: none)")
    parser.add_argument(
        "--out", default=None, help="output folder of predictions, bouts, ethograms, summary (default: none)"
    )
    parser.add_argument(
        "--summarize", default=None, metavar="OUT",
        help="only rebuild OUT's summary.csv, failures.csv and report.html from its predictions (default: off)",
    )  # fmt: skip
    add_loading_flags(parser)
    add_config_flags(parser.add_argument_group("scoring"), ScoreConfig, exclude=("format", "tracks"))


def _interrupt(signum, frame):  # SIGTERM (scancel, a job's time limit) unwinds like Ctrl-C: no half-written file
    raise KeyboardInterrupt


def main(args: argparse.Namespace) -> int:
    import vpbehavior
    from vpbehavior.api import ScoreConfig, score, summarize_scores

    if args.summarize is not None:
        if args.data or args.classifier or args.out:
            raise vpbehavior.ConfigError("--summarize OUT takes no DATA, --classifier or --out")
        files = summarize_scores(args.summarize)
        for name in ("summary", "failures", "report"):
            print(f"{name}: {files[name]}")
        return 0
    missing = [flag for flag, value in (("DATA", args.data), ("--classifier", args.classifier), ("--out", args.out))
               if value is None]  # fmt: skip
    if missing:
        raise vpbehavior.ConfigError(f"score needs {', '.join(missing)} (or --summarize OUT)")
    options = vpbehavior.parse_track_options(args.tracks, args.merge_tracks)
    config = config_from_args(ScoreConfig, args, base={"format": args.format, **options})
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = score(args.data, args.classifier, args.out, config, progress=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    for outcome in result.outcomes:
        line = f"{outcome.status}: {outcome.name}"
        if outcome.status == "failed":
            line += f" ({outcome.stage}: {outcome.reason})"
        print(line)
    shard = f" (shard {result.shard})" if result.shard.count > 1 else ""
    print(
        f"{len(result.scored)} scored, {len(result.up_to_date)} up to date, {len(result.elsewhere)} by another run, "
        f"{len(result.failures)} failed{shard}; report: {result.files['report']}"
    )
    return result.exit_status
