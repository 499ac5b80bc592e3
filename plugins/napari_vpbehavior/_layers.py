"""napari layer data for a recording: the lazy video (or a placeholder), and per-frame subject boxes.

The layer made here carries ``metadata["vpbehavior"]``: the session (`_session`) adopts what it
finds there (the recording, its labels and predictions, the pose) when napari inserts the layer,
and draws the pose overlay (`_overlay`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vpbehavior.core import Predictions, Recording

#: track colours (RGBA), by track position
TRACK_COLORS = np.array([
    (0.95, 0.33, 0.33, 1), (0.30, 0.75, 0.95, 1), (0.98, 0.80, 0.25, 1), (0.55, 0.90, 0.45, 1),
    (0.85, 0.50, 0.95, 1), (1.00, 0.60, 0.20, 1), (0.40, 0.95, 0.85, 1), (0.95, 0.55, 0.75, 1),
    (0.70, 0.70, 0.70, 1), (0.60, 0.60, 1.00, 1),
], np.float32)  # fmt: skip

KEY = "vpbehavior"


def track_color(i: int) -> np.ndarray:
    return TRACK_COLORS[i % len(TRACK_COLORS)]


def video_layer(reader, name: str, info: dict) -> tuple:
    """An RGB image layer on the frame-accurate reader (napari asks for one frame at a time)."""
    kwargs = {
        "name": name,
        "rgb": True,
        "contrast_limits": [0, 255],
        "multiscale": False,
        "metadata": {KEY: info},
    }
    return (reader, kwargs, "image")


def frame_boxes(boxes: np.ndarray | None, frame: int, subjects) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """Rectangles (napari (y, x) corners) of the subjects present at ``frame``, their names and colours."""
    if boxes is None or not 0 <= frame < len(boxes):
        return [], [], np.zeros((0, 4), np.float32)
    rects, names, colors = [], [], []
    for s, box in enumerate(boxes[frame]):
        if not np.isfinite(box).all():
            continue
        x1, y1, x2, y2 = (float(v) for v in box)
        rects.append(np.array([[y1, x1], [y1, x2], [y2, x2], [y2, x1]], np.float32))
        names.append(str(subjects[s]))
        colors.append(track_color(s))
    return rects, names, np.array(colors, np.float32).reshape(-1, 4)


def recording_layers(
    recording: Recording,
    reader=None,
    predictions: Predictions | None = None,
    extra: dict | None = None,
) -> list[tuple]:
    """The layer of a recording: its video, or a placeholder giving the time slider; the recording
    (pose, labels, predictions) rides along in the metadata and the session draws the pose overlay."""
    info = {"recording": recording, "labels": recording.labels, "predictions": predictions, **(extra or {})}
    if reader is not None:
        return [video_layer(reader, recording.name, info)]
    return [_placeholder(recording, info)]


def _placeholder(recording: Recording, info: dict) -> tuple:
    """A one-pixel-per-frame image so that a recording without video or pose still gets a time slider."""
    data = np.zeros((max(1, recording.n_frames), 1, 1), np.uint8)
    return (data, {"name": f"{recording.name} (no video)", "metadata": {KEY: info}, "opacity": 0.0}, "image")


def pose_file_of(recording: Recording) -> Path | None:
    value = recording.metadata.get("pose_file")
    return Path(value) if value else None
