"""Behavior label files from annotation tools: BORIS exports and a simple per-frame CSV.

Supported (detected from the header, not the file name):

* BORIS **tabular events** (CSV/TSV): one row per event with ``Time``, ``Subject``,
  ``Behavior`` and a status (``START`` / ``STOP`` for state events, ``POINT`` for point
  events). BORIS 8 writes the status in the column named ``Behavior type``; BORIS 7 in
  ``Status``, after a block of metadata lines. Both are read.
* BORIS **aggregated events**: ``Start (s)`` / ``Stop (s)`` per bout.
* BORIS **binary table**: first column ``time`` (seconds, one row per time step), then one
  column per behavior with 0/1 (state) or a count (point events).
* The **per-frame CSV**: one row per frame, optional ``frame`` (0-based) and ``subject``
  columns, then either one column per behavior holding 1 / 0 / -1 (-1 or empty = not
  annotated) or a single ``behavior`` column holding the behavior name (empty = not annotated).

Tolerance (the problems labs report with BORIS imports): rows whose time, behavior or
status is missing (``NA``, empty) are skipped and counted (a `DataWarning`); behavior and
subject names keep the file's first spelling (surrounding and repeated whitespace removed)
and are matched by `vpbehavior.core.names.name_key` (case and spacing ignored); a
file reporting several FPS values is refused with a message listing them unless ``fps`` is
given; a START without STOP is closed at the end of the recording (with a warning), a STOP
without START is an error.

Times become frames with ``frame = round((time - time offset) * fps)``; the video's fps is
the authority when given.

**Several media files in one observation.** BORIS plays the media files of player #1 one after
the other and writes every time from the start of the observation, not of the file: an event in
the second file is at ``duration of the first + time in the second``. The export lists player
#1's files in order (``Source``: ``player #1:a.mp4;b.mp4``; BORIS 7: ``Player #1`` lines before
the header) with their durations and frame rates (``Media duration (s)`` / ``FPS``, ``;``
separated). For the video read, the durations of the files before it (and the time offset) are
subtracted and the bouts are clipped to that file, so a state that runs on into the next file
ends with this one. An export that names several files but no durations (BORIS 7) can still be
read for its first file; for a later one it is refused with a message. `boris_media_files`
lists the files an export names, in playing order (to pair an export named after the
observation id with its video). Subjects "No focal subject" or empty become the frame-level subject
`FRAME_LEVEL` (``"all"``). Problems in a file raise `DataError` naming it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior.core import (
    FRAME_LEVEL,
    NEGATIVE,
    POSITIVE,
    UNANNOTATED,
    BehaviorLabels,
    Bout,
    DataError,
    FormatError,
    MissingFileError,
)
from vpbehavior.core.names import name_key
from vpbehavior.io._sidecars import clean_name
from vpbehavior.reporting import warn_data

__all__ = [
    "FRAME_LEVEL",
    "align_subjects",
    "boris_media_files",
    "merge_labels",
    "read_label_file",
    "read_table",
    "sniff_label_kind",
]

NO_FOCAL_NAMES = {"", "no focal subject", "all", "none"}
MISSING = {"", "na", "nan", "n/a", "none", "null"}
LABEL_SUFFIXES = (".csv", ".tsv", ".txt")


def _is_missing(value: object) -> bool:
    return value is None or str(value).strip().casefold() in MISSING


def _subject_name(value: object) -> str:
    name = clean_name(value)
    return FRAME_LEVEL if name.casefold() in NO_FOCAL_NAMES or _is_missing(value) else name


@dataclass
class _Table:
    """A delimited text table: header, rows, and the lines that preceded the header."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    preamble: list[list[str]] = field(default_factory=list)
    header_line: int = 1

    def column(self, *names: str, required: bool = True) -> int | None:
        keys = [name_key(h) for h in self.header]
        for name in names:
            if name_key(name) in keys:
                return keys.index(name_key(name))
        if required:
            raise DataError(
                f"{self.path}: missing column {names[0]!r} (header at line {self.header_line}: {self.header})",
                path=self.path,
                field=names[0],
            )
        return None

    def cell(self, row: list[str], col: int | None) -> str:
        return row[col].strip() if col is not None and col < len(row) else ""


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise MissingFileError(f"{path}: label file not found", path=path)
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: not a text file", path=path)  # pragma: no cover (latin-1 always decodes)


def _delimiter(line: str) -> str:
    return "\t" if "\t" in line else ","


