"""One reader for MATLAB files: v4/v5/v7 through scipy.io, v7.3 (HDF5) through h5py.

Both paths return the same plain Python values, in MATLAB's own axis order:

- numeric and logical arrays -> ``np.ndarray`` with MATLAB's shape (at least 2-D; h5py's
  transposed view of column-major data is undone here and nowhere else),
- char arrays -> ``str`` (a multi-row char matrix -> ``list[str]``),
- cell arrays -> ``np.ndarray`` of dtype object, MATLAB shape, elements converted,
- a 1x1 struct -> ``dict`` of field name -> value (fields by name, never by position);
  a struct array -> object ``np.ndarray`` of such dicts.

Callers index fields by name; the field order of the file is irrelevant.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior.core import DataError

__all__ = ["MatFileError", "mat_version", "read_mat"]

_HEADER_BYTES = 128


class MatFileError(DataError):
    """A MATLAB file cannot be read; the message names the file (``path``) and the problem."""


def mat_version(path: str | Path) -> str:
    """``"7.3"`` for HDF5-based files, ``"5"`` for v5/v6/v7 files, ``"4"`` otherwise.

    Raises
    ------
    MatFileError
        If the file is empty or unreadable.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEADER_BYTES)
            fh.seek(512)
            hdf5_sig = fh.read(8)
    except OSError as err:
        raise MatFileError(f"{path}: cannot read the file ({err.strerror or err})", path=path) from err
    if not head:
        raise MatFileError(f"{path}: the file is empty (0 bytes), not a MATLAB file", path=path)
    if head[:8] == b"\x89HDF\r\n\x1a\n" or hdf5_sig == b"\x89HDF\r\n\x1a\n":
        return "7.3"
    if len(head) == _HEADER_BYTES and head[:6] == b"MATLAB":
        version = head[124:126]
        endian = head[126:128]
        if (endian == b"IM" and version == b"\x00\x02") or (endian == b"MI" and version == b"\x02\x00"):
            return "7.3"
        return "5"
    return "4"


def read_mat(path: str | Path, variables: Iterable[str] | None = None) -> dict[str, Any]:
    """Read the variables of a ``.mat`` file (any version) into plain Python values.

    Parameters
    ----------
    path
        The ``.mat`` file.
    variables
        Names to read (all when None). Missing names are simply absent from the result.

    Returns
    -------
    dict
        Variable name -> value (see the module docstring for the value types).

    Raises
    ------
    MatFileError
        For an empty, truncated or corrupt file, naming the file and what went wrong.
    """
    path = Path(path)
    wanted = None if variables is None else list(variables)
    version = mat_version(path)
    if version == "7.3":
        return _read_h5(path, wanted)
    return _read_scipy(path, wanted)


# --------------------------------------------------------------------------------------------
# v4 / v5 / v7 through scipy.io
# --------------------------------------------------------------------------------------------


def _read_scipy(path: Path, wanted: list[str] | None) -> dict[str, Any]:
    import scipy.io

    try:
        raw = scipy.io.loadmat(
            path, variable_names=wanted, squeeze_me=False, struct_as_record=True, chars_as_strings=True
        )
    except NotImplementedError:  # v7.3 without the usual header: let h5py try
        return _read_h5(path, wanted)
    except Exception as err:  # scipy raises ValueError, TypeError, OSError, zlib.error ...
        raise MatFileError(
            f"{path}: corrupt or truncated MATLAB file (scipy.io: {type(err).__name__}: {err})", path=path
        ) from err
    return {k: _from_scipy(v) for k, v in raw.items() if not k.startswith("__")}


def _from_scipy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.names:  # struct (array)
            items = np.empty(value.shape, dtype=object)
            for idx in np.ndindex(value.shape):
                items[idx] = {name: _from_scipy(value[idx][name]) for name in value.dtype.names}
            return items[(0,) * items.ndim] if items.size == 1 else items
        if value.dtype.kind == "U":  # char array; chars_as_strings joined the last axis
            rows = [str(s) for s in value.reshape(-1)]
            if len(rows) == 0:
                return ""
            return rows[0] if len(rows) == 1 else rows
        if value.dtype == object:  # cell array
            out = np.empty(value.shape, dtype=object)
            for idx in np.ndindex(value.shape):
                out[idx] = _from_scipy(value[idx])
            return out
        return value
    return value


# --------------------------------------------------------------------------------------------
# v7.3 (HDF5) through h5py
# --------------------------------------------------------------------------------------------


def _read_h5(path: Path, wanted: list[str] | None) -> dict[str, Any]:
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise MatFileError(f"{path}: corrupt or truncated MATLAB v7.3 (HDF5) file ({err})", path=path) from err
    out: dict[str, Any] = {}
    with fh:
        names = [k for k in fh.keys() if not k.startswith("#")]
        for name in names if wanted is None else [n for n in wanted if n in names]:
            try:
                out[name] = _from_h5(fh, fh[name])
            except MatFileError:
                raise
            except Exception as err:  # h5py raises OSError/KeyError/ValueError on damaged data
                raise MatFileError(
                    f"{path}: variable {name!r} is damaged or not in MATLAB's layout ({type(err).__name__}: {err})"
                ) from err
    return out


def _attr_str(obj: Any, name: str) -> str:
    value = obj.attrs.get(name)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else b""
        return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return str(value)


def _matlab_shape(data: np.ndarray) -> np.ndarray:
    """Undo h5py's reversed axis order (HDF5 is row-major, MATLAB column-major)."""
    data = np.asarray(data)
    return data.T if data.ndim > 1 else data.reshape(1, -1) if data.ndim == 1 else data.reshape(1, 1)


def _from_h5(fh: Any, obj: Any) -> Any:
    import h5py

    cls = _attr_str(obj, "MATLAB_class")
    if isinstance(obj, h5py.Group):
        if cls not in ("struct", ""):
            raise MatFileError(f"{fh.filename}: {obj.name} is a MATLAB {cls!r} object, which is not supported")
        fields = {k: _from_h5(fh, obj[k]) for k in obj.keys()}
        # A struct array stores every field as a cell-like array of references.
        return fields
    if int(np.asarray(obj.attrs.get("MATLAB_empty", 0)).reshape(-1)[0] if "MATLAB_empty" in obj.attrs else 0):
        dims = tuple(int(d) for d in np.asarray(obj[()]).reshape(-1)[::-1]) or (0, 0)
        if cls == "char":
            return ""
        if cls == "cell":
            return np.empty(dims, dtype=object)
        return np.zeros(dims, dtype=np.float64)
    data = obj[()]
    if cls == "cell" or obj.dtype == h5py.ref_dtype:
        refs = _matlab_shape(data)
        out = np.empty(refs.shape, dtype=object)
        for idx in np.ndindex(refs.shape):
            ref = refs[idx]
            if not ref:
                raise MatFileError(f"{fh.filename}: {obj.name} holds a null object reference")
            out[idx] = _from_h5(fh, fh[ref])
        return out
    if cls == "char":
        codes = _matlab_shape(data).astype(np.uint32)
        rows = ["".join(map(chr, row)) for row in codes]
        return rows[0] if len(rows) == 1 else rows
    array = _matlab_shape(data)
    if cls == "logical":
        return array.astype(bool)
    return array
