"""Hand-crafted pose features, as SimBA / MARS / JAABA users know them.

Per subject and frame, from keypoints ``[T, S, K, 2]``:

- posture: distances between body parts (all pairs up to ``max_pairs``, else each part to
  the centroid), joint angles along the keypoint chain, and egocentric part coordinates
  (relative to the centroid, x along the heading);
- motion: centroid speed, per-part speed, per-part speed relative to the centroid (a
  body part moving while the body stays put: grooming), turning rate of the heading;
- social (towards the nearest other subject, by centroid distance): centroid distance and
  its rate of change, nearest part-to-part distance, own head to the other's centroid,
  facing angle (cos, sin) of each towards the other, the other's speed, and the bearing's
  angular velocity (one animal orbiting the other).

Lengths are divided by the subject's median body length (median distance between its
first and last keypoint), speeds are per second when the frame rate is known. Motion
uses backward differences (frame t - 1 -> t). Every base feature is then summarized over
centered windows (mean and standard deviation over each of ``windows`` frames). Missing
keypoints are interpolated over time; frames without any are zeros.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from vpbehavior.core import Pose, Recording
from vpbehavior.core.errors import DataError


@dataclass(frozen=True)
class PoseFeatureConfig:
    """Options of `pose_features` (saved with classifiers trained on them)."""

    windows: tuple[int, ...] = (5, 15, 31)
    max_pairs: int = 45
    social: bool = True

    def to_dict(self) -> dict:
        d = asdict(self)
        d["windows"] = list(self.windows)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PoseFeatureConfig:
        return cls(
            windows=tuple(d.get("windows", (5, 15, 31))), max_pairs=d.get("max_pairs", 45), social=d.get("social", True)
        )


def interpolate_missing(points: np.ndarray) -> np.ndarray:
    """Linearly interpolate NaN keypoints over time (nearest value at the ends); all-NaN tracks -> 0."""
    points = np.array(points, dtype=np.float64)
    t = np.arange(points.shape[0])
    flat = points.reshape(points.shape[0], -1)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        ok = np.isfinite(col)
        if ok.all():
            continue
        flat[:, j] = np.interp(t, t[ok], col[ok]) if ok.any() else 0.0
    return flat.reshape(points.shape)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _backward_diff(x: np.ndarray) -> np.ndarray:
    d = np.zeros_like(x)
    d[1:] = x[1:] - x[:-1]
    return d


def _angle_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed angle from vectors u to v ``[..., 2]``."""
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    dot = (u * v).sum(-1)
    return np.arctan2(cross, dot)


def _pairs(k: int, max_pairs: int) -> list[tuple[int, int]]:
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    return pairs if len(pairs) <= max_pairs else []


def _head_tail(names: Sequence[str]) -> tuple[int, int]:
    """Indices of the keypoints that define the heading (tail-ish -> head-ish)."""
    lower = [n.lower() for n in names]
    head = next((i for i, n in enumerate(lower) if any(w in n for w in ("nose", "head", "snout"))), 0)
    tail = next((i for i, n in enumerate(lower) if "tail" in n and "tip" not in n), None)
    if tail is None:
        tail = next((i for i, n in enumerate(lower) if "tail" in n), len(names) - 1)
    return head, tail


