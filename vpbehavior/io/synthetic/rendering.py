"""Frames drawn on demand from simulated trajectories, and `generate`, which makes a `SyntheticRecording`.

Each animal is an elongated body (two ellipses and a tail) with a bright head marker, so its
heading is visible, drawn on a static textured floor with a darker rim. Pixel noise and
lighting flicker are seeded per frame, so any frame can be rendered alone, in any order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

from vpbehavior.core import BehaviorLabels, Bout, Pose, Recording

from .config import SyntheticConfig
from .simulation import HEAD, KEYPOINTS, TAIL_BASE, TAIL_TIP, THORAX, Interaction, Trajectories, simulate

HEAD_MARKER_RGB = (250, 240, 110)
BODY_RGB = ((205, 55, 45), (45, 85, 215), (40, 165, 60), (175, 60, 195), (230, 130, 20), (20, 170, 180))
_NORMAL_QUANTILES = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], np.float32)
_NORMAL_QUANTILES /= _NORMAL_QUANTILES.std()


def _background(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Static textured floor, float32 ``[H, W, 3]``."""
    import cv2

    H, W = config.height, config.width
    base = np.array([128.0, 118.0, 100.0], np.float32)
    amp = 40.0 * config.noise.texture
    coarse = cv2.resize(
        rng.standard_normal((max(2, H // 24), max(2, W // 24))).astype(np.float32),
        (W, H),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.2)
    texture = amp * (0.6 * coarse + 0.8 * fine)
    bg = base[None, None, :] + texture[..., None] * np.array([1.0, 0.95, 0.8], np.float32)
    # darker arena rim so the walls are visible
    yy, xx = np.mgrid[0:H, 0:W]
    rim = np.minimum.reduce([xx, yy, W - 1 - xx, H - 1 - yy]) < max(2, int(0.2 * config.body_length))
    bg[rim] *= 0.55
    return np.clip(bg, 0, 255).astype(np.float32)


def _flicker_gains(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Per-frame lighting gain ``[T]`` (all 1 without flicker)."""
    gains = np.ones(config.n_frames, np.float32)
    if config.noise.flicker > 0:
        tt = np.arange(config.n_frames) / config.fps
        phase = rng.uniform(0, 2 * np.pi, 2)
        wave = 0.7 * np.sin(2 * np.pi * 1.3 * tt + phase[0]) + 0.3 * np.sin(2 * np.pi * 7.1 * tt + phase[1])
        gains += config.noise.flicker * wave.astype(np.float32)
    return gains


@dataclass(frozen=True, eq=False)
class Renderer:
    """Draws the frames of one config: the floor, the animals at given keypoints, flicker and noise."""

    config: SyntheticConfig
    background: np.ndarray
    gains: np.ndarray

    def __post_init__(self) -> None:
        self.background.flags.writeable = False
        self.gains.flags.writeable = False

    @classmethod
    def build(
        cls, config: SyntheticConfig, floor_rng: np.random.Generator, flicker_rng: np.random.Generator
    ) -> Renderer:
        """The renderer of ``config``, its floor and flicker drawn from the given generators."""
        return cls(config, _background(config, floor_rng), _flicker_gains(config, flicker_rng))

    @property
    def colors(self) -> tuple[tuple[int, int, int], ...]:
        """Body colour (RGB) of each animal."""
        return tuple(BODY_RGB[s % len(BODY_RGB)] for s in range(self.config.n_animals))

    def draw(self, points: np.ndarray, t: int, noise: bool = True) -> np.ndarray:
        """Frame ``t`` as uint8 RGB ``[H, W, 3]`` with the animals at ``points`` ``[S, K, 2]``."""
        import cv2

        img = self.background.copy()
        L = self.config.body_length
        shift = 4
        scale = 1 << shift

        def fx(p) -> tuple[int, int]:
            return int(round(float(p[0]) * scale)), int(round(float(p[1]) * scale))

        for k, rgb in zip(points, self.colors):
            color = tuple(float(c) for c in rgb)
            tail_w = max(1, int(round(0.06 * L)))
            cv2.line(img, fx(k[TAIL_BASE]), fx(k[TAIL_TIP]), color, tail_w, cv2.LINE_AA, shift)
            for a, b, width in ((THORAX, TAIL_BASE, 0.19), (THORAX, HEAD, 0.15)):
                mid = (k[a] + k[b]) / 2
                vec = k[b] - k[a]
                half = float(np.hypot(*vec)) / 2 + 0.06 * L
                angle = math.degrees(math.atan2(vec[1], vec[0]))
                axes = (int(round(half * scale)), int(round(width * L * scale)))
                cv2.ellipse(img, fx(mid), axes, angle, 0, 360, color, -1, cv2.LINE_AA, shift)
            cv2.circle(img, fx(k[HEAD]), int(round(0.11 * L * scale)), HEAD_MARKER_RGB, -1, cv2.LINE_AA, shift)
        if noise:
            if self.gains[t] != 1.0:
                img *= self.gains[t]
            std = self.config.noise.pixel_std
            if std > 0:
                # Gaussian noise through a 256-entry quantile table: much faster than standard_normal
                rng = np.random.default_rng([self.config.seed, 0x5EED, t])
                u8 = np.frombuffer(rng.bytes(img.size), np.uint8).reshape(img.shape)
                img += cv2.LUT(u8, _NORMAL_QUANTILES * np.float32(std))
        img += 0.5  # round, not truncate
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)


@dataclass(frozen=True, eq=False, repr=False)
class SyntheticRecording:
    """A generated recording: trajectories, pose, labels, and frames rendered on demand.

    Array-like (``len``, ``shape``, ``dtype``, indexing) like a `VideoReader`. Frozen, with
    read-only arrays; make one with `generate`.

    Attributes
    ----------
    config
        The `SyntheticConfig` it was generated from.
    trajectories
        The simulated `Trajectories`; ``interactions`` (the social bouts, actor and partner),
        ``center`` ``[T, S, 2]`` and ``heading`` ``[T, S]`` are shortcuts to them.
    true_pose
        The exact keypoints the animals are drawn with.
    pose
        `Pose` ``[T, S, 5, 2]`` as a tracker would report it (``true_pose`` plus keypoint noise).
    labels
        `BehaviorLabels` ``[T, S, C]``, every cell annotated, one positive class per cell.
    boxes
        ``[T, S, 4]`` (x1, y1, x2, y2) around each drawn animal, clipped to the frame.
    renderer
        The `Renderer` that draws its frames.
    """

    config: SyntheticConfig
    trajectories: Trajectories
    true_pose: Pose
    pose: Pose
    labels: BehaviorLabels
    boxes: np.ndarray
    renderer: Renderer

    def __post_init__(self) -> None:
        self.boxes.flags.writeable = False

    # --------------------------------------------------------------- views
    @property
    def interactions(self) -> tuple[Interaction, ...]:
        return self.trajectories.interactions

    @property
    def center(self) -> np.ndarray:
        return self.trajectories.center

    @property
    def heading(self) -> np.ndarray:
        return self.trajectories.heading

    @property
    def n_frames(self) -> int:
        return self.config.n_frames

    @property
    def fps(self) -> float:
        return self.config.fps

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.config.subjects

    @property
    def colors(self) -> tuple[tuple[int, int, int], ...]:
        return self.renderer.colors

    @property
    def background(self) -> np.ndarray:
        """The empty arena (float32 ``[H, W, 3]``, before noise and flicker)."""
        return self.renderer.background

    def __len__(self) -> int:
        return self.n_frames

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(T, H, W, 3)``, as for a `VideoReader`."""
        return (self.n_frames, self.config.height, self.config.width, 3)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    def __getitem__(self, key: int | slice) -> np.ndarray:
        """Frame ``key`` (negative allowed) or a stack of frames for a slice, rendered now."""
        if isinstance(key, slice):
            frames = [self.render_frame(t) for t in range(*key.indices(self.n_frames))]
            return np.stack(frames) if frames else np.empty((0, *self.shape[1:]), np.uint8)
        t = int(key)
        return self.render_frame(t + self.n_frames if t < 0 else t)

    @property
    def frames(self) -> np.ndarray:
        """All frames, uint8 ``[T, H, W, 3]`` (rendered now; use `iter_frames` for long videos)."""
        out = np.empty(self.shape, np.uint8)
        for t, frame in enumerate(self.iter_frames()):
            out[t] = frame
        return out

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Render frames ``[start, stop)`` one at a time."""
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for t in range(start, stop):
            yield self.render_frame(t)

    def render_frame(self, t: int, noise: bool = True) -> np.ndarray:
        """Frame ``t`` as uint8 RGB ``[H, W, 3]``; ``noise=False`` leaves out pixel noise and flicker."""
        t = int(t)
        if not 0 <= t < self.n_frames:
            raise IndexError(f"frame {t} out of range for a {self.n_frames}-frame synthetic recording")
        return self.renderer.draw(self.true_pose.points[t], t, noise)

    # --------------------------------------------------------------- conversion
    def bouts(self) -> list[Bout]:
        """Every bout, sorted like `BehaviorLabels.to_bouts`; directed ones carry their ``target``.

        Exact per bout: two abutting bouts of one behavior with different targets stay apart.
        """
        return self.trajectories.bouts()

    def to_recording(self, name: str = "synthetic", video: str | Path | None = None) -> Recording:
        """The common data model (`Recording`) for this recording; metadata is provenance only."""
        return Recording(
            name=name,
            video=video,
            n_frames=self.n_frames,
            fps=self.fps,
            subjects=self.subjects,
            pose=self.pose,
            boxes=self.boxes,
            labels=self.labels,
            metadata={"source": "vpbehavior.io.synthetic", "config": self.config.to_dict()},
        )

    def __repr__(self) -> str:
        c = self.config
        return (
            f"SyntheticRecording({c.n_frames} frames @ {c.fps:.4g} fps, {c.height}x{c.width}, "
            f"{c.n_animals} animals, seed {c.seed})"
        )


def generate(config: SyntheticConfig | None = None, **overrides) -> SyntheticRecording:
    """Simulate one recording (trajectories, pose, labels); frames render lazily.

    ``overrides`` replace fields of ``config`` (default `SyntheticConfig()`).
    """
    config = SyntheticConfig() if config is None else config
    if overrides:
        config = config.replace(**overrides)
    sim_rng, floor_rng, flicker_rng, pose_rng = np.random.default_rng(config.seed).spawn(4)
    traj = simulate(config, sim_rng)
    true = traj.keypoints()
    shape = (config.n_frames, config.n_animals, len(KEYPOINTS), 2)
    noisy = true + (pose_rng.normal(0.0, 1.0, shape) * config.noise.keypoint_std).astype(np.float32)
    true_pose = Pose(true, KEYPOINTS, config.subjects)
    boxes = true_pose.boxes(0.2 * config.body_length)
    boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, config.width - 1)
    boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, config.height - 1)
    return SyntheticRecording(
        config=config,
        trajectories=traj,
        true_pose=true_pose,
        pose=Pose(noisy, KEYPOINTS, config.subjects),
        labels=traj.labels(),
        boxes=boxes,
        renderer=Renderer.build(config, floor_rng, flicker_rng),
    )
