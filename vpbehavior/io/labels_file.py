"""Our own behavior label file: ``<video stem>.behavior.json``.

A small JSON object that keeps everything `BehaviorLabels` holds, exactly::

    {"format": "vpbehavior.behavior", "version": 1, "n_frames": 1800,
     "classes": ["attack", "chase"], "subjects": ["m1", "m2"], "background": null,
     "bouts": [[start, stop, subject, behavior], ...],        # stop exclusive
     "unannotated": [[start, stop, subject], ...]}            # default: none

Frames outside bouts are negatives unless listed under "unannotated".
"""

from __future__ import annotations

import json
from pathlib import Path

from vpbehavior._files import atomic_write_text  # re-exported: importers used to find it here
from vpbehavior.core import UNANNOTATED, BehaviorLabels, Bout
from vpbehavior.core.labels import runs

FORMAT_NAME = "vpbehavior.behavior"
SUFFIX = ".behavior.json"


def labels_to_dict(labels: BehaviorLabels) -> dict:
    """The JSON-ready form of ``labels``."""
    mask = labels.annotated_mask()
    partially = (labels.annotated.any(axis=2) & ~mask).any()
    if partially:
        raise ValueError("labels with classes annotated separately per frame cannot be stored in a behavior file")
    unannotated = [[a, b, subject] for s, subject in enumerate(labels.subjects) for a, b in runs(~mask[:, s])]
    return {
        "format": FORMAT_NAME,
        "version": 1,
        "n_frames": labels.n_frames,
        "classes": list(labels.classes),
        "subjects": list(labels.subjects),
        "background": labels.background,
        "bouts": [[b.start, b.stop, b.subject, b.behavior] for b in labels.to_bouts()],
        "unannotated": unannotated,
    }


def labels_from_dict(obj: dict, source: str = "<dict>") -> BehaviorLabels:
    """Inverse of `labels_to_dict`; errors name ``source`` and the field."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        raise ValueError(f"{source}: not a vpbehavior behavior file (format={obj.get('format') if isinstance(obj, dict) else type(obj).__name__!r})")
    try:
        n_frames = int(obj["n_frames"])
        classes, subjects = obj["classes"], obj["subjects"]
        bouts = [Bout(int(a), int(b), str(s), str(c)) for a, b, s, c in obj["bouts"]]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{source}: malformed behavior file ({type(err).__name__}: {err})") from err
    try:
        labels = BehaviorLabels.from_bouts(bouts, n_frames, classes, subjects, True, obj.get("background"))
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from err
    for start, stop, subject in obj.get("unannotated", []):
        if subject not in labels.subjects:
            raise ValueError(f"{source}: 'unannotated' names subject {subject!r}, not among {list(labels.subjects)}")
        labels.values[int(start) : int(stop), labels.subjects.index(subject)] = UNANNOTATED
    return labels


def save_labels(labels: BehaviorLabels, path: str | Path) -> Path:
    """Write ``labels`` atomically (temporary file, then rename)."""
    path = Path(path)
    atomic_write_text(path, json.dumps(labels_to_dict(labels), indent=1))
    return path


def load_labels(path: str | Path) -> BehaviorLabels:
    """Read a ``.behavior.json`` file."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON at line {err.lineno} column {err.colno} ({err.msg})") from err
    return labels_from_dict(obj, str(path))
