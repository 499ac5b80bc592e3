"""Checks made before long work starts: can the outputs be written, and would they replace
something that is not ours?

A command that trains for an hour and then cannot write its result, or that silently replaces a
video with a classifier, has wasted the user's time or data. `check_output_file` and
`check_output_folder` fail fast with one line instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from vpbehavior.core.errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return Path(".")


def _can_create_in(folder: Path) -> bool:
    """Try it: create and remove a file in ``folder`` (os.access says yes to root even on read-only mounts)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".vpb-write-check-"):
            return True
    except OSError:
        return False


def _check_writable_location(path: Path, what: str) -> None:
    """The folder that will hold ``path`` exists (or can be made) and is writable."""
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise ConfigError(f"{path}: cannot write the {what} there: {base} is a file, not a folder")
    if not _can_create_in(base):
        raise ConfigError(f"{path}: cannot write the {what}: folder {base} is not writable")


def is_classifier_file(path: Path) -> bool:
    """Whether ``path`` is a safetensors file written by `BehaviorClassifier.save`."""
    try:
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if not 0 < n < 100 << 20:
                return False
            header = json.loads(fh.read(n))
        meta = json.loads((header.get("__metadata__") or {}).get("vpbehavior", "{}"))
        return meta.get("format") == "vpbehavior-classifier"
    except (OSError, ValueError, AttributeError):
        return False


def check_output_file(path: str | Path, what: str, ours: Callable[[Path], bool], force: bool = False) -> Path:
    """``path`` can be written, and replaces nothing but an earlier output of the same kind (unless ``force``)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; name the {what} file to write, e.g. {path / ('out' + path.suffix)}")
    if path.exists() and not force and not ours(path):
        raise ConfigError(f"{path}: exists and is not a {what}; refusing to overwrite it (pass --force to replace it)")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{path}: cannot replace the {what}: the file is not writable")
    _check_writable_location(path, what)
    return path


def check_output_folder(
    path: str | Path, what: str, markers: Sequence[str], force: bool = False, *, flag: str = "--out",
    force_flag: str | None = "--force",
) -> Path:  # fmt: skip
    """Folder ``path`` can be written and is new, empty, or an earlier output of ours (has a marker file).

    ``flag`` / ``force_flag``: the command's flags named in the messages (``force_flag`` None: it has none).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file; the {what} is a folder (pass another {flag})")
    if path.is_dir():
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        if entries and not force and not any((path / m).exists() for m in markers):
            hint = f"pass another {flag}" + (f" (or {force_flag})" if force_flag else "")
            raise ConfigError(f"{path}: folder exists and holds other files than an earlier {what}; {hint}")
        if not _can_create_in(path):
            raise ConfigError(f"{path}: cannot write the {what}: the folder is not writable")
        return path
    _check_writable_location(path / "x", what)
    return path


FAILURE_COLUMNS = ("item", "stage", "reason")


def write_failures(path: str | Path, failures: Sequence[tuple[str, str, str]]) -> Path | None:
    """``failures.csv`` (item, stage, reason) written atomically; an old one is removed when nothing failed."""
    import csv
    import io

    from vpbehavior._files import atomic_write_text

    path = Path(path)
    if not failures:
        path.unlink(missing_ok=True)
        return None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FAILURE_COLUMNS)
    writer.writerows(failures)
    atomic_write_text(path, buf.getvalue())
    return path
