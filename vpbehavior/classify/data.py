"""The data layout of classification: recordings + cached features -> rows of frames.

A *row* is what the classifier sees: one subject of one recording, frame by frame. Feature kinds:

- ``video``: per-frame embeddings; when the recording has several subjects and the cache holds
  per-subject (box-pooled) embeddings for them, each subject gets ``[subject, frame]``.
- ``tokens``: pooled token grids ``[G, D]`` per frame (input of the attention probe).
- ``pose``: `pose_features` (needs keypoints).
- ``video+pose``: both, concatenated.

Frame-level features (whole-frame embeddings, token grids) are the same for every subject, so a
recording with several subjects gives one frame-level row ``"all"`` whose target is positive where
any subject's is. Per-subject rows are scored only where the subject is present
(`Recording.presence`); targets of absent frames are "not annotated".

`FeatureSequence` and `WindowedFrames` are the arrays the training loop and the classifier use.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vpbehavior.core import FRAME_LEVEL, Recording
from vpbehavior.core.errors import ConfigError, DataError
from vpbehavior.features import cache as fcache
from vpbehavior.features.pose_features import PoseFeatureConfig, recording_pose_features

from .config import FEATURE_KINDS


@dataclass
class FeatureSequence:
    """Contiguous per-frame features and targets of one row (subject) in one recording."""

    features: np.ndarray
    targets: np.ndarray | None
    recording: str = ""
    subject: str = FRAME_LEVEL
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.targets is not None and len(self.targets) != len(self.features):
            raise DataError(
                f"{self.recording}/{self.subject}: {len(self.features)} feature frames but {len(self.targets)} target frames"
            )

    def __len__(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class RecordingRows:
    """The rows of one recording: subject names, features ``[T, R, ...]``, presence ``[T, R]``, spec."""

    subjects: tuple[str, ...]
    features: np.ndarray
    presence: np.ndarray
    spec: dict

    @property
    def frame_level(self) -> bool:
        return is_frame_level(self.spec)


def is_frame_level(spec: dict) -> bool:
    """Whether features of this spec are the same for every subject of a frame."""
    return spec.get("kind") == "tokens" or (spec.get("kind") == "video" and not spec.get("per_subject"))


def sequence_normalize(features: np.ndarray) -> np.ndarray:
    """Z-score every channel over the frames of one sequence (NaN-aware; constant channels -> 0).

    Removes what is static in a recording (background, lighting, camera) so that what changes
    over time stands out; used for video features when ``TrainConfig.sequence_norm`` is on.
    """
    x = np.asarray(features, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, 0, keepdims=True)
        std = np.nanstd(x, 0, keepdims=True)
    return (x - np.nan_to_num(mean)) / np.where(np.nan_to_num(std) > 1e-6, std, 1.0)


class WindowedFrames:
    """All sequences in one edge-padded array; gathers ``[B, W, ...]`` windows by frame index."""

    def __init__(self, sequences: Sequence[FeatureSequence], window: int) -> None:
        if not sequences:
            raise DataError("no sequences to train or score on")
        self.window = int(window)
        half_l, half_r = self.window // 2, self.window - 1 - self.window // 2
        parts, centers, targets = [], [], []
        offset = 0
        for seq in sequences:
            feats = np.asarray(seq.features, dtype=np.float32)
            pad = [(half_l, half_r)] + [(0, 0)] * (feats.ndim - 1)
            parts.append(np.pad(feats, pad, mode="edge") if len(feats) else feats)
            centers.append(offset + half_l + np.arange(len(feats)))
            if seq.targets is not None:
                targets.append(np.asarray(seq.targets, dtype=np.int8))
            offset += len(feats) + half_l + half_r
        self.data = np.concatenate(parts)
        self.centers = np.concatenate(centers)
        self.targets = np.concatenate(targets) if len(targets) == len(sequences) else None
        starts = np.cumsum([0] + [len(s) for s in sequences])
        self.ranges = [(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        self.frame_shape = self.data.shape[1:]
        self._offsets = np.arange(self.window) - half_l

    def __len__(self) -> int:
        return len(self.centers)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Windows ``[B, W, ...]`` around frame rows ``rows`` (indices into the concatenated frames)."""
        return self.data[self.centers[rows][:, None] + self._offsets[None, :]]