def _subject_base(points: np.ndarray, names: Sequence[str], fps: float | None, max_pairs: int):
    """Per-subject own features ``[T, S, F]``, their names, and the geometry the social part needs."""
    t, s, k, _ = points.shape
    head, tail = _head_tail(names)
    centroid = points.mean(2)  # [T, S, 2]
    heading_vec = points[:, :, head] - points[:, :, tail]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        body = np.nanmedian(np.linalg.norm(points[:, :, 0] - points[:, :, -1], axis=-1), axis=0)  # [S]
    body = np.where(np.isfinite(body) & (body > 1e-6), body, 1.0)
    scale = body[None, :]
    rate = float(fps) if fps else 1.0
    feats, fnames = [], []

    for i, j in _pairs(k, max_pairs):
        feats.append(np.linalg.norm(points[:, :, i] - points[:, :, j], axis=-1) / scale)
        fnames.append(f"dist_{names[i]}_{names[j]}")
    if not _pairs(k, max_pairs):
        for i in range(k):
            feats.append(np.linalg.norm(points[:, :, i] - centroid, axis=-1) / scale)
            fnames.append(f"dist_{names[i]}_centroid")
    for i in range(1, k - 1):
        # signed bend at the joint: 0 when the three parts are collinear (no wrap-around there)
        inner = _angle_between(points[:, :, i - 1] - points[:, :, i], points[:, :, i + 1] - points[:, :, i])
        feats.append(_wrap(inner - np.pi))
        fnames.append(f"bend_{names[i]}")
    # egocentric coordinates: each part relative to the centroid, in the body's frame (x forward)
    unit = heading_vec / np.maximum(np.linalg.norm(heading_vec, axis=-1, keepdims=True), 1e-9)
    rel = (points - centroid[:, :, None]) / scale[..., None, None]
    for i in range(k):
        feats.append((rel[:, :, i] * unit).sum(-1))
        feats.append(rel[:, :, i, 1] * unit[..., 0] - rel[:, :, i, 0] * unit[..., 1])
        fnames += [f"ego_x_{names[i]}", f"ego_y_{names[i]}"]
    velocity = _backward_diff(points) * rate / scale[..., None, None]  # [T, S, K, 2]
    c_vel = _backward_diff(centroid) * rate / scale[..., None]
    feats.append(np.linalg.norm(c_vel, axis=-1))
    fnames.append("speed_centroid")
    for i in range(k):
        feats.append(np.linalg.norm(velocity[:, :, i], axis=-1))
        fnames.append(f"speed_{names[i]}")
        feats.append(np.linalg.norm(velocity[:, :, i] - c_vel, axis=-1))
        fnames.append(f"relspeed_{names[i]}")
    heading = np.arctan2(heading_vec[..., 1], heading_vec[..., 0])
    feats.append(_wrap(_backward_diff(heading)) * rate)
    fnames.append("turn_rate")
    # speed along the heading (forward vs backward walking)
    feats.append((c_vel * unit).sum(-1))
    fnames.append("speed_forward")
    geometry = dict(centroid=centroid, heading_vec=heading_vec, c_vel=c_vel, scale=scale, rate=rate, head=head)
    return np.stack(feats, -1), fnames, geometry


def _social(points: np.ndarray, g: dict) -> tuple[np.ndarray, list[str]]:
    """Features of each subject towards its nearest other subject ``[T, S, F]``."""
    t, s, k, _ = points.shape
    centroid, scale, rate = g["centroid"], g["scale"], g["rate"]
    dist = np.linalg.norm(centroid[:, :, None] - centroid[:, None, :], axis=-1)  # [T, S, S]
    dist[:, np.arange(s), np.arange(s)] = np.inf
    other = dist.argmin(2)  # [T, S]
    ti = np.arange(t)[:, None]
    o_centroid = centroid[ti, other]
    o_points = points[ti, other]  # [T, S, K, 2]
    o_heading = g["heading_vec"][ti, other]
    o_vel = g["c_vel"][ti, other]
    to_other = o_centroid - centroid
    d = np.linalg.norm(to_other, axis=-1) / scale
    pairwise = np.linalg.norm(points[:, :, :, None] - o_points[:, :, None, :], axis=-1)  # [T, S, K, K]
    facing = _angle_between(g["heading_vec"], to_other)
    o_facing = _angle_between(o_heading, -to_other)
    bearing = np.arctan2(-to_other[..., 1], -to_other[..., 0])  # from the other to me
    feats = [
        d,
        _backward_diff(d) * rate,
        pairwise.min((2, 3)) / scale,
        np.linalg.norm(points[:, :, g["head"]] - o_centroid, axis=-1) / scale,
        np.cos(facing),
        np.sin(facing),
        np.cos(o_facing),
        np.sin(o_facing),
        np.linalg.norm(o_vel, axis=-1),
        _wrap(_backward_diff(bearing)) * rate,
        (g["c_vel"] * o_vel).sum(-1),
    ]
    names = [
        "social_dist",
        "social_dist_rate",
        "social_min_part_dist",
        "social_head_to_other",
        "social_facing_cos",
        "social_facing_sin",
        "social_other_facing_cos",
        "social_other_facing_sin",
        "social_other_speed",
        "social_bearing_rate",
        "social_velocity_dot",
    ]
    return np.stack(feats, -1), names


