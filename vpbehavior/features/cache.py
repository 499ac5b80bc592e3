"""HDF5 feature cache: one file per recording, with provenance and resumable progress.

Layout of ``<cache_dir>/<recording>.features.h5``::

    attrs   format="vpbehavior-features", format_version, provenance (JSON), n_frames,
            n_clips, clips_done, complete
    frame   [T, D]        per-frame embedding (mean of the frame's tokens)
    tokens  [T, G*G, D]   the frame's token grid average-pooled to G x G (optional)
    subject [T, S, D]     per-subject embedding pooled inside each subject's box (optional;
                          NaN where the subject has no box); attrs subjects

While extraction runs the file is ``<name>.features.h5.partial``; it is renamed into place
when complete, so a finished cache is never half-written. A partial file whose provenance
matches the current request is resumed from ``clips_done``.

Provenance = encoder (name, config, SHA-256 of the weights), extraction options, and the
video (absolute path, size, mtime). A cache whose provenance differs is stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from vpbehavior.core.errors import DataError, MissingFileError

FORMAT = "vpbehavior-features"
FORMAT_VERSION = 1
SUFFIX = ".features.h5"


def cache_path(cache_dir: str | Path, name: str, video: str | Path | None = None, suffix: str = SUFFIX) -> Path:
    """Where the features of recording ``name`` live (``suffix``: another kind of per-recording cache file).

    With a video, a short hash of its resolved path joins the name, so that two
    recordings with the same name (``day1/m1.mp4``, ``day2/m1.mp4``) never share a file.
    A name too long for a file name (more than 240 UTF-8 bytes with the hash and suffix:
    the common 255-byte limit less ``.partial`` and some slack) keeps its first part and
    gains a hash of the whole name, so long names that share a beginning still get their own
    files; shorter names are unchanged.
    """
    max_bytes = 240
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    tag = "" if video is None else "-" + hashlib.sha1(os.fsencode(str(Path(video).resolve()))).hexdigest()[:8]
    if len(f"{safe}{tag}{suffix}".encode()) > max_bytes:
        tag = "-" + hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:12] + tag
        room = max_bytes - len(f"{tag}{suffix}".encode())
        safe = safe.encode()[:room].decode("utf-8", "ignore")
    return Path(cache_dir) / f"{safe}{tag}{suffix}"


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def video_identity(video: str | Path | None) -> dict | None:
    """Path, size and mtime of a video file (or frame folder) for staleness checks."""
    if video is None:
        return None
    video = Path(video).resolve()
    st = video.stat()
    return {"path": str(video), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def read_provenance(path: str | Path) -> dict | None:
    """The provenance dict of a cache file, or None if it is not a readable cache."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if fh.attrs.get("format") != FORMAT:
                return None
            return json.loads(fh.attrs["provenance"])
    except (OSError, KeyError, ValueError):
        return None


def is_fresh(path: str | Path, provenance: dict) -> bool:
    """True when ``path`` is a complete cache made with exactly this provenance."""
    import h5py

    path = Path(path)
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as fh:
            return bool(fh.attrs.get("complete", False)) and json.loads(fh.attrs["provenance"]) == provenance
    except (OSError, KeyError, ValueError):
        return False


def stale_reason(path: str | Path, provenance: dict) -> str | None:
    """Why a cache cannot be reused (None when it can)."""
    old = read_provenance(path)
    if old is None:
        return "missing or unreadable"
    changed = sorted(k for k in set(old) | set(provenance) if old.get(k) != provenance.get(k))
    return f"changed: {', '.join(changed)}" if changed else None


def can_resume(partial: Path, file_format: str, provenance: dict, n_clips: int) -> bool:
    """Whether ``partial`` is an unfinished file of ``file_format`` made with this provenance and clip plan."""
    import h5py

    if not partial.is_file():
        return False
    try:
        with h5py.File(partial, "r") as fh:
            return (
                fh.attrs.get("format") == file_format
                and json.loads(fh.attrs["provenance"]) == provenance
                and int(fh.attrs["n_clips"]) == n_clips
            )
    except (OSError, KeyError, ValueError):
        return False


