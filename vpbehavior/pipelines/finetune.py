"""`vpbehavior finetune DATA... --out DIR`: fine-tune the encoder and a head end to end on labelled clips.

Every field of `FinetuneConfig` is a flag; ``--config FILE`` (JSON or YAML) gives any of them.
The encoder it writes loads wherever encoder weights are accepted (``--weights``).
"""

from __future__ import annotations

import argparse

from .pretrain import add_training_arguments, config_from_command, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import FinetuneConfig

    add_training_arguments(parser, FinetuneConfig)


def main(args: argparse.Namespace) -> int:
    from vpbehavior.api import FinetuneConfig, finetune

    report(finetune(config=config_from_command(FinetuneConfig, args), progress=True))
    return 0
