"""`Dataset`: the recordings a loader found, plus the ones it could not load."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .recording import Recording


@dataclass
class LoadFailure:
    """A recording or file that could not be loaded, and why."""

    path: Path
    error: str

    def __str__(self) -> str:
        return f"{self.path}: {self.error}"


@dataclass
class Dataset:
    """Recordings loaded from one path, in one format.

    Loading a whole dataset goes on past a damaged recording: it is listed in
    ``failures`` and the rest are in ``recordings``.
    """

    recordings: list[Recording]
    format: str
    root: Path | None = None
    failures: list[LoadFailure] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

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
        return {
            "format": self.format,
            "path": str(self.root) if self.root else None,
            "recordings": len(self.recordings),
            "frames": int(sum(r.n_frames for r in self.recordings)),
            "subjects": list(dict.fromkeys(s for r in self.recordings for s in r.subjects)),
            "classes": list(self.classes),
            "label_counts": self.label_counts(),
            "splits": splits,
            "failures": [{"path": str(f.path), "error": f.error} for f in self.failures],
            "recording_summaries": [r.summary() for r in self.recordings],
        }
