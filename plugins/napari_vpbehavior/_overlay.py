"""Pose overlay: the current frame's keypoints (Points), skeleton edges (Vectors) and subject boxes (Shapes).

The layers are 2-D and hold one frame: when the time slider rests, their data are replaced by that
frame's (a colour per track; a track not located in the frame is hidden). So a 100k-frame
recording costs no more than a short one (n-D layers of every frame's points, edges and boxes
take seconds per step at that length), and the overlay never stretches the time slider's range
(an n-D Points layer widens it by half a point size at each end, shifting slider steps off frames).
"""

from __future__ import annotations

import numpy as np

from vpbehavior.core import Pose

from ._layers import KEY, TRACK_COLORS, frame_boxes


class PoseOverlay:
    """The overlay layers of one pose in one viewer; `show(frame)` redraws them for a frame."""

    def __init__(self, viewer, pose: Pose, name: str, boxes: np.ndarray | None = None, box_subjects=(),
                 show_boxes: bool = True, point_size: float = 6.0) -> None:  # fmt: skip
        self.viewer = viewer
        self.pose = pose
        s, k = len(pose.subjects), len(pose.keypoint_names)
        self._colors = np.repeat(TRACK_COLORS[np.arange(s) % len(TRACK_COLORS)], k, axis=0)
        self._edges = np.array(pose.edges, np.int64).reshape(-1, 2)
        self._edge_colors = np.repeat(TRACK_COLORS[np.arange(s) % len(TRACK_COLORS)], len(self._edges), axis=0)
        self._boxes, self._box_subjects = boxes, tuple(box_subjects)
        meta = {KEY: {"overlay": name}}
        active = viewer.layers.selection.active
        self.points = viewer.add_points(
            np.zeros((0, 2), np.float32), name=f"{name} pose", size=point_size, border_width=0, ndim=2,
            metadata=meta,
        )  # fmt: skip
        self.skeleton = None
        if len(self._edges):
            self.skeleton = viewer.add_vectors(
                np.zeros((0, 2, 2), np.float32), name=f"{name} skeleton", edge_width=1.5, vector_style="line",
                edge_color="white", ndim=2, metadata=meta,
            )  # fmt: skip
        self.boxes = None
        if boxes is not None and show_boxes:
            self.boxes = viewer.add_shapes(
                name=f"{name} boxes", edge_width=1.5, face_color="transparent", edge_color="white", opacity=0.8,
                ndim=2, metadata=meta, text={"string": "{subject}", "color": "white", "size": 8, "anchor": "upper_left"},
                features={"subject": np.array([], dtype=object)},
            )  # fmt: skip
        if active is not None and active in viewer.layers:
            viewer.layers.selection.active = active
        self.frame = -1
        self._shown: np.ndarray | None = None

    @property
    def layers(self) -> list:
        return [layer for layer in (self.points, self.skeleton, self.boxes) if layer is not None]

    def remove(self) -> None:
        for layer in self.layers:
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def show(self, frame: int) -> None:
        """Redraw the overlay for ``frame`` (hidden layers are skipped)."""
        self.frame = frame
        pts = self.pose.points[frame] if 0 <= frame < self.pose.n_frames else None  # [S, K, 2] (x, y)
        if self.points in self.viewer.layers and self.points.visible:
            flat = pts.reshape(-1, 2) if pts is not None else np.zeros((0, 2), np.float32)
            ok = np.isfinite(flat).all(1)
            self.points.data = flat[ok][:, ::-1]
            if ok.any() and (self._shown is None or not np.array_equal(ok, self._shown)):
                self.points.face_color = self._colors[ok]  # only when other tracks show up
            self._shown = ok
        if self.skeleton is not None and self.skeleton in self.viewer.layers and self.skeleton.visible:
            if pts is None:
                vectors, colors = np.zeros((0, 2, 2), np.float32), np.zeros((0, 4), np.float32)
            else:
                a, b = pts[:, self._edges[:, 0]], pts[:, self._edges[:, 1]]  # [S, E, 2]
                ok = (np.isfinite(a).all(-1) & np.isfinite(b).all(-1)).reshape(-1)
                a, b = a.reshape(-1, 2)[ok], b.reshape(-1, 2)[ok]
                vectors = np.stack([a[:, ::-1], (b - a)[:, ::-1]], 1).astype(np.float32)
                colors = self._edge_colors[ok]
            self.skeleton.data = vectors
            if len(vectors):
                self.skeleton.edge_color = colors
        if self.boxes is not None and self.boxes in self.viewer.layers and self.boxes.visible:
            rects, names, colors = frame_boxes(self._boxes, frame, self._box_subjects)
            self.boxes.selected_data = set()
            self.boxes.data = []
            if rects:
                self.boxes.add_rectangles(rects, edge_color=colors, face_color="transparent")
                self.boxes.features = {"subject": np.array(names, dtype=object)}
                self.boxes.refresh_text()
