"""The `vpbehavior` command: one thin subcommand per pipeline.

Each pipeline module listed in `SUBCOMMANDS` defines ``add_arguments(parser)`` and
``main(args) -> int`` and calls the Python API (`vpbehavior.api`). Exit status: 0 done, 1 some
of the work failed (listed), 2 a usage or data error (one line, no traceback), 130 interrupted.
Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from ._version import __version__

# (command, module, one-line help)
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("demo", "vpbehavior.pipelines.demo", "run the whole path on built-in synthetic data"),
    ("inspect", "vpbehavior.pipelines.inspect", "summarize a video, a recording or a dataset"),
    ("extract", "vpbehavior.pipelines.extract", "extract frozen VideoPrism features (HDF5 cache)"),
    ("train", "vpbehavior.pipelines.train", "train a frame-level behavior classifier on features"),
    ("evaluate", "vpbehavior.pipelines.evaluate", "evaluate a classifier: metrics, bouts, PR curves, ethogram"),
    (
        "benchmark",
        "vpbehavior.pipelines.benchmark",
        "run a paper benchmark protocol (flyvsfly, calms21, chimpact, kabr)",
    ),
    ("score", "vpbehavior.pipelines.score", "score every video of a folder: predictions, bouts, ethograms, summary"),
    ("search", "vpbehavior.pipelines.search", "find moments by text (zero-shot, video-text LvT model)"),
    ("export", "vpbehavior.pipelines.export", "export predictions to BORIS, sleap-io (.slp), NWB or CSV"),
    ("pretrain", "vpbehavior.pipelines.pretrain", "pretrain the encoder: stage1 (video-text), stage2 (distillation)"),
    ("finetune", "vpbehavior.pipelines.finetune", "fine-tune the encoder and a head end to end on labelled clips"),
]


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors exit 2 with one line after the usage, as ours do."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vpbehavior",
        description="VideoPrism for animal behavior: load recordings, extract features, "
        "classify behavior, score experiments.",
    )
    parser.add_argument("--version", action="version", version=f"vpbehavior {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details (epochs, choices) to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module, help_text in SUBCOMMANDS:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Data warnings as one line each on stderr; other warnings as Python shows them."""
    from vpbehavior.reporting import DataWarning

    if issubclass(category, DataWarning):
        print(f"vpbehavior: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _one_line(err: BaseException) -> str:
    from vpbehavior.reporting import one_line

    text = one_line(err) or type(err).__name__
    return text


def main(argv: Sequence[str] | None = None) -> int:
    from vpbehavior.core.errors import VpbehaviorError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse gives a trailing positional list (`search DATA "q1" --out O "q2"`) only the words before
        # the first option; a command that declares TRAILING_POSITIONALS takes the other words too
        field = getattr(importlib.import_module(args._module), "TRAILING_POSITIONALS", None) if args.command else None
        options = [word for word in extra if word.startswith("-")]
        if field is None or options:
            parser.error(f"unrecognized arguments: {' '.join(options or extra)}")
        setattr(args, field, [*getattr(args, field), *extra])
    if args.command is None:
        parser.print_help()
        return 0
    if args.verbose:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("vpbehavior: %(message)s"))
        handler.addFilter(lambda record: record.levelno < logging.WARNING)  # warnings are printed once, below
        logging.getLogger("vpbehavior").addHandler(handler)
        logging.getLogger("vpbehavior").setLevel(logging.INFO)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(importlib.import_module(args._module).main(args) or 0)
    except (VpbehaviorError, OSError) as err:  # a user mistake or the environment: one line, no traceback
        print(f"vpbehavior {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vpbehavior {args.command}: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as err:
        if type(err).__name__ != "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch here
            raise
        print(f"vpbehavior {args.command}: error: out of GPU memory ({_one_line(err)[:200]}); pass a smaller "
              "--batch-size (or input --size), or see docs/troubleshooting.md", file=sys.stderr)  # fmt: skip
        return 2
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
