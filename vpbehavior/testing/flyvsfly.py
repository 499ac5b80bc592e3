"""Writer of Fly vs. Fly files (SYNTHETIC content, real layout), MATLAB v5 and v7.3.

Layout per ``shared/docs/dataset_formats.md`` section 2::

    <Context>/<Context>/movie<N>/movie<N>_track.mat     trk  struct {flagframes, names, data}
                                 movie<N>_feat.mat      feat struct {names, data}
                                 movie<N>_actions.mat   behs (1 x n cell), bouts (n_flies x n cell)

``data`` is ``[n_flies, n_frames, n_fields]`` (NaN where tracking failed); bouts are
``[n_bouts x 3]`` rows ``start, end, certainty``, 1-based and inclusive. v7.3 files are
written the way MATLAB writes them: an HDF5 file behind a 512-byte user block holding the
MATLAB text header, arrays stored transposed (column-major), char arrays as uint16 with
``MATLAB_int_decode``, cell arrays as object references into ``#refs#``, empty arrays as
their dimensions with ``MATLAB_empty``, every object tagged with ``MATLAB_class``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import mark_synthetic

TRACK_FIELDS = (
    "pos x", "pos y", "ori", "major axis len", "minor axis len", "body area", "fg area", "img contrast",
    "min fg dist", "wing l x", "wing l y", "wing r x", "wing r y", "wing l ang", "wing l len", "wing r ang",
    "wing r len",
)  # fmt: skip
FEAT_FIELDS = (
    "vel", "ang_vel", "min_wing_ang", "max_wing_ang", "mean_wing_length", "axis_ratio", "fg_body_ratio",
    "contrast", "dist_to_wall", "dist_to_other", "angle_between", "facing_angle", "leg_dist",
)  # fmt: skip
# As in the real files: mixed case and trailing spaces (the loader keeps the spelling, minus the whitespace).
BEHAVIORS = ("Lunge", "wing threat ", "tussle", "wing extension", "circle", "copulation ")


def cell(items: list, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A MATLAB cell array (numpy object array), default shape 1 x n."""
    out = np.empty(shape or (1, len(items)), dtype=object)
    for idx, item in zip(np.ndindex(out.shape), items):
        out[idx] = item
    return out


# --------------------------------------------------------------------------------------------
# MATLAB writers
# --------------------------------------------------------------------------------------------


def _header_text(version: str) -> bytes:
    stamp = time.strftime("%a %b %d %H:%M:%S %Y")
    schema = " HDF5 schema 1.00 ." if version == "7.3" else ""
    text = f"MATLAB {version} MAT-file, Platform: GLNXA64, Created on: {stamp}{schema} SYNTHETIC vpbehavior fixture"
    return text.encode("ascii")[:116].ljust(116, b" ")


def write_mat_v5(path: Path, variables: dict[str, Any]) -> Path:
    """MATLAB v5 file via scipy (structs from dicts, cells from object arrays)."""
    import scipy.io

    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables, format="5", oned_as="row", do_compression=False)
    with open(path, "r+b") as fh:  # say "synthetic" in the free-text part of the header
        fh.write(_header_text("5.0"))
    return path


