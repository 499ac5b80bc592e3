"""`vpbehavior pretrain stage1|stage2 DATA... --out DIR`: pretrain the encoder on a lab's footage.

Every field of `Stage1Config` / `Stage2Config` is a flag; ``--config FILE`` (JSON or YAML) gives
any of them, flags given on the command line win. Under ``torchrun --nproc-per-node N`` the same
command trains on N GPUs.

    vpbehavior pretrain stage2 rig_videos/ --out adapted                 # domain adaptation, no captions
    vpbehavior pretrain stage1 labelled/ --tokenizer c4_en.model --out s1
    torchrun --nproc-per-node 8 -m vpbehavior.cli pretrain stage2 --config stage2.yaml
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from ._flags import add_config_flags

STAGES = {
    "stage1": "video-text contrastive training (captions from a manifest or from behavior labels)",
    "stage2": "masked distillation from a frozen teacher (global + token-wise, shuffled); no captions needed",
}


def add_training_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """The positional data, ``--config`` and one flag per config field (defaults left to the file)."""
    parser.add_argument(
        "data", nargs="*", help="dataset folders, lab folders of videos, or video files (default: the config file's)"
    )
    parser.add_argument("--config", default=None, help="a JSON or YAML file of config fields (default: none)")
    group = parser.add_argument_group(f"{cls.stage} options")
    add_config_flags(group, cls)
    # a flag the user did not give must not override the config file: parse it as None
    parser.set_defaults(
        **{(f.metadata.get("flag") or f.name).replace("-", "_"): None for f in dataclasses.fields(cls)
           if f.metadata.get("cli", True)}
    )  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import Stage1Config, Stage2Config

    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True, parser_class=type(parser))
    for name, cls in (("stage1", Stage1Config), ("stage2", Stage2Config)):
        add_training_arguments(sub.add_parser(name, help=STAGES[name], description=STAGES[name]), cls)


def config_from_command(cls: type, args: argparse.Namespace):
    """The config: defaults, then the config file, then the flags and positional data given."""
    from vpbehavior.api import make_pretrain_config as make_config
    from vpbehavior.api import read_pretrain_config_file as read_config_file

    from ._flags import overrides_from_args

    values = read_config_file(args.config) if args.config else {}
    values.update(overrides_from_args(cls, args))
    if args.data:
        values["data"] = list(args.data)
    return make_config(cls, values, args.config)


def report(result) -> None:
    """What a training command prints when it is done (process 0 only)."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    resumed = f" (resumed from step {result.resumed_from})" if result.resumed_from else ""
    print(f"trained {result.steps} steps{resumed} in {result.seconds:.1f} s; final loss {result.final_loss:.4f}")
    print(f"metrics: {result.metrics_file}")
    for path in result.outputs:
        print(f"wrote {path}")
    if result.outputs:
        print(f"use it as an encoder: --weights {result.outputs[0]}")


def main(args: argparse.Namespace) -> int:
    from vpbehavior.api import PRETRAIN_CONFIG_CLASSES as CONFIG_CLASSES
    from vpbehavior.api import pretrain

    config = config_from_command(CONFIG_CLASSES[args.stage], args)
    report(pretrain(args.stage, config=config, progress=True))
    return 0
