"""The persisted behavior classifier: a trained head plus everything needed to score new data.

A `BehaviorClassifier` is saved as one ``.safetensors`` file: the head's weights plus a JSON
header (``__metadata__["vpbehavior"]``) with the training config, classes, background, feature
normalization, the feature spec (encoder identity, extraction and pose-feature settings),
thresholds and post-processing. Loading never unpickles anything, and a damaged or hand-edited
file is one `DataError` line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from vpbehavior._config import config_from_dict
from vpbehavior.core import Predictions, Recording
from vpbehavior.core.errors import DataError, MissingFileError

from .config import TrainConfig
from .data import (
    FeatureSequence,
    WindowedFrames,
    feature_differences,
    recording_rows,
    same_features,
    sequence_normalize,
)
from .heads import build_head
from .metrics import _json_ready
from .postprocess import PostProcessor

FORMAT = "vpbehavior-classifier"
FORMAT_VERSION = 2  # v2: kind, mode, post-processing and validation options joined TrainConfig
SUFFIX = ".safetensors"


def _config_from_v1(values: dict, meta: dict) -> dict:
    """A v1 file's config (head options only) in v2 terms."""
    values = dict(values)
    values["mode"] = "single" if meta.get("single_label") else "multi"
    values["kind"] = (meta.get("feature_spec") or {}).get("kind", "video")
    post = meta.get("postprocess") or {}
    values.update(
        smoothing=post.get("smoothing", "median"),
        smooth_window=post.get("window", 1),
        min_bout=post.get("min_bout", 1),
        max_gap=post.get("max_gap", 0),
    )
    if isinstance(values.get("class_weights"), list):
        values["class_weights"] = "none"
    return values


