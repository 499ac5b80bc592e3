"""KABR (Kenyan Animal Behavior Recognition) and the kabr-tools intermediate files.

Released layout (Hugging Face ``imageomics/KABR``)::

    KABR/annotation/classes.json          {"Walk": 0, "Graze": 1, ...}  name -> label index
    KABR/annotation/{train,val}.csv       space-separated frame lists (Charades format)
    KABR/dataset/image/<miniscene>/<n>.jpg

The CSV header is ``original_vido_id video_id frame_id path labels`` (the ``vido`` typo is
real); columns are found by name. ``frame_id`` is 1-based and becomes 0-based here.
``labels`` is a comma list of class indices (one per frame in KABR; empty = not annotated),
mapped to names through ``classes.json`` by name, never by a position in code (the names
keep KABR's spelling, e.g. "Head Up"). Each mini-scene (one tracked animal) is one
`Recording` whose video is its JPEG folder and whose single subject is `FRAME_LEVEL`
(``"all"``). KABR publishes train and val only and its benchmark reports on val, so the
dataset's ``test_split`` is "val" (or "test" when a test frame list exists).

Also parsed: kabr-tools CVAT track XML (`read_cvat_tracks`), CVAT behavior XML per
mini-scene (`read_cvat_actions`) and ``miniscene2behavior`` prediction CSVs
(`read_miniscene2behavior`).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vpbehavior.core import (
    FRAME_LEVEL,
    NEGATIVE,
    POSITIVE,
    UNANNOTATED,
    BehaviorLabels,
    DataError,
    Dataset,
    FormatError,
    LoadFailure,
    MissingFileError,
    Recording,
)
from vpbehavior.core.errors import INPUT_ERRORS
from vpbehavior.core.names import name_key, name_lookup
from vpbehavior.io._sidecars import clean_name, try_load
from vpbehavior.io.registry import register_format
from vpbehavior.reporting import track as track_progress
from vpbehavior.reporting import warn_data

FORMAT = "kabr"
#: kabr-tools writes mini-scenes at 29.97 fps; the released JPEG folders carry no rate.
MINISCENE_FPS = 29.97
SPECIES_BY_PREFIX = {"ZG": "grevys_zebra", "ZP": "plains_zebra", "G": "giraffe"}
_ID_COLUMNS = ("original_vido_id", "original_video_id")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


# ----------------------------------------------------------------------------- vocabulary
def read_classes(path: str | Path) -> tuple[str, ...]:
    """Class names ordered by their label index, from a ``classes.json`` (name -> index)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingFileError(f"{path}: classes.json not found", path=path) from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: invalid JSON at line {err.lineno} column {err.colno} ({err.msg})", path=path) from err
    if not isinstance(obj, dict) or not obj:
        raise DataError(f"{path}: expected a JSON object mapping behavior name -> label index", path=path)
    by_index: dict[int, str] = {}
    for name, index in obj.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise DataError(f"{path}: label index of {name!r} must be a non-negative integer, got {index!r}", path=path)
        if index in by_index:
            raise DataError(f"{path}: label index {index} used by both {by_index[index]!r} and {name!r}", path=path)
        by_index[index] = clean_name(name)
    try:
        name_lookup(by_index.values())
    except ValueError as err:
        raise DataError(f"{path}: {err}", path=path) from None
    if sorted(by_index) != list(range(len(by_index))):
        raise DataError(f"{path}: label indices must be 0..{len(by_index) - 1}, got {sorted(by_index)}", path=path)
    return tuple(by_index[i] for i in range(len(by_index)))


def species_of(miniscene_id: str) -> str | None:
    """Species from a mini-scene id prefix (G giraffe, ZP plains zebra, ZG Grevy's zebra)."""
    for prefix in sorted(SPECIES_BY_PREFIX, key=len, reverse=True):
        if miniscene_id.startswith(prefix):
            return SPECIES_BY_PREFIX[prefix]
    return None


# ----------------------------------------------------------------------------- frame list CSV
@dataclass
class MiniScene:
    """The rows of one mini-scene in a KABR frame list (frames 0-based)."""

    id: str
    video_id: int | None
    frames: np.ndarray  # 0-based frame indices
    paths: list[str]  # image paths relative to the image root
    labels: list[list[int]]  # label indices per row
    first_line: int


