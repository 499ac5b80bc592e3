"""Our own behavior label file: ``<video stem>.behavior.json``.

A small JSON object that keeps everything `BehaviorLabels` holds, exactly::

    {"format": "vpbehavior.behavior", "version": 2, "n_frames": 1800,
     "classes": ["attack", "chase"], "subjects": ["m1", "m2"], "background": null,
     "bouts": [[start, stop, subject, behavior, target], ...],  # stop exclusive; target or null
     "unannotated": [[start, stop, subject], ...]}              # default: none

Frames outside bouts are negatives unless listed under "unannotated". ``target`` is the
subject the behavior is directed at (`Bout.target`), null when undirected. Version 1 files
(bouts ``[start, stop, subject, behavior]``, no targets) are still read.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from vpbehavior._files import atomic_write_text  # re-exported: importers used to find it here
from vpbehavior.core import UNANNOTATED, BehaviorLabels, Bout, DataError, FormatError, MissingFileError
from vpbehavior.core.labels import runs
from vpbehavior.core.names import match_name, name_lookup

FORMAT_NAME = "vpbehavior.behavior"
SUFFIX = ".behavior.json"
#: Version written. 2 added the bouts' target; 1 is still read.
VERSION = 2
READABLE_VERSIONS = (1, 2)

__all__ = ["FORMAT_NAME", "SUFFIX", "VERSION", "atomic_write_text", "labels_from_dict", "labels_to_dict",
           "load_labels", "save_labels"]  # fmt: skip


def labels_to_dict(labels: BehaviorLabels) -> dict:
    """The JSON-ready form of ``labels`` (current version)."""
    mask = labels.annotated_mask()
    partially = (labels.annotated.any(axis=2) & ~mask).any()
    if partially:
        raise DataError("labels with classes annotated separately per frame cannot be stored in a behavior file")
    unannotated = [[a, b, subject] for s, subject in enumerate(labels.subjects) for a, b in runs(~mask[:, s])]
    return {
        "format": FORMAT_NAME,
        "version": VERSION,
        "n_frames": labels.n_frames,
        "classes": list(labels.classes),
        "subjects": list(labels.subjects),
        "background": labels.background,
        "bouts": [[b.start, b.stop, b.subject, b.behavior, b.target] for b in labels.to_bouts()],
        "unannotated": unannotated,
    }


def _bout(entry, version: int, source: str, i: int) -> Bout:
    width = 4 if version == 1 else 5
    if not isinstance(entry, list) or len(entry) != width:
        layout = "[start, stop, subject, behavior" + (", target]" if width == 5 else "]")
        raise DataError(f"bouts[{i}] must be {layout} in a version {version} file, got {entry!r}", source, "bouts")
    start, stop, subject, behavior = entry[:4]
    target = entry[4] if width == 5 else None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop)):
        raise DataError(f"bouts[{i}]: start and stop must be integers, got {start!r}, {stop!r}", source, "bouts")
    try:
        return Bout(start, stop, str(subject), str(behavior), target=None if target is None else str(target))
    except DataError as err:
        raise DataError(f"bouts[{i}]: {err}", source, "bouts") from None


def _spelled_as_declared(bouts: list[Bout], classes: list, subjects: list, source: str) -> list[Bout]:
    """Bouts whose behavior and subject names match the declared ones by the core name rule, in their spelling."""
    try:
        class_names, subject_names = name_lookup(map(str, classes)), name_lookup(map(str, subjects))
    except ValueError as err:
        raise DataError(str(err), source, "classes") from None

    def spelled(name: str | None, lookup: dict) -> str | None:
        return None if name is None else (match_name(name, lookup) or name)

    return [
        dataclasses.replace(
            b,
            behavior=spelled(b.behavior, class_names),
            subject=spelled(b.subject, subject_names),
            target=spelled(b.target, subject_names),
        )
        for b in bouts
    ]


def labels_from_dict(obj: dict, source: str = "<dict>") -> BehaviorLabels:
    """Inverse of `labels_to_dict` (any readable version); errors name ``source`` and the field."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise FormatError(f"not a vpbehavior behavior file (format={found!r})", source, "format")
    version = obj.get("version", 1)
    if version not in READABLE_VERSIONS:
        raise DataError(
            f"behavior file version {version!r} is not one this vpbehavior reads {READABLE_VERSIONS} "
            "(written by a newer vpbehavior?)",
            source,
            "version",
        )
    for key in ("n_frames", "classes", "subjects", "bouts"):
        if key not in obj:
            raise DataError(f"malformed behavior file: no {key!r}", source, key)
    n_frames = obj["n_frames"]
    if not isinstance(n_frames, int) or isinstance(n_frames, bool) or n_frames < 0:
        raise DataError(f"'n_frames' must be a non-negative integer, got {n_frames!r}", source, "n_frames")
    for key in ("classes", "subjects", "bouts"):
        if not isinstance(obj[key], list):
            raise DataError(f"{key!r} must be a list, got {type(obj[key]).__name__}", source, key)
    bouts = [_bout(entry, version, source, i) for i, entry in enumerate(obj["bouts"])]
    bouts = _spelled_as_declared(bouts, obj["classes"], obj["subjects"], source)
    try:
        labels = BehaviorLabels.from_bouts(
            bouts, n_frames, obj["classes"], obj["subjects"], True, obj.get("background")
        )
    except DataError as err:
        raise DataError(str(err), source, "bouts") from None
    unannotated = obj.get("unannotated", [])
    if not isinstance(unannotated, list):
        raise DataError("'unannotated' must be a list of [start, stop, subject]", source, "unannotated")
    if not unannotated:
        return labels
    values = labels.values.copy()
    for i, entry in enumerate(unannotated):
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(v, int) for v in entry[:2])):
            raise DataError(f"unannotated[{i}] must be [start, stop, subject], got {entry!r}", source, "unannotated")
        start, stop, subject = entry
        if subject not in labels.subjects:
            raise DataError(
                f"'unannotated' names subject {subject!r}, not among {list(labels.subjects)}", source, "unannotated"
            )
        values[start:stop, labels.subjects.index(subject)] = UNANNOTATED
    return labels.with_values(np.asarray(values))


def save_labels(labels: BehaviorLabels, path: str | Path) -> Path:
    """Write ``labels`` atomically (temporary file, then rename)."""
    path = Path(path)
    atomic_write_text(path, json.dumps(labels_to_dict(labels), indent=1))
    return path


def load_labels(path: str | Path) -> BehaviorLabels:
    """Read a ``.behavior.json`` file (version 1 or 2)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: behavior file not found", path=path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON at line {err.lineno} column {err.colno} ({err.msg})", path) from err
    except UnicodeDecodeError as err:
        raise DataError(f"not a UTF-8 text file ({err})", path) from err
    return labels_from_dict(obj, str(path))