def _is_header(cells: list[str]) -> bool:
    keys = {name_key(c) for c in cells}
    boris = "behavior" in keys and ({"time", "start (s)"} & keys)
    return bool(boris or (cells and name_key(cells[0]) == "time") or keys & {"frame", "behavior", "frame_index"})


def read_table(path: str | Path) -> _Table:
    """Read a CSV/TSV label table, skipping a BORIS metadata block before the header."""
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    if not lines or not text.strip():
        raise DataError(f"{path}: empty label file", path=path)
    rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0])))
    start = 0
    # BORIS 7 puts "Observation id,..." metadata lines first; find the real header.
    for i, cells in enumerate(rows[:200]):
        if cells and _is_header([c.strip() for c in cells]):
            start = i
            break
    header = [clean_name(c) for c in rows[start]]
    body = [r for r in rows[start + 1 :] if any(c.strip() for c in r)]
    return _Table(path, header, body, rows[:start], start + 1)


def sniff_label_kind(path: str | Path) -> str | None:
    """The kind of label file at ``path``: "behavior_json", "boris_events", "boris_aggregated",
    "boris_binary", "per_frame", or None when it is not a label file (e.g. a DeepLabCut CSV)."""
    path = Path(path)
    if path.name.endswith(".behavior.json"):
        return "behavior_json"
    if path.suffix.lower() not in LABEL_SUFFIXES:
        return None
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            head = [fh.readline() for _ in range(40)]
    except OSError:
        return None
    rows = [[name_key(c) for c in next(csv.reader([ln], delimiter=_delimiter(ln)), [])] for ln in head if ln.strip()]
    if not rows or rows[0][0] == "scorer":  # DeepLabCut pose CSV
        return None
    for keys in map(set, rows):  # BORIS 7 puts metadata lines before its header
        if "behavior" in keys and "start (s)" in keys:
            return "boris_aggregated"
        if "behavior" in keys and "time" in keys:
            return "boris_events"
    first = rows[0]
    if first[0] == "time":
        return "boris_binary"
    if set(first) & {"frame", "behavior", "behaviour", "frame_index", "frame_idx"}:
        return "per_frame"
    if (
        len(first) > 1
        and all(c and not _is_number(c) for c in first)
        and len(rows) > 1
        and all(_is_number(c) or c in MISSING for c in rows[1])
    ):
        return "per_frame"  # a header of behavior names over rows of 1/0/-1
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _float(table: _Table, row: list[str], col: int | None, what: str, line: int) -> float:
    text = table.cell(row, col)
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{table.path}: line {line}: {what} {text!r} is not a number", path=table.path) from None


def _fps_values(table: _Table, col: int | None) -> list[float]:
    """Distinct FPS values reported in a BORIS column (several media files are ';' / '|' separated)."""
    values: set[float] = set()
    if col is None:
        return []
    for row in table.rows:
        for part in table.cell(row, col).replace("|", ";").split(";"):
            part = part.split(":")[-1].strip()
            if not _is_missing(part) and _is_number(part) and float(part) > 0:
                values.add(round(float(part), 3))
    return sorted(values)


def _resolve_fps(table: _Table, fps: float | None, col: int | None) -> float:
    reported = _fps_values(table, col)
    if fps is not None:
        if reported and all(abs(v - fps) > 0.01 * fps for v in reported):
            warn_data(
                f"{table.path}: the file reports FPS {reported} but the video has {fps:g}; using the video's {fps:g}",
                stacklevel=3,
            )
        return float(fps)
    if len(reported) > 1:
        raise DataError(
            f"{table.path}: the file reports several FPS values {reported} (several media files or "
            "observations in one export); export one observation per video or pass fps= explicitly",
            path=table.path,
        )
    if not reported:
        raise DataError(f"{table.path}: no FPS in the file; pass fps= (the video's frame rate)", path=table.path)
    return reported[0]


def _time_offset(table: _Table) -> float:
    col = table.column("Time offset (s)", "Time offset", required=False)
    if col is not None:
        for row in table.rows:
            text = table.cell(row, col)
            if _is_number(text):
                return float(text)
    for cells in table.preamble:  # BORIS 7 metadata block: "Time offset (s),0.000"
        if len(cells) > 1 and name_key(cells[0]).startswith("time offset") and _is_number(cells[1].strip()):
            return float(cells[1])
    return 0.0


