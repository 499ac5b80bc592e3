"""The predictions file ``<video>.predictions.h5``: a classifier's calls for one video, on disk.

Written by scoring (`vpbehavior.score`), read by the napari plugin and the notebooks. The layout is
a versioned contract, documented in ``docs/predictions_file.md``::

    attrs     format="vpbehavior-predictions", format_version=1, recording, n_frames,
              fps (NaN when unknown), background ("" when none), complete, provenance (JSON)
    classes   [C]       UTF-8 strings
    subjects  [S]       UTF-8 strings ("all" for a frame-level classifier)
    scores    [T, S, C] float32 probabilities; NaN where the subject is absent
    calls     [T, S, C] uint8 0/1: the behavior is called after post-processing
    presence  [T, S]    uint8 0/1: the subject is present and was scored
    bouts/    start [N] int64, stop [N] int64 (exclusive), subject [N] int32 and behavior [N]
              int32 (indices into subjects / classes), mean_score [N], max_score [N] float32

The per-frame arrays are chunked along time and written chunk by chunk (`PredictionsWriter`);
the file is written under a hidden temporary name and renamed into place by
`vpbehavior._files.atomic_output` when complete, so a file under the real name is always whole.

Readers refuse files of a newer ``format_version``; an older version keeps a reader here when
the layout changes (none so far: version 1 is the first).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vpbehavior.core import Predictions
from vpbehavior.core.errors import DataError, MissingFileError
from vpbehavior.core.labels import runs

FORMAT = "vpbehavior-predictions"
FORMAT_VERSION = 1
SUFFIX = ".predictions.h5"
#: Frames per chunk of the per-frame datasets (and per write of `write_predictions`).
CHUNK_FRAMES = 4096

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "PredictedBout",
    "PredictionsWriter",
    "is_complete",
    "predicted_bouts",
    "read_bouts",
    "read_header",
    "read_predictions",
    "write_predictions",
]


@dataclass(frozen=True)
class PredictedBout:
    """One called bout: frames ``[start, stop)`` of ``subject`` showing ``behavior``, with its scores."""

    start: int
    stop: int
    subject: str
    behavior: str
    mean_score: float
    max_score: float

    @property
    def n_frames(self) -> int:
        return self.stop - self.start


def predicted_bouts(predictions: Predictions) -> list[PredictedBout]:
    """The called runs of every subject and class (background excluded), sorted like `Predictions.bouts`."""
    out = []
    subjects, classes = list(predictions.subjects), list(predictions.classes)
    for s, subject in enumerate(subjects):
        for c, behavior in enumerate(classes):
            if behavior == predictions.background:
                continue
            for start, stop in runs(predictions.calls[:, s, c]):
                seg = predictions.scores[start:stop, s, c]
                finite = seg[np.isfinite(seg)]
                mean = float(finite.mean()) if finite.size else math.nan
                top = float(finite.max()) if finite.size else math.nan
                out.append(PredictedBout(start, stop, subject, behavior, mean, top))
    return sorted(out, key=lambda b: (b.start, subjects.index(b.subject), classes.index(b.behavior)))


def _strings(values: Sequence[str]) -> np.ndarray:
    import h5py

    return np.array([str(v) for v in values], dtype=h5py.string_dtype())


class PredictionsWriter:
    """Write one predictions file chunk by chunk; it appears under its name only when `finish` runs.

    Usage::

        with PredictionsWriter(path, recording=..., classes=..., subjects=..., n_frames=T, fps=30.0) as w:
            for start in range(0, T, 4096):
                w.write(start, scores[start:start + 4096], calls[...], presence[...])
            w.finish(bouts)

    Leaving the block without `finish` (an error, Ctrl-C) removes the temporary file; a process
    killed outright leaves only a hidden temporary, removed by the next write of the same file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        recording: str,
        classes: Sequence[str],
        subjects: Sequence[str],
        n_frames: int,
        fps: float | None = None,
        background: str | None = None,
        provenance: Mapping | None = None,
        chunk_frames: int = CHUNK_FRAMES,
    ) -> None:
        import h5py

        from vpbehavior._files import atomic_output

        self.path = Path(path)
        self.classes, self.subjects = tuple(classes), tuple(subjects)
        self.n_frames = int(n_frames)
        self._stack = ExitStack()
        self._tmp = self._stack.enter_context(atomic_output(self.path, suffix=".h5"))
        self._done = False
        try:
            self.fh = h5py.File(self._tmp, "w")
            self.fh.attrs.update(
                format=FORMAT,
                format_version=FORMAT_VERSION,
                recording=str(recording),
                n_frames=self.n_frames,
                fps=float(fps) if fps else math.nan,
                background=background or "",
                complete=False,
                provenance=json.dumps(dict(provenance or {}), sort_keys=True, allow_nan=False),
            )
            self.fh.create_dataset("classes", data=_strings(self.classes))
            self.fh.create_dataset("subjects", data=_strings(self.subjects))
            t, s, c = self.n_frames, len(self.subjects), len(self.classes)
            chunk = max(1, min(t, int(chunk_frames)))
            opts = dict(compression="gzip", compression_opts=4, shuffle=True)
            self.fh.create_dataset("scores", (t, s, c), "float32", chunks=(chunk, s, c), fillvalue=np.nan, **opts)
            self.fh.create_dataset("calls", (t, s, c), "uint8", chunks=(chunk, s, c), **opts)
            self.fh.create_dataset("presence", (t, s), "uint8", chunks=(chunk, s), **opts)
        except BaseException as err:
            self._abort(err)
            raise

    def write(self, start: int, scores: np.ndarray, calls: np.ndarray, presence: np.ndarray) -> None:
        """Store frames ``start .. start + len(scores)`` (scores ``[n, S, C]``, calls alike, presence ``[n, S]``)."""
        n = len(scores)
        stop = int(start) + n
        if start < 0 or stop > self.n_frames:
            raise ValueError(f"frames {start}..{stop} lie outside 0..{self.n_frames}")
        self.fh["scores"][start:stop] = np.asarray(scores, np.float32)
        self.fh["calls"][start:stop] = np.asarray(calls, bool).astype(np.uint8)
        self.fh["presence"][start:stop] = np.asarray(presence, bool).astype(np.uint8)

    def finish(self, bouts: Sequence[PredictedBout]) -> Path:
        """Write the bouts table, mark the file complete and rename it into place."""
        group = self.fh.create_group("bouts")
        group.attrs["stop"] = "exclusive"
        s_index = {s: i for i, s in enumerate(self.subjects)}
        c_index = {c: i for i, c in enumerate(self.classes)}
        columns = {
            "start": (np.int64, [b.start for b in bouts]),
            "stop": (np.int64, [b.stop for b in bouts]),
            "subject": (np.int32, [s_index[b.subject] for b in bouts]),
            "behavior": (np.int32, [c_index[b.behavior] for b in bouts]),
            "mean_score": (np.float32, [b.mean_score for b in bouts]),
            "max_score": (np.float32, [b.max_score for b in bouts]),
        }
        for name, (dtype, values) in columns.items():
            group.create_dataset(name, data=np.asarray(values, dtype=dtype).reshape(-1))
        self.fh.attrs["complete"] = True
        self.fh.close()
        self._done = True
        self._stack.close()  # renames the temporary onto the real name
        return self.path

    def _abort(self, err: BaseException) -> None:
        fh = getattr(self, "fh", None)
        if fh is not None and fh.id.valid:
            fh.close()
        try:
            self._stack.__exit__(type(err), err, err.__traceback__)  # removes the temporary
        except BaseException as raised:  # the context re-raises the error it was given
            if raised is not err:
                raise

    def close(self) -> None:
        """Abandon an unfinished file (its temporary is removed)."""
        if not self._done:
            self._done = True
            self._abort(RuntimeError("predictions file abandoned before finish()"))

    def __enter__(self) -> PredictionsWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self._done = True
            self._abort(exc if exc is not None else RuntimeError("predictions file abandoned before finish()"))


