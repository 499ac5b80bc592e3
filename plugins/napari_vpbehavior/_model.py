"""The editable annotation model behind the ethogram (no Qt, no napari: tested on its own).

`BehaviorLabels` is immutable, so the plugin keeps the bouts being edited here and builds
labels from them when saving or training. Frames count as annotated for a subject where the
user reviewed them (loaded labels' annotated frames, "mark reviewed", frames of a deleted bout)
or where one of its bouts lies; elsewhere they are not annotated (-1) in the labels made.

Every edit is undoable: the state is a tuple of frozen `Bout`s plus the reviewed mask (shared,
copy-on-write, between states that do not change it), so undo costs nothing per frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from vpbehavior.core import FRAME_LEVEL, BehaviorLabels, Bout

_UNDO_LIMIT = 200


def normalized(bouts: Iterable[Bout]) -> tuple[Bout, ...]:
    """Bouts of one subject and behavior merged where they overlap or touch (as frame labels do)."""
    by_key: dict[tuple[str, str], list[Bout]] = {}
    for b in bouts:
        by_key.setdefault((b.subject, b.behavior), []).append(b)
    out: list[Bout] = []
    for group in by_key.values():
        group.sort()
        current = group[0]
        for b in group[1:]:
            if b.start <= current.stop:
                current = Bout(current.start, max(current.stop, b.stop), current.subject, current.behavior,
                               current.score, current.target or b.target)  # fmt: skip
            else:
                out.append(current)
                current = b
        out.append(current)
    return tuple(sorted(out, key=lambda b: (b.start, b.subject, b.behavior)))


class AnnotationModel:
    """Bouts being edited for one recording, with undo / redo and an unsaved-changes flag.

    Parameters
    ----------
    n_frames
        Length of the recording.
    classes
        Behavior vocabulary (more can be added with `add_class`).
    subjects
        The recording's subjects.
    background
        The vocabulary's background class, if any (kept when saving).
    """

    def __init__(
        self,
        n_frames: int = 0,
        classes: Sequence[str] = (),
        subjects: Sequence[str] = (FRAME_LEVEL,),
        background: str | None = None,
    ) -> None:
        self.n_frames = int(n_frames)
        self.classes: list[str] = list(dict.fromkeys(classes))
        self.subjects: tuple[str, ...] = tuple(subjects) or (FRAME_LEVEL,)
        self.background = background
        self._bouts: tuple[Bout, ...] = ()
        self._reviewed = np.zeros((self.n_frames, len(self.subjects)), bool)
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []
        self.version = 0
        self._saved_version = 0
        #: bouts started but not yet ended: ``{(subject, behavior): start frame}``
        self.open_bouts: dict[tuple[str, str], int] = {}
        self._listeners: list[Callable[[], None]] = []
        self._drag_base: tuple | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_labels(cls, labels: BehaviorLabels, subjects: Sequence[str] | None = None) -> AnnotationModel:
        """A model holding ``labels`` (their subjects must be the recording's; see `align_subjects`)."""
        model = cls(labels.n_frames, labels.classes, subjects or labels.subjects, labels.background)
        model._load(labels)
        return model

    def _load(self, labels: BehaviorLabels) -> None:
        if tuple(labels.subjects) != self.subjects:
            raise ValueError(f"labels of subjects {labels.subjects} given to a model of {self.subjects}")
        self.classes = list(dict.fromkeys([*self.classes, *labels.classes]))
        self.background = labels.background or self.background
        self._bouts = normalized(labels.to_bouts())
        self._reviewed = labels.annotated_mask().copy()

    def set_labels(self, labels: BehaviorLabels) -> None:
        """Replace everything with ``labels`` (an undoable edit; the model is then unsaved)."""
        self._push()
        self._load(labels)
        self._changed()

    # ------------------------------------------------------------------ views
    @property
    def bouts(self) -> tuple[Bout, ...]:
        return self._bouts

    @property
    def dirty(self) -> bool:
        """True when there are edits since the last `mark_saved` (or load)."""
        return self.version != self._saved_version

    def mark_saved(self) -> None:
        self._saved_version = self.version

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def annotated_mask(self) -> np.ndarray:
        """Boolean ``[T, S]``: reviewed or covered by a bout of the subject."""
        mask = self._reviewed.copy()
        for b in self._bouts:
            mask[b.start : b.stop, self.subjects.index(b.subject)] = True
        return mask

    def to_labels(self) -> BehaviorLabels:
        """The bouts as labels (frames not annotated where nobody looked)."""
        return BehaviorLabels.from_bouts(
            self._bouts, self.n_frames, self.classes, self.subjects, self.annotated_mask(), self.background
        )

    def dense(self, rows: Sequence[tuple[str, str]]) -> np.ndarray:
        """int8 ``[T, len(rows)]`` of 1 / 0 / -1 for ``(subject, behavior)`` rows (the ethogram's lanes)."""
        out = np.full((self.n_frames, len(rows)), -1, np.int8)
        index = {key: i for i, key in enumerate(rows)}
        for i, (subject, _) in enumerate(rows):
            if subject in self.subjects:
                out[self._reviewed[:, self.subjects.index(subject)], i] = 0
        for b in self._bouts:
            i = index.get((b.subject, b.behavior))
            if i is not None:
                out[b.start : b.stop, i] = 1
            for j, (subject, _) in enumerate(rows):  # a bout's frames are annotated for all classes
                if subject == b.subject and j != i:
                    seg = out[b.start : b.stop, j]
                    seg[seg < 0] = 0
        return out

    def bouts_at(self, frame: int, subject: str | None = None, behavior: str | None = None) -> list[Bout]:
        return [
            b
            for b in self._bouts
            if b.start <= frame < b.stop
            and (subject is None or b.subject == subject)
            and (behavior is None or b.behavior == behavior)
        ]

    def edges(self, subject: str | None = None, behavior: str | None = None) -> np.ndarray:
        """Sorted unique bout starts and (exclusive) stops, optionally of one subject / behavior."""
        picked = [
            b
            for b in self._bouts
            if (subject is None or b.subject == subject) and (behavior is None or b.behavior == behavior)
        ]
        return np.unique(np.array([e for b in picked for e in (b.start, b.stop - 1)], dtype=np.int64))

    def next_edge(self, frame: int, direction: int, subject: str | None = None, behavior: str | None = None) -> int:
        """The nearest bout start or last frame after (direction > 0) or before ``frame``; ``frame`` if none."""
        edges = self.edges(subject, behavior)
        if direction > 0:
            later = edges[edges > frame]
            return int(later[0]) if later.size else frame
        earlier = edges[edges < frame]
        return int(earlier[-1]) if earlier.size else frame

    # ------------------------------------------------------------------ edits
    def on_change(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def _state(self) -> tuple:
        return (self._bouts, self._reviewed, tuple(self.classes), self.background)

    def _restore(self, state: tuple) -> None:
        self._bouts, self._reviewed, classes, self.background = state
        self.classes = list(classes)

    def _push(self) -> None:
        self._undo.append(self._state())
        del self._undo[:-_UNDO_LIMIT]
        self._redo.clear()

    def _changed(self) -> None:
        self.version += 1
        for callback in list(self._listeners):
            callback()

    def _check(self, subject: str, behavior: str) -> None:
        if subject not in self.subjects:
            raise KeyError(f"subject {subject!r} is not among {self.subjects}")
        if behavior not in self.classes:
            raise KeyError(f"behavior {behavior!r} is not in the vocabulary {self.classes}; add it first")

    def add_class(self, name: str) -> None:
        name = " ".join(str(name).split())
        if not name or name in self.classes:
            return
        self._push()
        self.classes.append(name)
        self._changed()

    def add_bout(self, bout: Bout) -> Bout:
        """Add a bout (merged with touching bouts of its subject and behavior); returns the bout as stored."""
        self._check(bout.subject, bout.behavior)
        stop = min(bout.stop, self.n_frames)
        bout = Bout(bout.start, max(stop, bout.start + 1), bout.subject, bout.behavior, bout.score, bout.target)
        self._push()
        self._bouts = normalized([*self._bouts, bout])
        self._changed()
        return next(b for b in self._bouts if b.subject == bout.subject and b.behavior == bout.behavior
                    and b.start <= bout.start < b.stop)  # fmt: skip

    def delete_bout(self, bout: Bout) -> None:
        """Remove a bout; its frames stay reviewed (the user said: not this behavior here)."""
        if bout not in self._bouts:
            return
        self._push()
        self._bouts = tuple(b for b in self._bouts if b != bout)
        reviewed = self._reviewed.copy()
        reviewed[bout.start : bout.stop, self.subjects.index(bout.subject)] = True
        self._reviewed = reviewed
        self._changed()

    def mark_reviewed(self, start: int, stop: int, subject: str | None = None, reviewed: bool = True) -> None:
        """Frames ``[start, stop)`` become annotated (negatives where no bout lies) for one or all subjects."""
        start, stop = max(0, int(start)), min(self.n_frames, int(stop))
        if stop <= start:
            return
        self._push()
        mask = self._reviewed.copy()
        cols = slice(None) if subject is None else self.subjects.index(subject)
        mask[start:stop, cols] = reviewed
        self._reviewed = mask
        self._changed()

    def start_bout(self, subject: str, behavior: str, frame: int) -> None:
        """Remember a bout start (not an edit until the bout is ended)."""
        self._check(subject, behavior)
        self.open_bouts[(subject, behavior)] = int(frame)
        self._changed_quiet()

    def end_bout(self, subject: str, behavior: str, frame: int, target: str | None = None) -> Bout | None:
        """End the open bout of ``subject`` and ``behavior`` at ``frame`` (inclusive); None if none is open."""
        start = self.open_bouts.pop((subject, behavior), None)
        if start is None:
            return None
        a, b = sorted((start, int(frame)))
        return self.add_bout(Bout(a, b + 1, subject, behavior, target=target))

    def toggle(self, subject: str, behavior: str, frame: int, target: str | None = None) -> Bout | None:
        """Start a bout, or end the open one at ``frame``."""
        if (subject, behavior) in self.open_bouts:
            return self.end_bout(subject, behavior, frame, target)
        self.start_bout(subject, behavior, frame)
        return None

    def cancel_open(self) -> None:
        if self.open_bouts:
            self.open_bouts.clear()
            self._changed_quiet()

    def _changed_quiet(self) -> None:
        """Listeners are told, but nothing to save changed (open bouts are not part of the labels)."""
        for callback in list(self._listeners):
            callback()

    # dragging an edge: one undo step for the whole drag
    def begin_drag(self) -> None:
        self._drag_base = self._state()

    def set_edge(self, bout: Bout, edge: str, frame: int) -> Bout:
        """Move the ``"start"`` or ``"stop"`` edge of ``bout`` to ``frame`` (stop: the last frame, inclusive)."""
        if bout not in self._bouts:
            return bout
        frame = int(np.clip(frame, 0, self.n_frames - 1))
        if edge == "start":
            new = Bout(min(frame, bout.stop - 1), bout.stop, bout.subject, bout.behavior, bout.score, bout.target)
        else:
            new = Bout(bout.start, max(frame + 1, bout.start + 1), bout.subject, bout.behavior, bout.score,
                       bout.target)  # fmt: skip
        if new == bout:
            return bout
        if self._drag_base is None:
            self._push()
        self._bouts = tuple(sorted((new if b == bout else b) for b in self._bouts))
        self._changed()
        return new

    def end_drag(self, bout: Bout | None = None) -> Bout | None:
        """Finish a drag: merge what now overlaps; the drag becomes one undo step."""
        base, self._drag_base = self._drag_base, None
        if base is not None and base[0] != self._bouts:
            self._undo.append(base)
            del self._undo[:-_UNDO_LIMIT]
            self._redo.clear()
        merged = normalized(self._bouts)
        if merged != self._bouts:
            self._bouts = merged
            self._changed()
        if bout is None:
            return None
        hits = [b for b in self._bouts if b.subject == bout.subject and b.behavior == bout.behavior
                and b.start <= bout.start < b.stop]  # fmt: skip
        return hits[0] if hits else None

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._state())
        self._restore(self._undo.pop())
        self._changed()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._state())
        self._restore(self._redo.pop())
        self._changed()
        return True