class _Mat73Writer:
    def __init__(self, fh):
        self.fh = fh
        self.refs = fh.require_group("#refs#")
        self.n_refs = 0

    @staticmethod
    def _tag(obj, cls: str) -> None:
        obj.attrs.create("MATLAB_class", np.bytes_(cls))

    def _ref_name(self) -> str:
        n, name = self.n_refs, ""
        self.n_refs += 1
        while True:  # a, b, ..., z, ba, bb, ... like MATLAB's #refs# names
            name = chr(ord("a") + n % 26) + name
            n //= 26
            if n == 0:
                return name

    def write(self, parent, name: str, value: Any):
        import h5py

        if isinstance(value, dict):
            group = parent.create_group(name)
            self._tag(group, "struct")
            vlen = h5py.vlen_dtype(np.dtype("S1"))
            fields = np.empty(len(value), dtype=object)
            for i, key in enumerate(value):
                fields[i] = np.array(list(key.encode()), dtype="S1")
            group.attrs.create("MATLAB_fields", fields, dtype=vlen)
            for key, item in value.items():
                self.write(group, key, item)
            return group
        if isinstance(value, str):
            if not value:
                return self._empty(parent, name, (0, 0), "char")
            codes = np.array([[ord(c) for c in value]], dtype=np.uint16)  # MATLAB shape 1 x n
            ds = parent.create_dataset(name, data=codes.T)
            self._tag(ds, "char")
            ds.attrs.create("MATLAB_int_decode", np.int32(2))
            return ds
        array = np.asarray(value)
        if array.ndim < 2:
            array = array.reshape(1, -1) if array.ndim == 1 else array.reshape(1, 1)
        if array.dtype == object:
            refs = np.empty(array.shape[::-1], dtype=h5py.ref_dtype)
            for idx in np.ndindex(array.shape):
                target = self.write(self.refs, self._ref_name(), array[idx])
                refs[idx[::-1]] = target.ref
            ds = parent.create_dataset(name, data=refs, dtype=h5py.ref_dtype)
            self._tag(ds, "cell")
            return ds
        cls = {"f": "double", "b": "logical"}.get(array.dtype.kind, str(array.dtype))
        if array.dtype.kind == "f":
            array = array.astype(np.float64)
        if array.size == 0:
            return self._empty(parent, name, array.shape, cls)
        ds = parent.create_dataset(name, data=(array.astype(np.uint8) if cls == "logical" else array).T)
        self._tag(ds, cls)
        return ds

    def _empty(self, parent, name: str, shape: tuple[int, ...], cls: str):
        ds = parent.create_dataset(name, data=np.array(shape[::-1], dtype=np.uint64))
        self._tag(ds, cls)
        ds.attrs.create("MATLAB_empty", np.uint8(1))
        return ds


