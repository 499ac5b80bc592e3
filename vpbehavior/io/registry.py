"""Format registry behind `vpbehavior.load(path, format="auto")`.

Each format module registers a detector (how sure it is that a path is in its format,
0..1) and a loader returning a `Dataset`. Built-in format modules are imported only
when a load or detection needs them, so `import vpbehavior` stays fast.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vpbehavior.core import ConfigError, Dataset, FormatError, MissingFileError

# Format modules imported on first use; each calls `register_format` at import.
BUILTIN_FORMAT_MODULES = (
    "vpbehavior.io.calms21",
    "vpbehavior.io.flyvsfly",
    "vpbehavior.io.chimpact",
    "vpbehavior.io.kabr",
    "vpbehavior.io.lab_file",
    "vpbehavior.io.folder",
)


@dataclass(frozen=True)
class FormatSpec:
    """A registered format: name, detector, loader and a one-line description."""

    name: str
    detect: Callable[[Path], float]
    load: Callable[..., Dataset]
    description: str = ""


_FORMATS: dict[str, FormatSpec] = {}
_builtins_loaded = False


def register_format(
    name: str, detect: Callable[[Path], float], load: Callable[..., Dataset], description: str = ""
) -> None:
    """Add (or replace) a format."""
    _FORMATS[name] = FormatSpec(name, detect, load, description)


def _ensure_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in BUILTIN_FORMAT_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:  # a format module not written yet
            if err.name != module:
                raise


def available_formats() -> dict[str, FormatSpec]:
    """The registered formats by name."""
    _ensure_builtins()
    return dict(_FORMATS)


def detect_format(path: str | Path) -> str:
    """The name of the format that claims ``path`` most confidently.

    Raises `MissingFileError` for a path that does not exist and `FormatError` when no
    registered format recognizes it.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder", path=path)
    scores = {name: spec.detect(path) for name, spec in available_formats().items()}
    best = max(scores, key=scores.get, default=None)
    if best is None or scores[best] <= 0:
        raise FormatError(
            f"{path}: could not recognize the format; name it (--format, or format= in Python): one of {sorted(available_formats())}",
            path=path,
        )
    return best


def _check_options(spec: FormatSpec, options: dict) -> None:
    """An option the format's loader does not take is a `ConfigError` listing the ones it does."""
    params = inspect.signature(spec.load).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in list(params.items())[1:] if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"format {spec.name!r} has no option(s) {unknown}; its options are {accepted}")


def load(path: str | Path, format: str = "auto", **options) -> Dataset:
    """Load a dataset root, one of its split / task folders, or a single file.

    Parameters
    ----------
    path
        File or folder.
    format
        A registered format name, or "auto" to detect it from the files.
    **options
        Passed to the format's loader (e.g. ``propagate=True`` for ChimpACT).

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    FormatError
        ``format="auto"`` and no format recognizes ``path``.
    ConfigError
        An unknown format name (the message lists the known ones) or an option the format
        does not take.
    """
    path = Path(path)
    formats = available_formats()
    if format != "auto" and format not in formats:
        raise ConfigError(f"unknown format {format!r}; known formats: {sorted(formats)}")
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder", path=path)
    name = detect_format(path) if format == "auto" else format
    _check_options(formats[name], options)
    return formats[name].load(path, **options)