# ---------------------------------------------------------------------- snapping and active learning
def pose_change(points: np.ndarray) -> np.ndarray:
    """Per-frame pose change ``[T]`` of one subject (``points [T, K, 2]``): mean keypoint displacement.

    Frame 0 and frames where the subject is not tracked score 0.
    """
    points = np.asarray(points, np.float32)
    change = np.zeros(points.shape[0], np.float32)
    if points.shape[0] < 2:
        return change
    step = np.linalg.norm(np.diff(points, axis=0), axis=-1)  # [T-1, K]
    with np.errstate(all="ignore"):
        finite = np.isfinite(step)
        counts = finite.sum(1)
        mean = np.where(counts > 0, np.where(finite, step, 0).sum(1) / np.maximum(counts, 1), 0)
    change[1:] = mean
    return change


def snap_frame(frame: int, change: np.ndarray, radius: int = 5) -> int:
    """The frame within ``radius`` of ``frame`` where ``change`` is largest (``frame`` itself if flat)."""
    lo, hi = max(0, frame - radius), min(len(change), frame + radius + 1)
    window = change[lo:hi]
    if window.size == 0 or not np.isfinite(window).any() or np.nanmax(window) <= 0:
        return int(frame)
    best = np.flatnonzero(window == np.nanmax(window))
    return int(lo + best[np.argmin(np.abs(lo + best - frame))])  # ties: the nearest


