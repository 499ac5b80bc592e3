"""Claims on output files that work where HDF5 file locking does not (NFS, Lustre, GPFS, SMB).

A `FileLock` is a small file created with ``O_CREAT | O_EXCL`` (atomic on local file systems and on
NFS v3 and later) that holds its owner as JSON: process id, host, start time and a random token.
While it is held a background thread refreshes its modification time every ``heartbeat_s``
seconds. Another process may take a lock over when its holder is gone:

- the holder ran on this host (same host name and PID namespace) and its process has exited,
  or its process id now belongs to a process started after the lock was taken;
- the holder ran elsewhere and the lock has not been refreshed for ``stale_after_s`` seconds.

Taking over goes through a second, short-lived ``<lock>.break`` file (also ``O_EXCL``), inside
which the lock is read again and removed only if it is still the same stale one: two processes
that both found a dead holder never remove each other's fresh lock.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from pathlib import Path

from vpbehavior._files import host_tag, process_state

__all__ = ["FileLock", "LockLost"]

#: An empty or unreadable lock file older than this (seconds) is debris of a killed writer.
_GARBLED_GRACE_S = 30.0
#: A ``.break`` file older than this (seconds) belongs to a breaker that died.
_BREAK_STALE_S = 60.0


class LockLost(RuntimeError):
    """The lock was taken over by another process while this one held it (its heartbeat stopped)."""


class FileLock:
    """An exclusive claim on something, held as the lock file ``path`` (see the module docstring)."""

    def __init__(self, path: str | Path, heartbeat_s: float = 30.0, stale_after_s: float = 600.0) -> None:
        if stale_after_s <= heartbeat_s:
            stale_after_s = 2 * heartbeat_s + 1
        self.path = Path(path)
        self.heartbeat_s = float(heartbeat_s)
        self.stale_after_s = float(stale_after_s)
        self._token: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    # ------------------------------------------------------------------ inspection
    def holder(self) -> dict | None:
        """The owner recorded in the lock file, or None when it is absent or unreadable."""
        return _read(self.path)

    @property
    def held(self) -> bool:
        return self._token is not None

    def is_stale(self) -> bool:
        """Whether the current lock file (if any) may be taken over."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        return self._stale(_read(self.path), st.st_mtime, time.time())

    def _stale(self, info: dict | None, mtime: float, now: float) -> bool:
        if info is None:
            return now - mtime > _GARBLED_GRACE_S
        if info.get("host") == host_tag() and os.name == "posix":
            try:
                pid = int(info.get("pid", -1))
            except (TypeError, ValueError):
                return now - mtime > _GARBLED_GRACE_S
            if pid == os.getpid():  # ours only while one of this process's FileLocks holds it
                return info.get("token") not in _LIVE_TOKENS
            alive, started = process_state(pid)
            return not alive or (started is not None and started > float(info.get("started", 0)) + 2.0)
        return now - mtime > self.stale_after_s

    # ------------------------------------------------------------------ acquire / release
    def acquire(self, blocking: bool = False, poll_s: float = 0.5, timeout: float | None = None) -> bool:
        """Take the lock; without ``blocking`` return False at once when a live holder has it."""
        if self.held:
            raise RuntimeError(f"{self.path}: already held by this FileLock")
        deadline = None if timeout is None else time.monotonic() + timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            if self._try_create():
                return True
            if self._try_break():
                continue  # the stale lock is gone: try again at once
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(poll_s)

    def _try_create(self) -> bool:
        token = secrets.token_hex(8)
        info = {"pid": os.getpid(), "host": host_tag(), "started": time.time(), "token": token}
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, json.dumps(info).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self._token = token
        _LIVE_TOKENS.add(token)
        self.lost = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._heartbeat, name=f"lock {self.path.name}", daemon=True)
        self._thread.start()
        return True

    def _try_break(self) -> bool:
        """Remove the lock file when its holder is gone; True when it was removed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        seen = _read(self.path)
        if not self._stale(seen, st.st_mtime, time.time()):
            return False
        breaker = self.path.with_name(self.path.name + ".break")
        try:
            fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                if time.time() - os.stat(breaker).st_mtime > _BREAK_STALE_S:
                    breaker.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            return False
        try:
            os.close(fd)
            try:
                now_st = os.stat(self.path)
            except FileNotFoundError:
                return True
            now_info = _read(self.path)
            same = (now_st.st_ino, now_st.st_mtime_ns) == (st.st_ino, st.st_mtime_ns) and now_info == seen
            if same:
                self.path.unlink(missing_ok=True)
            return same
        finally:
            breaker.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            info = _read(self.path)
            if info is None or info.get("token") != self._token:
                self.lost = True
                return
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        """Give the lock up (removing the file only if it is still ours)."""
        if not self.held:
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        info = _read(self.path)
        if info is not None and info.get("token") == self._token:
            self.path.unlink(missing_ok=True)
        else:
            self.lost = True
        _LIVE_TOKENS.discard(self._token)
        self._token = None

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, held={self.held})"


#: Tokens of the locks this process holds (another FileLock object of this process is not a stranger).
_LIVE_TOKENS: set[str] = set()


def _read(path: Path) -> dict | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(4096) or b"null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
