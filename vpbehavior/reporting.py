"""One way to report: the ``vpbehavior`` logger, warnings for data problems, and one progress hook.

Every long function takes ``progress=`` with one of:

- ``True``: a tqdm bar on the terminal (the default of the command line);
- ``False`` or ``None``: silent;
- a callable ``fn(update: ProgressUpdate) -> None``: called at every step (the napari plugin
  passes one that drives its progress bar; raising `Cancelled` from it stops the work cleanly).

Library code makes one with `progress_reporter` and calls ``update()``; it never imports tqdm
itself. Data problems a user can act on are issued with `warn_data` (a `DataWarning` through
``warnings`` and the logger), never stored in ``metadata``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar, Union

logger = logging.getLogger("vpbehavior")
logger.addHandler(logging.NullHandler())  # a library logs only where the application asks

T = TypeVar("T")


class DataWarning(UserWarning):
    """A problem in the data that did not stop the work but that the user should know about."""


class Cancelled(Exception):
    """Raised by a progress callback to stop long work (e.g. napari's cancel button)."""


@dataclass(frozen=True)
class ProgressUpdate:
    """What a progress callback receives: the task, how far it got, and of how much."""

    task: str
    done: int
    total: int | None
    unit: str = "it"
    finished: bool = False


ProgressCallback = Callable[[ProgressUpdate], None]
Progress = Union[bool, None, ProgressCallback]


def one_line(text: object) -> str:
    """``text`` (an error, a message) with every whitespace run, newlines included, collapsed to one space."""
    return " ".join(str(text).split())


def warn_data(message: str, stacklevel: int = 2, category: type[DataWarning] = DataWarning) -> None:
    """Report a data problem the user can act on: a `DataWarning` (or subclass), and the same line in the log."""
    logger.warning(message)
    warnings.warn(message, category, stacklevel=stacklevel + 1)


class ProgressReporter:
    """Reports the progress of one task to whatever ``progress=`` asked for."""

    def __init__(self, progress: Progress, task: str, total: int | None = None, unit: str = "it", initial: int = 0):
        self.task, self.total, self.unit, self.done = task, total, unit, int(initial)
        self._callback = progress if callable(progress) else None
        self._bar = None
        if progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=task, unit=unit, leave=False)
        self._emit(False)

    def _emit(self, finished: bool) -> None:
        if self._callback is not None:
            self._callback(ProgressUpdate(self.task, self.done, self.total, self.unit, finished))

    def update(self, n: int = 1, **postfix) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(**postfix, refresh=False)
        self._emit(False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._callback is not None:
            self._emit(True)
            self._callback = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_reporter(progress: Progress, task: str, total: int | None = None, unit: str = "it", initial: int = 0):
    """A `ProgressReporter` for ``progress=`` (see the module docstring); use it as a context manager."""
    return ProgressReporter(progress, task, total, unit, initial)


def track(items: Iterable[T], progress: Progress, task: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` while reporting one step per item."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_reporter(progress, task, total, unit) as bar:
        for item in items:
            yield item
            bar.update()