def _media_filter(table: _Table, media: str | None) -> list[list[str]]:
    """Rows of the media file named ``media`` (by stem) when the export names several."""
    col = table.column("Media file name", "Media file path", "Media file", required=False)
    if col is None or media is None:
        return table.rows

    def media_stem(row) -> str:  # Windows paths from BORIS on Windows: C:\videos\m1.mp4
        return Path(table.cell(row, col).replace("\\", "/").split(":")[-1]).stem

    names = {media_stem(r) for r in table.rows} - {"", "NA", "Not found"}
    stem = Path(media).stem
    if len(names) == 1 and stem not in names:
        warn_data(
            f"{table.path}: the export names media file {names.pop()!r}, not {stem!r}; using its events for this video",
            stacklevel=2,
        )
    if len(names) <= 1:
        return table.rows
    rows = [r for r in table.rows if media_stem(r) == stem]
    if not rows:
        raise DataError(
            f"{table.path}: no events for media file {stem!r}; the file names {sorted(names)}", path=table.path
        )
    return rows


_PLAYER = re.compile(r"^\s*player\s*#\s*(\d+)\s*:", re.IGNORECASE)
_NOT_MEDIA = {"", "na", "not found", "live", "live observation"}


def _media_name(text: str) -> str:
    """The file name of a media path as BORIS wrote it (Windows or POSIX separators)."""
    return text.strip().replace("\\", "/").rsplit("/", 1)[-1]


def _players(text: str) -> dict[str, list[str]]:
    """``"player #1:a;b|player #2:c"`` -> ``{"1": ["a", "b"], "2": ["c"]}`` (no prefix: player 1)."""
    out: dict[str, list[str]] = {}
    for k, part in enumerate(text.split("|")):
        m = _PLAYER.match(part)
        player = m.group(1) if m else str(k + 1)
        items = [x.strip() for x in (part[m.end() :] if m else part).split(";")]
        out.setdefault(player, []).extend(x for x in items if x)
    return out


def _first_cell(table: _Table, col: int | None) -> str:
    if col is None:
        return ""
    return next((table.cell(r, col) for r in table.rows if not _is_missing(table.cell(r, col))), "")


@dataclass
class _Sequence:
    """Player #1's media files of a BORIS observation, in playing order, with what the export says of each."""

    files: list[str]
    durations: list[float] | None
    fps: list[float | None]
    others: list[str] = field(default_factory=list)  # media of the other players


def _sequence(table: _Table) -> _Sequence | None:
    """The observation's media as the export lists them (BORIS 8 ``Source`` column or BORIS 7
    ``Player #N`` metadata lines); None when it lists none."""
    players = _players(_first_cell(table, table.column("Source", required=False)))
    if not any(players.values()):
        players = {}
        for cells in table.preamble:  # BORIS 7: "Player #1,<media path>" lines in playing order
            m = _PLAYER.match((cells[0] if cells else "") + ":")
            if m and len(cells) > 1 and cells[1].strip():
                players.setdefault(m.group(1), []).append(cells[1].strip())
    files = [f for f in players.get("1", []) if f.casefold() not in _NOT_MEDIA]
    if not files:
        return None
    others = [f for k, v in players.items() if k != "1" for f in v]

    def per_file(*names: str) -> list[str]:
        values = _players(_first_cell(table, table.column(*names, required=False)))
        return values.get("1", [])

    durations = per_file("Media duration (s)")
    fps_cells = per_file("FPS", "FPS (frame/s)")
    dur = [float(d) for d in durations] if len(durations) == len(files) and all(map(_is_number, durations)) else None
    fps = [float(f) if _is_number(f) and float(f) > 0 else None for f in fps_cells]
    return _Sequence(files, dur, fps if len(fps) == len(files) else [None] * len(files), others)


def boris_media_files(path: str | Path, full_path: bool = False) -> list[str]:
    """The media files a BORIS export names, player #1's in the order the observation plays them.

    Reads the ``Source`` column (BORIS 8: ``player #1:a.mp4;b.mp4|player #2:...``), BORIS 7's
    ``Player #N`` metadata lines, and the per-event ``Media file name`` / ``Media file path`` /
    ``Media file`` columns; player #1's files come first, in playing order, then other players'
    and any file only the events name. ``full_path``: the paths as BORIS wrote them (often from
    another machine) instead of the file names. An unreadable file or one that names no media
    gives ``[]``.
    """
    try:
        table = read_table(path)
    except (DataError, MissingFileError, OSError):
        return []
    seq = _sequence(table)
    names = list(seq.files + seq.others) if seq else []
    col = table.column("Media file name", "Media file path", "Media file", required=False)
    if col is not None:
        names += [table.cell(r, col) for r in table.rows]
    names = [n for n in names if n.strip().casefold() not in _NOT_MEDIA]
    if not full_path:
        names = [_media_name(n) for n in names]
    return list(dict.fromkeys(names))


