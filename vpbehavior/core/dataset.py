"""`Dataset`: the recordings a loader found, plus the ones it could not load."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._frozen import FrozenDict
from .errors import DataError
from .recording import Recording


@dataclass(frozen=True)
class LoadFailure:
    """A recording or file that could not be loaded, and why."""

    path: Path
    error: str

    def __str__(self) -> str:
        return self.error if self.error.startswith(str(self.path)) else f"{self.path}: {self.error}"


@dataclass(frozen=True)
class SkippedFile:
    """A file near the data that was deliberately not loaded or not paired, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, repr=False)
class Dataset:
    """Recordings loaded from one path, in one format (frozen: use `replace` for a changed one).

    Loading a whole dataset goes on past a damaged recording: it is listed in ``failures`` and
    the rest are in ``recordings``. ``test_split`` names the split the dataset's own protocol
    evaluates on ("test", or e.g. KABR's "val"), when it has one. ``skipped`` lists files
    deliberately not loaded (tool by-products) and ``unpaired`` files near a video that were not
    paired with it, each with a reason. ``metadata`` is provenance only.
    """

    recordings: Sequence[Recording]
    format: str
    root: Path | None = None
    failures: Sequence[LoadFailure] = field(default_factory=tuple)
    metadata: Mapping = field(default_factory=dict)
    test_split: str | None = None
    skipped: Sequence[SkippedFile] = field(default_factory=tuple)
    unpaired: Sequence[SkippedFile] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "recordings", tuple(self.recordings))
        set_(self, "failures", tuple(self.failures))
        set_(self, "skipped", tuple(self.skipped))
        set_(self, "unpaired", tuple(self.unpaired))
        set_(self, "metadata", FrozenDict(dict(self.metadata)))
        if self.root is not None:
            set_(self, "root", Path(self.root))
        names = [r.name for r in self.recordings]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"{self.root}: several recordings share the names {dupes[:5]}")

    def replace(self, **changes) -> Dataset:
        """A copy with some fields changed (e.g. ``recordings=``)."""
        return dataclasses.replace(self, **changes)

    def __len__(self) -> int:
        return len(self.recordings)

    def __iter__(self) -> Iterator[Recording]:
        return iter(self.recordings)

    def __getitem__(self, key: int | str) -> Recording:
        if isinstance(key, str):
            for rec in self.recordings:
                if rec.name == key:
                    return rec
            raise KeyError(f"no recording named {key!r} in {self.root}")
        return self.recordings[key]

    @property
    def classes(self) -> tuple[str, ...]:
        """Union of the recordings' vocabularies, in order of first appearance."""
        names: dict[str, None] = {}
        for rec in self.recordings:
            names.update(dict.fromkeys(rec.classes))
        return tuple(names)

    def split(self, name: str) -> list[Recording]:
        """Recordings of one published split."""
        return [r for r in self.recordings if r.split == name]

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits present, in order of first appearance."""
        return tuple(dict.fromkeys(r.split for r in self.recordings if r.split))

    def label_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.classes, 0)
        for rec in self.recordings:
            if rec.labels is not None:
                for cls, n in rec.labels.label_counts().items():
                    counts[cls] += n
        return counts

    def summary(self) -> dict:
        """The `vpbehavior inspect --json` object."""
        splits: dict[str, int] = {}
        for rec in self.recordings:
            splits[rec.split or "none"] = splits.get(rec.split or "none", 0) + 1
        labelled = [r for r in self.recordings if r.labels is not None]
        return {
            "format": self.format,
            "path": str(self.root) if self.root else None,
            "recordings": len(self.recordings),
            "labelled_recordings": len(labelled),
            "frames": int(sum(r.n_frames for r in self.recordings)),
            "annotated_cells": int(sum(r.labels.annotated_cells() for r in labelled)),
            "subjects": list(dict.fromkeys(s for r in self.recordings for s in r.subjects)),
            "classes": list(self.classes),
            "label_counts": self.label_counts(),
            "splits": splits,
            "test_split": self.test_split,
            "failures": [{"path": str(f.path), "error": f.error} for f in self.failures],
            "skipped": [{"path": str(f.path), "reason": f.reason} for f in self.skipped],
            "unpaired": [{"path": str(f.path), "reason": f.reason} for f in self.unpaired],
            "recording_summaries": [r.summary() for r in self.recordings],
        }

    def __repr__(self) -> str:
        extra = f", {len(self.failures)} failed" if self.failures else ""
        splits = f", splits {list(self.splits)}" if self.splits else ""
        return f"Dataset({self.format!r}, {len(self.recordings)} recordings{splits}{extra}, root={str(self.root)!r})"