def split_sequences(
    sequences: Sequence[FeatureSequence], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[FeatureSequence], list[FeatureSequence]]:
    """Train / validation split by recording; with one recording, the last frames of each sequence."""
    if not 0 < val_fraction < 1:
        raise ConfigError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    names = sorted({s.recording for s in sequences})
    if len(names) >= 2:
        rng = np.random.default_rng(seed)
        n_val = max(1, int(round(val_fraction * len(names))))
        val_names = set(rng.permutation(names)[:n_val].tolist())
        return [s for s in sequences if s.recording not in val_names], [
            s for s in sequences if s.recording in val_names
        ]
    train, val = [], []
    for s in sequences:
        cut = int(round(len(s) * (1 - val_fraction)))
        for part, sl in ((train, slice(None, cut)), (val, slice(cut, None))):
            targets = None if s.targets is None else s.targets[sl]
            part.append(FeatureSequence(s.features[sl], targets, s.recording, s.subject, s.fps))
    return train, val


# ------------------------------------------------------------------ features of a recording
def _video_part(rec: Recording, cache_dir: Path, kind: str) -> tuple[np.ndarray, dict]:
    path = fcache.cache_path(cache_dir, rec.name, rec.video)
    need = ("tokens",) if kind == "tokens" else ("frame", "subject")
    feats = fcache.read_features(path, need)
    prov = feats["provenance"]
    n = rec.n_frames
    if prov.get("n_frames") != n:
        raise DataError(f"cache covers {prov.get('n_frames')} frames, recording {rec.name!r} has {n}; re-extract", path)
    if prov.get("video") != fcache.video_identity(rec.video):
        raise DataError(
            f"features were extracted from another version of {rec.video} "
            "(path, size or modification time differ); run `vpbehavior extract` again",
            path,
        )
    spec = {"encoder": prov["encoder"], "extraction": prov["extraction"]}
    s = len(rec.subjects)
    if kind == "tokens":
        if feats["tokens"] is None:
            raise DataError("no token grids stored; extract with --token-grid > 0 for the attention probe", path)
        return np.broadcast_to(feats["tokens"][:, None], (n, s) + feats["tokens"].shape[1:]), spec
    frame = feats["frame"]
    if s > 1 and feats["subject"] is not None and feats["subjects"] == tuple(rec.subjects):
        spec["per_subject"] = True
        return np.concatenate([feats["subject"], np.broadcast_to(frame[:, None], (n, s, frame.shape[1]))], -1), spec
    spec["per_subject"] = False
    return np.broadcast_to(frame[:, None], (n, s, frame.shape[1])), spec


def recording_features(
    rec: Recording, kind: str, cache_dir: str | Path | None = None, pose_config: PoseFeatureConfig | None = None
) -> tuple[np.ndarray, dict]:
    """Features ``[T, S, ...]`` aligned with the recording's subjects, and their spec."""
    if kind not in FEATURE_KINDS:
        raise ConfigError(f"unknown feature kind {kind!r}; choose one of {FEATURE_KINDS}")
    spec: dict = {"kind": kind}
    parts = []
    if kind in ("video", "tokens", "video+pose"):
        if cache_dir is None:
            raise ConfigError(f"feature kind {kind!r} needs a feature cache folder (--features)")
        arr, vspec = _video_part(rec, Path(cache_dir), "tokens" if kind == "tokens" else "video")
        parts.append(arr)
        spec.update(vspec)
    if kind in ("pose", "video+pose"):
        pose_config = pose_config or PoseFeatureConfig()
        parts.append(recording_pose_features(rec, pose_config))
        spec["pose"] = pose_config.to_dict()
    feats = parts[0] if len(parts) == 1 else np.concatenate([p.astype(np.float32) for p in parts], -1)
    return np.asarray(feats, np.float32), spec


