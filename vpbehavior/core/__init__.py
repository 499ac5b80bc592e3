"""The data model: recordings, pose and behavior labels. Pure data: no file IO, no torch,
and no import of any other vpbehavior package."""

from .dataset import Dataset, LoadFailure, SkippedFile
from .errors import ConfigError, DataError, FormatError, MissingFileError, VideoError, VpbehaviorError
from .labels import NEGATIVE, POSITIVE, UNANNOTATED, BehaviorLabels, Bout, runs
from .names import FRAME_LEVEL, match_name, name_key
from .predictions import Predictions
from .recording import Pose, Recording

__all__ = [
    "Dataset",
    "LoadFailure",
    "SkippedFile",
    "BehaviorLabels",
    "Bout",
    "Pose",
    "Recording",
    "Predictions",
    "POSITIVE",
    "NEGATIVE",
    "UNANNOTATED",
    "FRAME_LEVEL",
    "runs",
    "match_name",
    "name_key",
    "VpbehaviorError",
    "DataError",
    "FormatError",
    "VideoError",
    "ConfigError",
    "MissingFileError",
]
