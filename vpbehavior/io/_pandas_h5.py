"""Read a pandas DataFrame stored in HDF5 by ``DataFrame.to_hdf``, with h5py only.

DeepLabCut writes its tables this way, in both of pandas' HDF5 layouts:

* **"table"** (``format="table"``: analysis output, stitched tracks, tracklets): a group with a
  ``table`` compound dataset holding an ``index`` field and ``values_block_<i>`` fields; the
  column labels of each block are a pickled list in the table's ``values_block_<i>_kind``
  attribute and the level names in the group's pickled ``info`` attribute.
* **"fixed"** (pandas' default, e.g. ``CollectedData_<scorer>.h5`` and ``machinelabels``):
  a group with ``axis0`` (the columns) and ``axis1`` (the index), each either one dataset or,
  for a MultiIndex, ``axis<n>_level<i>`` (the level values) and ``axis<n>_label<i>`` (the codes),
  and ``block<b>_values`` with ``block<b>_items`` naming the columns each block holds.

Pickled attributes are decoded with an unpickler that refuses every class, so a file can never
run code; PyTables and pandas are not needed.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vpbehavior.core import DataError, FormatError

PANDAS_TYPES = ("frame", "frame_table")


class _PlainDataUnpickler(pickle.Unpickler):
    """Decodes pickles of plain lists, tuples, dicts, strings and numbers; refuses every class."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def plain_pickle(raw, path: Path, what: str):
    """The plain data in a pickled attribute; a pickle naming any class is a `DataError`."""
    data = raw.tobytes() if hasattr(raw, "tobytes") else bytes(raw)
    try:
        return _PlainDataUnpickler(io.BytesIO(data)).load()
    except Exception as err:
        raise DataError(f"{path}: cannot decode the pandas table's {what} ({err})", path=path) from err


def _text(value) -> str:
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True)
class Frame:
    """A decoded DataFrame: column label tuples, level names, index labels and float values."""

    key: str
    layout: str  # "table" or "fixed"
    columns: list[tuple]
    names: list[str]
    index: list
    values: np.ndarray  # float32 [rows, columns]


def frame_keys(fh) -> list[str]:
    """Top-level groups of an open h5py file that hold a pandas DataFrame."""
    keys = []
    for key, item in fh.items():
        kind = _text(item.attrs.get("pandas_type", b"")) if hasattr(item, "attrs") else ""
        if kind in PANDAS_TYPES:
            keys.append(key)
    return keys


def column_names(fh, key: str, path: Path) -> list[str]:
    """The column level names of a stored frame (cheap: no values are read)."""
    group = fh[key]
    kind = _text(group.attrs.get("pandas_type", b""))
    if kind == "frame":
        if _text(group.attrs.get("axis0_variety", b"regular")) == "multi":
            n = int(group.attrs["axis0_nlevels"])
            return [_text(group[f"axis0_level{i}"].attrs.get("name", b"")) for i in range(n)]
        return [_text(group["axis0"].attrs.get("name", b""))]
    try:
        info = plain_pickle(group.attrs["info"], path, "info") if "info" in group.attrs else {}
    except DataError:
        info = {}
    return [str(n) for n in (info.get(1, {}).get("names") or []) if n is not None]


def _decode(array: np.ndarray) -> list:
    if array.dtype.kind in "SO":
        return [_text(x) for x in array]
    if array.dtype.kind == "U":
        return [str(x) for x in array]
    return array.tolist()


def _fixed_axis(group, axis: int) -> tuple[list, list[str]]:
    """Labels of axis 0 (columns) or 1 (index) of a fixed-format frame: scalars, or tuples for a MultiIndex."""
    prefix = f"axis{axis}"
    if _text(group.attrs.get(f"{prefix}_variety", b"regular")) != "multi":
        return _decode(group[prefix][()]), [_text(group[prefix].attrs.get("name", b""))]
    n = int(group.attrs[f"{prefix}_nlevels"])
    levels = [_decode(group[f"{prefix}_level{i}"][()]) for i in range(n)]
    codes = [np.asarray(group[f"{prefix}_label{i}"][()], np.int64) for i in range(n)]
    names = [_text(group[f"{prefix}_level{i}"].attrs.get("name", b"")) for i in range(n)]
    labels = [tuple(levels[i][c] if c >= 0 else None for i, c in enumerate(row)) for row in zip(*codes)]
    return labels, names