def check_features(rec: Recording, kind: str, cache_dir: str | Path | None = None) -> None:
    """Raise the error `recording_features` would raise, cheaply (headers only, no arrays read)."""
    if kind not in FEATURE_KINDS:
        raise ConfigError(f"unknown feature kind {kind!r}; choose one of {FEATURE_KINDS}")
    if kind in ("pose", "video+pose"):
        if rec.pose is None:
            raise DataError(f"recording {rec.name!r} has no pose; pose features need keypoints")
        if not rec.pose.visible().any():
            raise DataError(f"recording {rec.name!r}: its pose has no located keypoint in any frame")
    if kind in ("video", "tokens", "video+pose"):
        if cache_dir is None:
            raise ConfigError(f"feature kind {kind!r} needs a feature cache folder (--features)")
        if rec.video is None:
            raise DataError(f"recording {rec.name!r} has no video, so no video features")
        path = fcache.cache_path(cache_dir, rec.name, rec.video)
        prov = fcache.complete_provenance(path)
        if prov.get("n_frames") != rec.n_frames or prov.get("video") != fcache.video_identity(rec.video):
            raise DataError(
                f"features were extracted from another version of {rec.video} (frames, size or modification "
                "time differ); run `vpbehavior extract` again",
                path,
            )


def recording_rows(
    rec: Recording, kind: str, cache_dir: str | Path | None = None, pose_config: PoseFeatureConfig | None = None
) -> RecordingRows:
    """The rows a classifier sees for one recording (one frame-level row or one per subject)."""
    feats, spec = recording_features(rec, kind, cache_dir, pose_config)
    if is_frame_level(spec) and len(rec.subjects) > 1:
        return RecordingRows((FRAME_LEVEL,), feats[:, :1], np.ones((rec.n_frames, 1), bool), spec)
    return RecordingRows(tuple(rec.subjects), feats, np.asarray(rec.presence), spec)


#: What makes two feature specs the same features.
SPEC_KEYS = ("kind", "encoder", "extraction", "pose", "per_subject")


def feature_differences(a: dict, b: dict) -> list[str]:
    """The spec keys on which two feature specs differ."""
    return [k for k in SPEC_KEYS if a.get(k) != b.get(k)]


def same_features(a: dict, b: dict) -> bool:
    """Whether two feature specs describe the same features (encoder, extraction, pose options)."""
    return not feature_differences(a, b)


# ------------------------------------------------------------------ targets
def vocabulary(recordings: Sequence[Recording], single_label: bool = False) -> tuple[tuple[str, ...], str | None]:
    """Classes (union, in order of first appearance) and the background class.

    In single-label mode a "background" class is prepended when the vocabulary has none
    and some annotated frame shows no behavior at all.
    """
    classes: dict[str, None] = {}
    background = None
    empty_frames = False
    for rec in recordings:
        if rec.labels is not None:
            classes.update(dict.fromkeys(rec.labels.classes))
            background = background or rec.labels.background
            empty_frames = empty_frames or bool((rec.labels.annotated_mask() & ~rec.labels.positive.any(2)).any())
    if not classes:
        raise DataError("no labelled recordings: training needs behavior labels")
    names = tuple(classes)
    if single_label and background is None and empty_frames:
        background = "background"
        names = (background,) + names
    return names, background


def targets_for(rec: Recording, classes: Sequence[str], single_label: bool, background: str | None) -> np.ndarray:
    """Targets ``[T, S, C]`` (1/0/-1) in the classifier's class space, per subject of the recording.

    Cells of frames where a subject is absent are not annotated; all -1 without labels.
    """
    n, s = rec.n_frames, len(rec.subjects)
    if rec.labels is None:
        return np.full((n, s, len(classes)), -1, np.int8)
    if not single_label:
        out = rec.labels.with_classes(classes).values.copy()
    else:
        present = [c for c in classes if c in rec.labels.classes and c != background]
        labels = rec.labels.with_classes(present + ([background] if background in rec.labels.classes else []))
        if background in labels.classes and labels.background != background:
            labels = type(labels)(labels.values, labels.classes, labels.subjects, background)
        ids, names = labels.to_single_label(background=background or "background", on_conflict="first")
        lookup = np.array([list(classes).index(nm) if nm in classes else -1 for nm in names])
        out = np.full((n, s, len(classes)), -1, np.int8)
        ok = ids >= 0
        ok[ok] = lookup[ids[ok]] >= 0  # a class the classifier does not know: not annotated
        out[ok] = 0
        t_idx, s_idx = np.nonzero(ok)
        out[t_idx, s_idx, lookup[ids[ok]]] = 1
    out[~np.asarray(rec.presence)] = -1
    return out


