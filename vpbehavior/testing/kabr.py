"""Writer of the KABR release layout (SYNTHETIC content, real layout).

Layout per ``shared/docs/dataset_formats.md`` section 4::

    KABR/annotation/classes.json        {"Walk": 0, ...}, 4-space indentation
    KABR/annotation/{train,val}.csv     single-space separated, header
                                        ``original_vido_id video_id frame_id path labels``
                                        (the ``vido`` typo is real), frame_id 1-based,
                                        video_id a 1-based running index per file
    KABR/dataset/image/<miniscene>/<frame_id>.jpg
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import mark_synthetic

#: kabr-tools ethogram/classes.json (the real file's content).
CLASSES = {"Walk": 0, "Graze": 1, "Browse": 2, "Head Up": 3, "Auto-Groom": 4, "Trot": 5, "Run": 6, "Occluded": 7}
HEADER = "original_vido_id video_id frame_id path labels"


@dataclass
class WrittenKabr:
    """Ground truth of what was written: label index per frame (0-based position) per mini-scene."""

    root: Path
    classes: dict[str, int]
    scenes: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # split -> id -> label per frame


def write_kabr(
    root: str | Path,
    scenes: dict[str, dict[str, list[int]]],
    classes: dict[str, int] | None = None,
    images: bool = True,
    image_size: tuple[int, int] = (40, 30),
    seed: int = 0,
) -> WrittenKabr:
    """Write a KABR-layout dataset under ``root/KABR``.

    Parameters
    ----------
    scenes
        ``{split: {miniscene_id: [label index of frame 1, frame 2, ...]}}``.
    classes
        The classes.json mapping to write (default: the real one).
    images
        Also write one small JPEG per frame (``image_size`` = width, height).
    """
    import cv2

    root = Path(root) / "KABR"
    classes = dict(CLASSES if classes is None else classes)
    ann = root / "annotation"
    ann.mkdir(parents=True, exist_ok=True)
    mark_synthetic(root)
    (ann / "classes.json").write_text(json.dumps(classes, indent=4))
    rng = np.random.default_rng(seed)
    w, h = image_size
    for split, by_id in scenes.items():
        lines = [HEADER]
        for video_id, (scene, labels) in enumerate(by_id.items(), start=1):
            for frame_id, label in enumerate(labels, start=1):
                lines.append(f"{scene} {video_id} {frame_id} {scene}/{frame_id}.jpg {label}")
            if images:
                folder = root / "dataset" / "image" / scene
                folder.mkdir(parents=True, exist_ok=True)
                for frame_id in range(1, len(labels) + 1):
                    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                    cv2.imwrite(str(folder / f"{frame_id}.jpg"), img)
        (ann / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return WrittenKabr(root, classes, {s: {k: list(v) for k, v in d.items()} for s, d in scenes.items()})