def read_frame_list(path: str | Path, errors: list[tuple[str | None, str]] | None = None) -> dict[str, MiniScene]:
    """Parse a KABR Charades-style frame list; rows grouped by mini-scene in file order.

    Parameters
    ----------
    path
        ``train.csv`` / ``val.csv``.
    errors
        When given, a bad row does not stop the parse: ``(mini-scene id or None, message)``
        is appended and that mini-scene is left out (the others load). Without it, the
        first bad row raises `DataError`. A missing header always raises.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: KABR frame list not found", path=path)
    scenes: dict[str, dict] = {}
    bad: dict[str | None, str] = {}

    def fail(scene_id: str | None, message: str) -> None:
        if errors is None:
            raise DataError(message, path=path)
        bad.setdefault(scene_id, message)
        if scene_id is None:
            errors.append((None, message))

    with open(path, encoding="utf-8-sig") as fh:
        header_line = fh.readline()
        header = header_line.split()
        if not header:
            raise DataError(
                f"{path}: empty file, expected the header 'original_vido_id video_id frame_id path labels'", path=path
            )
        cols = {name: i for i, name in enumerate(header)}
        id_col = next((cols[c] for c in _ID_COLUMNS if c in cols), None)
        missing = [
            c
            for c, ok in (
                ("original_vido_id", id_col is not None),
                ("frame_id", "frame_id" in cols),
                ("labels", "labels" in cols),
            )
            if not ok
        ]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {missing} in header {header} "
                "(expected 'original_vido_id video_id frame_id path labels')",
                path=path,
            )
        frame_col, label_col = cols["frame_id"], cols["labels"]
        path_col, vid_col = cols.get("path"), cols.get("video_id")
        for lineno, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            cells = line.split(" ") if line.count(" ") >= len(header) - 1 else line.split()
            cells = [c.strip() for c in cells]
            if len(cells) < len(header):
                if len(cells) == len(header) - 1 and label_col == len(header) - 1:
                    cells.append("")  # empty label list at the end of the line
                else:
                    scene_id = cells[id_col] if id_col < len(cells) and cells[id_col] else None
                    fail(scene_id, f"{path}: line {lineno}: expected {len(header)} fields {header}, got {cells}")
                    continue
            scene_id = cells[id_col]
            if scene_id in bad:
                continue
            try:
                frame = int(cells[frame_col])
            except ValueError:
                fail(scene_id, f"{path}: line {lineno}: field 'frame_id' {cells[frame_col]!r} is not an integer")
                continue
            if frame < 1:
                fail(scene_id, f"{path}: line {lineno}: field 'frame_id' {frame} < 1 (KABR frames are 1-based)")
                continue
            text = cells[label_col].strip('"')
            try:
                labels = [int(x) for x in text.split(",") if x.strip()]
            except ValueError:
                fail(
                    scene_id,
                    f"{path}: line {lineno}: field 'labels' {cells[label_col]!r} is not a list of class indices",
                )
                continue
            entry = scenes.setdefault(
                scene_id, {"video_id": None, "frames": [], "paths": [], "labels": [], "line": lineno, "seen": set()}
            )
            if frame in entry["seen"]:
                fail(scene_id, f"{path}: line {lineno}: mini-scene {scene_id} lists frame_id {frame} twice")
                continue
            entry["seen"].add(frame)
            if vid_col is not None and entry["video_id"] is None:
                try:
                    entry["video_id"] = int(cells[vid_col])
                except ValueError:
                    fail(scene_id, f"{path}: line {lineno}: field 'video_id' {cells[vid_col]!r} is not an integer")
                    continue
            entry["frames"].append(frame - 1)
            entry["paths"].append(cells[path_col] if path_col is not None else f"{scene_id}/{frame}.jpg")
            entry["labels"].append(labels)
    if errors is not None:
        errors += [(k, v) for k, v in bad.items() if k is not None]
    return {
        k: MiniScene(k, v["video_id"], np.asarray(v["frames"], np.int64), v["paths"], v["labels"], v["line"])
        for k, v in scenes.items()
        if k not in bad
    }


def _scene_labels(scene: MiniScene, classes: tuple[str, ...], n_frames: int, source: Path) -> BehaviorLabels:
    values = np.full((n_frames, 1, len(classes)), UNANNOTATED, np.int8)
    for frame, labels in zip(scene.frames, scene.labels):
        bad = [x for x in labels if not 0 <= x < len(classes)]
        if bad:
            raise DataError(
                f"{source}: mini-scene {scene.id} frame {frame + 1}: label index {bad[0]} is not in "
                f"classes.json (indices 0..{len(classes) - 1})",
                path=source,
            )
        if labels:
            values[frame, 0] = NEGATIVE
            values[frame, 0, labels] = POSITIVE
    return BehaviorLabels(values, classes, (FRAME_LEVEL,))


def _image_root(csv_path: Path, root: Path | None) -> Path | None:
    candidates = []
    for base in filter(None, (root, csv_path.parent, csv_path.parent.parent)):
        candidates += [base / "dataset" / "image", base / "image", base / "images"]
    return next((c for c in candidates if c.is_dir()), None)


def _find_classes(csv_path: Path, root: Path | None) -> Path:
    for base in filter(None, (csv_path.parent, root, root / "annotation" if root else None, csv_path.parent.parent)):
        if (base / "classes.json").is_file():
            return base / "classes.json"
    raise MissingFileError(
        f"{csv_path}: no classes.json next to it or in the dataset's annotation/ folder; "
        "KABR label indices cannot be named without it",
        path=csv_path.parent / "classes.json",
    )


def _split_of(csv_path: Path) -> str | None:
    stem = csv_path.stem.lower()
    for split in ("train", "val", "test"):
        if stem == split or stem.startswith(split + "_") or stem.startswith(split + "."):
            return split
    return None


def _scene_folder(image_root: Path, scene_id: str, listing: dict) -> Path | None:
    """``<image root>/<id>``, or ``<image root>/<group>/<id>`` (archives unpacked per species / split)."""
    direct = image_root / scene_id
    if direct.is_dir():
        return direct
    if "__nested__" not in listing:
        nested: dict[str, Path] = {}
        for group in sorted(image_root.iterdir()):
            if group.is_dir() and not group.name.startswith("."):
                for sub in group.iterdir():
                    if sub.is_dir():
                        nested.setdefault(sub.name, sub)
        listing["__nested__"] = nested
    return listing["__nested__"].get(scene_id)


def _int_stem(name: str) -> int | None:
    stem = Path(name).stem
    return int(stem) if stem.isdigit() else None


def _scene_recording(
    scene: MiniScene, classes, image_root: Path | None, listing: dict, csv_path: Path, split: str | None, fps: float
) -> Recording:
    n_frames = int(scene.frames.max()) + 1
    labels = _scene_labels(scene, classes, n_frames, csv_path)
    video = None
    if image_root is not None:
        folder = _scene_folder(image_root, scene.id, listing)
        if folder is None:
            raise MissingFileError(
                f"{csv_path}: line {scene.first_line}: mini-scene {scene.id}: image folder "
                f"{image_root / scene.id} not found",
                path=image_root / scene.id,
            )
        present = set(os.listdir(folder))
        numbered = {n for n in map(_int_stem, present) if n is not None}  # 1.jpg or 000001.jpg
        for frame, rel in zip(scene.frames, scene.paths):
            rel_path = Path(rel)
            if rel_path.name in present or (frame + 1) in numbered:
                continue
            if not ((image_root / rel_path).is_file() or (folder / rel_path.name).is_file()):
                raise MissingFileError(
                    f"{csv_path}: mini-scene {scene.id} frame_id {frame + 1}: image {rel} not found in {folder}",
                    path=folder / rel_path.name,
                )
        n_images = sum(1 for f in present if Path(f).suffix.lower() in _IMAGE_SUFFIXES)
        if n_images > n_frames:  # images after the last labelled frame: not annotated
            pad = np.full((n_images - n_frames, 1, len(classes)), UNANNOTATED, np.int8)
            labels = labels.with_values(np.concatenate([labels.values, pad]))
            n_frames = n_images
        video = folder
    return Recording(
        name=scene.id,
        video=video,
        n_frames=n_frames,
        fps=fps,
        subjects=(FRAME_LEVEL,),
        labels=labels,
        split=split,
        metadata={"source": str(csv_path), "miniscene_id": scene.id, "video_id": scene.video_id},
    )


def load_kabr(
    path: str | Path,
    fps: float = MINISCENE_FPS,
    classes_json: str | Path | None = None,
    splits: tuple[str, ...] | None = None,
    progress=None,
) -> Dataset:
    """Load KABR from the dataset root, its ``annotation/`` folder, or one frame-list CSV.

    Parameters
    ----------
    path
        ``KABR/``, ``KABR/annotation/``, ``train.csv`` / ``val.csv``, or a kabr-tools
        ``miniscene2behavior`` CSV or tracks XML.
    fps
        Frame rate given to the mini-scenes (their JPEG folders carry none; kabr-tools
        writes mini-scenes at 29.97 fps).
    classes_json
        Vocabulary file, when it is not next to the CSVs.
    splits
        Load only these splits (default: every frame list found).
    progress
        The `vpbehavior.reporting` progress hook (True: a terminal bar), one step per mini-scene.

    Mini-scenes whose image folder or frames are missing (when the image folder exists),
    or whose labels are invalid, are listed in ``Dataset.failures``. Without any image
    folder the labels load with ``video=None`` (a `DataWarning` says so). A missing or
    unreadable ``classes.json`` or frame-list header is fatal. ``test_split`` is "val"
    (KABR's benchmark split), or "test" when a test frame list was loaded.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".xml":
        return _tracks_dataset(path)
    if path.is_file() and _is_prediction_csv(path):
        return _predictions_dataset(path, fps, classes_json)
    root, csvs = _frame_lists(path)
    if splits is not None:
        csvs = [c for c in csvs if _split_of(c) in splits]
    if not csvs:
        raise FormatError(f"{path}: no KABR frame list (train.csv / val.csv) found", path=path)
    classes_path = Path(classes_json) if classes_json else _find_classes(csvs[0], root)
    classes = read_classes(classes_path)
    recordings: list[Recording] = []
    failures: list[LoadFailure] = []
    for csv_path in csvs:
        errors: list[tuple[str | None, str]] = []
        try:
            scenes = read_frame_list(csv_path, errors)
        except INPUT_ERRORS as err:  # unreadable header: this frame list fails, the others load
            if len(csvs) == 1:
                raise
            failures.append(LoadFailure(csv_path, str(err)))
            continue
        failures += [LoadFailure(csv_path, message) for _, message in errors]
        image_root = _image_root(csv_path, root)
        if image_root is None:
            warn_data(f"{csv_path}: no image folder (dataset/image) found; labels loaded without video", stacklevel=2)
        listing: dict = {}
        for scene in track_progress(scenes.values(), progress, f"KABR {csv_path.name}", unit="mini-scene"):
            rec = try_load(
                failures,
                image_root / scene.id if image_root else csv_path,
                _scene_recording,
                scene,
                classes,
                image_root,
                listing,
                csv_path,
                _split_of(csv_path),
                fps,
            )
            if rec is not None:
                recordings.append(rec)
    found_splits = {_split_of(c) for c in csvs}
    return Dataset(
        recordings,
        FORMAT,
        root or path,
        failures,
        metadata={"classes_json": str(classes_path), "frame_lists": [str(c) for c in csvs]},
        # KABR publishes train and val only; its benchmark reports on val.
        test_split="test" if "test" in found_splits else "val",
    )


def _frame_lists(path: Path) -> tuple[Path | None, list[Path]]:
    if path.is_file():
        root = path.parent.parent if path.parent.name == "annotation" else None
        return root, [path]
    if (path / "annotation").is_dir():
        root, ann = path, path / "annotation"
    elif path.name == "annotation":
        root, ann = path.parent, path
    else:
        root, ann = path, path
    csvs = sorted(c for c in ann.glob("*.csv") if _is_frame_list(c))
    order = {"train": 0, "val": 1, "test": 2}
    return root, sorted(csvs, key=lambda c: (order.get(_split_of(c) or "", 3), c.name))


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            return fh.readline()
    except OSError:
        return ""


def _is_frame_list(path: Path) -> bool:
    cells = _first_line(path).split()
    return bool(cells) and any(c in cells for c in _ID_COLUMNS) and "frame_id" in cells


def _is_prediction_csv(path: Path) -> bool:
    return _first_line(path).split() == ["video", "track", "frame", "label"]


# ----------------------------------------------------------------------------- kabr-tools files
@dataclass
class CvatTrack:
    """One CVAT track: per-frame boxes (x1, y1, x2, y2) in full-frame pixels."""

    id: str
    label: str
    frames: np.ndarray  # 0-based frame indices
    boxes: np.ndarray  # [N, 4]
    outside: np.ndarray  # [N] bool
    occluded: np.ndarray  # [N] bool


def _parse_xml(path: Path) -> ET.Element:
    if not path.is_file():
        raise MissingFileError(f"{path}: XML file not found", path=path)
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise DataError(f"{path}: malformed XML ({err})", path=path) from err


def _attr(path: Path, el: ET.Element, name: str, cast=float):
    value = el.get(name)
    if value is None:
        raise DataError(f"{path}: <{el.tag}> without attribute {name!r}", path=path)
    try:
        return cast(value)
    except ValueError:
        raise DataError(f"{path}: <{el.tag} {name}={value!r}> is not a {cast.__name__}", path=path) from None


def read_cvat_tracks(path: str | Path) -> list[CvatTrack]:
    """Tracks of a kabr-tools ``metadata/<video>_tracks.xml`` (CVAT for video 1.1)."""
    path = Path(path)
    tracks = []
    for track in _parse_xml(path).iter("track"):
        boxes = track.findall("box")
        frames = np.array([_attr(path, b, "frame", int) for b in boxes], np.int64)
        xyxy = np.array([[_attr(path, b, k) for k in ("xtl", "ytl", "xbr", "ybr")] for b in boxes], np.float32).reshape(
            -1, 4
        )
        outside = np.array([b.get("outside", "0") == "1" for b in boxes], bool)
        occluded = np.array([b.get("occluded", "0") == "1" for b in boxes], bool)
        tracks.append(
            CvatTrack(track.get("id", str(len(tracks))), track.get("label", ""), frames, xyxy, outside, occluded)
        )
    return tracks


def tracks_to_boxes(tracks: list[CvatTrack], n_frames: int | None = None) -> tuple[list[str], np.ndarray]:
    """Subjects ``track<id>`` and boxes ``[T, S, 4]`` (NaN where absent or outside)."""
    if n_frames is None:
        n_frames = max((int(t.frames.max()) + 1 for t in tracks if len(t.frames)), default=0)
    boxes = np.full((n_frames, len(tracks), 4), np.nan, np.float32)
    for s, t in enumerate(tracks):
        keep = ~t.outside & (t.frames < n_frames)
        boxes[t.frames[keep], s] = t.boxes[keep]
    return [f"track{t.id}" for t in tracks], boxes


def _tracks_dataset(path: Path) -> Dataset:
    tracks = read_cvat_tracks(path)
    subjects, boxes = tracks_to_boxes(tracks)
    name = path.stem[: -len("_tracks")] if path.stem.endswith("_tracks") else path.stem
    rec = Recording(
        name=name,
        video=None,
        n_frames=boxes.shape[0],
        fps=None,
        subjects=subjects,
        boxes=boxes,
        metadata={"source": str(path), "track_labels": {f"track{t.id}": t.label for t in tracks}},
    )
    return Dataset([rec], FORMAT, path)


def read_cvat_actions(path: str | Path, old2new: dict[str, str] | None = None) -> dict[int, str]:
    """Behavior per frame (0-based) from a kabr-tools CVAT behavior XML of one mini-scene.

    Points with ``outside="1"`` are skipped; raw CVAT behavior names are mapped through
    ``old2new`` (``ethogram/old2new.json``) when given, matched by
    `vpbehavior.core.names.name_key` (case and spacing ignored).
    """
    path = Path(path)
    mapping = {name_key(k): v for k, v in (old2new or {}).items()}
    out: dict[int, str] = {}
    for point in _parse_xml(path).iter("points"):
        if point.get("outside", "0") == "1":
            continue
        frame = _attr(path, point, "frame", int)
        attr = next((a for a in point.iter("attribute") if a.get("name") == "Behavior"), None)
        if attr is None or not (attr.text or "").strip():
            raise DataError(f"{path}: <points frame={frame}> has no Behavior attribute", path=path)
        name = clean_name(attr.text)
        out[frame] = mapping.get(name_key(name), name)
    return out


def read_miniscene2behavior(path: str | Path, classes: tuple[str, ...]) -> dict[tuple[str, str], BehaviorLabels]:
    """kabr-tools ``miniscene2behavior`` predictions (``video track frame label``, 0-based frames).

    Returns labels per ``(video, track)``; frames absent from the file are not annotated.
    """
    path = Path(path)
    if not _is_prediction_csv(path):
        raise DataError(
            f"{path}: expected the header 'video track frame label', got {_first_line(path).split()}", path=path
        )
    rows: dict[tuple[str, str], list[tuple[int, int]]] = {}
    with open(path, encoding="utf-8-sig") as fh:
        fh.readline()
        for lineno, line in enumerate(fh, start=2):
            cells = line.split()
            if not cells:
                continue
            if len(cells) != 4:
                raise DataError(
                    f"{path}: line {lineno}: expected 4 fields (video track frame label), got {cells}", path=path
                )
            try:
                frame, label = int(cells[2]), int(cells[3])
            except ValueError:
                raise DataError(
                    f"{path}: line {lineno}: frame and label must be integers, got {cells[2:]}", path=path
                ) from None
            if not 0 <= label < len(classes) or frame < 0:
                raise DataError(
                    f"{path}: line {lineno}: label {label} / frame {frame} out of range ({len(classes)} classes)",
                    path=path,
                )
            rows.setdefault((cells[0], cells[1]), []).append((frame, label))
    out = {}
    for key, items in rows.items():
        arr = np.asarray(items, np.int64)
        ids = np.full(int(arr[:, 0].max()) + 1, -1, np.int64)
        ids[arr[:, 0]] = arr[:, 1]
        out[key] = BehaviorLabels.from_single_label(ids, classes)
    return out


def _predictions_dataset(path: Path, fps: float, classes_json) -> Dataset:
    classes_path = (
        Path(classes_json)
        if classes_json
        else next(
            (p for p in (path.parent / "classes.json", path.parent / "ethogram" / "classes.json") if p.is_file()), None
        )
    )
    if classes_path is None:
        raise MissingFileError(
            f"{path}: no classes.json next to it; pass classes_json=", path=path.parent / "classes.json"
        )
    classes = read_classes(classes_path)
    recs = [
        Recording(
            name=f"{video}/{track_id}",
            n_frames=lab.n_frames,
            fps=fps,
            labels=lab,
            metadata={"source": str(path), "video": video, "track": track_id},
        )
        for (video, track_id), lab in read_miniscene2behavior(path, classes).items()
    ]
    return Dataset(recs, FORMAT, path, metadata={"classes_json": str(classes_path)})


# ----------------------------------------------------------------------------- detection
def detect_kabr(path: Path) -> float:
    """How sure we are that ``path`` is KABR (root, annotation folder, frame list or kabr-tools file)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            if _is_frame_list(path):
                return 0.95
            if _is_prediction_csv(path):
                return 0.6
        if path.suffix.lower() == ".xml" and path.stem.endswith("_tracks"):
            return 0.5
        return 0.0
    if not path.is_dir():
        return 0.0
    ann = path / "annotation" if (path / "annotation").is_dir() else path
    if any(_is_frame_list(c) for c in ann.glob("*.csv")):
        if (ann / "classes.json").is_file():
            return 0.95
        from vpbehavior.io.video import VIDEO_SUFFIXES

        # Without classes.json a folder of videos that merely holds such a CSV is not KABR.
        has_videos = any(c.suffix.lower() in VIDEO_SUFFIXES for c in path.iterdir() if c.is_file())
        return 0.0 if has_videos else 0.8
    return 0.0


register_format(FORMAT, detect_kabr, load_kabr, "KABR mini-scene frame lists (Charades CSV + classes.json)")
