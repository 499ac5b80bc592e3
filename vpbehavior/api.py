"""The typed front door: everything the commands, the napari plugin and notebooks call.

    import vpbehavior as vpb

    data = vpb.load("experiment/")                                   # -> Dataset
    encoder = vpb.load_encoder("videoprism_public_v1_base")          # or "random:tiny" to try things out
    vpb.extract_features(data.recordings, encoder, vpb.ExtractConfig(), cache="feats")
    clf = vpb.train_classifier(data.split("train"), config=vpb.TrainConfig(kind="video"), features="feats")
    pred = clf.predict(data.split("test")[0], features="feats")       # -> Predictions [T, S, C]
    report = vpb.evaluate(clf, data.split("test"), features="feats")  # -> EvaluationReport

Configs are frozen dataclasses (`ExtractConfig`, `TrainConfig`); the command line derives its
flags and defaults from them. Long functions take ``progress=`` (see `vpbehavior.reporting`).
This module imports torch only when a function that needs it is called.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from vpbehavior.core import Dataset, Predictions, Recording

if TYPE_CHECKING:  # pragma: no cover
    from vpbehavior.classify.classifier import BehaviorClassifier

#: Names this module re-exports from deeper modules, imported on first use.
_LAZY = {
    "ExtractConfig": "vpbehavior.features.extract",
    "ExtractionResult": "vpbehavior.features.extract",
    "DEFAULT_WEIGHTS": "vpbehavior.features.extract",
    "load_encoder": "vpbehavior.features.extract",
    "extract_features": "vpbehavior.features.extract",
    "train_classifier": "vpbehavior.classify.training",
    "evaluate": "vpbehavior.classify.evaluation",
    "TrainConfig": "vpbehavior.classify.config",
    "BehaviorClassifier": "vpbehavior.classify.classifier",
    "EvaluationReport": "vpbehavior.classify.evaluation",
    "BenchmarkResult": "vpbehavior.protocols",
    "PROTOCOLS": "vpbehavior.protocols",
    "run_benchmark": "vpbehavior.protocols",
    "select_split": "vpbehavior.classify.data",
    "check_features": "vpbehavior.classify.data",
    "training_splits": "vpbehavior.classify.data",
    "default_test_split": "vpbehavior.classify.data",
    "probe_video": "vpbehavior.io.video",
    "verify_video": "vpbehavior.io.video",
    "VIDEO_SUFFIXES": "vpbehavior.io.video",
    "make_experiment": "vpbehavior.io.synthetic",
    "parse_track_options": "vpbehavior.io.tracks",
    "score": "vpbehavior.scoring",
    "summarize_scores": "vpbehavior.scoring",
    "ScoreConfig": "vpbehavior.scoring.config",
    "export_file": "vpbehavior.scoring.export",
    "predictions_files": "vpbehavior.scoring.summary",
    "PREDICTIONS_SUFFIX": "vpbehavior.io.predictions",
    "ScoreResult": "vpbehavior.scoring",
    "read_predictions": "vpbehavior.io.predictions",
    "write_predictions": "vpbehavior.io.predictions",
    "pretrain": "vpbehavior.pretrain",
    "finetune": "vpbehavior.pretrain",
    "read_provenance": "vpbehavior.pretrain",
    "Stage1Config": "vpbehavior.pretrain.config",
    "Stage2Config": "vpbehavior.pretrain.config",
    "FinetuneConfig": "vpbehavior.pretrain.config",
    "make_pretrain_config": "vpbehavior.pretrain.config",
    "read_pretrain_config_file": "vpbehavior.pretrain.config",
    "PRETRAIN_CONFIG_CLASSES": "vpbehavior.pretrain.config",
    "train_caption_tokenizer": "vpbehavior.pretrain.data",
    "label_captions": "vpbehavior.pretrain.data",
    "search": "vpbehavior.search",
    "similarity_trace": "vpbehavior.search",
    "zero_shot": "vpbehavior.search",
    "TextSearch": "vpbehavior.search",
    "SearchConfig": "vpbehavior.search.config",
    "DEFAULT_LVT_WEIGHTS": "vpbehavior.search.config",
    "SearchResults": "vpbehavior.search",
    "Query": "vpbehavior.search",
    "read_query_file": "vpbehavior.search",
    "DEFAULT_TEMPLATES": "vpbehavior.search",
    "evaluate_predictions": "vpbehavior.classify.evaluation",
}

__all__ = [
    "load",
    "open_video",
    "load_classifier",
    "predict",
    *_LAZY,
]


#: API names that differ from the name in their module.
_RENAMED = {
    "PREDICTIONS_SUFFIX": "SUFFIX",
    "make_pretrain_config": "make_config",
    "read_pretrain_config_file": "read_config_file",
    "PRETRAIN_CONFIG_CLASSES": "CONFIG_CLASSES",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), _RENAMED.get(name, name))
    raise AttributeError(f"module 'vpbehavior.api' has no attribute {name!r}")


def load(path: str | Path, format: str = "auto", **options) -> Dataset:
    """Recordings from a dataset root, a split folder, a lab folder or a single file.

    ``format`` is a registered format name or "auto" (detected from the files); ``options`` go
    to the format's loader (e.g. ``propagate=True`` for ChimpACT).
    """
    from vpbehavior.io.registry import load as _load

    return _load(path, format=format, **options)


def open_video(source: Recording | str | Path):
    """A frame-accurate reader (``reader[i]`` is the i-th decoded frame) of a recording's video or a video file."""
    from vpbehavior.core.errors import DataError
    from vpbehavior.io.video import open_video as _open

    if isinstance(source, Recording):
        if source.video is None:
            raise DataError(f"recording {source.name!r} has no video attached")
        return _open(source.video, fps=source.fps)
    return _open(source)


def load_classifier(path: str | Path) -> BehaviorClassifier:
    """A classifier saved by ``BehaviorClassifier.save`` (or `vpbehavior train`)."""
    from vpbehavior.classify.classifier import BehaviorClassifier

    return BehaviorClassifier.load(path)


def predict(classifier: BehaviorClassifier, recording: Recording, *, features: str | Path | None = None) -> Predictions:
    """Per-frame, per-subject scores and calls for one recording (labels not needed)."""
    return classifier.predict(recording, features=features)