@dataclass
class _Placement:
    """How the export's times map onto the video's frames: ``frame = round((t - base) * fps)``; with
    ``extent``, bouts are clipped to ``[0, extent)`` (the video is one file of several)."""

    fps: float
    base: float
    extent: int | None
    rows: list[list[str]]


def _placement(table: _Table, fps: float | None, media: str | None, n_frames: int | None) -> _Placement:
    offset = _time_offset(table)
    seq = _sequence(table)
    fps_col = table.column("FPS", "FPS (frame/s)", required=False)
    if seq is None or len(seq.files) < 2:
        return _Placement(_resolve_fps(table, fps, fps_col), offset, None, _media_filter(table, media))
    names = [Path(_media_name(f)).stem for f in seq.files]
    if media is None:
        raise DataError(
            f"{table.path}: the observation plays {len(names)} media files in sequence ({', '.join(names)}) and "
            "times count from its start; say which video these labels are for (media=)",
            path=table.path,
        )
    stem = Path(_media_name(str(media))).stem
    matches = [k for k, n in enumerate(names) if n == stem] or [
        k for k, n in enumerate(names) if name_key(n) == name_key(stem)
    ]
    if len(matches) != 1:
        raise DataError(
            f"{table.path}: the observation plays {names} in sequence; {stem!r} is "
            + ("not among them" if not matches else "there more than once"),
            path=table.path,
        )
    k = matches[0]
    if k and seq.durations is None:
        raise DataError(
            f"{table.path}: {stem!r} is media file {k + 1} of {len(names)} played in sequence, but the export gives "
            "no duration per file ('Media duration (s)'), so its times cannot be moved to the start of that file; "
            "export the events with BORIS 8, or one observation per video",
            path=table.path,
        )
    own = seq.fps[k]
    if fps is None:
        if own is None:
            raise DataError(f"{table.path}: no FPS for media file {stem!r}; pass fps= (the video's frame rate)")
        fps = own
    elif own is not None and abs(own - fps) > 0.01 * fps:
        warn_data(
            f"{table.path}: the export gives {stem!r} FPS {own:g} but the video has {fps:g}; using the video's",
            stacklevel=4,
        )
    base = offset + (sum(seq.durations[:k]) if k else 0.0)
    extent = n_frames
    if extent is None and seq.durations is not None:
        extent = int(round(seq.durations[k] * fps))
    return _Placement(float(fps), base, extent, table.rows)


def _add(bouts: list[Bout], extent: int | None, start: int, stop: int, subject: str, behavior: str) -> None:
    """Append the bout ``[start, stop)``; with ``extent`` (one media file of several) only its part
    inside ``[0, extent)``, if any."""
    if extent is not None:
        start, stop = max(start, 0), min(stop, extent)
        if stop <= start:
            return
    bouts.append(Bout(start, stop, subject, behavior))


def _frame(seconds: float, fps: float, offset: float) -> int:
    return int(math.floor((seconds - offset) * fps + 0.5))


@dataclass
class _EventParse:
    """Bouts of a BORIS events export; names merged case-insensitively (first spelling kept)."""

    bouts: list[Bout]
    classes: list[str]
    subjects: list[str]
    skipped: int
    n_frames: int