def _window_stats(x: np.ndarray, windows: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """Centered rolling mean and std of ``x [T, ..., F]`` along time, for each window."""
    from scipy.ndimage import uniform_filter1d

    out, names = [], []
    for w in windows:
        mean = uniform_filter1d(x, size=int(w), axis=0, mode="nearest")
        sq = uniform_filter1d(x * x, size=int(w), axis=0, mode="nearest")
        out += [mean, np.sqrt(np.maximum(sq - mean * mean, 0.0))]
        names += [f"mean{w}", f"std{w}"]
    return (np.concatenate(out, -1) if out else x[..., :0]), names


def pose_features(
    pose: Pose, fps: float | None = None, config: PoseFeatureConfig | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per-subject pose features ``[T, S, F]`` (float32) and their names.

    Parameters
    ----------
    pose
        Keypoints ``[T, S, K, 2]`` with names.
    fps
        Frame rate; speeds are per second when given, per frame otherwise.
    config
        Window sizes, pair limit and whether to add social features (needs S >= 2).
    """
    config = config or PoseFeatureConfig()
    points = interpolate_missing(pose.points)
    if points.shape[2] < 2:
        raise DataError(f"pose features need at least 2 keypoints per subject, got {points.shape[2]}")
    base, names, geometry = _subject_base(points, pose.keypoint_names, fps, config.max_pairs)
    if config.social and points.shape[1] >= 2:
        social, social_names = _social(points, geometry)
        base = np.concatenate([base, social], -1)
        names = names + social_names
    base = np.nan_to_num(base, nan=0.0, posinf=0.0, neginf=0.0)
    stats, stat_names = _window_stats(base, config.windows)
    features = np.concatenate([base, stats], -1).astype(np.float32)
    all_names = names + [f"{n}_{s}" for s in stat_names for n in names]
    return features, all_names


def recording_pose_features(recording: Recording, config: PoseFeatureConfig | None = None) -> np.ndarray:
    """Pose features aligned to the recording's label subjects: ``[T, S_labels, F]``.

    When the labels are per subject and the pose has the same subjects, each subject gets
    its own features; when labels are frame-level (one subject, e.g. "all"), the features
    of all pose subjects are concatenated; a frame-level subject beside pose subjects gets
    the mean of the pose subjects' features.
    """
    pose = recording.pose
    if pose is None:
        raise DataError(f"recording {recording.name!r} has no pose; pose features need keypoints")
    if not pose.visible().any():
        raise DataError(f"recording {recording.name!r}: its pose has no located keypoint in any frame")
    feats, _ = pose_features(pose, recording.fps, config)
    subjects = recording.subjects
    if tuple(pose.subjects) == tuple(subjects):
        return feats
    if len(subjects) == 1:
        return feats.reshape(feats.shape[0], 1, -1)
    known = [s for s in subjects if s in pose.subjects]
    if not known and len(subjects) > 1:
        raise DataError(
            f"recording {recording.name!r}: label subjects {list(subjects)} do not match pose tracks {list(pose.subjects)}"
        )
    # subjects with a pose track get their own features; a frame-level subject next to them
    # (e.g. BORIS "No focal subject" labels beside SLEAP tracks) gets the mean over all tracks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames where no track has features
        mean = np.nanmean(feats, axis=1)
    return np.stack([feats[:, list(pose.subjects).index(s)] if s in pose.subjects else mean for s in subjects], 1)