def write_mat_v73(path: Path, variables: dict[str, Any]) -> Path:
    """MATLAB v7.3 file (HDF5 with MATLAB's layout), written with h5py."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512, libver="earliest") as fh:
        writer = _Mat73Writer(fh)
        for name, value in variables.items():
            writer.write(fh, name, value)
    with open(path, "r+b") as fh:
        fh.write(_header_text("7.3") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path


def write_mat(path: Path, variables: dict[str, Any], version: str = "5") -> Path:
    """Write ``variables`` as a MATLAB v5 (``"5"``) or v7.3 (``"7.3"``) file."""
    return write_mat_v73(path, variables) if version == "7.3" else write_mat_v5(path, variables)


# --------------------------------------------------------------------------------------------
# Fly vs. Fly movies
# --------------------------------------------------------------------------------------------


@dataclass
class WrittenMovie:
    """What the writer put in one movie folder (ground truth for tests)."""

    folder: Path
    prefix: str
    n_frames: int
    behaviors: tuple[str, ...]  # as written (with the quirks)
    bouts: list[tuple[int, str, int, int]]  # (fly index, behavior as written, start, end) 1-based inclusive
    track: np.ndarray  # [n_flies, T, 17]
    feat: np.ndarray
    video: Path | None = None

    def frame_counts(self) -> dict[str, int]:
        """Positive (frame, fly) cells per behavior, by the raw name written."""
        mask: dict[tuple[int, str], set[int]] = {}
        for fly, beh, start, end in self.bouts:
            mask.setdefault((fly, beh), set()).update(range(start, end + 1))
        counts = dict.fromkeys(self.behaviors, 0)
        for (_, beh), frames in mask.items():
            counts[beh] += len(frames)
        return counts


@dataclass
class WrittenFlyDataset:
    root: Path
    movies: list[WrittenMovie] = field(default_factory=list)


def make_bouts(n_frames: int, behaviors: tuple[str, ...], n_flies: int, rng: np.random.Generator) -> list:
    """Random non-overlapping 1-based inclusive bouts per fly and behavior; some cells empty."""
    bouts = []
    for fly in range(n_flies):
        for b, beh in enumerate(behaviors):
            if (fly + b) % 4 == 3:
                continue  # an empty cell: no bouts of this behavior for this fly
            start = int(rng.integers(1, 10))
            while start < n_frames - 3:
                end = min(n_frames, start + int(rng.integers(0, 12)))  # end == start: a one-frame bout
                bouts.append((fly, beh, start, end))
                start = end + int(rng.integers(5, 30))
    return bouts


def write_movie(
    folder: Path,
    prefix: str,
    n_frames: int,
    rng: np.random.Generator,
    version: str = "5",
    layout: str = "2014",
    behaviors: tuple[str, ...] = BEHAVIORS,
    n_flies: int = 2,
    separator: str = "_",
    nan_frames: tuple[int, ...] = (5, 6, 7),
) -> WrittenMovie:
    """The three .mat files of one movie. ``layout="2014"``: trk {flagframes, names, data};
    ``"flytracker"``: trk {names, data, flags}, feat {names, units, data}."""
    t = np.arange(n_frames)
    track = np.empty((n_flies, n_frames, len(TRACK_FIELDS)))
    for fly in range(n_flies):
        track[fly] = rng.normal(100 + 50 * fly, 5, size=(n_frames, len(TRACK_FIELDS)))
        track[fly, :, 0] = 200 + 80 * np.sin(t / 30 + fly)
        track[fly, :, 1] = 200 + 80 * np.cos(t / 40 + fly)
    track[min(1, n_flies - 1), [f for f in nan_frames if f < n_frames]] = np.nan  # tracking failed
    feat = rng.normal(0, 1, size=(n_flies, n_frames, len(FEAT_FIELDS)))
    feat[min(1, n_flies - 1), [f for f in nan_frames if f < n_frames]] = np.nan
    flags = np.array([[1, 2, 10, 12, 1]], dtype=np.float64)
    names = cell(list(TRACK_FIELDS))
    if layout == "2014":
        trk = {"flagframes": flags, "names": names, "data": track}
        feat_struct = {"names": cell(list(FEAT_FIELDS)), "data": feat}
    else:
        trk = {"names": names, "data": track, "flags": flags}
        feat_struct = {"names": cell(list(FEAT_FIELDS)), "units": cell(["mm/s"] * len(FEAT_FIELDS)), "data": feat}
    bouts = make_bouts(n_frames, behaviors, n_flies, rng)
    bout_cells = cell([np.zeros((0, 0))] * (n_flies * len(behaviors)), (n_flies, len(behaviors)))
    for fly in range(n_flies):
        for b, beh in enumerate(behaviors):
            rows = [[s, e, 1.0] for f, bh, s, e in bouts if f == fly and bh == beh]
            if rows:
                bout_cells[fly, b] = np.array(rows, dtype=np.float64)
    folder.mkdir(parents=True, exist_ok=True)
    write_mat(folder / f"{prefix}{separator}track.mat", {"trk": trk}, version)
    write_mat(folder / f"{prefix}{separator}feat.mat", {"feat": feat_struct}, version)
    write_mat(folder / f"{prefix}{separator}actions.mat", {"behs": cell(list(behaviors)), "bouts": bout_cells}, version)
    mark_synthetic(folder)
    return WrittenMovie(folder, prefix, n_frames, tuple(behaviors), bouts, track, feat)


def write_movie_video(path: Path, n_frames: int, fps: float = 30.0) -> Path:
    """A tiny synthetic movie for a movie folder."""
    from vpbehavior.io.video import write_video

    frames = (np.full((32, 48, 3), (i * 9) % 256, np.uint8) for i in range(n_frames))
    return write_video(path, frames, fps=fps, codec="mp4v")


def write_flyvsfly_dataset(root: Path, seed: int = 0, n_frames: int = 80, videos: bool = False) -> WrittenFlyDataset:
    """Two contexts with two movies each; v5 and v7.3 files, both struct layouts."""
    rng = np.random.default_rng(seed)
    out = WrittenFlyDataset(Path(root))
    plan = [
        ("Aggression", 1, "5", "2014"),
        ("Aggression", 2, "7.3", "2014"),
        ("Courtship", 1, "7.3", "flytracker"),
        ("Courtship", 2, "5", "flytracker"),
    ]
    for i, (context, n, version, layout) in enumerate(plan):
        folder = out.root / context / context / f"movie{n}"
        movie = write_movie(folder, f"movie{n}", n_frames + 11 * i, rng, version, layout)
        if videos:
            movie.video = write_movie_video(folder / f"movie{n}.avi", movie.n_frames)
        out.movies.append(movie)
    mark_synthetic(out.root)
    return out