def _parse_boris_events(table: _Table, fps: float | None, media: str | None, n_frames: int | None) -> _EventParse:
    time_col = table.column("Time")
    beh_col = table.column("Behavior")
    subj_col = table.column("Subject", required=False)
    status_col = None
    for name in ("Status", "Behavior type"):
        col = table.column(name, required=False)
        if col is not None and any(table.cell(r, col).upper() in ("START", "STOP", "POINT") for r in table.rows):
            status_col = col
            break
    if status_col is None:
        raise DataError(
            f"{table.path}: missing column 'Status' (START/STOP/POINT) in a BORIS events export", path=table.path
        )
    place = _placement(table, fps, media, n_frames)
    fps, offset, rows = place.fps, place.base, place.rows
    open_: dict[tuple[str, str], int] = {}
    bouts, classes, subjects, skipped, last = [], {}, {}, 0, 0
    first_line = table.header_line + 1
    for i, row in enumerate(rows):
        line = first_line + i
        status = table.cell(row, status_col).upper()
        if any(_is_missing(table.cell(row, c)) for c in (time_col, beh_col)) or status not in (
            "START",
            "STOP",
            "POINT",
        ):
            skipped += 1
            continue
        behavior = classes.setdefault(name_key(table.cell(row, beh_col)), clean_name(table.cell(row, beh_col)))
        subject = _subject_name(table.cell(row, subj_col))
        subject = subjects.setdefault(name_key(subject), subject)
        frame = _frame(_float(table, row, time_col, "Time", line), fps, offset)
        if frame < 0 and place.extent is None:
            raise DataError(
                f"{table.path}: line {line}: event at negative frame {frame} (time before the video)", path=table.path
            )
        last = max(last, frame + 1)
        key = (subject, behavior)
        if status == "POINT":
            _add(bouts, place.extent, frame, frame + 1, subject, behavior)
        elif status == "START":
            if key in open_:
                raise DataError(
                    f"{table.path}: line {line}: {behavior!r} of {subject!r} started twice without STOP",
                    path=table.path,
                )
            open_[key] = frame
        else:
            if key not in open_:
                raise DataError(
                    f"{table.path}: line {line}: STOP of {behavior!r} ({subject!r}) without a START", path=table.path
                )
            start = open_.pop(key)
            _add(bouts, place.extent, start, max(frame, start + 1), subject, behavior)
    if n_frames is None:
        n_frames = place.extent or _duration_frames(table, fps) or last
    for (subject, behavior), start in open_.items():
        warn_data(
            f"{table.path}: {behavior!r} of {subject!r} started at frame {start} but never stopped; "
            "closed at the end of the recording",
            stacklevel=3,
        )
        _add(bouts, place.extent, start, max(n_frames, start + 1), subject, behavior)
    return _EventParse(bouts, list(classes.values()), list(subjects.values()), skipped, n_frames)


def _duration_frames(table: _Table, fps: float) -> int | None:
    col = table.column("Media duration (s)", "Total length", required=False)
    values = {table.cell(r, col) for r in table.rows} if col is not None else set()
    values = {float(v) for v in values if _is_number(v)}
    return int(round(max(values) * fps)) if len(values) == 1 else None


def _parse_boris_aggregated(table: _Table, fps: float | None, media: str | None, n_frames: int | None) -> _EventParse:
    beh_col = table.column("Behavior")
    start_col, stop_col = table.column("Start (s)"), table.column("Stop (s)")
    subj_col = table.column("Subject", required=False)
    place = _placement(table, fps, media, n_frames)
    fps, offset = place.fps, place.base
    bouts, classes, subjects, skipped, last = [], {}, {}, 0, 0
    for i, row in enumerate(place.rows):
        line = table.header_line + 1 + i
        if _is_missing(table.cell(row, beh_col)) or _is_missing(table.cell(row, start_col)):
            skipped += 1
            continue
        behavior = classes.setdefault(name_key(table.cell(row, beh_col)), clean_name(table.cell(row, beh_col)))
        subject = _subject_name(table.cell(row, subj_col))
        subject = subjects.setdefault(name_key(subject), subject)
        start = _frame(_float(table, row, start_col, "Start (s)", line), fps, offset)
        stop_text = table.cell(row, stop_col)
        stop = _frame(float(stop_text), fps, offset) if _is_number(stop_text) else start + 1
        _add(bouts, place.extent, start, max(stop, start + 1), subject, behavior)
        last = max(last, stop, start + 1)
    if n_frames is None:
        n_frames = place.extent or _duration_frames(table, fps) or last
    return _EventParse(bouts, list(classes.values()), list(subjects.values()), skipped, n_frames)


def _check_length(path: Path, bouts: Sequence[Bout], n_frames: int) -> None:
    late = [b for b in bouts if b.stop > n_frames]
    if late:
        worst = max(late, key=lambda b: b.stop)
        raise DataError(
            f"{path}: labels reach frame {worst.stop - 1} ({worst.behavior!r}) but the recording has {n_frames} frames",
            path=path,
        )


