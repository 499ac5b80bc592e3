"""Command-line flags derived from the API's config dataclasses, in one place.

Each config field becomes ``--field-name`` (or the field's declared ``flag``), typed from its
annotation, with its help text and its default shown; booleans get ``--x / --no-x``. The parsed
values map back onto the config with `config_from_args`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

#: Shared flags: the same name means the same thing in every command.
WEIGHTS_HELP = (
    "VideoPrism weights: a .npz / .safetensors file, a released name (videoprism_public_v1_base), "
    "a hub repo id, or random:<config> for random weights (random:tiny, to try things out)"
)
FEATURES_HELP = "the feature cache folder (written by `vpbehavior extract`, read by train / evaluate)"


def _field_type(hint) -> tuple[type, bool]:
    """(the scalar type, whether None is allowed) of an annotation like ``int | None``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def flag_name(f: dataclasses.Field) -> str:
    return "--" + (f.metadata.get("flag") or f.name.replace("_", "-"))


def _dest(f: dataclasses.Field) -> str:
    """Where argparse keeps the flag's value (from the flag, so two configs' fields never collide)."""
    return flag_name(f)[2:].replace("-", "_")


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    exclude: tuple[str, ...] = (),
    overridable: bool = False,
    defaults: dict | None = None,
) -> None:
    """Add a flag per field of config class ``cls``.

    ``overridable``: flags default to None ("not given"), for commands whose defaults come from
    elsewhere (a benchmark protocol); the help still shows the config's own default.
    ``defaults`` replaces some fields' defaults for this command.
    """
    hints = typing.get_type_hints(cls)
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.metadata.get("cli", True):
            continue
        kind, _ = _field_type(hints[f.name])
        default = defaults.get(f.name, f.default)
        shown = "the protocol's" if overridable else ("auto" if default is None else default)
        help_text = f.metadata.get("help", "")
        if "(default" not in help_text:
            help_text += f" (default: {shown})"
        help_text = help_text.replace("%", "%%")  # a literal percent sign, not an argparse placeholder
        kwargs: dict[str, Any] = {"dest": _dest(f), "help": help_text, "default": None if overridable else default}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind
            kwargs["metavar"] = kind.__name__.upper()
            if f.metadata.get("choices"):
                kwargs["choices"] = f.metadata["choices"]
                kwargs.pop("metavar")
        parser.add_argument(flag_name(f), **kwargs)


def config_from_args(cls: type, args: argparse.Namespace, *, base: dict | None = None):
    """``cls(**base, **flags)``: flags the user left at None ("not given") do not override ``base``."""
    return cls(**{**(base or {}), **overrides_from_args(cls, args)})


def overrides_from_args(cls: type, args: argparse.Namespace) -> dict:
    """Only the fields of ``cls`` the user gave on the command line (for `add_config_flags(overridable=True)`)."""
    return {
        f.name: getattr(args, _dest(f))
        for f in dataclasses.fields(cls)
        if f.metadata.get("cli", True) and getattr(args, _dest(f), None) is not None
    }


def add_encoder_flags(parser: argparse.ArgumentParser, default: str | None) -> None:
    """``--weights`` and ``--seed``, the same in every command that runs the encoder."""
    shown = default or "the protocol's"
    parser.add_argument("--weights", default=default, help=f"{WEIGHTS_HELP} (default: {shown})")
    parser.add_argument("--seed", type=int, default=0, help="seed of random:<config> weights (default: 0)")


def add_loading_flags(parser: argparse.ArgumentParser) -> None:
    """``--format``, ``--tracks`` and ``--merge-tracks``: how a command reads its DATA, the same everywhere."""
    parser.add_argument("--format", default="auto", help="dataset format (default: auto, detected from the files)")
    parser.add_argument(
        "--tracks", type=int, default=None, metavar="N",
        help="keep the N longest pose tracks of each recording (fragmented tracking; default: all tracks)",
    )  # fmt: skip
    parser.add_argument(
        "--merge-tracks", default=None, metavar="FILE.json",
        help='merge pose tracks by a JSON mapping {"track": "subject"} or {"recording": {...}} (default: none)',
    )  # fmt: skip


def load_data(args: argparse.Namespace):
    """`vpbehavior.load` of ``args.data`` (or ``args.path``) with the loading flags; prints what failed to load."""
    import vpbehavior

    options = vpbehavior.parse_track_options(args.tracks, args.merge_tracks)
    path = getattr(args, "data", None) or args.path
    dataset = vpbehavior.load(path, format=args.format, **options)
    for failure in dataset.failures:
        print(f"skipped (failed to load): {failure}")
    return dataset