class BehaviorClassifier:
    """A trained head with everything needed to score new features and recordings."""

    def __init__(
        self,
        head: torch.nn.Module,
        classes: Sequence[str],
        config: TrainConfig,
        frame_shape: tuple[int, ...],
        background: str | None = None,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        feature_spec: dict | None = None,
        postprocess: PostProcessor | None = None,
        info: dict | None = None,
    ) -> None:
        self.head = head.eval()
        self.classes = tuple(classes)
        self.config = config
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self.background = background
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)
        self.feature_spec = feature_spec or {}
        self.postprocess = postprocess or config.postprocessor()
        self.info = info or {}
        self.path: Path | None = None

    @property
    def single_label(self) -> bool:
        return self.config.single_label

    @property
    def window(self) -> int:
        return int(self.config.window)

    @property
    def kind(self) -> str:
        return self.feature_spec.get("kind", self.config.kind)

    def __repr__(self) -> str:
        encoder = (self.feature_spec.get("encoder") or {}).get("model")
        on = f" on {self.kind} features" + (f" of {encoder}" if encoder else "")
        return (
            f"BehaviorClassifier({self.config.head} head{on}, {len(self.classes)} classes: {', '.join(self.classes)})"
        )

    # ------------------------------------------------------------------ scoring
    def _normalize(self, x: np.ndarray) -> np.ndarray:
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    def _device(self) -> torch.device:
        wanted = self.config.device
        return torch.device(wanted if wanted == "cpu" or torch.cuda.is_available() else "cpu")

    @torch.no_grad()
    def scores_windowed(
        self, data: WindowedFrames, rows: np.ndarray | None = None, batch_size: int = 1024
    ) -> np.ndarray:
        """Probabilities ``[N, C]`` (sigmoid or softmax) for frame rows of ``data``."""
        device = self._device()
        self.head.to(device).eval()
        rows = np.arange(len(data)) if rows is None else rows
        out = []
        for i in range(0, len(rows), batch_size):
            x = torch.from_numpy(self._normalize(data.gather(rows[i : i + batch_size]))).to(device)
            logits = self.head(x).float()
            out.append((torch.softmax(logits, 1) if self.single_label else torch.sigmoid(logits)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_scores(self, features: np.ndarray) -> np.ndarray:
        """Probabilities ``[T, C]`` for one contiguous sequence of per-frame features ``[T, ...]``."""
        features = np.asarray(features, np.float32)
        if features.shape[1:] != self.frame_shape:
            raise DataError(
                f"features have per-frame shape {features.shape[1:]}, the classifier expects {self.frame_shape} "
                f"({self.kind} features)"
            )
        if self.config.uses_sequence_norm:
            features = sequence_normalize(features)
        return self.scores_windowed(WindowedFrames([FeatureSequence(features, None)], self.window))

    def predict_features(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(scores [T, C], calls [T, C] bool)`` after post-processing, for one sequence of features."""
        scores = self.predict_scores(features)
        return scores, self.postprocess.apply(scores)

    def predict(self, recording: Recording, features: str | Path | None = None) -> Predictions:
        """`Predictions` for every subject of ``recording`` where it is present.

        ``features`` is the feature cache folder (`vpbehavior.extract_features`), needed for video
        feature kinds; the cached features must have been made exactly as the training features
        (same encoder weights and extraction settings), else a DataError says what differs.
        """
        from vpbehavior.features.pose_features import PoseFeatureConfig

        spec = self.feature_spec
        pose_config = PoseFeatureConfig.from_dict(spec["pose"]) if "pose" in spec else None
        rows = recording_rows(recording, self.kind, features, pose_config)
        if (
            spec.get("per_subject")
            and not rows.spec.get("per_subject")
            and same_features({**spec, "per_subject": False}, rows.spec)
        ):
            raise DataError(
                f"recording {recording.name!r}: the classifier was trained on per-subject (box-pooled) video features, "
                "which need pose or boxes for each animal, and this recording has none; train on frame-level features "
                "(--kind tokens, or extract with --no-subjects) to score bare videos"
            )
        if not same_features(spec, rows.spec):
            raise DataError(
                f"recording {recording.name!r}: its features differ from those the classifier was trained on "
                f"({', '.join(feature_differences(spec, rows.spec))}); extract them with the same encoder and options"
            )
        n, r, c = recording.n_frames, len(rows.subjects), len(self.classes)
        scores = np.full((n, r, c), np.nan, np.float32)
        calls = np.zeros((n, r, c), bool)
        for j in range(r):
            present = rows.presence[:, j]
            if not present.any():
                continue
            s, k = self.predict_features(rows.features[:, j])
            scores[present, j] = s[present]
            calls[:, j] = k & present[:, None]
        provenance = {
            "classifier": str(self.path) if self.path else None,
            "classifier_sha256": self.info.get("sha256"),
            "encoder": (spec.get("encoder") or {}).get("model"),
            "feature_kind": self.kind,
        }
        return Predictions(
            recording.name, scores, calls, self.classes, rows.subjects, rows.presence, recording.fps,
            self.background, provenance,
        )  # fmt: skip

    # ------------------------------------------------------------------ persistence
    def metadata(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "background": self.background,
            "frame_shape": list(self.frame_shape),
            "config": asdict(self.config),
            "feature_spec": self.feature_spec,
            "postprocess": self.postprocess.to_dict(),
            "info": _json_ready({k: v for k, v in self.info.items() if k != "sha256"}),
        }

    def save(self, path: str | Path) -> Path:
        """Write one ``.safetensors`` file (weights + JSON metadata) atomically."""
        from safetensors.torch import save_file

        from vpbehavior._files import atomic_output

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"head.{k}": v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()}
        if self.mean is not None:
            tensors["norm.mean"] = torch.from_numpy(self.mean)
            tensors["norm.std"] = torch.from_numpy(self.std)
        with atomic_output(path) as tmp:
            save_file(tensors, str(tmp), metadata={"vpbehavior": json.dumps(self.metadata())})
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> BehaviorClassifier:
        """Read a file written by `save` (no pickle involved); a bad file is one DataError naming it."""
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"{path}: classifier file not found", path)
        meta, tensors = _read_classifier_file(path)
        version = meta.get("format_version")
        if meta.get("format") != FORMAT or not isinstance(version, int) or version > FORMAT_VERSION:
            raise DataError(f"unsupported classifier format {meta.get('format')!r} version {version!r}", path)
        for key in ("classes", "frame_shape", "config", "feature_spec", "postprocess"):
            if key not in meta:
                raise DataError(f"classifier header lacks {key!r}", path, key)
        classes = meta["classes"]
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
            raise DataError("'classes' must be a non-empty list of behavior names", path, "classes")
        if len(set(classes)) != len(classes):
            raise DataError(f"'classes' repeats names: {sorted({c for c in classes if classes.count(c) > 1})}", path)
        values = meta["config"] if version >= 2 else _config_from_v1(meta["config"], meta)
        config = config_from_dict(TrainConfig, values, path, "classifier config")
        frame_shape = meta["frame_shape"]
        if (
            not isinstance(frame_shape, list)
            or not frame_shape
            or not all(isinstance(n, int) and 0 < n <= 1 << 20 for n in frame_shape)
        ):
            raise DataError(f"'frame_shape' must be a list of positive sizes, got {frame_shape!r}", path)
        frame_shape = tuple(frame_shape)
        if not isinstance(meta["feature_spec"], dict):
            raise DataError("'feature_spec' must be a JSON object", path, "feature_spec")
        post = config_from_dict(PostProcessor, meta["postprocess"], path, "post-processing")
        thresholds = post.thresholds
        if thresholds and (len(thresholds) != len(classes) or not all(0 <= t <= 1 for t in thresholds)):
            raise DataError(f"{len(thresholds)} thresholds for {len(classes)} classes, each must lie in [0, 1]", path)
        background = meta.get("background")
        if background is not None and background not in classes:
            raise DataError(f"background {background!r} is not among the classes", path, "background")
        head = _build_checked_head(config, frame_shape, len(classes), tensors, path)
        mean = tensors["norm.mean"].numpy() if "norm.mean" in tensors else None
        std = tensors["norm.std"].numpy() if "norm.std" in tensors else None
        if mean is not None and (std is None or mean.shape != (frame_shape[-1],) or std.shape != mean.shape):
            raise DataError(f"normalization tensors do not match the per-frame shape {frame_shape}", path, "norm")
        if std is not None and not (np.isfinite(std).all() and (std > 0).all() and np.isfinite(mean).all()):
            raise DataError("normalization std must be finite and > 0, mean finite", path, "norm.std")
        info = dict(meta.get("info") or {})
        info["sha256"] = file_sha256(path)
        clf = cls(head, classes, config, frame_shape, background, mean, std, meta["feature_spec"], post, info)
        clf.path = path
        return clf


def file_sha256(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_classifier_file(path: Path) -> tuple[dict, dict]:
    """The JSON header and tensors of a classifier file, or a DataError naming the file."""
    from safetensors import safe_open

    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or int.from_bytes(head, "little") > min(path.stat().st_size, 100 << 20):
        raise DataError("not a classifier file (not safetensors, or its header is damaged)", path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta_text = (fh.metadata() or {}).get("vpbehavior")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise DataError(f"not a readable safetensors classifier ({str(err).splitlines()[0][:160]})", path) from None
    if meta_text is None:
        raise DataError("safetensors file without vpbehavior metadata (not a classifier)", path)
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as err:
        raise DataError(f"classifier header is not valid JSON ({err})", path) from None
    if not isinstance(meta, dict):
        raise DataError("classifier header is not a JSON object", path)
    return meta, tensors


def _build_checked_head(config: TrainConfig, frame_shape, n_classes: int, tensors: dict, path: Path) -> torch.nn.Module:
    """Build the head on the meta device first and check every tensor against the file before allocating."""
    try:
        with torch.device("meta"):
            probe = build_head(config.head, frame_shape, n_classes, window=config.window, **config.head_options())
    except (TypeError, ValueError) as err:
        raise DataError(f"the classifier config does not describe a head ({err})", path) from None
    stored = {k[5:]: v for k, v in tensors.items() if k.startswith("head.")}
    expected = probe.state_dict()
    missing = sorted(set(expected) - set(stored))
    if missing:
        raise DataError(f"head tensor {missing[0]!r} is missing ({len(missing)} missing in all)", path)
    unexpected = sorted(set(stored) - set(expected))
    if unexpected:
        raise DataError(f"unexpected head tensor {unexpected[0]!r}", path)
    for name, tensor in expected.items():
        if tuple(stored[name].shape) != tuple(tensor.shape):
            raise DataError(
                f"head tensor {name!r} has shape {tuple(stored[name].shape)}, the config needs {tuple(tensor.shape)}",
                path,
            )
    head = build_head(config.head, frame_shape, n_classes, window=config.window, **config.head_options())
    head.load_state_dict(stored)
    return head
