"""Atomic file output: write to a hidden temporary file in the same folder, then rename.

Every writer in the package goes through :func:`atomic_output`, so an interrupted write never
leaves a truncated file under the real name, a failed write leaves no debris, and the finished
file gets the permissions a plain ``open(path, "w")`` would give (``0o666 & ~umask``) rather
than the ``0o600`` of :func:`tempfile.mkstemp`, so colleagues on a shared server can read it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "atomic_write_bytes", "atomic_write_text", "default_file_mode"]

_UMASK_LOCK = threading.Lock()


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Portable fallback: os.umask can only be read by setting it; restore at once, under a lock
    # so two of our own threads never observe the temporary value.
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode a new file made by a plain ``open()`` would get: ``0o666 & ~umask``."""
    return 0o666 & ~_current_umask()


def _remove(tmp: Path) -> None:
    try:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass


@contextmanager
def atomic_output(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    The temporary file is hidden and named ``.<name>.<random>.tmp``. Writers that infer the
    format from the extension (PyAV, OpenCV, matplotlib, ``np.savez``) need the real suffix
    at the end: pass ``suffix`` (e.g. ``".mp4"``) and the name becomes
    ``.<stem>.<random>.tmp.mp4``. Parent folders are created. The file exists (empty) when the
    block starts; writers may overwrite or replace it.

    On normal exit the file's mode is set to ``0o666 & ~umask`` and it is renamed onto
    ``path`` with :func:`os.replace` (atomic on one filesystem). If the block raises, the
    temporary file (or a directory a writer made under its name) is removed, ``path`` is left
    untouched, and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix:
        base = path.stem if path.suffix == suffix else path.name
        fd, name = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{suffix}", dir=path.parent)
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (default text encoding, like ``open(path, "w")``)."""
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