def uncertainty(scores: np.ndarray) -> np.ndarray:
    """Per-frame, per-subject uncertainty ``[T, S]`` in [0, 1] of scores ``[T, S, C]``: 1 where a class sits at 0.5.

    NaN scores (subject absent) count as certain (0).
    """
    scores = np.asarray(scores, np.float32)
    with np.errstate(invalid="ignore"):
        u = 1.0 - np.abs(2.0 * scores - 1.0)
    u = np.where(np.isfinite(u), u, 0.0)
    return u.max(axis=-1) if u.size else np.zeros(scores.shape[:2], np.float32)


def least_certain_stretch(
    scores: np.ndarray, annotated: np.ndarray, length: int = 30, subject: int | None = None
) -> tuple[int, int, int] | None:
    """Where to label next: the ``length``-frame stretch of unannotated frames with the highest mean uncertainty.

    Parameters
    ----------
    scores
        Classifier scores ``[T, S, C]``.
    annotated
        Boolean ``[T, S]`` of frames already annotated.
    length
        Stretch length in frames (shorter recordings: the whole recording).
    subject
        Only this subject's frames; None: any subject.

    Returns
    -------
    (start, stop, subject index) or None when every frame is annotated.
    """
    u = uncertainty(scores)
    free = ~np.asarray(annotated, bool)
    n = u.shape[0]
    length = max(1, min(int(length), n))
    best = None
    subjects = range(u.shape[1]) if subject is None else [subject]
    for s in subjects:
        value = np.where(free[:, s], u[:, s], 0.0)
        blocked = (~free[:, s]).astype(np.int64)
        csum = np.concatenate([[0.0], np.cumsum(value, dtype=np.float64)])
        cblock = np.concatenate([[0], np.cumsum(blocked)])
        window_sum = csum[length:] - csum[:-length]
        window_blocked = cblock[length:] - cblock[:-length]
        window_sum = np.where(window_blocked == 0, window_sum, -1.0)  # only wholly unlabeled stretches
        if not (window_sum >= 0).any():
            continue
        i = int(np.argmax(window_sum))
        if best is None or window_sum[i] > best[0]:
            best = (window_sum[i], i, s)
    if best is None:
        # no wholly unlabeled stretch that long: look for shorter ones
        return least_certain_stretch(scores, annotated, length // 2, subject) if length > 1 else None
    _, start, s = best
    return start, start + length, s
