"""The data model: recordings, pose and behavior labels. Pure data: no file IO, no torch."""

from .dataset import Dataset, LoadFailure
from .labels import NEGATIVE, POSITIVE, UNANNOTATED, BehaviorLabels, Bout
from .recording import Pose, Recording

__all__ = ["Dataset", "LoadFailure", "BehaviorLabels", "Bout", "Pose", "Recording", "POSITIVE", "NEGATIVE", "UNANNOTATED"]
