"""vpbehavior: VideoPrism for animal behavior.

`import vpbehavior` is cheap: it loads the data model only. The API's functions and configs
(`vpbehavior.api`) are reachable from here and import torch, h5py and decoders on first use.
"""

from . import api as _api  # cheap: the API imports torch and decoders only when called
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

_API = tuple(_api.__all__)


def __getattr__(name: str):
    if name in _API:
        return getattr(_api, name)
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
