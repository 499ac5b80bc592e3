"""CalMS21 (Caltech Mouse Social Interactions) loader: tasks 1-3 and the unlabeled set.

Each JSON file is ``{annotator group: {sequence id: {keypoints [T][2][2][7], scores [T][2][7],
annotations [T], metadata {annotator-id, vocab}}}}`` (``shared/docs/dataset_formats.md`` §1).
Every sequence becomes one `Recording`:

- pose: subjects ``resident`` (mouse 0) and ``intruder`` (mouse 1), the 7 body parts in file
  order, (x, y) pixels, with the pose scores;
- labels: the annotations are behaviors *of the resident directed at the intruder*, so they
  fill the resident's row with the intruder as every behavior's target (`Bout.target`; one
  class per frame, vocabulary from ``metadata.vocab`` sorted by id, names as the file spells
  them, "other" marked as background and undirected); the intruder's row is "not annotated";
- split: from the file name (``calms21_task1_train.json`` -> "train"; the unlabeled parts ->
  "unlabeled"), else from the sequence id (``task1/test/...``);
- video: a task-1 video is attached when one is found next to the data (its stem is the
  sequence name, e.g. ``mouse001_task1_annotator1``, or the mouse id, e.g. ``mouse001``).

The dataset's ``test_split`` is "test" when test sequences were loaded. Damaged files and
sequences raise (or are listed as failures with) a `DataError` naming the file, the
sequence and the field.

The files are hundreds of MB. They are scanned in chunks: numpy finds the brackets that
delimit each sequence, and only one sequence's JSON is decoded at a time, so memory holds
the final arrays plus one sequence. The arrays are then cached once next to the JSON
(``<name>.vpbehavior-cache.npz``, keyed by the JSON's size and mtime, written atomically)
and later loads read the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vpbehavior._files import atomic_output
from vpbehavior.core import (
    BehaviorLabels,
    DataError,
    Dataset,
    FormatError,
    LoadFailure,
    MissingFileError,
    Pose,
    Recording,
)
from vpbehavior.core.errors import INPUT_ERRORS
from vpbehavior.core.names import match_name, name_lookup
from vpbehavior.io._sidecars import check_video_mode, clean_name, index_videos, probe_attached_video, try_load
from vpbehavior.io.registry import register_format
from vpbehavior.reporting import track

__all__ = [
    "BODYPARTS",
    "SUBJECTS",
    "CalMS21Sequence",
    "detect_calms21",
    "iter_calms21_file",
    "load_calms21",
    "read_calms21_file",
]

#: Body-part order of the keypoint axis (a fact of the format, §1.3).
BODYPARTS = ("nose", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tail_base")
#: Mouse axis: 0 = resident (black mouse), 1 = intruder (white mouse).
SUBJECTS = ("resident", "intruder")
FPS = 30.0
IMAGE_SIZE = (1024, 570)
CACHE_SUFFIX = ".vpbehavior-cache.npz"
CACHE_ENV = "VPBEHAVIOR_CACHE"
_CACHE_VERSION = 3  # 3: vocabulary names whitespace-cleaned
_CHUNK = 1 << 23  # 8 MiB
_SNIFF_BYTES = 4096
_TOP_KEY = re.compile(rb'^\s*\{\s*"(annotator-id_\d+|unlabeled_videos)"\s*:\s*\{')
# Any group key (task 3's group spelling is unverified): {"<group>": {"<sequence>": {"keypoints"|...
_JSON_STR = rb'"(?:[^"\\]|\\.)*"'
_NESTED_SEQUENCE = re.compile(
    rb"^\s*\{\s*"
    + _JSON_STR
    + rb"\s*:\s*\{\s*"
    + _JSON_STR
    + rb'\s*:\s*\{\s*"(keypoints|scores|annotations|metadata)"\s*:'
)
_KEY_BEFORE_VALUE = re.compile(rb'^\s*,?\s*("(?:[^"\\]|\\.)*")\s*:\s*$', re.S)


@dataclass
class CalMS21Sequence:
    """One sequence of a CalMS21 JSON file, as arrays."""

    group: str
    seq_id: str
    points: np.ndarray  # [T, 2, 7, 2] float32 (x, y)
    scores: np.ndarray | None  # [T, 2, 7] float32
    annotations: np.ndarray | None  # [T] int64 column index into `classes`, or None
    classes: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.points)


# --------------------------------------------------------------------------------------------
# Streaming scan of the JSON
# --------------------------------------------------------------------------------------------


class _Scanner:
    """Finds ``group -> sequence`` objects in a CalMS21 JSON without decoding the rest.

    Only bracket depths 0..3 matter: depth 1 is the top object, 2 an annotator group, 3 a
    sequence. Brackets inside strings are ignored (quotes are tracked with escapes).
    """

    def __init__(self, path: Path):
        self.path = path
        self.depth = 0
        self.in_string = False
        self.trailing_backslashes = 0
        self.offset = 0  # file offset of the current chunk
        self.group: str | None = None
        self.seq_id: str | None = None
        self.seq_start = 0
        self.closed = False  # the top object has ended
        self.text = bytearray()  # bytes between structural events (keys) or of the current sequence

    def _fail(self, message: str) -> DataError:
        return DataError(f"{self.path}: {message}", path=self.path)

    def _key(self, where: int) -> str:
        match = _KEY_BEFORE_VALUE.match(bytes(self.text))
        if not match:
            snippet = bytes(self.text).strip()[:60].decode("utf-8", "replace")
            raise self._fail(
                f"unexpected content {snippet!r} before byte {where}: every entry of the top object must be "
                "an annotator group object, and every entry of a group a sequence object"
            )
        return json.loads(match.group(1))

    def _structural_brackets(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        quotes = np.flatnonzero(a == 0x22)
        if quotes.size:
            escaped = np.zeros(quotes.size, bool)
            for i in np.flatnonzero((quotes > 0) & (a[np.maximum(quotes - 1, 0)] == 0x5C)).tolist() + (
                [0] if quotes[0] == 0 and self.trailing_backslashes else []
            ):
                q, n = int(quotes[i]), 0
                while q - n - 1 >= 0 and a[q - n - 1] == 0x5C:
                    n += 1
                if q - n == 0:
                    n += self.trailing_backslashes
                escaped[i] = n % 2 == 1
            quotes = quotes[~escaped]
        brackets = np.flatnonzero((a == 0x7B) | (a == 0x7D) | (a == 0x5B) | (a == 0x5D))
        inside = (np.searchsorted(quotes, brackets) + int(self.in_string)) % 2 == 1
        brackets = brackets[~inside]
        self.in_string = (len(quotes) + int(self.in_string)) % 2 == 1
        tail = a[::-1]
        run = int(np.argmax(tail != 0x5C)) if (tail != 0x5C).any() else len(a)
        self.trailing_backslashes = run + (self.trailing_backslashes if run == len(a) else 0)
        return brackets, np.where((a[brackets] == 0x7B) | (a[brackets] == 0x5B), 1, -1)

    def __iter__(self) -> Iterator[tuple[str, str, bytes, int]]:
        with open(self.path, "rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                yield from self._feed(chunk)
                self.offset += len(chunk)
        if self.depth == 0 and self.offset == 0:
            raise self._fail("the file is empty, not a CalMS21 JSON object")
        if self.depth > 0 or self.in_string:
            where = (
                f"inside sequence {self.seq_id!r} of group {self.group!r}"
                if self.depth >= 3
                else f"inside group {self.group!r}"
                if self.depth == 2
                else "before the end of the top object"
            )
            raise self._fail(f"the JSON is truncated: the file ends ({self.offset} bytes) {where}")
        if bytes(self.text).strip():
            raise self._fail("unexpected data after the end of the top-level JSON object")

    def _feed(self, chunk: bytes) -> Iterator[tuple[str, str, bytes, int]]:
        a = np.frombuffer(chunk, np.uint8)
        brackets, delta = self._structural_brackets(a)
        if not brackets.size:
            self.text += chunk
            return
        after = self.depth + np.cumsum(delta)
        if after.min() < 0:
            raise self._fail(
                f"unbalanced brackets: a closing bracket at byte {self.offset + int(brackets[np.argmax(after < 0)])} has no opening one"
            )
        events = np.flatnonzero(((delta > 0) & (after <= 3)) | ((delta < 0) & (after <= 2)))
        mark = 0
        for e in events.tolist():
            pos, depth = int(brackets[e]), int(after[e])
            where = self.offset + pos
            char = chunk[pos : pos + 1]
            if delta[e] > 0:
                if char != b"{":
                    level = ("top level", "annotator group", "sequence")[depth - 1]
                    raise self._fail(f"the {level} at byte {where} is a list, expected a JSON object")
                self.text += chunk[mark:pos]
                if depth == 1:
                    if self.closed or bytes(self.text).strip():
                        raise self._fail("the file does not start with a JSON object")
                elif depth == 2:
                    self.group = self._key(where)
                else:
                    self.seq_id = self._key(where)
                    self.seq_start = where
                self.text = bytearray()
                mark = pos
                if depth == 3:
                    continue
                mark = pos + 1
            else:
                self.text += chunk[mark : pos + 1]
                mark = pos + 1
                if depth == 2:  # a sequence ends
                    raw = bytes(self.text)
                    self.text = bytearray()
                    yield self.group, self.seq_id, raw, self.seq_start
                    self.seq_id = None
                else:  # a group or the top object ends: only whitespace may precede its "}"
                    body = bytes(self.text[:-1]).strip()
                    if body:
                        raise self._fail(f"unexpected content {body[:60]!r} before byte {where}")
                    self.text = bytearray()
                    self.closed = depth == 0
        self.depth = int(after[-1])
        self.text += chunk[mark:]


# --------------------------------------------------------------------------------------------
# One sequence -> arrays
# --------------------------------------------------------------------------------------------


def _field_error(path: Path, seq_id: str, fld: str, problem: str) -> DataError:
    return DataError(f"{path}: sequence {seq_id!r}, field {fld!r}: {problem}", path=path, field=fld)


def _numeric(path: Path, seq_id: str, obj: dict, fld: str, tail: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(obj[fld], dtype=np.float32)
    except KeyError:
        raise _field_error(path, seq_id, fld, "missing") from None
    except (ValueError, TypeError) as err:
        raise _field_error(path, seq_id, fld, f"not a regular array of numbers ({err})") from None
    dims = "".join(f"[{d}]" for d in tail)
    if array.ndim != 1 + len(tail) or array.shape[1:] != tail:
        raise _field_error(path, seq_id, fld, f"expected shape [T]{dims}, got {list(array.shape)}")
    return array


def parse_vocab(path: Path, seq_id: str, metadata: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Class names (as spelled in the file, whitespace cleaned) and their ids, sorted by id, from ``metadata.vocab``.

    Ids must be distinct non-negative integers; they need not be 0..C-1 (the task-3 vocab
    layout is unverified), so annotations are mapped through the ids, never used as columns.
    """
    if not isinstance(metadata, dict) or not isinstance(metadata.get("vocab"), dict) or not metadata["vocab"]:
        raise _field_error(path, seq_id, "metadata.vocab", "missing or not a {name: id} object")
    vocab = metadata["vocab"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vocab.values()):
        raise _field_error(path, seq_id, "metadata.vocab", f"ids must be non-negative integers, got {vocab}")
    if len(set(vocab.values())) != len(vocab):
        raise _field_error(path, seq_id, "metadata.vocab", f"two behaviors share an id: {vocab}")
    items = sorted(vocab.items(), key=lambda kv: kv[1])
    names = tuple(clean_name(name) for name, _ in items)  # the file's spelling, whitespace cleaned
    try:
        name_lookup(names)
    except ValueError as err:
        raise _field_error(path, seq_id, "metadata.vocab", str(err)) from None
    return names, tuple(i for _, i in items)


