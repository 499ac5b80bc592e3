"""`Predictions`: a classifier's per-frame, per-subject scores and calls for one recording.

Pure data, like the rest of `vpbehavior.core`: made by `BehaviorClassifier.predict`, written to
and read from the predictions file by `vpbehavior.io`, shown by the napari plugin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._frozen import FrozenDict, readonly_array
from .errors import DataError
from .labels import BehaviorLabels, Bout, runs


@dataclass(frozen=True, eq=False, repr=False)
class Predictions:
    """Scores and calls of every class for every subject in every frame of one recording.

    Attributes
    ----------
    recording
        The recording's name.
    scores
        float32 ``[T, S, C]`` probabilities (sigmoid or softmax); NaN where the subject is absent.
    calls
        bool ``[T, S, C]``: the behavior is called after post-processing (False where absent).
    classes, subjects
        Names of the C classes and S subjects (a frame-level classifier has the one subject "all").
    presence
        bool ``[T, S]``: frames where the subject was present and scored.
    fps
        Frames per second, when known.
    background
        The background class (calls of it are not bouts), if any.
    provenance
        How the predictions were made (classifier, encoder, settings); read-only.
    """

    recording: str
    scores: np.ndarray
    calls: np.ndarray
    classes: Sequence[str]
    subjects: Sequence[str]
    presence: np.ndarray
    fps: float | None = None
    background: str | None = None
    provenance: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "scores", readonly_array(self.scores, np.float32))
        set_(self, "calls", readonly_array(self.calls, bool))
        set_(self, "presence", readonly_array(self.presence, bool))
        set_(self, "classes", tuple(self.classes))
        set_(self, "subjects", tuple(self.subjects))
        set_(self, "provenance", FrozenDict(dict(self.provenance)))
        shape = (self.scores.shape[0], len(self.subjects), len(self.classes))
        if self.scores.shape != shape or self.calls.shape != shape:
            raise DataError(
                f"predictions of {self.recording!r}: scores {self.scores.shape} and calls {self.calls.shape} "
                f"must both be [frames, {len(self.subjects)} subjects, {len(self.classes)} classes]"
            )
        if self.presence.shape != shape[:2]:
            raise DataError(f"predictions of {self.recording!r}: presence {self.presence.shape} != {shape[:2]}")
        for what, names in (("class", self.classes), ("subject", self.subjects)):
            if len(set(names)) != len(names):
                raise DataError(f"predictions of {self.recording!r}: duplicate {what} names in {list(names)}")
        if (self.calls & ~self.presence[..., None]).any():
            raise DataError(f"predictions of {self.recording!r}: behaviors are called where the subject is absent")
        if self.background is not None and self.background not in self.classes:
            raise DataError(f"predictions of {self.recording!r}: background {self.background!r} is not a class")

    @property
    def n_frames(self) -> int:
        return self.scores.shape[0]

    def bouts(self) -> list[Bout]:
        """The called runs as bouts (background excluded), with their mean score, sorted by start."""
        out = []
        for s, subject in enumerate(self.subjects):
            for c, behavior in enumerate(self.classes):
                if behavior == self.background:
                    continue
                for start, stop in runs(self.calls[:, s, c]):
                    score = float(np.nanmean(self.scores[start:stop, s, c]))
                    out.append(Bout(start, stop, subject, behavior, score=round(score, 6)))
        return sorted(out, key=lambda b: (b.start, self.subjects.index(b.subject), self.classes.index(b.behavior)))

    def to_labels(self) -> BehaviorLabels:
        """The calls as labels: 1 where called, 0 elsewhere where present, -1 where absent."""
        values = np.where(self.calls, 1, 0).astype(np.int8)
        values[~self.presence] = -1
        return BehaviorLabels(values, self.classes, self.subjects, self.background)

    def __repr__(self) -> str:
        fps = f" @ {self.fps:.4g} fps" if self.fps else ""
        return (
            f"Predictions({self.recording!r}, {self.n_frames} frames{fps}, {len(self.subjects)} subjects, "
            f"{len(self.classes)} classes, {len(self.bouts())} bouts)"
        )
