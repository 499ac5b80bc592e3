"""The `vpbehavior` command: one thin subcommand per pipeline.

Each pipeline module listed in `SUBCOMMANDS` defines ``add_arguments(parser)`` and
``main(args) -> int``; heavy imports (torch, h5py, decoders) happen inside ``main``
so that ``vpbehavior --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ._version import __version__

# (command, module, one-line help)
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("demo", "vpbehavior.pipelines.demo", "run the whole path on built-in synthetic data"),
    ("inspect", "vpbehavior.pipelines.inspect", "summarize a video, a recording or a dataset"),
    ("extract", "vpbehavior.pipelines.extract", "extract frozen VideoPrism features (HDF5 cache)"),
    ("train", "vpbehavior.pipelines.train", "train a frame-level behavior classifier on features"),
    ("evaluate", "vpbehavior.pipelines.evaluate", "evaluate a classifier: metrics, bouts, PR curves, ethogram"),
    ("benchmark", "vpbehavior.pipelines.benchmark", "run a paper benchmark protocol (flyvsfly, calms21, chimpact, kabr)"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vpbehavior",
        description="VideoPrism for animal behavior: load recordings, extract features, "
        "classify behavior, score experiments.",
    )
    parser.add_argument("--version", action="version", version=f"vpbehavior {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in SUBCOMMANDS:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(importlib.import_module(args._module).main(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"vpbehavior {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vpbehavior {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
