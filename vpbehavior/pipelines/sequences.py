"""Recordings + cached features -> per-subject `FeatureSequence`s for training and scoring.

Feature kinds:

- ``video``: per-frame embeddings; when the labels are per subject and the cache holds
  per-subject embeddings for those subjects, each subject gets ``[subject, frame]``
  (its box-pooled embedding next to the whole-frame one).
- ``tokens``: pooled token grids ``[G, D]`` per frame (input of the attention probe).
- ``pose``: `pose_features` (needs keypoints).
- ``video+pose``: both, concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vpbehavior.classify.train import FeatureSequence
from vpbehavior.core import Recording
from vpbehavior.features import cache as fcache
from vpbehavior.features.pose_features import PoseFeatureConfig, recording_pose_features

FEATURE_KINDS = ("video", "tokens", "pose", "video+pose")


def _video_part(rec: Recording, cache_dir: Path, kind: str) -> tuple[np.ndarray, dict]:
    path = fcache.cache_path(cache_dir, rec.name, rec.video)
    need = ("tokens",) if kind == "tokens" else ("frame", "subject")
    feats = fcache.read_features(path, need)
    prov = feats["provenance"]
    n = rec.n_frames
    if prov.get("n_frames") != n:
        raise ValueError(f"{path}: cache covers {prov.get('n_frames')} frames, recording {rec.name!r} has {n}; re-extract")
    if prov.get("video") != fcache.video_identity(rec.video):
        raise ValueError(f"{path}: features were extracted from another version of {rec.video} "
                         "(path, size or modification time differ); re-extract")
    spec = {"encoder": prov["encoder"], "extraction": prov["extraction"]}
    s = len(rec.subjects)
    if kind == "tokens":
        if feats["tokens"] is None:
            raise ValueError(f"{path}: no token grids stored; extract with --token-grid > 0 for the attention probe")
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
    """Features ``[T, S, ...]`` aligned with the recording's label subjects, and their spec."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; choose one of {FEATURE_KINDS}")
    spec: dict = {"kind": kind}
    parts = []
    if kind in ("video", "tokens", "video+pose"):
        if cache_dir is None:
            raise ValueError(f"feature kind {kind!r} needs a feature cache folder (--features)")
        arr, vspec = _video_part(rec, Path(cache_dir), "tokens" if kind == "tokens" else "video")
        parts.append(arr)
        spec.update(vspec)
    if kind in ("pose", "video+pose"):
        pose_config = pose_config or PoseFeatureConfig()
        parts.append(recording_pose_features(rec, pose_config))
        spec["pose"] = pose_config.to_dict()
    feats = parts[0] if len(parts) == 1 else np.concatenate([p.astype(np.float32) for p in parts], -1)
    return np.asarray(feats, np.float32), spec


def same_features(a: dict, b: dict) -> bool:
    """Whether two feature specs describe the same features (encoder, extraction, pose options)."""
    keys = ("kind", "encoder", "extraction", "pose", "per_subject")
    return all(a.get(k) == b.get(k) for k in keys)


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
        raise ValueError("no labelled recordings: training needs behavior labels")
    names = tuple(classes)
    if single_label and background is None and empty_frames:
        background = "background"
        names = (background,) + names
    return names, background


def targets_for(rec: Recording, classes: Sequence[str], single_label: bool, background: str | None) -> np.ndarray:
    """Targets ``[T, S, C]`` (1/0/-1) in the classifier's class space; all -1 without labels."""
    n, s = rec.n_frames, len(rec.subjects)
    if rec.labels is None:
        return np.full((n, s, len(classes)), -1, np.int8)
    if not single_label:
        return rec.labels.with_classes(classes).values
    present = [c for c in classes if c in rec.labels.classes and c != background]
    labels = rec.labels.with_classes(present + ([background] if background in rec.labels.classes else []))
    if background in labels.classes:
        labels.background = background
    ids, names = labels.to_single_label(background=background or "background", on_conflict="first")
    lookup = np.array([list(classes).index(nm) if nm in classes else -1 for nm in names])
    out = np.full((n, s, len(classes)), -1, np.int8)
    ok = ids >= 0
    ok[ok] = lookup[ids[ok]] >= 0  # a class the classifier does not know: not annotated
    out[ok] = 0
    t_idx, s_idx = np.nonzero(ok)
    out[t_idx, s_idx, lookup[ids[ok]]] = 1
    return out


def subject_rows(rec: Recording, feats: np.ndarray, targets: np.ndarray | None, spec: dict,
                 background_index: int | None = None):
    """``(subject, features [T, ...], targets [T, C] or None)`` per row the classifier sees.

    Per-subject features give one row per subject. Frame-level features (whole-frame
    embeddings or token grids) are the same for every subject, so several subjects collapse
    into one "all" row whose target is positive where any subject is, negative where every
    subject is annotated negative, and not annotated otherwise; the background class (at
    ``background_index``) is positive only where every subject is annotated background.
    """
    frame_level = spec.get("kind") == "tokens" or (spec.get("kind") == "video" and not spec.get("per_subject"))
    if not frame_level or len(rec.subjects) == 1:
        return [(subject, feats[:, j], None if targets is None else targets[:, j])
                for j, subject in enumerate(rec.subjects)]
    merged = None
    if targets is not None:
        any_positive = (targets == 1).any(axis=1)
        all_annotated = (targets != -1).all(axis=1)
        merged = np.where(any_positive, 1, np.where(all_annotated, 0, -1)).astype(np.int8)
        if background_index is not None:  # background: only where every subject is annotated background
            foreground = (np.delete(merged, background_index, axis=1) == 1).any(axis=1)
            all_background = (targets[:, :, background_index] == 1).all(axis=1)
            merged[:, background_index] = np.where(foreground, 0, np.where(all_background, 1, -1))
    return [("all", feats[:, 0], merged)]


def build_sequences(
    recordings: Sequence[Recording],
    kind: str,
    classes: Sequence[str],
    cache_dir: str | Path | None = None,
    single_label: bool = False,
    background: str | None = None,
    pose_config: PoseFeatureConfig | None = None,
    with_targets: bool = True,
) -> tuple[list[FeatureSequence], dict]:
    """One `FeatureSequence` per (recording, subject), and the shared feature spec."""
    sequences, spec = [], None
    for rec in recordings:
        feats, rec_spec = recording_features(rec, kind, cache_dir, pose_config)
        if spec is None:
            spec = rec_spec
        elif not same_features(spec, rec_spec):
            raise ValueError(f"recording {rec.name!r}: its features were made differently from the others ({rec_spec} vs {spec})")
        targets = targets_for(rec, classes, single_label, background) if with_targets else None
        bg = list(classes).index(background) if background in classes else None
        for subject, x, y in subject_rows(rec, feats, targets, rec_spec, bg):
            sequences.append(FeatureSequence(x, y, rec.name, subject, rec.fps))
    if spec is None:
        raise ValueError("no recordings")
    return sequences, spec


def select_split(recordings: Sequence[Recording], split: str | None, what: str = "recordings") -> list[Recording]:
    """Recordings of one published split ("all" or None: every recording).

    Raises a ValueError naming the splits that do exist when ``split`` has none.
    """
    recordings = list(recordings)
    if split in (None, "", "all"):
        return recordings
    chosen = [r for r in recordings if r.split == split]
    if not chosen:
        found = sorted({r.split or "none" for r in recordings})
        raise ValueError(f"no {what} in split {split!r} (splits present: {found}); pass --split all to use every recording")
    return chosen