def row_targets(
    rec: Recording, subjects: Sequence[str], classes: Sequence[str], single_label: bool, background: str | None
) -> np.ndarray:
    """Targets ``[T, R, C]`` for rows of `recording_rows` with these ``subjects``.

    A frame-level row standing for several subjects is positive where any subject is, negative
    where every subject is annotated negative, and not annotated otherwise; its background class
    is positive only where every subject is annotated background.
    """
    targets = targets_for(rec, classes, single_label, background)
    if tuple(subjects) == tuple(rec.subjects):
        return targets
    any_positive = (targets == 1).any(axis=1)
    all_annotated = (targets != -1).all(axis=1)
    merged = np.where(any_positive, 1, np.where(all_annotated, 0, -1)).astype(np.int8)
    bg = list(classes).index(background) if background in classes else None
    if bg is not None:
        foreground = (np.delete(merged, bg, axis=1) == 1).any(axis=1)
        all_background = (targets[:, :, bg] == 1).all(axis=1)
        merged[:, bg] = np.where(foreground, 0, np.where(all_background, 1, -1))
    return merged[:, None]


def build_sequences(
    recordings: Sequence[Recording],
    kind: str,
    classes: Sequence[str],
    cache_dir: str | Path | None = None,
    single_label: bool = False,
    background: str | None = None,
    pose_config: PoseFeatureConfig | None = None,
) -> tuple[list[FeatureSequence], dict]:
    """One `FeatureSequence` (with targets) per row of every recording, and the shared feature spec."""
    sequences, spec = [], None
    for rec in recordings:
        rows = recording_rows(rec, kind, cache_dir, pose_config)
        if spec is None:
            spec = rows.spec
        elif not same_features(spec, rows.spec):
            raise DataError(
                f"recording {rec.name!r}: its features were made differently from the others' "
                f"({', '.join(feature_differences(spec, rows.spec))})"
            )
        targets = row_targets(rec, rows.subjects, classes, single_label, background)
        for j, subject in enumerate(rows.subjects):
            sequences.append(FeatureSequence(rows.features[:, j], targets[:, j], rec.name, subject, rec.fps))
    if spec is None:
        raise DataError("no recordings")
    return sequences, spec


def select_split(recordings: Sequence[Recording], split: str | None, what: str = "recordings") -> list[Recording]:
    """Recordings of one published split ("all" or None: every recording).

    Raises a ConfigError naming the splits that do exist when ``split`` has none.
    """
    recordings = list(recordings)
    if split in (None, "", "all"):
        return recordings
    chosen = [r for r in recordings if r.split == split]
    if not chosen:
        found = sorted({r.split or "none" for r in recordings})
        raise ConfigError(
            f"no {what} in split {split!r} (splits present: {found}); pass --split all to use every recording"
        )
    return chosen


def training_splits(dataset, split: str | None = None, val_split: str | None = None) -> tuple[list, list]:
    """``(train, val)`` labelled recordings of a `Dataset`, following its published splits.

    Defaults: train on "train" when the data has that split, else on every recording outside the
    dataset's test split; validate on "val" when present, unless "val" is the dataset's test split
    (KABR), which is never used for early stopping or thresholds. Without a validation split,
    training holds part of the training data out itself.
    """
    recordings = list(dataset.recordings)
    splits = set(dataset.splits)
    test = dataset.test_split
    if split is None:
        split = "train" if "train" in splits else None
    if split is None:
        train = [r for r in recordings if test is None or r.split != test]
    else:
        train = select_split(recordings, split, "training recordings")
    if val_split is None and "val" in splits and split is not None and test != "val":
        val_split = "val"
    if val_split is not None and val_split == test:
        raise ConfigError(f"split {val_split!r} is the dataset's test split; it cannot be the validation split")
    val = select_split(recordings, val_split, "validation recordings") if val_split else []
    train, val = [r for r in train if r.labels is not None], [r for r in val if r.labels is not None]
    if not train:
        raise DataError(f"no labelled recordings to train on in {'split ' + repr(split) if split else 'the data'}")
    return train, val


def default_test_split(dataset) -> str:
    """The dataset's test split ("test", or what the loader names, e.g. KABR's "val"); "all" when unsplit.

    A dataset that has splits but no test split raises rather than silently scoring training data.
    """
    present = set(dataset.splits)
    for candidate in (dataset.test_split, "test"):
        if candidate in present:
            return candidate
    if present:
        raise ConfigError(f"{dataset.root}: no test split among {sorted(present)}; pass --split NAME (or --split all)")
    return "all"