def _fixed_items(group, block: int) -> list:
    prefix = f"block{block}_items"
    if _text(group.attrs.get(f"{prefix}_variety", b"regular")) != "multi":
        return _decode(group[prefix][()])
    n = int(group.attrs[f"{prefix}_nlevels"])
    levels = [_decode(group[f"{prefix}_level{i}"][()]) for i in range(n)]
    codes = [np.asarray(group[f"{prefix}_label{i}"][()], np.int64) for i in range(n)]
    return [tuple(levels[i][c] if c >= 0 else None for i, c in enumerate(row)) for row in zip(*codes)]


def _read_fixed(group, key: str, path: Path) -> Frame:
    columns, names = _fixed_axis(group, 0)
    index, _ = _fixed_axis(group, 1)
    values = np.full((len(index), len(columns)), np.nan, np.float32)
    position = {c: i for i, c in enumerate(columns)}
    for b in range(int(group.attrs.get("nblocks", 0))):
        block = np.asarray(group[f"block{b}_values"][()])
        if block.dtype.kind not in "fiub":
            continue  # a block of strings or objects holds no coordinates
        items = _fixed_items(group, b)
        if block.shape != (len(index), len(items)):
            raise DataError(
                f"{path}: '{key}' block {b} has shape {block.shape}, expected {(len(index), len(items))}", path=path
            )
        for j, item in enumerate(items):
            values[:, position[item]] = block[:, j]
    return Frame(key, "fixed", [c if isinstance(c, tuple) else (c,) for c in columns], names, index, values)


def _read_table(group, key: str, path: Path) -> Frame:
    if "table" not in group or not hasattr(group["table"], "dtype") or not group["table"].dtype.names:
        raise DataError(f"{path}: {key}/table is missing or not a pandas table (not in pandas' layout)", path=path)
    table = group["table"]
    data = table[()]
    try:  # only the level names come from here: a pandas version that pickled more is read without them
        info = plain_pickle(group.attrs["info"], path, "info") if "info" in group.attrs else {}
    except DataError:
        info = {}
    blocks = plain_pickle(group.attrs["values_cols"], path, "values_cols")
    columns, parts = [], []
    for block in blocks:
        kind = plain_pickle(table.attrs[f"{block}_kind"], path, f"{block}_kind")
        column = np.asarray(data[block])
        if column.dtype.kind not in "fiub":
            continue
        columns += [c if isinstance(c, tuple) else (c,) for c in kind]
        parts.append(column.astype(np.float32).reshape(len(data), -1))
    names = [str(n) for n in (info.get(1, {}).get("names") or []) if n is not None]
    index = _decode(np.asarray(data["index"])) if "index" in (data.dtype.names or ()) else list(range(len(data)))
    values = np.concatenate(parts, axis=1) if parts else np.zeros((len(data), 0), np.float32)
    return Frame(key, "table", columns, names, index, values)


def read_frame(path: str | Path, keys: tuple[str, ...] = (), any_key: bool = False) -> Frame:
    """The DataFrame stored under the first of ``keys`` present (any pandas group when empty or,
    with ``any_key``, when none of ``keys`` is there).

    Raises `FormatError` when the file holds no pandas frame and `DataError` when one is damaged.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as fh:
            found = frame_keys(fh)
            # a group under a wanted key is read even without pandas' marker, so that damage is named
            key = next((k for k in keys if k in found or isinstance(fh.get(k), h5py.Group)), None)
            if key is None and (not keys or any_key):
                key = found[0] if found else None
            if key is None:
                wanted = f" under {list(keys)}" if keys else ""
                raise FormatError(f"{path}: no pandas table{wanted} in this HDF5 file (groups: {list(fh)})", path=path)
            group = fh[key]
            if _text(group.attrs.get("pandas_type", b"")) == "frame":
                return _read_fixed(group, key, path)
            return _read_table(group, key, path)
    except DataError:
        raise
    except OSError as err:
        raise DataError(f"{path}: unreadable HDF5 file ({err})", path=path) from err
    except (KeyError, ValueError, IndexError) as err:  # h5py: a missing attribute, dataset or field
        raise DataError(f"{path}: the pandas table is not in pandas' HDF5 layout ({err})", path=path) from err
