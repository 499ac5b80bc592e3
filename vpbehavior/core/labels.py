"""Behavior labels as a frames x subjects x classes table, and bouts.

Cell values: 1 = behavior present, 0 = annotated as absent, -1 = not annotated.
"Not annotated" is kept distinct from "negative" everywhere: metrics and training
ignore -1 cells, and bouts only describe positive runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ._frozen import FrozenDict, readonly_array
from .errors import DataError
from .names import FRAME_LEVEL

POSITIVE = 1
NEGATIVE = 0
UNANNOTATED = -1


@dataclass(frozen=True, order=True)
class Bout:
    """A run of frames ``[start, stop)`` (stop exclusive) where ``subject`` shows ``behavior``.

    ``target`` is the subject the behavior is directed at, when there is one (CalMS21's resident
    attacking the intruder, one fly chasing another); it maps to a sleap-io event's target.
    ``score`` is a classifier's or tracker's confidence, when the bout was predicted.
    """

    start: int
    stop: int
    subject: str
    behavior: str
    score: float | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        if self.stop <= self.start:
            raise DataError(
                f"bout {self.behavior!r} of {self.subject!r}: stop ({self.stop}) must be > start "
                f"({self.start}); stop is exclusive"
            )
        if self.start < 0:
            raise DataError(f"bout {self.behavior!r} of {self.subject!r}: negative start {self.start}")
        if self.target is not None and self.target == self.subject:
            raise DataError(f"bout {self.behavior!r} of {self.subject!r}: a subject cannot be its own target")

    @property
    def n_frames(self) -> int:
        return self.stop - self.start


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _unique_names(names: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(str(n) for n in names)
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"duplicate {what} names: {dupes}")
    return names


def _checked_targets(
    targets: Mapping[tuple[str, str], str] | None, subjects: tuple[str, ...], classes: tuple[str, ...]
) -> Mapping[tuple[str, str], str]:
    """``{(subject, behavior): target subject}`` validated against the labels' names (read-only)."""
    out: dict[tuple[str, str], str] = {}
    for key, target in dict(targets or {}).items():
        subject, behavior = (str(k) for k in key)
        target = str(target)
        if subject not in subjects or target not in subjects:
            raise DataError(
                f"target of {behavior!r}: {subject!r} -> {target!r} names a subject not among {list(subjects)}"
            )
        if behavior not in classes:
            raise DataError(f"target given for behavior {behavior!r}, which is not in the vocabulary {classes}")
        if subject == target:
            raise DataError(f"behavior {behavior!r} of {subject!r}: a subject cannot be its own target")
        out[(subject, behavior)] = target
    return FrozenDict(out)