def parse_sequence(path: Path, group: str, seq_id: str, raw: bytes | dict, offset: int = 0) -> CalMS21Sequence:
    """Validate one sequence (raw JSON bytes or decoded object) and convert it to arrays."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            pos = getattr(err, "pos", 0)
            raise DataError(
                f"{path}: sequence {seq_id!r} is not valid JSON near byte {offset + pos} ({err})", path=path
            ) from None
    else:
        obj = raw
    if not isinstance(obj, dict):
        raise DataError(f"{path}: sequence {seq_id!r} is not a JSON object", path=path)
    keypoints = _numeric(path, seq_id, obj, "keypoints", (2, 2, 7))
    n_frames = len(keypoints)
    points = np.ascontiguousarray(keypoints.transpose(0, 1, 3, 2))  # [T, mouse, part, xy]
    del keypoints
    scores = _numeric(path, seq_id, obj, "scores", (2, 7)) if "scores" in obj else None
    if scores is not None and len(scores) != n_frames:
        raise _field_error(path, seq_id, "scores", f"has {len(scores)} frames but keypoints has {n_frames}")
    annotations, classes = None, ()
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if "annotations" in obj:
        classes, vocab_ids = parse_vocab(path, seq_id, obj.get("metadata"))
        raw_ids = obj["annotations"]
        if not isinstance(raw_ids, list):
            raise _field_error(path, seq_id, "annotations", "expected a list of class ids")
        if len(raw_ids) != n_frames:
            raise _field_error(
                path,
                seq_id,
                "annotations",
                f"has {len(raw_ids)} frames but keypoints has {n_frames} (lengths must agree)",
            )
        try:
            ids = np.asarray(raw_ids, dtype=np.float64)
        except (ValueError, TypeError):
            raise _field_error(path, seq_id, "annotations", "expected integer class ids") from None
        if ids.ndim != 1 or not np.all(ids == np.round(ids)):
            raise _field_error(path, seq_id, "annotations", "expected a flat list of integer class ids")
        known = np.asarray(vocab_ids, np.float64)
        bad = ~np.isin(ids, known)
        if bad.any():
            raise _field_error(
                path,
                seq_id,
                "annotations",
                f"class id {int(ids[bad][0])} at frame {int(np.flatnonzero(bad)[0])} is not in metadata.vocab "
                f"{dict(zip(classes, vocab_ids))}",
            )
        annotations = np.searchsorted(known, ids).astype(np.int64)  # vocab id -> column (ids sorted)
    meta = {"group": group, "seq_id": seq_id}
    if "annotator-id" in metadata:
        meta["annotator_id"] = metadata["annotator-id"]
    return CalMS21Sequence(group, seq_id, points, scores, annotations, classes, meta)


def iter_calms21_file(path: str | Path) -> Iterator[CalMS21Sequence | DataError]:
    """Stream the sequences of one JSON file, one decoded at a time.

    Yields a `CalMS21Sequence`, or a `DataError` for a sequence that is damaged (the
    scan goes on). A damaged file structure (e.g. truncation) raises `DataError` after
    the complete sequences before it were yielded.
    """
    path = Path(path)
    for group, seq_id, raw, offset in _Scanner(path):
        try:
            yield parse_sequence(path, group, seq_id, raw, offset)
        except DataError as err:
            yield err


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def _source_key(path: Path) -> dict:
    st = path.stat()
    return {"version": _CACHE_VERSION, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _cache_candidates(path: Path, cache: bool | str | Path) -> list[Path]:
    if cache is False or cache is None:
        return []
    if cache is not True:
        folder = Path(cache)
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        return [folder / f"{path.name}.{digest}{CACHE_SUFFIX}"]
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    user = Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "vpbehavior")) / "calms21"
    return [path.with_name(path.name + CACHE_SUFFIX), user / f"{path.name}.{digest}{CACHE_SUFFIX}"]


def _read_cache(cache_file: Path, key: dict) -> list[CalMS21Sequence] | None:
    try:
        with np.load(cache_file, allow_pickle=False) as npz:
            index = json.loads(str(npz["index"]))
            if index.get("source") != key:
                return None
            out = []
            for i, entry in enumerate(index["sequences"]):
                out.append(
                    CalMS21Sequence(
                        entry["group"],
                        entry["seq_id"],
                        npz[f"{i}_points"],
                        npz[f"{i}_scores"] if entry["has_scores"] else None,
                        npz[f"{i}_annotations"] if entry["has_annotations"] else None,
                        tuple(entry["classes"]),
                        entry["metadata"],
                    )
                )
            return out
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, stale or damaged cache: parse the JSON again


def _write_cache(cache_file: Path, key: dict, sequences: list[CalMS21Sequence]) -> None:
    index = {"source": key, "sequences": []}
    arrays: dict[str, np.ndarray] = {}
    for i, seq in enumerate(sequences):
        index["sequences"].append(
            {
                "group": seq.group,
                "seq_id": seq.seq_id,
                "classes": list(seq.classes),
                "metadata": seq.metadata,
                "has_scores": seq.scores is not None,
                "has_annotations": seq.annotations is not None,
            }
        )
        arrays[f"{i}_points"] = seq.points
        if seq.scores is not None:
            arrays[f"{i}_scores"] = seq.scores
        if seq.annotations is not None:
            arrays[f"{i}_annotations"] = seq.annotations
    arrays["index"] = np.array(json.dumps(index))
    with atomic_output(cache_file) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def read_calms21_file(
    path: str | Path, cache: bool | str | Path = True
) -> tuple[list[CalMS21Sequence], list[LoadFailure]]:
    """All sequences of one CalMS21 JSON file, plus the damaged ones as failures.

    Parameters
    ----------
    path
        A ``calms21_*.json`` file.
    cache
        True: use / write ``<file>.vpbehavior-cache.npz`` next to it (or under
        ``$VPBEHAVIOR_CACHE`` / ``~/.cache/vpbehavior`` when that folder is read-only);
        a folder: keep cache files there; False: always parse the JSON.

    Returns
    -------
    (sequences, failures)
        A file that is damaged as a whole (empty, truncated, not CalMS21) gives the
        sequences read before the damage plus one failure naming the file and the problem.
        No cache is written for a file with failures.
    """
    path = Path(path)
    key = _source_key(path)
    candidates = _cache_candidates(path, cache)
    for cache_file in candidates:
        if cache_file.is_file():
            cached = _read_cache(cache_file, key)
            if cached is not None:
                return cached, []
    sequences: list[CalMS21Sequence] = []
    failures: list[LoadFailure] = []
    try:
        for item in iter_calms21_file(path):
            if isinstance(item, DataError):
                failures.append(LoadFailure(path, str(item)))
            else:
                sequences.append(item)
    except INPUT_ERRORS as err:
        failures.append(LoadFailure(path, str(err)))
    if not failures and _source_key(path) == key:
        for cache_file in candidates:
            try:
                _write_cache(cache_file, key, sequences)
                break
            except OSError:
                continue  # read-only folder: try the next place
    return sequences, failures


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _split_of(path: Path, seq_id: str) -> str | None:
    name = path.name.lower()
    if "unlabeled" in name:
        return "unlabeled"
    match = re.search(r"(?:^|_)(train|test|val|validation)(?:_|\.|$)", name)
    if match:
        return "val" if match.group(1) == "validation" else match.group(1)
    parts = seq_id.split("/")
    if len(parts) >= 2 and parts[1] in ("train", "test", "val"):
        return parts[1]
    return None


def _task_of(path: Path, seq_id: str) -> str | None:
    match = re.search(r"task(\d)", path.name.lower()) or re.match(r"task(\d)/", seq_id)
    if match:
        return f"task{match.group(1)}"
    return "unlabeled" if "unlabeled" in path.name.lower() or seq_id.startswith("unlabeled") else None


def _find_video(seq: CalMS21Sequence, split: str | None, task: str | None, videos: dict[str, list[Path]]) -> list[Path]:
    if task != "task1":  # only task 1 comes with videos (§1.6)
        return []
    base = seq.seq_id.rstrip("/").split("/")[-1].lower()
    candidates = list(videos.get(base, []))
    mouse = re.match(r"(mouse\d+)", base)
    if not candidates and mouse:
        candidates = list(videos.get(mouse.group(1), []))
        if len(candidates) > 1 and split:
            in_split = [p for p in candidates if split in (q.lower() for q in p.parts)]
            candidates = in_split or candidates
    return candidates


def _to_recording(
    seq: CalMS21Sequence, path: Path, name: str, background: str | None, video_index: dict | None, require: bool
) -> Recording:
    split, task = _split_of(path, seq.seq_id), _task_of(path, seq.seq_id)
    pose = Pose(seq.points, BODYPARTS, SUBJECTS, seq.scores)
    labels = None
    if seq.annotations is not None:
        ids = np.full((seq.n_frames, len(SUBJECTS)), -1, np.int64)
        ids[:, 0] = seq.annotations  # the resident's behavior; the intruder is not annotated
        bg = match_name(background, seq.classes) if background is not None else None
        resident, intruder = SUBJECTS
        targets = {(resident, c): intruder for c in seq.classes if c != bg}  # directed at the intruder
        labels = BehaviorLabels.from_single_label(ids, seq.classes, SUBJECTS, background=bg, targets=targets)
    video, fps = None, FPS
    metadata = {**seq.metadata, "source": str(path), "task": task}
    if video_index is not None:
        found = _find_video(seq, split, task, video_index)
        if len(found) > 1:
            raise DataError(
                f"{path}: sequence {seq.seq_id!r} matches several videos: {[str(p) for p in found]}", path=path
            )
        if found:
            info = probe_attached_video(found[0], seq.n_frames, f"sequence {seq.seq_id!r} ({path.name})")
            video, fps = found[0], float(info.get("fps") or FPS)
        elif require and task == "task1":
            raise MissingFileError(
                f"{path}: no video found for sequence {seq.seq_id!r} (looked for "
                f"{seq.seq_id.split('/')[-1]}.* or its mouse id under the dataset folder)",
                path=path,
            )
    return Recording(name, video, seq.n_frames, fps, SUBJECTS, pose, None, labels, metadata, split)


def _is_calms21_json(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return False
    return bool(_TOP_KEY.match(head) or _NESTED_SEQUENCE.match(head))


def _dataset_files(folder: Path, max_depth: int = 3, limit: int | None = None) -> Iterator[Path]:
    """CalMS21 JSON files under ``folder`` (by name or by content), at most ``limit`` examined."""
    examined = 0
    for depth in range(max_depth + 1):
        for p in sorted(folder.glob("/".join(["*"] * depth + ["*.json"]))):
            if any(part.startswith(".") for part in p.relative_to(folder).parts) or p.name.endswith(".behavior.json"):
                continue
            examined += 1
            if limit is not None and examined > limit:
                return
            if p.name.lower().startswith("calms21_") or _is_calms21_json(p):
                yield p


def load_calms21(
    path: str | Path,
    cache: bool | str | Path = True,
    videos: str | bool = "auto",
    video_dir: str | Path | None = None,
    background: str | None = "other",
    progress=None,
) -> Dataset:
    """Load CalMS21: the dataset root, a task folder or one JSON file.

    Parameters
    ----------
    path
        Root (with ``task*_*/`` and ``unlabeled_videos/``), one of those folders, or a
        ``calms21_*.json`` file.
    cache
        See `read_calms21_file`.
    videos
        "auto": attach task-1 videos when found (an unreadable or dangling one is a failure
        of that recording); "require": a task-1 sequence without a video is a failure;
        "skip": do not look for videos.
    video_dir
        Where the videos are; default: the loaded folder (or the file's folder), plus the
        dataset root when that folder is a ``task*`` folder.
    background
        The vocabulary entry marked as background (CalMS21: "other"), matched by
        `vpbehavior.core.names.name_key` (case and spacing ignored).
    progress
        The `vpbehavior.reporting` progress hook (True: a terminal bar), one step per file.

    Returns
    -------
    Dataset
        One recording per sequence; damaged files and sequences are in ``failures``;
        ``test_split`` is "test" when test sequences were loaded.
    """
    path = Path(path)
    mode = check_video_mode(videos)
    files = [path] if path.is_file() else list(_dataset_files(path))
    if not files and path.is_dir():
        raise FormatError(f"{path}: no CalMS21 JSON files (calms21_*.json) found", path=path)
    video_index = None
    if mode != "skip":
        base = path if path.is_dir() else path.parent
        roots = [base, base.parent] if base.name.lower().startswith("task") else [base]  # a task folder: its root
        video_index = index_videos([Path(video_dir)] if video_dir else roots)
    recordings: list[Recording] = []
    failures: list[LoadFailure] = []
    names: set[str] = set()
    for file in track(files, progress, "CalMS21", unit="file"):
        sequences, file_failures = read_calms21_file(file, cache=cache)
        failures += file_failures
        for seq in sequences:
            name = seq.seq_id if seq.seq_id not in names else f"{seq.seq_id}@{seq.group}"
            rec = try_load(failures, file, _to_recording, seq, file, name, background, video_index, mode == "require")
            if rec is not None:
                names.add(name)
                recordings.append(rec)
    test_split = "test" if any(r.split == "test" for r in recordings) else None
    return Dataset(recordings, "calms21", path, failures, test_split=test_split)


def detect_calms21(path: Path) -> float:
    """How sure we are that ``path`` is CalMS21 (file name and the JSON's first bytes)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() != ".json":
            return 0.0
        content = _is_calms21_json(path)
        named = path.name.lower().startswith("calms21_")
        return 0.95 if content and named else 0.85 if content else 0.6 if named else 0.0
    if path.is_dir():
        files = list(_dataset_files(path, max_depth=2, limit=64))
        if any(_is_calms21_json(f) for f in files):
            return 0.9
        return 0.5 if files else 0.0
    return 0.0


register_format("calms21", detect_calms21, load_calms21, "CalMS21 mouse social behavior JSON (tasks 1-3, unlabeled)")