def _read_boris_binary(table: _Table, fps: float | None, n_frames: int | None, subject: str) -> BehaviorLabels:
    if fps is None:
        raise DataError(
            f"{table.path}: a BORIS binary table has no FPS; pass fps= (the video's frame rate)", path=table.path
        )
    classes = [clean_name(c) for c in table.header[1:]]
    if not classes:
        raise DataError(f"{table.path}: binary table without behavior columns", path=table.path)
    times, values, skipped = [], [], 0
    for i, row in enumerate(table.rows):
        line = table.header_line + 1 + i
        if _is_missing(table.cell(row, 0)):
            skipped += 1
            continue
        times.append(_float(table, row, 0, "time", line))
        cells = [table.cell(row, c) for c in range(1, len(table.header))]
        values.append([(float(c) > 0 if _is_number(c) else np.nan) if not _is_missing(c) else np.nan for c in cells])
    if not times:
        raise DataError(f"{table.path}: binary table has no rows", path=table.path)
    times_arr = np.asarray(times)
    step = float(np.median(np.diff(times_arr))) if len(times_arr) > 1 else 1.0 / fps
    if n_frames is None:
        n_frames = int(round((times_arr[-1] + step) * fps))
    frame_t = np.arange(n_frames) / fps
    idx = np.searchsorted(times_arr, frame_t + 1e-9, side="right") - 1
    covered = (idx >= 0) & (frame_t < times_arr[-1] + step - 1e-9)
    table_vals = np.asarray(values, dtype=float)
    out = np.full((n_frames, 1, len(classes)), UNANNOTATED, np.int8)
    sel = table_vals[np.clip(idx, 0, len(times_arr) - 1)]
    known = covered[:, None] & ~np.isnan(sel)
    out[:, 0][known] = np.where(sel[known] > 0, POSITIVE, NEGATIVE)
    return BehaviorLabels(out, _dedupe_names(table.path, classes), [subject])


def _dedupe_names(path: Path, names: Sequence[str]) -> list[str]:
    keys = [name_key(n) for n in names]
    if len(set(keys)) != len(keys):
        dupes = sorted({n for n, k in zip(names, keys) if keys.count(k) > 1})
        raise DataError(f"{path}: behavior names {dupes} appear twice (after name normalization)", path=path)
    return list(names)


def _read_per_frame(table: _Table, n_frames: int | None) -> BehaviorLabels:
    frame_col = table.column("frame", "frame_index", "frame_idx", required=False)
    subj_col = table.column("subject", required=False)
    beh_col = table.column("behavior", "behaviour", "label", required=False)
    data_cols = [c for c in range(len(table.header)) if c not in (frame_col, subj_col, beh_col)]
    if beh_col is None and not data_cols:
        raise DataError(
            f"{table.path}: per-frame CSV needs a 'behavior' column or one column per behavior", path=table.path
        )
    frames, subjects_per_row, cells = [], [], []
    for i, row in enumerate(table.rows):
        line = table.header_line + 1 + i
        if frame_col is not None:
            f = _float(table, row, frame_col, "frame", line)
            if f != int(f) or f < 0:
                raise DataError(f"{table.path}: line {line}: frame {f} is not a 0-based frame index", path=table.path)
            frames.append(int(f))
        else:
            frames.append(i)
        subjects_per_row.append(_subject_name(table.cell(row, subj_col)))
        cells.append(row)
    subjects = list(dict.fromkeys(subjects_per_row)) or [FRAME_LEVEL]
    if subj_col is not None and frame_col is None:
        raise DataError(
            f"{table.path}: a per-frame CSV with a 'subject' column needs a 'frame' column", path=table.path
        )
    length = max(frames) + 1 if frames else 0
    if n_frames is None:
        n_frames = length
    elif length > n_frames:
        raise DataError(
            f"{table.path}: labels reach frame {length - 1} but the recording has {n_frames} frames", path=table.path
        )
    s_index = {s: j for j, s in enumerate(subjects)}
    if beh_col is not None:
        classes: dict[str, str] = {}  # name_key -> first spelling
        names = [clean_name(table.cell(r, beh_col)) for r in cells]
        for n in names:
            if not _is_missing(n):
                classes.setdefault(name_key(n), n)
        c_index = {k: j for j, k in enumerate(classes)}
        out = np.full((n_frames, len(subjects), len(classes)), UNANNOTATED, np.int8)
        for f, s, n in zip(frames, subjects_per_row, names):
            if not _is_missing(n):
                out[f, s_index[s]] = NEGATIVE
                out[f, s_index[s], c_index[name_key(n)]] = POSITIVE
        return BehaviorLabels(out, list(classes.values()), subjects)
    cls = _dedupe_names(table.path, [table.header[c] for c in data_cols])
    out = np.full((n_frames, len(subjects), len(cls)), UNANNOTATED, np.int8)
    for i, (f, s, row) in enumerate(zip(frames, subjects_per_row, cells)):
        for j, c in enumerate(data_cols):
            text = table.cell(row, c)
            if _is_missing(text):
                continue
            try:
                v = int(float(text))
            except ValueError:
                raise DataError(
                    f"{table.path}: line {table.header_line + 1 + i}: column {cls[j]!r}: "
                    f"expected 1, 0 or -1, found {text!r}",
                    path=table.path,
                ) from None
            if v not in (UNANNOTATED, NEGATIVE, POSITIVE):
                raise DataError(
                    f"{table.path}: line {table.header_line + 1 + i}: column {cls[j]!r}: "
                    f"expected 1, 0 or -1, found {text!r}",
                    path=table.path,
                )
            out[f, s_index[s], j] = v
    return BehaviorLabels(out, cls, subjects)


