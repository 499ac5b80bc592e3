"""`Recording`: one video (or frame folder) with its subjects, pose, boxes, presence and labels.

Both `Pose` and `Recording` are frozen: loaders validate once, and a changed recording is a new
one (`Recording.replace`, e.g. ``rec.replace(split="test")``). Their arrays are private read-only
copies.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._frozen import FrozenDict, readonly_array
from .errors import DataError
from .labels import BehaviorLabels
from .names import FRAME_LEVEL


@dataclass(frozen=True, eq=False, repr=False)
class Pose:
    """Keypoints of every subject in every frame.

    Attributes
    ----------
    points
        float32 ``[T, S, K, 2]`` of (x, y) pixel coordinates; NaN where missing.
    keypoint_names
        The K body-part names.
    subjects
        The S subject names (tracks).
    scores
        Optional confidence ``[T, S, K]``.
    edges
        Optional skeleton edges as pairs of keypoint indices.
    """

    points: np.ndarray
    keypoint_names: Sequence[str]
    subjects: Sequence[str]
    scores: np.ndarray | None = None
    edges: Sequence[tuple[int, int]] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        points = readonly_array(self.points, np.float32)
        if points.ndim != 4 or points.shape[-1] != 2:
            raise DataError(f"pose points must be [frames, subjects, keypoints, 2], got {points.shape}")
        set_(self, "points", points)
        set_(self, "keypoint_names", tuple(str(k) for k in self.keypoint_names))
        set_(self, "subjects", tuple(str(s) for s in self.subjects))
        _, s, k, _ = points.shape
        if (len(self.subjects), len(self.keypoint_names)) != (s, k):
            raise DataError(
                f"pose has {s} subjects x {k} keypoints but names for "
                f"{len(self.subjects)} subjects x {len(self.keypoint_names)} keypoints"
            )
        if self.scores is not None:
            scores = readonly_array(self.scores, np.float32)
            if scores.shape != points.shape[:3]:
                raise DataError(f"pose scores shape {scores.shape} != {points.shape[:3]}")
            set_(self, "scores", scores)
        edges = tuple((int(a), int(b)) for a, b in self.edges)
        if any(not (0 <= a < k and 0 <= b < k) for a, b in edges):
            raise DataError(f"pose skeleton edges {edges} refer to keypoints outside 0..{k - 1}")
        set_(self, "edges", edges)

    @property
    def n_frames(self) -> int:
        return self.points.shape[0]

    def visible(self) -> np.ndarray:
        """Boolean ``[T, S]``: the subject has at least one located keypoint in the frame."""
        return np.isfinite(self.points).all(-1).any(-1)

    def boxes(self, margin: float = 0.0) -> np.ndarray:
        """Per-subject boxes ``[T, S, 4]`` (x1, y1, x2, y2) around the visible keypoints; NaN if none."""
        x, y = self.points[..., 0], self.points[..., 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN subjects give NaN boxes
            box = np.stack([np.nanmin(x, -1), np.nanmin(y, -1), np.nanmax(x, -1), np.nanmax(y, -1)], -1)
        return box + np.array([-margin, -margin, margin, margin], np.float32)

    def select(self, subjects: Sequence[str]) -> Pose:
        """The pose of some subjects, in the given order."""
        idx = [self.subjects.index(s) for s in subjects]
        scores = None if self.scores is None else self.scores[:, idx]
        return Pose(self.points[:, idx], self.keypoint_names, subjects, scores, self.edges)

    def __repr__(self) -> str:
        return f"Pose({self.n_frames} frames, {len(self.subjects)} subjects, {len(self.keypoint_names)} nodes)"


@dataclass(frozen=True, eq=False, repr=False)
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
        Subject (animal) names; ``(FRAME_LEVEL,)`` = ``("all",)`` for frame-level data.
    pose
        Optional `Pose`; its tracks are among ``subjects``, unless the recording is frame-level
        (``subjects == ("all",)``), whose pose may hold any tracks.
    boxes
        Optional per-subject boxes ``[T, S, 4]`` (x1, y1, x2, y2) in pixels, NaN where absent.
    labels
        Optional `BehaviorLabels` with the same frames and subjects.
    metadata
        Provenance only (source files, the dataset's own ids); read-only, and no code branches on it.
    split
        Published split this recording belongs to ("train", "val", "test"), if any.
    presence
        Boolean ``[T, S]``: the subject is in view and tracked in that frame. When not given it is
        derived: subjects with pose are present where any keypoint is located, else where their box
        is; a subject with neither (a frame-level subject) is present in every frame.
    """

    name: str
    video: Path | None = None
    n_frames: int = 0
    fps: float | None = None
    subjects: Sequence[str] = (FRAME_LEVEL,)
    pose: Pose | None = None
    boxes: np.ndarray | None = None
    labels: BehaviorLabels | None = None
    metadata: Mapping = field(default_factory=dict)
    split: str | None = None
    presence: np.ndarray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "name", str(self.name))
        if self.video is not None:
            set_(self, "video", Path(self.video))
        set_(self, "subjects", tuple(str(s) for s in self.subjects))
        set_(self, "n_frames", int(self.n_frames))
        if self.fps is not None:
            fps = float(self.fps)
            if not np.isfinite(fps) or fps <= 0:
                raise DataError(f"recording {self.name!r}: frame rate must be positive, got {self.fps}")
            set_(self, "fps", fps)
        set_(self, "metadata", FrozenDict(dict(self.metadata)))
        where = f"recording {self.name!r}"
        if self.n_frames < 0:
            raise DataError(f"{where}: negative frame count {self.n_frames}")
        if len(set(self.subjects)) != len(self.subjects) or not self.subjects:
            raise DataError(f"{where}: subjects must be unique and at least one, got {self.subjects}")
        if self.labels is not None:
            if not isinstance(self.labels, BehaviorLabels):
                raise TypeError(f"{where}: labels must be BehaviorLabels, not {type(self.labels).__name__}")
            if self.labels.n_frames != self.n_frames:
                raise DataError(
                    f"{where}: labels cover {self.labels.n_frames} frames but the recording has {self.n_frames}"
                )
            if self.labels.subjects != self.subjects:
                raise DataError(f"{where}: label subjects {self.labels.subjects} != {self.subjects}")
        if self.pose is not None:
            if not isinstance(self.pose, Pose):
                raise TypeError(
                    f"{where}: pose must be a vpbehavior Pose, not {type(self.pose).__name__} "
                    "(sleap-io Labels are converted by vpbehavior.io.pose.pose_from_sleap)"
                )
            if self.pose.n_frames != self.n_frames:
                raise DataError(f"{where}: pose covers {self.pose.n_frames} frames, recording has {self.n_frames}")
            unknown = [s for s in self.pose.subjects if s not in self.subjects]
            if unknown and self.subjects != (FRAME_LEVEL,):  # frame-level data may carry any tracks
                raise DataError(f"{where}: pose tracks {unknown} are not among the subjects {self.subjects}")
        expected = (self.n_frames, len(self.subjects))
        if self.boxes is not None:
            boxes = readonly_array(self.boxes, np.float32)
            if boxes.shape != (*expected, 4):
                raise DataError(f"{where}: boxes shape {boxes.shape} != {(*expected, 4)}")
            set_(self, "boxes", boxes)
        set_(self, "_presence_derived", self.presence is None)
        if self.presence is None:
            set_(self, "presence", readonly_array(self._derived_presence(), bool))
        else:
            presence = readonly_array(self.presence, bool)
            if presence.shape != expected:
                raise DataError(f"{where}: presence shape {presence.shape} != {expected}")
            set_(self, "presence", presence)

    def _derived_presence(self) -> np.ndarray:
        presence = np.ones((self.n_frames, len(self.subjects)), bool)
        pose_visible = self.pose.visible() if self.pose is not None else None
        for s, name in enumerate(self.subjects):
            if self.pose is not None and name in self.pose.subjects:
                presence[:, s] = pose_visible[:, self.pose.subjects.index(name)]
            elif self.boxes is not None and np.isfinite(self.boxes[:, s]).all(-1).any():
                presence[:, s] = np.isfinite(self.boxes[:, s]).all(-1)
        return presence

    # ------------------------------------------------------------------ views
    @property
    def classes(self) -> tuple[str, ...]:
        return self.labels.classes if self.labels is not None else ()

    @property
    def duration(self) -> float | None:
        """Length in seconds, when the frame rate is known."""
        return self.n_frames / self.fps if self.fps else None

    def replace(self, **changes) -> Recording:
        """A copy with some fields changed (validated again).

        Presence that was derived from pose or boxes is derived again when they change.
        """
        if self._presence_derived and "presence" not in changes and ({"pose", "boxes", "n_frames"} & set(changes)):
            changes["presence"] = None
        return dataclasses.replace(self, **changes)

    def subject_boxes(self, margin: float = 0.0) -> np.ndarray | None:
        """Boxes ``[T, S, 4]`` in the order of ``subjects``: the given ones, else the keypoints' extent.

        Subjects without pose (e.g. a frame-level "all" subject next to pose tracks) get NaN.
        """
        if self.boxes is not None:
            return self.boxes
        if self.pose is None:
            return None
        pose_boxes = self.pose.boxes(margin)
        boxes = np.full((self.n_frames, len(self.subjects), 4), np.nan, np.float32)
        for s, name in enumerate(self.subjects):
            if name in self.pose.subjects:
                boxes[:, s] = pose_boxes[:, self.pose.subjects.index(name)]
        return boxes

    def track_summary(self) -> dict | None:
        """The pose tracks: frames each is present, how many are present together, whether they look fragmented.

        ``together`` is the most tracks present in one frame in at least 1% of the frames with any
        track; the tracks are ``fragmented`` when there are more of them than that (a tracker that
        lost its animals and found them again under new ids). None without pose.
        """
        if self.pose is None or not self.pose.subjects:
            return None
        visible = self.pose.visible()
        per_frame = visible.sum(1)
        enough = max(1.0, 0.01 * float((per_frame > 0).sum()))
        together = max(
            (k for k in range(1, int(per_frame.max(initial=0)) + 1) if (per_frame >= k).sum() >= enough), default=0
        )
        count = len(self.pose.subjects)
        return {
            "count": count,
            "present_frames": {s: int(n) for s, n in zip(self.pose.subjects, visible.sum(0))},
            "together": together,
            "fragmented": 0 < together < count,
        }

    def summary(self) -> dict:
        """Counts for `vpbehavior inspect`."""
        return {
            "name": self.name,
            "video": str(self.video) if self.video else None,
            "frames": self.n_frames,
            "fps": self.fps,
            "subjects": list(self.subjects),
            "present_frames": {s: int(n) for s, n in zip(self.subjects, self.presence.sum(0))},
            "classes": list(self.classes),
            "label_counts": self.labels.label_counts() if self.labels is not None else {},
            "annotated_cells": self.labels.annotated_cells() if self.labels is not None else 0,
            "has_pose": self.pose is not None,
            "keypoints": list(self.pose.keypoint_names) if self.pose is not None else [],
            "tracks": self.track_summary(),
            "split": self.split,
            "sources": {k: v for k, v in self.metadata.items() if k in ("pose_file", "label_files", "source")},
        }

    def __repr__(self) -> str:
        fps = f" @ {self.fps:.4g} fps" if self.fps else ""
        parts = [
            f"{self.name!r}",
            f"{self.n_frames} frames{fps}",
            f"{len(self.subjects)} subject" + "s" * (len(self.subjects) != 1),
        ]
        if self.pose is not None:
            parts.append(f"pose {len(self.pose.keypoint_names)} nodes")
        if self.labels is not None:
            parts.append(f"labels {len(self.labels.classes)} classes")
        if self.split:
            parts.append(f"split {self.split!r}")
        return f"Recording({', '.join(parts)})"
