"""Typed configs: dataclass fields that carry their own help text, so the CLI derives its flags
(with every default shown) from the same place the Python API reads them.

    @dataclass(frozen=True)
    class ExampleConfig:
        lr: float = option(1e-3, "learning rate")
        head: str = option("mlp", "classifier head", choices=("linear", "mlp"))

`config_from_dict` rebuilds a config from JSON (a file's header) and names the file and the
key when something is wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from vpbehavior.core.errors import ConfigError, DataError

C = TypeVar("C")


def option(default: Any, help: str, choices: tuple | None = None, flag: str | None = None, cli: bool = True):
    """A dataclass field with help text (and optional choices / flag name) for the command line."""
    meta = {"help": help, "choices": choices, "flag": flag, "cli": cli}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def flag_of(config: object, name: str) -> str:
    """The command-line flag of field ``name`` (``--train-batch-size`` for TrainConfig.batch_size)."""
    f = {f.name: f for f in dataclasses.fields(config)}[name]
    return "--" + (f.metadata.get("flag") or name.replace("_", "-"))


def check_range(config: object, name: str, low: float | None = None, high: float | None = None, *,
                open_low: bool = False, open_high: bool = False) -> None:  # fmt: skip
    """Raise ConfigError, naming the field's flag, when its value lies outside [low, high] (or open ends)."""
    value = getattr(config, name)
    if value is None:
        return
    bad_low = low is not None and (value <= low if open_low else value < low)
    bad_high = high is not None and (value >= high if open_high else value > high)
    if bad_low or bad_high:
        left = "(" if open_low else "["
        right = ")" if open_high else "]"
        span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ConfigError(f"{flag_of(config, name)} must lie in {span}, got {value}")


def check_choice(config: object, name: str) -> None:
    """Raise ConfigError when field ``name`` of ``config`` is not among its declared choices."""
    f = {f.name: f for f in dataclasses.fields(config)}[name]
    choices = f.metadata.get("choices")
    value = getattr(config, name)
    if choices and value not in choices:
        raise ConfigError(f"{flag_of(config, name)} must be one of {', '.join(map(str, choices))}; got {value!r}")


def check_choices(config: object) -> None:
    """`check_choice` for every field that declares choices."""
    for f in dataclasses.fields(config):
        if f.metadata.get("choices"):
            check_choice(config, f.name)


def config_from_dict(cls: type[C], values: dict, path: str | Path | None = None, what: str = "config") -> C:
    """``cls(**values)``, with unknown keys and invalid values reported as one line naming ``path``."""
    if not isinstance(values, dict):
        raise DataError(f"{what} must be a JSON object, not {type(values).__name__}", path)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DataError(f"unknown {what} key(s) {unknown}; known: {sorted(known)}", path)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise DataError(f"invalid {what}: {err}", path) from None


def to_dict(config: object) -> dict:
    """The config as a JSON-ready dict."""
    return dataclasses.asdict(config)