def read_label_file(
    path: str | Path,
    n_frames: int | None = None,
    fps: float | None = None,
    media: str | None = None,
    subject: str = FRAME_LEVEL,
) -> BehaviorLabels:
    """Read a label file (our ``.behavior.json``, a BORIS export or the per-frame CSV).

    Parameters
    ----------
    path
        The label file; its kind is detected from its header.
    n_frames
        Length of the recording (the video's frame count). Labels beyond it are an error;
        without it, the file's own extent is used.
    fps
        The video's frame rate, used to turn BORIS times into frames (BORIS's own FPS column
        is used only when this is not given).
    media
        Video file name, to pick its rows from a BORIS export that covers several media files.
    subject
        Subject of a BORIS binary table (BORIS writes one file per subject).

    Returns
    -------
    BehaviorLabels
        Subjects as named in the file ("all" for frame-level labels), classes in order of
        first appearance.
    """
    path = Path(path)
    kind = sniff_label_kind(path)
    if kind is None:
        raise FormatError(
            f"{path}: not a recognized label file (expected a BORIS export, the per-frame CSV "
            "with a 'frame'/'behavior' header, or a .behavior.json file)",
            path=path,
        )
    if kind == "behavior_json":
        from vpbehavior.io.labels_file import load_labels

        labels = load_labels(path)
        if n_frames is not None and labels.n_frames != n_frames:
            if labels.n_frames > n_frames:
                raise DataError(
                    f"{path}: labels cover {labels.n_frames} frames but the recording has {n_frames}", path=path
                )
            labels = _pad(labels, n_frames)
        return labels
    table = read_table(path)
    if kind in ("boris_events", "boris_aggregated"):
        parse = (_parse_boris_events if kind == "boris_events" else _parse_boris_aggregated)(
            table, fps, media, n_frames
        )
        if not parse.bouts and not parse.classes:
            raise DataError(f"{path}: no events ({parse.skipped} rows skipped as incomplete)", path=path)
        if parse.skipped:
            warn_data(f"{path}: {parse.skipped} incomplete rows skipped (NA time, behavior or status)", stacklevel=2)
        _check_length(path, parse.bouts, parse.n_frames)
        _dedupe_names(path, parse.classes)
        return BehaviorLabels.from_bouts(parse.bouts, parse.n_frames, parse.classes, parse.subjects, annotated=True)
    if kind == "boris_binary":
        return _read_boris_binary(table, fps, n_frames, _subject_name(subject))
    return _read_per_frame(table, n_frames)


def _pad(labels: BehaviorLabels, n_frames: int) -> BehaviorLabels:
    pad = np.full((n_frames - labels.n_frames, *labels.values.shape[1:]), UNANNOTATED, np.int8)
    values = np.concatenate([labels.values, pad])
    return BehaviorLabels(values, labels.classes, labels.subjects, labels.background, labels.targets)


