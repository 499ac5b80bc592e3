"""Writer of ChimpACT files (SYNTHETIC content, real layout).

Release layout per ``shared/docs/dataset_formats.md`` section 3::

    ChimpACT_release/videos_full/<clip>.mp4     (optional here)
    ChimpACT_release/labels/<clip>.json         COCO-like: info, licenses, categories, images,
                                                annotations; NO "videos" key
    ChimpACT_release/action_list.txt            AVA pbtxt, label_id 1..23

Quirks reproduced: ``images[].file_name`` stem is the keyframe *block index* k (frame 10k),
blocks may be missing; ``behaviors`` are 0-based; ``bbox`` is pixel [x, y, w, h];
``bbox_id`` 23 = unknown (several per keyframe possible); ``keypoints`` has 48 values only
when pose is annotated (otherwise empty or another length); ``category_id`` 0.

Processed AVA form (section 3.6): ``annotations/action/{split}_action.csv`` without header,
rows ``<split>/images/<clip>,frame,x1,y1,x2,y2,action_id,entity_id`` (normalized, 3
decimals, action_id = behavior + 1), one row per (box, behavior); frames in
``<split>/images/<clip>/%06d.jpg``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import mark_synthetic

#: Behavior names in JSON-id order (dataset_formats.md 3.4).
BEHAVIORS = (
    "moving",
    "climbing",
    "resting",
    "sleeping",
    "solitary object playing",
    "eating",
    "manipulating object",
    "grooming",
    "being groomed",
    "aggressing",
    "embracing",
    "begging",
    "being begged from",
    "taking object",
    "losing object",
    "carrying",
    "being carried",
    "nursing",
    "being nursed",
    "playing",
    "touching",
    "erection",
    "displaying",
)
KEYPOINTS = (
    "pelvis",
    "right_knee",
    "right_ankle",
    "left_knee",
    "left_ankle",
    "neck",
    "upper_lip",
    "lower_lip",
    "right_eye",
    "left_eye",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
)


@dataclass
class Box:
    """One annotation: identity, pixel [x, y, w, h], 0-based behaviors, keypoints list as written."""

    bbox_id: int
    xywh: tuple[float, float, float, float]
    behaviors: list[int]
    keypoints: list[float] = field(default_factory=list)


@dataclass
class WrittenClip:
    name: str
    json_path: Path
    video: Path | None
    n_frames: int
    keyframes: dict[int, list[Box]]  # block index k -> boxes


def action_list_text(names=BEHAVIORS) -> str:
    """AVA-style pbtxt label map, ids 1..N (two-space indentation)."""
    return "".join(f'item {{\n  name: "{n}"\n  label_id: {i}\n}}\n' for i, n in enumerate(names, start=1))


def random_clip(
    n_frames: int, identities=(0, 5, 23, 23), seed: int = 0, skip_blocks=(), width: int = 64, height: int = 48
) -> dict[int, list[Box]]:
    """Keyframe boxes for a clip: every identity in every block except ``skip_blocks``."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in range((n_frames - 1) // 10 + 1):
        if k in skip_blocks:
            continue
        boxes = []
        for j, ident in enumerate(identities):
            x, y = float(rng.integers(0, width // 2)), float(rng.integers(0, height // 2))
            behaviors = sorted(rng.choice(len(BEHAVIORS), size=int(rng.integers(0, 3)), replace=False).tolist())
            kind = (k + j) % 3
            if kind == 0:  # full pose: 16 x (x, y, v), some v=0
                kp = []
                for _ in KEYPOINTS:
                    v = int(rng.integers(0, 3))
                    kp += [x + float(rng.integers(0, 10)), y + float(rng.integers(0, 10)), v]
            elif kind == 1:
                kp = []  # no pose
            else:
                kp = [1.0, 2.0, 2]  # a length != 48: treated as no pose
            boxes.append(Box(ident, (x, y, float(rng.integers(4, 20)), float(rng.integers(4, 20))), behaviors, kp))
        out[k] = boxes
    return out


def write_clip_json(path: Path, keyframes: dict[int, list[Box]]) -> Path:
    """One per-clip label JSON in the release format."""
    images, annotations = [], []
    for image_id, (k, boxes) in enumerate(sorted(keyframes.items())):
        images.append({"id": image_id, "file_name": f"{k:06d}.jpg"})
        for b in boxes:
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": image_id,
                    "category_id": 0,
                    "bbox": list(b.xywh),
                    "bbox_vis": 0,
                    "bbox_id": b.bbox_id,
                    "behaviors": list(b.behaviors),
                    "keypoints": list(b.keypoints),
                }
            )
    obj = {
        "info": {"description": "SYNTHETIC ChimpACT-format fixture"},
        "licenses": [],
        "categories": [{"id": 0, "name": "chimpanzee", "keypoints": list(KEYPOINTS)}],
        "images": images,
        "annotations": annotations,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def write_release(
    root: str | Path,
    clips: dict[str, dict[int, list[Box]]],
    n_frames: dict[str, int],
    videos: bool | set[str] = True,
    action_list: bool = True,
    size: tuple[int, int] = (64, 48),
) -> dict[str, WrittenClip]:
    """Write ``ChimpACT_release/`` with the given clips; videos are tiny synthetic mp4s."""
    from vpbehavior.io.video import write_video

    root = Path(root) / "ChimpACT_release"
    mark_synthetic(root)
    if action_list:
        (root / "action_list.txt").write_text(action_list_text())
    out = {}
    for name, keyframes in clips.items():
        json_path = write_clip_json(root / "labels" / f"{name}.json", keyframes)
        video = None
        if videos is True or (isinstance(videos, set) and name in videos):
            w, h = size
            frames = (np.full((h, w, 3), (7 * i) % 255, np.uint8) for i in range(n_frames[name]))
            video = write_video(root / "videos_full" / f"{name}.mp4", frames, fps=25, codec="mp4v")
        out[name] = WrittenClip(name, json_path, video, n_frames[name], keyframes)
    return out


def write_processed_action_csv(
    root: str | Path,
    split: str,
    clips: dict[str, dict[int, list[tuple[int, tuple[float, float, float, float], list[int]]]]],
    n_frames: dict[str, int],
    size: tuple[int, int] = (64, 48),
    frames: bool = True,
) -> Path:
    """Write ``ChimpACT_processed/annotations/action/{split}_action.csv`` (+ action_list, frames).

    ``clips[clip][frame]`` lists ``(entity_id, normalized (x1, y1, x2, y2), 0-based behaviors)``.
    """
    import cv2

    root = Path(root) / "ChimpACT_processed"
    action_dir = root / "annotations" / "action"
    action_dir.mkdir(parents=True, exist_ok=True)
    mark_synthetic(root)
    (action_dir / "action_list.txt").write_text(action_list_text())
    lines = []
    for clip, per_frame in clips.items():
        key = f"{split}/images/{clip}"
        for frame in sorted(per_frame):
            for entity, box, behaviors in per_frame[frame]:
                for b in behaviors:
                    coords = ",".join(f"{v:.3f}" for v in box)
                    lines.append(f"{key},{frame},{coords},{b + 1},{entity}")
        if frames:
            folder = root / key
            folder.mkdir(parents=True, exist_ok=True)
            w, h = size
            for i in range(n_frames[clip]):
                cv2.imwrite(str(folder / f"{i:06d}.jpg"), np.full((h, w, 3), i % 255, np.uint8))
    path = action_dir / f"{split}_action.csv"
    path.write_text("\n".join(lines) + "\n")
    return path
