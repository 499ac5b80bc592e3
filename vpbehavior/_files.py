"""Atomic file output: write to a hidden temporary file in the same folder, then rename.

Every writer in the package goes through :func:`atomic_output`, so an interrupted write never
leaves a truncated file under the real name, a failed write leaves no debris, and the finished
file gets the permissions a plain ``open(path, "w")`` would give (``0o666 & ~umask``) rather
than the ``0o600`` of :func:`tempfile.mkstemp`, so colleagues on a shared server can read it.

A writer killed outright (SIGKILL, out-of-memory killer, power loss) cannot clean up, so the
temporary names say whose they are: ``.<name>.vpb-<pid>@<host>-<random>.tmp``. The next atomic
write of the same target removes such leftovers when their process is gone on this host (or,
for another host on a shared file system, when they have not changed for a day). Files that do
not follow this pattern exactly are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "default_file_mode",
    "remove_stale_temporaries",
]

_UMASK_LOCK = threading.Lock()

#: Marks our temporary names: ``.<base>.vpb-<pid>@<host>-<random>.tmp[<suffix>]``.
_MARK = ".vpb-"
#: Temporaries from another host are stale when unchanged for this long (seconds).
STALE_AFTER_S = 24 * 3600
_NAME_MAX = 255  # bytes in one file name on common file systems
_HOST_MAX = 64
_PID_MAX_DIGITS = 10
_RANDOM_LEN = 8  # tempfile's random part: [a-z0-9_]{8}


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


def host_tag() -> str:
    """This machine (host name, and on Linux the PID namespace) as a file-name-safe tag.

    Two containers may share a host name but not their process ids; the namespace keeps one
    from judging the other's temporaries by a process id it cannot see.
    """
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "unknown"
    try:
        ns = re.sub(r"\D", "", os.readlink("/proc/self/ns/pid"))
    except OSError:
        ns = ""
    tag = f"{host}~{ns}" if ns else host
    return tag[-_HOST_MAX:]


def _fit_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    raw = os.fsencode(text)
    if len(raw) <= limit:
        return text
    return os.fsdecode(raw[: max(limit, 0)]).encode("utf-8", "ignore").decode("utf-8", "ignore")


def _temp_name_parts(path: Path, suffix: str | None) -> tuple[str, str]:
    """``(lead, tail)``: our temporaries of ``path`` are named ``lead + <pid>@<host>-<random> + tail``.

    The readable part is cut so that the whole name fits in 255 bytes whatever the process
    id and host; ``lead`` depends on the target only, so any process finds the others' files.
    """
    base = path.stem if suffix and path.suffix == suffix else path.name
    tail = f".tmp{suffix or ''}"
    owner_max = len(_MARK) + _PID_MAX_DIGITS + 1 + _HOST_MAX + 1 + _RANDOM_LEN
    base = _fit_bytes(base, _NAME_MAX - 1 - owner_max - len(os.fsencode(tail)))
    return f".{base}{_MARK}", tail


def process_state(pid: int) -> tuple[bool, float | None]:
    """``(alive, start time as a Unix timestamp or None)`` of process ``pid`` on this machine.

    A zombie (exited, not yet reaped) counts as gone. The start time comes from Linux
    ``/proc`` and is None elsewhere.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, None
    except OSError:  # PermissionError: someone else's live process
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        if fields[0] in (b"Z", b"X"):
            return False, None
        with open("/proc/stat", "rb") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith(b"btime "))
        return True, boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return True, None


def _is_stale(pid: int, host: str, entry: os.DirEntry, now: float) -> bool:
    try:
        mtime = entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    if host != host_tag() or os.name != "posix":
        return now - mtime > STALE_AFTER_S
    if pid == os.getpid() or pid <= 0:
        return False  # ours (another thread's write in progress) or not a process id
    alive, started = process_state(pid)
    # a process that started after the file last changed cannot have written it (pid reused)
    return not alive or (started is not None and started > mtime + 2.0)


def remove_stale_temporaries(path: str | Path, suffix: str | None = None) -> list[Path]:
    """Delete our leftover temporaries of ``path`` whose writer is gone; return what was removed.

    Only names of the exact form :func:`atomic_output` gives (``.<name>.vpb-<pid>@<host>-
    <random>.tmp``) are considered; those of a process that no longer runs on this host, or
    from another host and unchanged for :data:`STALE_AFTER_S`, are removed. Errors are ignored.
    """
    path = Path(path)
    lead, tail = _temp_name_parts(path, suffix)
    pattern = re.compile(
        re.escape(lead)
        + rf"(?P<pid>\d{{1,{_PID_MAX_DIGITS}}})@(?P<host>[A-Za-z0-9._~-]{{1,{_HOST_MAX}}})-[a-z0-9_]{{{_RANDOM_LEN}}}"
        + re.escape(tail)
    )
    removed: list[Path] = []
    now = time.time()
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                found = pattern.fullmatch(entry.name) if entry.name.startswith(lead) else None
                if found and _is_stale(int(found["pid"]), found["host"], entry, now):
                    _remove(Path(entry.path))
                    removed.append(Path(entry.path))
    except OSError:
        pass
    return removed


@contextmanager
def atomic_output(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    The temporary file is hidden and named ``.<name>.vpb-<pid>@<host>-<random>.tmp``.
    Writers that infer the format from the extension (PyAV, OpenCV, matplotlib,
    ``np.savez``) need the real suffix at the end: pass ``suffix`` (e.g. ``".mp4"``) and the
    name becomes ``.<stem>.vpb-<pid>@<host>-<random>.tmp.mp4``. A long ``<name>`` is cut so
    the temporary name fits in 255 bytes. Parent folders are created. The file exists
    (empty) when the block starts; writers may overwrite or replace it.

    Before the temporary is made, leftovers of earlier writes of ``path`` whose process was
    killed are removed (:func:`remove_stale_temporaries`).

    On normal exit the file's mode is set to ``0o666 & ~umask`` and it is renamed onto
    ``path`` with :func:`os.replace` (atomic on one filesystem). If the block raises, the
    temporary file (or a directory a writer made under its name) is removed, ``path`` is left
    untouched, and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path, suffix)
    lead, tail = _temp_name_parts(path, suffix)
    fd, name = tempfile.mkstemp(prefix=f"{lead}{os.getpid()}@{host_tag()}-", suffix=tail, dir=path.parent)
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