class BehaviorLabels:
    """Per-frame behavior labels for one recording (immutable: edits return new labels).

    Parameters
    ----------
    values
        int8 array ``[n_frames, n_subjects, n_classes]`` with 1 (present), 0 (absent)
        and -1 (not annotated).
    classes
        Behavior vocabulary, in column order, as found in the data.
    subjects
        Subject (animal) names, in axis-1 order. A frame-level dataset has one subject.
    background
        Name of the vocabulary's background class ("other" in CalMS21), if it has one.
        Metrics exclude it.
    targets
        ``{(subject, behavior): target subject}``: the subject a behavior is directed at
        (CalMS21: the resident's behaviors at the intruder). `to_bouts` puts it on every bout
        of that subject and behavior; behaviors not listed are undirected.
    """

    __slots__ = ("values", "classes", "subjects", "background", "targets")

    def __init__(
        self,
        values: np.ndarray,
        classes: Sequence[str],
        subjects: Sequence[str] = (FRAME_LEVEL,),
        background: str | None = None,
        targets: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        values = np.asarray(values)
        if values.ndim != 3:
            raise DataError(f"label values must be [frames, subjects, classes], got shape {values.shape}")
        classes = _unique_names(classes, "class")
        subjects = _unique_names(subjects, "subject")
        if values.shape[1:] != (len(subjects), len(classes)):
            raise DataError(
                f"label values shape {values.shape} does not match {len(subjects)} subjects x {len(classes)} classes"
            )
        bad = ~np.isin(values, (UNANNOTATED, NEGATIVE, POSITIVE))
        if bad.any():
            raise DataError(f"label values must be -1, 0 or 1; found {np.unique(values[bad])[:5]}")
        if background is not None and background not in classes:
            raise DataError(f"background class {background!r} is not in the vocabulary {classes}")
        set_ = object.__setattr__
        set_(self, "values", readonly_array(values, np.int8))
        set_(self, "classes", classes)
        set_(self, "subjects", subjects)
        set_(self, "background", background)
        set_(self, "targets", _checked_targets(targets, subjects, classes))

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("BehaviorLabels are immutable; build new ones (e.g. with_bout, masked, with_classes)")

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(
        cls,
        n_frames: int,
        classes: Sequence[str],
        subjects: Sequence[str] = (FRAME_LEVEL,),
        annotated: bool = False,
        background: str | None = None,
    ) -> BehaviorLabels:
        """All cells negative (``annotated=True``) or not annotated."""
        fill = NEGATIVE if annotated else UNANNOTATED
        values = np.full((n_frames, len(subjects), len(classes)), fill, np.int8)
        return cls(values, classes, subjects, background)

    @classmethod
    def from_bouts(
        cls,
        bouts: Iterable[Bout],
        n_frames: int,
        classes: Sequence[str] | None = None,
        subjects: Sequence[str] | None = None,
        annotated: bool | np.ndarray = True,
        background: str | None = None,
    ) -> BehaviorLabels:
        """Frame labels from bouts.

        ``annotated`` says which cells outside the bouts are known negatives: True (all),
        False (none: only bout frames are annotated), or a boolean mask ``[n_frames]`` or
        ``[n_frames, n_subjects]``. Classes and subjects default to those in the bouts, in
        order of first appearance. Bout targets become the labels' ``targets``; bouts of one
        subject and behavior directed at different subjects are an error.
        """
        bouts = list(bouts)
        if classes is None:
            classes = list(dict.fromkeys(b.behavior for b in bouts))
        if subjects is None:
            subjects = list(dict.fromkeys(b.subject for b in bouts)) or [FRAME_LEVEL]
        classes, subjects = _unique_names(classes, "class"), _unique_names(subjects, "subject")
        values = np.full((n_frames, len(subjects), len(classes)), UNANNOTATED, np.int8)
        mask = np.asarray(annotated, bool)
        if mask.ndim == 0:
            mask = np.full((n_frames, len(subjects)), bool(mask))
        elif mask.ndim == 1:
            mask = np.repeat(mask[:, None], len(subjects), axis=1)
        if mask.shape != (n_frames, len(subjects)):
            raise DataError(f"annotated mask shape {mask.shape} does not match ({n_frames}, {len(subjects)})")
        values[mask] = NEGATIVE
        class_index = {c: i for i, c in enumerate(classes)}
        subject_index = {s: i for i, s in enumerate(subjects)}
        targets: dict[tuple[str, str], str] = {}
        for b in bouts:
            if b.target is not None:
                known = targets.setdefault((b.subject, b.behavior), b.target)
                if known != b.target:
                    raise DataError(
                        f"bouts of {b.behavior!r} by {b.subject!r} are directed at both {known!r} and "
                        f"{b.target!r}; labels hold one target per subject and behavior"
                    )
            if b.behavior not in class_index:
                raise DataError(f"bout behavior {b.behavior!r} is not in the vocabulary {classes}")
            if b.subject not in subject_index:
                raise DataError(f"bout subject {b.subject!r} is not among the subjects {subjects}")
            if b.stop > n_frames:
                raise DataError(f"bout {b} ends after the last frame (n_frames={n_frames})")
            values[b.start : b.stop, subject_index[b.subject], class_index[b.behavior]] = POSITIVE
        return cls(values, classes, subjects, background, targets)

    @classmethod
    def from_single_label(
        cls,
        ids: np.ndarray,
        classes: Sequence[str],
        subjects: Sequence[str] | None = None,
        background: str | None = None,
        targets: Mapping[tuple[str, str], str] | None = None,
    ) -> BehaviorLabels:
        """One-hot labels from class ids ``[n_frames]`` or ``[n_frames, n_subjects]``; -1 = not annotated."""
        ids = np.asarray(ids)
        if ids.ndim == 1:
            ids = ids[:, None]
        if subjects is None:
            subjects = [FRAME_LEVEL] if ids.shape[1] == 1 else [f"subject{i}" for i in range(ids.shape[1])]
        if ids.size and (ids.max() >= len(classes) or ids.min() < -1):
            raise DataError(f"class ids must lie in [-1, {len(classes) - 1}], found {ids.min()}..{ids.max()}")
        values = np.where(ids[..., None] < 0, UNANNOTATED, NEGATIVE).astype(np.int8)
        values = np.repeat(values, len(classes), axis=2)
        t, s = np.nonzero(ids >= 0)
        values[t, s, ids[t, s]] = POSITIVE
        return cls(values, classes, subjects, background, targets)

    # ------------------------------------------------------------------ views
    @property
    def n_frames(self) -> int:
        return self.values.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape

    @property
    def positive(self) -> np.ndarray:
        """Boolean ``[T, S, C]``: behavior present."""
        return self.values == POSITIVE

    @property
    def annotated(self) -> np.ndarray:
        """Boolean ``[T, S, C]``: cell annotated (positive or negative)."""
        return self.values != UNANNOTATED

    @property
    def foreground_classes(self) -> tuple[str, ...]:
        """The vocabulary without the background class."""
        return tuple(c for c in self.classes if c != self.background)

    def class_index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise KeyError(f"behavior {name!r} is not in the vocabulary {self.classes}") from None

    def label_counts(self) -> dict[str, int]:
        """Number of positive frame x subject cells per class."""
        counts = self.positive.sum(axis=(0, 1))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def annotated_cells(self) -> int:
        """Number of frame x subject cells annotated for every class."""
        return int(self.annotated_mask().sum())

    def annotated_frames(self) -> int:
        """Number of frames where at least one subject is annotated for every class."""
        return int(self.annotated_mask().any(axis=1).sum())

    def to_bouts(self) -> list[Bout]:
        """Positive runs as bouts, sorted by start, subject and class."""
        bouts = []
        for s, subject in enumerate(self.subjects):
            for c, behavior in enumerate(self.classes):
                for start, stop in runs(self.values[:, s, c] == POSITIVE):
                    bouts.append(Bout(start, stop, subject, behavior, target=self.targets.get((subject, behavior))))
        return sorted(bouts, key=lambda b: (b.start, self.subjects.index(b.subject), self.classes.index(b.behavior)))

    def annotated_intervals(self) -> list[tuple[int, int, str]]:
        """``(start, stop, subject)`` runs where every class of that subject is annotated."""
        out = []
        for s, subject in enumerate(self.subjects):
            for start, stop in runs(self.annotated[:, s, :].all(axis=1)):
                out.append((start, stop, subject))
        return out

    def annotated_mask(self) -> np.ndarray:
        """Boolean ``[T, S]``: every class of the subject annotated at that frame."""
        return self.annotated.all(axis=2)

    def to_single_label(
        self, background: str = "background", on_conflict: str = "error"
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Class ids ``[T, S]`` with an explicit background class; -1 = not annotated.

        If the vocabulary has a background class, it is used; otherwise ``background`` is
        added as class 0 and every other id shifts by one. Frames with several positive
        classes raise (``on_conflict="error"``) or take the first class in vocabulary
        order (``"first"``).
        """
        if on_conflict not in ("error", "first"):
            raise ValueError(f"on_conflict must be 'error' or 'first', not {on_conflict!r}")
        if self.background is not None:
            names = self.classes
            bg = self.class_index(self.background)
            positive = self.positive.copy()
            positive[..., bg] = False
            offset = 0
        else:
            if background in self.classes:
                raise ValueError(f"background name {background!r} collides with a behavior class")
            names = (background, *self.classes)
            bg = 0
            positive = self.positive
            offset = 1
        n_pos = positive.sum(axis=2)
        if on_conflict == "error" and (n_pos > 1).any():
            t, s = np.argwhere(n_pos > 1)[0]
            present = [self.classes[c] for c in np.flatnonzero(positive[t, s])]
            raise ValueError(
                f"frame {t}, subject {self.subjects[s]!r} has several behaviors {present}; "
                "use on_conflict='first' or a multi-label view"
            )
        ids = np.where(n_pos > 0, positive.argmax(axis=2) + offset, bg)
        ids[~self.annotated_mask()] = -1
        return ids.astype(np.int64), names

    # ------------------------------------------------------------------ edits (each returns new labels)
    def copy(self) -> BehaviorLabels:
        return BehaviorLabels(self.values.copy(), self.classes, self.subjects, self.background, self.targets)

    def with_values(self, values: np.ndarray) -> BehaviorLabels:
        """The same vocabulary, subjects and targets with other cell values (validated)."""
        return BehaviorLabels(values, self.classes, self.subjects, self.background, self.targets)

    def masked(self, mask: np.ndarray) -> BehaviorLabels:
        """Cells where ``mask`` (``[T]``, ``[T, S]`` or ``[T, S, C]``) is True become not annotated."""
        mask = np.asarray(mask, bool)
        while mask.ndim < 3:
            mask = mask[..., None]
        if mask.shape[0] != self.n_frames:
            raise DataError(f"mask covers {mask.shape[0]} frames, labels {self.n_frames}")
        return self.with_values(np.where(np.broadcast_to(mask, self.shape), UNANNOTATED, self.values))

    def with_bout(self, bout: Bout, value: int = POSITIVE) -> BehaviorLabels:
        """Labels with a bout's cells set positive (or negative / not annotated); a bout's target is kept."""
        values = self.values.copy()
        values[bout.start : bout.stop, self.subject_index(bout.subject), self.class_index(bout.behavior)] = value
        if bout.target is None or value != POSITIVE:
            return self.with_values(values)
        targets = {**self.targets, (bout.subject, bout.behavior): bout.target}
        return BehaviorLabels(values, self.classes, self.subjects, self.background, targets)

    def subject_index(self, name: str) -> int:
        try:
            return self.subjects.index(name)
        except ValueError:
            raise KeyError(f"subject {name!r} is not among {self.subjects}") from None

    def slice_frames(self, start: int, stop: int) -> BehaviorLabels:
        """Labels of frames ``[start, stop)``."""
        return BehaviorLabels(
            self.values[start:stop].copy(), self.classes, self.subjects, self.background, self.targets
        )

    def with_classes(self, classes: Sequence[str]) -> BehaviorLabels:
        """Reorder to another vocabulary; classes new to these labels become not annotated."""
        values = np.full((self.n_frames, len(self.subjects), len(classes)), UNANNOTATED, np.int8)
        for j, name in enumerate(classes):
            if name in self.classes:
                values[:, :, j] = self.values[:, :, self.class_index(name)]
        background = self.background if self.background in classes else None
        targets = {k: t for k, t in self.targets.items() if k[1] in classes}
        return BehaviorLabels(values, classes, self.subjects, background, targets)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BehaviorLabels):
            return NotImplemented
        return (
            self.classes == other.classes
            and self.subjects == other.subjects
            and self.background == other.background
            and dict(self.targets) == dict(other.targets)
            and np.array_equal(self.values, other.values)
        )

    def __getstate__(self):
        state = {k: getattr(self, k) for k in self.__slots__}
        state["targets"] = dict(self.targets)  # a mappingproxy does not pickle
        return state

    def __setstate__(self, state) -> None:
        state = {"targets": {}, **state}  # pickles from before targets existed
        for key, value in state.items():
            object.__setattr__(self, key, FrozenDict(dict(value)) if key == "targets" else value)

    def __repr__(self) -> str:
        subjects = f"{len(self.subjects)} subjects" if len(self.subjects) != 1 else f"subject {self.subjects[0]!r}"
        bg = f", background {self.background!r}" if self.background else ""
        return f"BehaviorLabels({self.n_frames} frames, {subjects}, {len(self.classes)} classes{bg})"
