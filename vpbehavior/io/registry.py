"""Format registry behind `vpbehavior.load(path, format="auto")`.

Each format module registers a detector (how sure it is that a path is in its format,
0..1) and a loader returning a `Dataset`. Built-in format modules are imported only
when a load or detection needs them, so `import vpbehavior` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vpbehavior.core import Dataset

# Format modules imported on first use; each calls `register_format` at import.
BUILTIN_FORMAT_MODULES = (
    "vpbehavior.io.calms21",
    "vpbehavior.io.flyvsfly",
    "vpbehavior.io.chimpact",
    "vpbehavior.io.kabr",
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
    """The name of the format that claims ``path`` most confidently."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    scores = {name: spec.detect(path) for name, spec in available_formats().items()}
    best = max(scores, key=scores.get, default=None)
    if best is None or scores[best] <= 0:
        raise ValueError(
            f"{path}: could not recognize the format; pass format= one of {sorted(available_formats())}"
        )
    return best


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
    """
    path = Path(path)
    name = detect_format(path) if format == "auto" else format
    formats = available_formats()
    if name not in formats:
        raise ValueError(f"unknown format {name!r}; known formats: {sorted(formats)}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return formats[name].load(path, **options)
