"""vpbehavior: VideoPrism for animal behavior.

`import vpbehavior` is cheap: it loads the data model only. The API's functions and configs
(`vpbehavior.api`) are reachable from here and import torch, h5py and decoders on first use.
"""

from ._version import __version__
from .core import (
    FRAME_LEVEL,
    BehaviorLabels,
    Bout,
    ConfigError,
    DataError,
    Dataset,
    FormatError,
    Pose,
    Predictions,
    Recording,
    VideoError,
    VpbehaviorError,
)

_API = (
    "load",
    "open_video",
    "load_encoder",
    "extract_features",
    "train_classifier",
    "load_classifier",
    "predict",
    "evaluate",
    "run_benchmark",
    "ExtractConfig",
    "ExtractionResult",
    "TrainConfig",
    "BehaviorClassifier",
    "EvaluationReport",
    "BenchmarkResult",
    "DEFAULT_WEIGHTS",
)


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'vpbehavior' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))


__all__ = [
    "__version__",
    "FRAME_LEVEL",
    "BehaviorLabels",
    "Bout",
    "Dataset",
    "Pose",
    "Predictions",
    "Recording",
    "VpbehaviorError",
    "DataError",
    "FormatError",
    "VideoError",
    "ConfigError",
    *_API,
]