def write_predictions(
    path: str | Path, predictions: Predictions, provenance: Mapping | None = None, chunk_frames: int = CHUNK_FRAMES
) -> Path:
    """Write ``predictions`` (and ``provenance``) as a predictions file, chunk by chunk, atomically."""
    provenance = {**dict(predictions.provenance), **dict(provenance or {})}
    with PredictionsWriter(
        path,
        recording=predictions.recording,
        classes=predictions.classes,
        subjects=predictions.subjects,
        n_frames=predictions.n_frames,
        fps=predictions.fps,
        background=predictions.background,
        provenance=provenance,
        chunk_frames=chunk_frames,
    ) as writer:
        for start in range(0, predictions.n_frames, chunk_frames):
            sl = slice(start, start + chunk_frames)
            writer.write(start, predictions.scores[sl], predictions.calls[sl], predictions.presence[sl])
        return writer.finish(predicted_bouts(predictions))


# ------------------------------------------------------------------ reading
def _open(path: str | Path):
    import h5py

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: predictions file not found", path)
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"not a readable HDF5 predictions file ({err})", path) from None
    fmt = fh.attrs.get("format")
    if fmt != FORMAT:
        fh.close()
        raise DataError(f"not a vpbehavior predictions file (attribute 'format' is {fmt!r})", path, "format")
    version = int(fh.attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        fh.close()
        raise DataError(
            f"predictions file format v{version} is newer than this vpbehavior reads (v{FORMAT_VERSION}); upgrade",
            path,
            "format_version",
        )
    if version < 1:
        fh.close()
        raise DataError(f"predictions file has no valid format_version ({version})", path, "format_version")
    if not bool(fh.attrs.get("complete", False)):
        fh.close()
        raise DataError("predictions file is incomplete (its writer did not finish)", path, "complete")
    return fh


def _names(ds) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in ds[()])


