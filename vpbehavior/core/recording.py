"""`Recording`: one video (or frame folder) with its subjects, pose, boxes and labels."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .labels import BehaviorLabels


@dataclass
class Pose:
    """Keypoints of every subject in every frame.

    Attributes
    ----------
    points
        float array ``[T, S, K, 2]`` of (x, y) pixel coordinates; NaN where missing.
    keypoint_names
        The K body-part names.
    subjects
        The S subject names (tracks).
    scores
        Optional confidence ``[T, S, K]``.
    """

    points: np.ndarray
    keypoint_names: Sequence[str]
    subjects: Sequence[str]
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float32)
        if self.points.ndim != 4 or self.points.shape[-1] != 2:
            raise ValueError(f"pose points must be [frames, subjects, keypoints, 2], got {self.points.shape}")
        self.keypoint_names = tuple(self.keypoint_names)
        self.subjects = tuple(self.subjects)
        _, s, k, _ = self.points.shape
        if (len(self.subjects), len(self.keypoint_names)) != (s, k):
            raise ValueError(
                f"pose has {s} subjects x {k} keypoints but names for "
                f"{len(self.subjects)} subjects x {len(self.keypoint_names)} keypoints"
            )
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32)
            if self.scores.shape != self.points.shape[:3]:
                raise ValueError(f"pose scores shape {self.scores.shape} != {self.points.shape[:3]}")

    @property
    def n_frames(self) -> int:
        return self.points.shape[0]

    def boxes(self, margin: float = 0.0) -> np.ndarray:
        """Per-subject boxes ``[T, S, 4]`` (x1, y1, x2, y2) around the visible keypoints; NaN if none."""
        x, y = self.points[..., 0], self.points[..., 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN subjects give NaN boxes
            box = np.stack([np.nanmin(x, -1), np.nanmin(y, -1), np.nanmax(x, -1), np.nanmax(y, -1)], -1)
        return box + np.array([-margin, -margin, margin, margin], np.float32)


@dataclass
class Recording:
    """One recording in the common data model; every format loader returns these.

    Attributes
    ----------
    name
        Unique name within its dataset.
    video
        Path of the video file or frame folder, or None when the format has no video.
    n_frames
        Number of frames (pose / label length when no video is attached).
    fps
        Frames per second, or None when unknown.
    subjects
        Subject (animal) names; ``("all",)`` for frame-level data.
    pose
        `Pose` (keypoint array with names) or a ``sleap_io.Labels``; see `keypoints()`.
    boxes
        Optional per-subject boxes ``[T, S, 4]`` (x1, y1, x2, y2) in pixels, NaN where absent.
    labels
        Optional `BehaviorLabels` with the same frames and subjects.
    metadata
        Format-specific extras (source files, the dataset's own ids, frame base, ...).
    split
        Published split this recording belongs to ("train", "val", "test"), if any.
    """

    name: str
    video: Path | None = None
    n_frames: int = 0
    fps: float | None = None
    subjects: Sequence[str] = ("all",)
    pose: Any = None
    boxes: np.ndarray | None = None
    labels: BehaviorLabels | None = None
    metadata: dict = field(default_factory=dict)
    split: str | None = None

    def __post_init__(self) -> None:
        if self.video is not None:
            self.video = Path(self.video)
        self.subjects = tuple(self.subjects)
        self.n_frames = int(self.n_frames)
        if self.labels is not None:
            if self.labels.n_frames != self.n_frames:
                raise ValueError(
                    f"recording {self.name!r}: labels cover {self.labels.n_frames} frames but the recording "
                    f"has {self.n_frames}"
                )
            if self.labels.subjects != self.subjects:
                raise ValueError(
                    f"recording {self.name!r}: label subjects {self.labels.subjects} != {self.subjects}"
                )
        if isinstance(self.pose, Pose) and self.pose.n_frames != self.n_frames:
            raise ValueError(
                f"recording {self.name!r}: pose covers {self.pose.n_frames} frames, recording has {self.n_frames}"
            )
        if self.boxes is not None:
            self.boxes = np.asarray(self.boxes, dtype=np.float32)
            expected = (self.n_frames, len(self.subjects), 4)
            if self.boxes.shape != expected:
                raise ValueError(f"recording {self.name!r}: boxes shape {self.boxes.shape} != {expected}")

    @property
    def classes(self) -> tuple[str, ...]:
        return self.labels.classes if self.labels is not None else ()

    def keypoints(self) -> Pose | None:
        """The pose as a `Pose` array (converting sleap-io ``Labels`` on first use)."""
        if self.pose is None or isinstance(self.pose, Pose):
            return self.pose
        from vpbehavior.io.pose import pose_from_sleap  # io layer owns sleap-io

        self.pose = pose_from_sleap(self.pose, n_frames=self.n_frames)
        return self.pose

    def subject_boxes(self, margin: float = 0.0) -> np.ndarray | None:
        """Boxes ``[T, S, 4]`` in the order of ``subjects``: the given ones, else the keypoints' extent.

        Subjects without pose (e.g. a frame-level "all" subject next to pose tracks) get NaN.
        """
        if self.boxes is not None:
            return self.boxes
        pose = self.keypoints()
        if pose is None:
            return None
        pose_boxes = pose.boxes(margin)
        boxes = np.full((self.n_frames, len(self.subjects), 4), np.nan, np.float32)
        for s, name in enumerate(self.subjects):
            if name in pose.subjects:
                boxes[:, s] = pose_boxes[:, pose.subjects.index(name)]
        return boxes

    def open_video(self):
        """A frame-accurate reader of the video (`vpbehavior.io.video.VideoReader`)."""
        if self.video is None:
            raise FileNotFoundError(f"recording {self.name!r} has no video attached")
        from vpbehavior.io.video import open_video

        return open_video(self.video, fps=self.fps)

    def summary(self) -> dict:
        """Counts for `vpbehavior inspect`."""
        return {
            "name": self.name,
            "video": str(self.video) if self.video else None,
            "frames": self.n_frames,
            "fps": self.fps,
            "subjects": list(self.subjects),
            "classes": list(self.classes),
            "label_counts": self.labels.label_counts() if self.labels is not None else {},
            "has_pose": self.pose is not None,
            "split": self.split,
        }
