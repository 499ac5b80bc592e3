"""`vpbehavior benchmark {flyvsfly,calms21,chimpact,kabr} --data DIR --weights W`: a paper protocol.

The protocols and their published numbers live in `vpbehavior.protocols`; every extraction and
training option of the protocol can be overridden with the same flags as `extract` and `train`.
"""

from __future__ import annotations

import argparse

from ._flags import add_config_flags, add_encoder_flags, overrides_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpbehavior.api import DEFAULT_WEIGHTS, PROTOCOLS, ExtractConfig, TrainConfig

    parser.add_argument("dataset", choices=sorted(PROTOCOLS), help="which benchmark")
    parser.add_argument("--data", required=True, help="the dataset's root folder")
    parser.add_argument(
        "--out", default=None, help="work folder for features, classifier and report (default: ./benchmark_<dataset>)"
    )
    g = parser.add_argument_group("encoder and extraction (defaults: the protocol's)")
    add_encoder_flags(g, DEFAULT_WEIGHTS)
    add_config_flags(g, ExtractConfig, overridable=True)
    add_config_flags(parser.add_argument_group("classifier (defaults: the protocol's)"), TrainConfig, overridable=True)


def main(args: argparse.Namespace) -> int:
    from vpbehavior.api import ExtractConfig, TrainConfig, run_benchmark

    result = run_benchmark(
        args.dataset, args.data, args.weights, out=args.out, seed=args.seed, progress=True,
        extract=overrides_from_args(ExtractConfig, args), train=overrides_from_args(TrainConfig, args),
    )  # fmt: skip
    print(result.table())
    print(f"report: {result.out / 'report'}")
    return 0