class CacheWriter:
    """Open (create or resume) the partial file of one recording and write clip results."""

    def __init__(
        self,
        path: Path,
        provenance: dict,
        n_frames: int,
        dim: int,
        n_clips: int,
        token_grid: int = 0,
        subjects: tuple[str, ...] | None = None,
        dtype: str = "float16",
    ) -> None:
        import h5py

        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        resume = can_resume(self.partial, FORMAT, provenance, n_clips)
        if not resume:
            self.partial.unlink(missing_ok=True)
            with h5py.File(self.partial, "w") as fh:
                fh.attrs.update(
                    format=FORMAT,
                    format_version=FORMAT_VERSION,
                    provenance=json.dumps(provenance),
                    n_frames=n_frames,
                    n_clips=n_clips,
                    clips_done=0,
                    complete=False,
                )
                chunk = max(1, min(n_frames, 256))
                fh.create_dataset("frame", (n_frames, dim), dtype, chunks=(chunk, dim), fillvalue=np.nan)
                if token_grid:
                    fh.create_dataset(
                        "tokens",
                        (n_frames, token_grid * token_grid, dim),
                        dtype,
                        chunks=(max(1, min(n_frames, 64)), token_grid * token_grid, dim),
                        fillvalue=np.nan,
                    )
                if subjects:
                    ds = fh.create_dataset(
                        "subject",
                        (n_frames, len(subjects), dim),
                        dtype,
                        chunks=(chunk, len(subjects), dim),
                        fillvalue=np.nan,
                    )
                    ds.attrs["subjects"] = json.dumps(list(subjects))
        self.fh = h5py.File(self.partial, "r+")
        self.clips_done = int(self.fh.attrs["clips_done"])
        self.resumed = resume and self.clips_done > 0

    def write(self, rows: np.ndarray, frame: np.ndarray, tokens: np.ndarray | None, subject: np.ndarray | None) -> None:
        """Store the outputs of frame ``rows`` (sorted, unique)."""
        if rows.size == 0:
            return
        sl = slice(int(rows[0]), int(rows[-1]) + 1) if rows[-1] - rows[0] + 1 == rows.size else rows
        self.fh["frame"][sl] = frame
        if tokens is not None and "tokens" in self.fh:
            self.fh["tokens"][sl] = tokens
        if subject is not None and "subject" in self.fh:
            self.fh["subject"][sl] = subject

    def mark(self, clips_done: int) -> None:
        """Record progress (after the clips' rows are written) and flush to disk."""
        self.clips_done = clips_done
        self.fh.attrs["clips_done"] = clips_done
        self.fh.flush()

    def finish(self) -> Path:
        """Mark complete, close, and rename the partial file into place."""
        self.fh.attrs["complete"] = True
        self.fh.close()
        os.replace(self.partial, self.path)
        return self.path

    def close(self) -> None:
        if self.fh.id.valid:
            self.fh.close()


def complete_provenance(path: str | Path) -> dict:
    """The provenance of a complete cache file; a clear error when it is missing, partial or not ours."""
    return _open_complete(path, ())["provenance"]


def read_features(path: str | Path, kinds: tuple[str, ...] = ("frame", "tokens", "subject")) -> dict:
    """Load a complete cache: the arrays in ``kinds`` present in the file, plus provenance.

    Returns a dict with ``frame`` / ``tokens`` / ``subject`` as float32 arrays (absent kinds
    are None), ``subjects`` and ``provenance``.
    """
    return _open_complete(path, kinds)


def _open_complete(path: str | Path, kinds: tuple[str, ...]) -> dict:
    import h5py

    path = Path(path)
    if not path.is_file():
        hint = " (extraction unfinished: a .partial file exists)" if partial_path(path).is_file() else ""
        raise MissingFileError(f"{path}: no feature cache{hint}; run `vpbehavior extract` first", path)
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"not a readable HDF5 feature cache ({err})", path) from None
    with fh:
        if fh.attrs.get("format") != FORMAT:
            raise DataError(f"not a vpbehavior feature cache (attribute 'format' is {fh.attrs.get('format')!r})", path)
        if int(fh.attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise DataError(f"feature cache format v{fh.attrs['format_version']} is newer than this vpbehavior", path)
        if not fh.attrs.get("complete", False):
            raise DataError("feature cache is incomplete; run `vpbehavior extract` again to finish it", path)
        out = {"provenance": json.loads(fh.attrs["provenance"]), "subjects": None}
        for kind in ("frame", "tokens", "subject"):
            out[kind] = fh[kind][()].astype(np.float32) if kind in kinds and kind in fh else None
        if "subject" in fh:
            out["subjects"] = tuple(json.loads(fh["subject"].attrs["subjects"]))
    return out