def _header(fh, path: Path) -> dict:
    try:
        provenance = json.loads(fh.attrs["provenance"])
        fps = float(fh.attrs["fps"])
        return {
            "format": FORMAT,
            "format_version": int(fh.attrs["format_version"]),
            "recording": str(fh.attrs["recording"]),
            "n_frames": int(fh.attrs["n_frames"]),
            "fps": None if not math.isfinite(fps) else fps,
            "background": str(fh.attrs["background"]) or None,
            "classes": _names(fh["classes"]),
            "subjects": _names(fh["subjects"]),
            "provenance": provenance,
        }
    except (KeyError, ValueError, TypeError) as err:
        raise DataError(f"predictions file lacks or garbles a header field ({err})", path) from None


def read_header(path: str | Path) -> dict:
    """Format, recording, n_frames, fps, background, classes, subjects and provenance; no arrays read."""
    path = Path(path)
    with _open(path) as fh:
        return _header(fh, path)


def is_complete(path: str | Path) -> bool:
    """Whether ``path`` is a complete predictions file this vpbehavior can read."""
    try:
        with _open(path):
            return True
    except (DataError, MissingFileError):
        return False


def read_bouts(path: str | Path) -> list[PredictedBout]:
    """The bouts table of a predictions file."""
    path = Path(path)
    with _open(path) as fh:
        head = _header(fh, path)
        try:
            g = fh["bouts"]
            cols = {k: g[k][()] for k in ("start", "stop", "subject", "behavior", "mean_score", "max_score")}
        except KeyError as err:
            raise DataError(f"predictions file lacks the bouts table ({err})", path, "bouts") from None
    subjects, classes = head["subjects"], head["classes"]
    try:
        return [
            PredictedBout(int(a), int(b), subjects[s], classes[c], float(m), float(x))
            for a, b, s, c, m, x in zip(*(cols[k] for k in cols))
        ]
    except IndexError:
        raise DataError("a bout names a subject or class index outside the lists", path, "bouts") from None


def read_predictions(path: str | Path) -> Predictions:
    """The `Predictions` stored in a predictions file (provenance included)."""
    path = Path(path)
    with _open(path) as fh:
        head = _header(fh, path)
        try:
            scores = fh["scores"][()]
            calls = fh["calls"][()].astype(bool)
            presence = fh["presence"][()].astype(bool)
        except KeyError as err:
            raise DataError(f"predictions file lacks a dataset ({err})", path) from None
    return Predictions(
        head["recording"], scores, calls, head["classes"], head["subjects"], presence, head["fps"],
        head["background"], head["provenance"],
    )  # fmt: skip
