"""The exceptions vpbehavior raises for problems a user can fix.

Everything a user can get wrong (a damaged file, a wrong option, an undecodable video) raises
a `VpbehaviorError`; the command line prints it as one line and exits with status 2. Any other
exception is a bug and keeps its traceback. The kinds subclass the built-in exception a caller
would already catch (``ValueError`` or ``FileNotFoundError``), so ``except ValueError`` still works.
"""

from __future__ import annotations

from pathlib import Path


class VpbehaviorError(Exception):
    """Base of every error caused by user input (files, options, data)."""


class DataError(VpbehaviorError, ValueError):
    """A file's content is wrong: the message names the file and, where known, the field.

    Attributes ``path`` and ``field`` hold what the message names (either may be None).
    """

    def __init__(self, message: str, path: str | Path | None = None, field: str | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.field = field
        prefix = f"{path}: " if path is not None and not str(message).startswith(str(path)) else ""
        where = f" (field {field!r})" if field and f"'{field}'" not in message and f'"{field}"' not in message else ""
        super().__init__(f"{prefix}{message}{where}")


class FormatError(DataError):
    """A file or folder is not in the format it was read as, or in no format we know."""


class VideoError(DataError):
    """A video cannot be opened or decoded (missing, empty, corrupt, unsupported codec)."""


class ConfigError(VpbehaviorError, ValueError):
    """An option or configuration value is wrong (unknown name, out of range, contradictory)."""


class MissingFileError(VpbehaviorError, FileNotFoundError):
    """A file the user named does not exist."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(message)

    def __str__(self) -> str:  # FileNotFoundError's own str() would show errno fields
        return str(self.args[0])


#: Exceptions that mean "this input is unusable" when loading or reading files: our own data
#: errors and the operating system's (missing, unreadable, permission). A loader catching
#: these per recording goes on with the others; anything else is a bug and propagates.
INPUT_ERRORS: tuple[type[BaseException], ...] = (DataError, OSError)