def _united(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Names of several parts united by `name_key` (first spelling kept), and each name's united spelling."""
    first: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name in names:
        spelling[name] = first.setdefault(name_key(name), name)
    return list(first.values()), spelling


def merge_labels(parts: Sequence[BehaviorLabels], source: str = "") -> BehaviorLabels:
    """Union of label tables of one recording (e.g. one BORIS binary table per subject).

    Classes and subjects are united in order of first appearance, matched by `name_key`
    (the first spelling is kept); a cell annotated in two parts with different values, or
    one behavior directed at different targets, is an error.
    """
    if not parts:
        raise ValueError("no labels to merge")  # a caller's mistake, not the data's
    if len(parts) == 1:
        return parts[0]
    n = parts[0].n_frames
    if any(p.n_frames != n for p in parts):
        raise DataError(f"{source}: label files cover different frame counts {[p.n_frames for p in parts]}")
    classes, class_as = _united([c for p in parts for c in p.classes])
    subjects, subject_as = _united([s for p in parts for s in p.subjects])
    out = np.full((n, len(subjects), len(classes)), UNANNOTATED, np.int8)
    targets: dict[tuple[str, str], str] = {}
    background = None
    for p in parts:
        s_idx = [subjects.index(subject_as[s]) for s in p.subjects]
        c_idx = [classes.index(class_as[c]) for c in p.classes]
        block = out[:, s_idx][:, :, c_idx]
        clash = (block != UNANNOTATED) & (p.values != UNANNOTATED) & (block != p.values)
        if clash.any():
            raise DataError(f"{source}: label files disagree on {int(clash.sum())} annotated cells")
        block = np.where(p.values != UNANNOTATED, p.values, block)
        out[np.ix_(np.arange(n), s_idx, c_idx)] = block
        for (subject, behavior), target in p.targets.items():
            key = (subject_as[subject], class_as[behavior])
            if targets.setdefault(key, subject_as.get(target, target)) != subject_as.get(target, target):
                raise DataError(f"{source}: label files direct {behavior!r} of {subject!r} at different subjects")
        if background is None and p.background is not None:
            background = class_as[p.background]
    return BehaviorLabels(out, classes, subjects, background, targets)


def align_subjects(labels: BehaviorLabels, subjects: Sequence[str], source: str = "") -> BehaviorLabels:
    """Put ``labels`` on the recording's subjects (e.g. pose tracks), matching names by `name_key`.

    Subjects of the recording without labels become not annotated; frame-level labels
    (`FRAME_LEVEL`) are kept as an extra subject. A labelled subject (or behavior target)
    that the recording does not have is an error naming ``source``.
    """
    by_key = {name_key(s): s for s in subjects}
    mapping = {}
    unknown = []
    for s in labels.subjects:
        if s == FRAME_LEVEL:
            mapping[s] = FRAME_LEVEL
        elif name_key(s) in by_key:
            mapping[s] = by_key[name_key(s)]
        else:
            unknown.append(s)
    if unknown:
        raise DataError(f"{source}: subjects {unknown} are not in the recording, whose subjects are {list(subjects)}")
    target = list(subjects) + ([FRAME_LEVEL] if FRAME_LEVEL in mapping and FRAME_LEVEL not in subjects else [])
    out = np.full((labels.n_frames, len(target), len(labels.classes)), UNANNOTATED, np.int8)
    for j, s in enumerate(labels.subjects):
        out[:, target.index(mapping[s])] = labels.values[:, j]
    targets = {(mapping[s], c): mapping[t] for (s, c), t in labels.targets.items()}
    return BehaviorLabels(out, labels.classes, target, labels.background, targets)


# ------------------------------------------------------------------ writing BORIS tables
#: The columns of BORIS 8's tabular events export, in its order.
BORIS_EVENT_COLUMNS = (
    "Observation id", "Observation date", "Description", "Observation duration", "Observation type", "Source",
    "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior", "Behavioral category", "Behavior type",
    "Time", "Media file name", "Image index", "Image file path", "Comment",
)  # fmt: skip


def boris_events_text(
    bouts: Sequence,
    n_frames: int,
    fps: float,
    *,
    media: str = "",
    observation: str = "",
    description: str = "exported by vpbehavior",
    delimiter: str = "\t",
) -> str:
    """Bouts as a BORIS tabular-events export (a START and a STOP row each) that `read_label_file` reads back.

    ``bouts``: `Bout`s, or anything with start, stop, subject and behavior (e.g. predicted bouts).

    A bout ``[start, stop)`` starts at ``start / fps`` and stops at ``stop / fps``; the frame-level
    subject is "No focal subject"; a bout's target goes to the Comment column as ``target=<subject>``.
    """
    if not fps or fps <= 0:
        raise DataError("a BORIS table needs the video's frame rate (fps)")
    duration = n_frames / fps
    media_name = Path(media).name if media else ""
    observation = observation or Path(media_name).stem or "vpbehavior"
    source = f"player #1:{media}" if media else ""
    events = []
    for b in bouts:
        subject = "No focal subject" if b.subject == FRAME_LEVEL else b.subject
        target = getattr(b, "target", None)
        comment = f"target={target}" if target else ""
        events.append((b.stop / fps, 0, subject, b.behavior, "STOP", b.stop, comment))
        events.append((b.start / fps, 1, subject, b.behavior, "START", b.start, comment))
    events.sort(key=lambda e: (round(e[0], 6), e[1], e[2], e[3]))  # a STOP before a START at the same time
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(BORIS_EVENT_COLUMNS)
    for time_s, _, subject, behavior, status, frame, comment in events:
        writer.writerow([
            observation, "", description, f"{duration:.6f}", "Media file(s)", source, "0.000",
            f"{duration:.6f}", f"{fps:.6f}", subject, behavior, "", status, f"{time_s:.6f}", media_name, str(frame),
            "NA", comment,
        ])  # fmt: skip
    return out.getvalue()
