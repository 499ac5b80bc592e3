"""ChimpACT (Ma et al., NeurIPS 2023 D&B): chimpanzee boxes, identities, pose and behaviors.

Release layout::

    ChimpACT_release/videos_full/<clip>.mp4     25 fps
    ChimpACT_release/labels/<clip>.json         COCO-like, one file per clip
    ChimpACT_release/action_list.txt            AVA-style label map, ids 1..23

Per-clip JSON facts this loader relies on (see ``datasets/chimpact/README.md``):

* ``images[].file_name`` stem is a keyframe *block index* k; the video frame is ``10 * k``.
* ``annotations[]``: ``bbox`` pixel ``[x, y, w, h]`` (stored here as x1, y1, x2, y2),
  ``bbox_id`` identity (0-22 named chimps, 23 = unknown), ``behaviors`` 0-based ids
  (multi-label), ``keypoints`` 16 x (x, y, v) only when the list has length 48.
* Subjects are identities. Several unknown chimps in one keyframe get the slots
  ``unknown``, ``unknown_2``, ... in file order (unknown boxes cannot be linked over time).

Labels exist on keyframes only (other frames not annotated), and a chimp is present
(``Recording.presence``) in the frames where it has a box. ``propagate=True`` fills the
frames between keyframes with the rule of the official ``create_coco_format.py``: a box whose
identity is also in the next keyframe is linearly interpolated and takes the behaviors of the
nearer keyframe (offset <= 5: the current one, else the next); a box without a match in the
next keyframe (and every unknown box) is held for the 9 following frames with the current
keyframe's behaviors.

The processed AVA form (``annotations/action/{split}_action.csv``: no header, rows
``<split>/images/<clip>,frame,x1,y1,x2,y2,action_id,entity_id`` with normalized boxes and
1-based action ids) is read by `load_ava_csv`. Behavior names are those of ``action_list.txt``
(its own spelling). The dataset's ``test_split`` is "test" when test clips were loaded; the
indoor / outdoor test subsets are given by `test_subset`.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vpbehavior.core import (
    NEGATIVE,
    POSITIVE,
    UNANNOTATED,
    BehaviorLabels,
    DataError,
    Dataset,
    FormatError,
    LoadFailure,
    MissingFileError,
    Pose,
    Recording,
)
from vpbehavior.io._sidecars import clean_name, probe, try_load
from vpbehavior.io.registry import register_format
from vpbehavior.reporting import track, warn_data

FORMAT = "chimpact"
FPS = 25.0
KEYFRAME_STEP = 10
UNKNOWN_ID = 23
N_KEYPOINT_VALUES = 48

#: bbox_id -> name (ChimpACT ``tools/cal_vis_stat.py``); not stored in the label files.
IDENTITIES = (
    "Azibo",
    "Bambari",
    "Bangolo",
    "Corrie",
    "Dorien",
    "Fraukje",
    "Frodo",
    "Kara",
    "Kisha",
    "Kofi",
    "Lobo",
    "Lome",
    "Maja",
    "Makeni",
    "Natascha",
    "Ohini",
    "Riet",
    "Robert",
    "Sandra",
    "Swela",
    "Taï",
    "Ulla",
    "Youma",
    "unknown",
)
#: Used only when a file names none (``categories[0].keypoints`` / ``action_list.txt`` absent).
FALLBACK_KEYPOINTS = (
    "pelvis",
    "right_knee",
    "right_ankle",
    "left_knee",
    "left_ankle",
    "neck",
    "upper_lip",
    "lower_lip",
    "right_eye",
    "left_eye",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
)
FALLBACK_BEHAVIORS = (
    "moving",
    "climbing",
    "resting",
    "sleeping",
    "solitary object playing",
    "eating",
    "manipulating object",
    "grooming",
    "being groomed",
    "aggressing",
    "embracing",
    "begging",
    "being begged from",
    "taking object",
    "losing object",
    "carrying",
    "being carried",
    "nursing",
    "being nursed",
    "playing",
    "touching",
    "erection",
    "displaying",
)

_P = "Azibo_ObsChimp_"
VAL_CLIPS = frozenset(
    _P + c
    for c in (
        "2015_11_25_d_clip_23000_24000",
        "2015_11_26_a_clip_1000_2000",
        "2016_08_02_c_clip_32000_33000",
        "2017_02_27_a_clip_13000_14000",
        "2017_11_10_clip_7000_8000",
        "2017_11_10_clip_8000_9000",
        "2017_06_22_c_clip_46000_47000",
        "2017_06_22_c_clip_67000_68000",
        "2018_07_11_c_clip_0_1000",
        "2018_07_11_c_clip_1000_2000",
        "2018_07_11_c_clip_3000_4000",
        "2018_07_11_c_clip_6000_7000",
        "2018_07_11_c_clip_17000_18000",
        "2018_07_11_c_clip_18000_19000",
        "2018_08_06_a_clip_7000_8000",
    )
) | {"Azibo_ObsNatascha_2018_06_29_a_clip_15000_16000", "Azibo_ObsNatascha_2018_06_29_a_clip_16000_17000"}
TEST_OUTDOOR_CLIPS = frozenset(
    _P + c
    for c in (
        "2016_08_02_c_clip_33000_34000",
        "2018_07_11_c_clip_2000_3000",
        "2018_07_11_c_clip_8000_9000",
        "2018_07_11_c_clip_16000_17000",
        "2018_07_11_c_clip_19000_20000",
        "2018_08_06_a_clip_6000_7000",
        "2018_08_06_a_clip_8000_9000",
    )
)
TEST_CLIPS = (
    TEST_OUTDOOR_CLIPS
    | frozenset(
        _P + c
        for c in (
            "2015_11_25_d_clip_1000_2000",
            "2015_11_26_a_clip_0_1000",
            "2015_11_26_a_clip_2000_3000",
            "2016_08_15_b_clip_2000_3000",
            "2016_10_27_c_clip_0_1000",
            "2017_02_27_a_clip_14000_15000",
            "2017_11_10_clip_6000_7000",
            "2017_06_22_c_clip_44000_45000",
            "2017_06_22_c_clip_68000_69000",
            "2018_07_06_d_clip_0_696",
        )
    )
    | {"Azibo_ObsNatascha_2018_06_29_a_clip_14000_15000", "Azibo_ObsNatascha_2018_06_29_a_clip_17000_17712"}
)
_CLIP_RE = re.compile(r"_clip_(\d+)_(\d+)$")


def split_of(clip: str) -> str:
    """Official split of a clip: "val", "test" (listed) or "train" (everything else)."""
    return "val" if clip in VAL_CLIPS else "test" if clip in TEST_CLIPS else "train"


def test_subset(clip: str) -> str | None:
    """The official test subset of a clip ("indoor" or "outdoor"), None outside the test split."""
    if clip not in TEST_CLIPS:
        return None
    return "outdoor" if clip in TEST_OUTDOOR_CLIPS else "indoor"


def identity_name(bbox_id: int) -> str:
    """Name of a ChimpACT identity; ids outside the table become ``id<k>``."""
    return IDENTITIES[bbox_id] if 0 <= bbox_id < len(IDENTITIES) else f"id{bbox_id}"


# ----------------------------------------------------------------------------- vocabulary
def read_action_list(path: str | Path) -> tuple[str, ...]:
    """Behavior names ordered by AVA id (1-based), from an mmaction/AVA pbtxt label map.

    Accepts ``item { name: "..." label_id: N }`` (or ``id: N``) blocks; a plain list (one
    name per line, optionally ``N name`` / ``N: name``) is read in order as ids 1, 2, ...
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: action list not found", path=path)
    text = path.read_text(encoding="utf-8-sig")
    items: dict[int, str] = {}
    name = ident = None
    for line in text.splitlines():
        m = re.match(r'\s*name\s*:\s*"?([^"]*)"?\s*$', line)
        if m:
            name = m.group(1).strip()
        m = re.match(r"\s*(?:label_)?id\s*:\s*(\d+)", line)
        if m:
            ident = int(m.group(1))
        if name is not None and ident is not None:
            if ident in items:
                raise DataError(f"{path}: action id {ident} appears twice", path=path)
            items[ident] = clean_name(name)
            name = ident = None
    if not items:
        plain = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        for i, line in enumerate(plain, start=1):
            m = re.match(r"(\d+)\s*[:,]?\s+(.+)$", line)
            items[int(m.group(1)) if m else i] = clean_name(m.group(2) if m else line)
    if not items:
        raise DataError(f"{path}: no behaviors found (expected AVA pbtxt items with name and label_id)", path=path)
    if sorted(items) != list(range(1, len(items) + 1)):
        raise DataError(f"{path}: action ids must be 1..{len(items)}, found {sorted(items)}", path=path)
    return tuple(items[i] for i in range(1, len(items) + 1))


# ----------------------------------------------------------------------------- per-clip JSON
def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise MissingFileError(f"{path}: label file not found", path=path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}: invalid or truncated JSON at line {err.lineno} column {err.colno} ({err.msg})", path=path
        ) from err
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a JSON object with 'images' and 'annotations'", path=path)
    for key in ("images", "annotations"):
        if not isinstance(obj.get(key), list):
            raise DataError(f"{path}: missing or invalid field {key!r} (expected a list)", path=path)
    return obj


def _field(path: Path, ann: dict, key: str, i: int):
    if not isinstance(ann, dict):
        raise DataError(f"{path}: annotations[{i}] is a {type(ann).__name__}, expected an object", path=path)
    if key not in ann:
        raise DataError(f"{path}: annotations[{i}] (id {ann.get('id')}) has no field {key!r}", path=path)
    return ann[key]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _keyframes(path: Path, obj: dict) -> dict:
    frames = {}
    for i, img in enumerate(obj["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise DataError(f"{path}: images[{i}] needs 'id' and 'file_name'", path=path)
        stem = Path(str(img["file_name"])).stem
        if not stem.isdigit():
            raise DataError(
                f"{path}: images[{i}].file_name {img['file_name']!r}: stem is not a keyframe block index", path=path
            )
        frames[img["id"]] = KEYFRAME_STEP * int(stem)
    return frames


def _clip_frames(clip: str) -> int | None:
    m = _CLIP_RE.search(clip)
    return int(m.group(2)) - int(m.group(1)) if m else None


def _subject_slots(boxes_per_frame: dict[int, list[int]]) -> list[tuple[int, int]]:
    """(bbox_id, slot) pairs: one slot per named identity, as many unknown slots as needed."""
    named = sorted({b for ids in boxes_per_frame.values() for b in ids if b != UNKNOWN_ID})
    n_unknown = max((ids.count(UNKNOWN_ID) for ids in boxes_per_frame.values()), default=0)
    return [(b, 0) for b in named] + [(UNKNOWN_ID, k) for k in range(n_unknown)]


def _slot_name(bbox_id: int, slot: int) -> str:
    return identity_name(bbox_id) + (f"_{slot + 1}" if slot else "")


def parse_clip(
    path: str | Path,
    classes: Sequence[str],
    n_frames: int | None = None,
    propagate: bool = False,
    keypoint_names: Sequence[str] | None = None,
) -> dict:
    """Boxes, pose, labels and subjects of one ChimpACT per-clip JSON.

    Returns a dict with ``n_frames, subjects, boxes [T,S,4], pose (Pose or None),
    keypoint_visibility [T,S,K] or None, labels (BehaviorLabels), keyframes``.
    """
    path = Path(path)
    obj = _load_json(path)
    frame_of = _keyframes(path, obj)
    if n_frames is None:
        n_frames = _clip_frames(path.stem) or (max(frame_of.values(), default=0) + 1)
    cats = obj.get("categories") or []
    kp_names = tuple(
        keypoint_names
        or (cats[0].get("keypoints") if cats and isinstance(cats[0], dict) else None)
        or FALLBACK_KEYPOINTS
    )
    per_frame: dict[int, list[dict]] = defaultdict(list)
    for i, ann in enumerate(obj["annotations"]):
        image_id = _field(path, ann, "image_id", i)
        if image_id not in frame_of:
            raise DataError(
                f"{path}: annotations[{i}] (id {ann.get('id')}) points at image_id {image_id}, "
                "which is not in 'images'",
                path=path,
            )
        frame = frame_of[image_id]
        if frame >= n_frames:
            raise DataError(
                f"{path}: keyframe block {frame // KEYFRAME_STEP} (frame {frame}) is beyond the "
                f"clip's {n_frames} frames",
                path=path,
            )
        bbox = _field(path, ann, "bbox", i)
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_real(v) for v in bbox)):
            raise DataError(f"{path}: annotations[{i}].bbox must be 4 numbers [x, y, w, h], got {bbox!r}", path=path)
        behaviors = ann.get("behaviors") or []
        if not isinstance(behaviors, list):
            raise DataError(
                f"{path}: annotations[{i}].behaviors must be a list of behavior ids, got {behaviors!r}", path=path
            )
        bad = [b for b in behaviors if not _is_int(b) or not 0 <= b < len(classes)]
        if bad:
            raise DataError(
                f"{path}: annotations[{i}].behaviors: id {bad[0]!r} outside 0..{len(classes) - 1}", path=path
            )
        bbox_id = _field(path, ann, "bbox_id", i)
        if not _is_int(bbox_id) or bbox_id < 0:
            raise DataError(
                f"{path}: annotations[{i}].bbox_id must be a non-negative integer identity "
                f"(0-22 named, {UNKNOWN_ID} unknown), got {bbox_id!r}",
                path=path,
            )
        keypoints = ann.get("keypoints") or []
        if not isinstance(keypoints, list) or not all(v is None or _is_real(v) for v in keypoints):
            keypoints = []  # not a flat number list: no pose, like any length != 48
        per_frame[frame].append(
            {
                "bbox_id": int(bbox_id),
                "bbox": bbox,
                "behaviors": [int(b) for b in behaviors],
                "keypoints": keypoints,
                "index": i,
            }
        )
    slots = _subject_slots({f: [a["bbox_id"] for a in anns] for f, anns in per_frame.items()})
    subjects = [_slot_name(b, k) for b, k in slots]
    s_index = {slot: j for j, slot in enumerate(slots)}
    T, S, C, K = n_frames, len(slots), len(classes), len(kp_names)
    boxes = np.full((T, S, 4), np.nan, np.float32)
    values = np.full((T, S, C), UNANNOTATED, np.int8)
    points = np.full((T, S, K, 2), np.nan, np.float32)
    vis = np.zeros((T, S, K), np.int8)
    has_pose = False
    for frame, anns in per_frame.items():
        seen: dict[int, int] = defaultdict(int)
        for a in anns:
            b = a["bbox_id"]
            slot = seen[b]
            seen[b] += 1
            if slot and b != UNKNOWN_ID:
                raise DataError(
                    f"{path}: identity {b} ({identity_name(b)}) has two boxes in keyframe {frame} "
                    f"(annotations[{a['index']}])",
                    path=path,
                )
            j = s_index[(b, slot)]
            x, y, w, h = (float(v) for v in a["bbox"])
            boxes[frame, j] = (x, y, x + w, y + h)
            values[frame, j] = NEGATIVE
            values[frame, j, a["behaviors"]] = POSITIVE
            kp = a["keypoints"]
            if len(kp) == N_KEYPOINT_VALUES and K * 3 == N_KEYPOINT_VALUES:
                arr = np.asarray(kp, np.float32).reshape(K, 3)
                visible = arr[:, 2] > 0
                points[frame, j][visible] = arr[visible, :2]
                vis[frame, j] = np.nan_to_num(arr[:, 2], nan=0.0).astype(np.int8)
                has_pose = True
    if propagate:
        _propagate(boxes, values, sorted(per_frame), slots, n_frames)
    labels = BehaviorLabels(values, classes, subjects)
    pose = Pose(points, kp_names, subjects) if has_pose else None
    return {
        "n_frames": n_frames,
        "subjects": subjects,
        "boxes": boxes,
        "pose": pose,
        "labels": labels,
        "keypoint_visibility": vis if has_pose else None,
        "keyframes": sorted(per_frame),
    }


def _propagate(boxes: np.ndarray, values: np.ndarray, keyframes: list[int], slots, n_frames: int) -> None:
    """Fill the frames after each keyframe following ChimpACT's ``create_coco_format.py`` rule."""
    key_set = set(keyframes)
    for k in keyframes:
        nxt = k + KEYFRAME_STEP
        for j, (bbox_id, _) in enumerate(slots):
            if np.isnan(boxes[k, j, 0]):
                continue
            matched = nxt < n_frames and nxt in key_set and bbox_id != UNKNOWN_ID and not np.isnan(boxes[nxt, j, 0])
            for off in range(1, KEYFRAME_STEP):
                f = k + off
                if f >= n_frames:
                    break
                if matched:
                    w = off / KEYFRAME_STEP
                    boxes[f, j] = (1 - w) * boxes[k, j] + w * boxes[nxt, j]
                    values[f, j] = values[k, j] if off <= KEYFRAME_STEP // 2 else values[nxt, j]
                else:
                    boxes[f, j] = boxes[k, j]
                    values[f, j] = values[k, j]


# ----------------------------------------------------------------------------- dataset loading
def _find_root(path: Path) -> tuple[Path, Path]:
    """(release root, labels folder) for a root, its labels/ folder, or a label file's folder."""
    if (path / "labels").is_dir():
        return path, path / "labels"
    if path.name == "labels":
        return path.parent, path
    return path, path


def _clip_recording(json_path: Path, root: Path, classes, propagate: bool) -> Recording:
    clip = json_path.stem
    video = next(
        (
            p
            for p in (
                root / "videos_full" / f"{clip}.mp4",
                root / "videos" / f"{clip}.mp4",
                json_path.with_suffix(".mp4"),
            )
            if p.exists()
        ),
        None,
    )
    n_frames, fps = None, FPS
    if video is not None:
        info = probe(video, f"clip {clip} ({json_path.name})")
        n_frames, fps = int(info["n_frames"]), float(info["fps"] or FPS)
    parsed = parse_clip(json_path, classes, n_frames, propagate)
    boxes = parsed["boxes"]
    return Recording(
        name=clip,
        video=video,
        n_frames=parsed["n_frames"],
        fps=fps,
        subjects=parsed["subjects"],
        pose=parsed["pose"],
        boxes=boxes,
        labels=parsed["labels"],
        split=split_of(clip),
        presence=np.isfinite(boxes).all(-1),
        metadata={"source": str(json_path), "clip": clip},
    )


def _vocabulary(root: Path) -> tuple[tuple[str, ...], str]:
    for candidate in (
        root / "action_list.txt",
        root.parent / "action_list.txt",
        root / "annotations" / "action" / "action_list.txt",
    ):
        if candidate.is_file():
            return read_action_list(candidate), str(candidate)
    warn_data(
        f"{root}: no action_list.txt found; behavior ids are named by the built-in ChimpACT order "
        "(tools/cal_vis_stat.py)",
        stacklevel=3,
    )
    return FALLBACK_BEHAVIORS, "built-in (no action_list.txt found; ChimpACT cal_vis_stat.py order)"


def load_chimpact(
    path: str | Path, propagate: bool = False, splits: Sequence[str] | None = None, progress=None
) -> Dataset:
    """Load ChimpACT from the release root, its ``labels/`` folder, one clip JSON, the processed
    root (``annotations/action``) or one AVA action CSV.

    Parameters
    ----------
    path
        Where the data is (see the module docstring).
    propagate
        Fill the frames between keyframes (official rule) instead of leaving them not annotated.
    splits
        Keep only these splits ("train", "val", "test").
    progress
        The `vpbehavior.reporting` progress hook (True: a terminal bar), one step per clip.

    A damaged clip (truncated JSON, missing field, annotation pointing at a missing image,
    unreadable video) is listed in ``Dataset.failures``; an unreadable ``action_list.txt`` is fatal.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return load_ava_csv(path, splits=splits)
    if path.is_dir() and (path / "annotations" / "action").is_dir():
        return _load_processed(path, splits)
    if path.is_file():
        root, files = (path.parent.parent if path.parent.name == "labels" else path.parent), [path]
    else:
        root, labels_dir = _find_root(path)
        files = sorted(labels_dir.glob("*.json"))
    if not files:
        raise FormatError(f"{path}: no ChimpACT label files (labels/<clip>.json) found", path=path)
    classes, vocab_source = _vocabulary(root)
    recordings: list[Recording] = []
    failures: list[LoadFailure] = []
    files = [f for f in files if splits is None or split_of(f.stem) in splits]
    for f in track(files, progress, "ChimpACT clips", unit="clip"):
        rec = try_load(failures, f, _clip_recording, f, root, classes, propagate)
        if rec is not None:
            recordings.append(rec)
    return Dataset(
        recordings,
        FORMAT,
        path,
        failures,
        metadata={"vocabulary_source": vocab_source},
        test_split=_test_split(recordings),
    )


def _test_split(recordings: Sequence[Recording]) -> str | None:
    return "test" if any(r.split == "test" for r in recordings) else None


# ----------------------------------------------------------------------------- AVA action CSV
def _ava_rows(path: Path) -> dict[str, list[tuple]]:
    if not path.is_file():
        raise MissingFileError(f"{path}: AVA action CSV not found", path=path)
    out: dict[str, list[tuple]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or not any(c.strip() for c in row):
                continue
            if lineno == 1 and len(row) > 1 and not row[1].strip().lstrip("-").isdigit():
                continue  # a header line (the official files have none)
            if len(row) != 8:
                raise DataError(
                    f"{path}: line {lineno}: expected 8 fields "
                    f"(video,frame,x1,y1,x2,y2,action_id,entity_id), got {len(row)}: {row}",
                    path=path,
                )
            try:
                frame, action, entity = int(row[1]), int(row[6]), int(row[7])
                box = tuple(float(v) for v in row[2:6])
            except ValueError:
                raise DataError(f"{path}: line {lineno}: non-numeric field in {row}", path=path) from None
            out[row[0].strip()].append((lineno, frame, box, action, entity))
    return out


def _frame_folder_info(folder: Path) -> tuple[int, tuple[int, int] | None]:
    if not folder.is_dir():
        return 0, None
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        return 0, None
    import cv2

    img = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    return len(files), (None if img is None else img.shape[:2])


def _ava_recording(
    path: Path, video_key: str, rows: list[tuple], classes, processed_root: Path | None, split: str | None
) -> Recording:
    clip = Path(video_key).name
    folder = processed_root / video_key if processed_root is not None else None
    n_images, size = _frame_folder_info(folder) if folder is not None else (0, None)
    if (
        folder is not None
        and processed_root is not None
        and (processed_root / Path(video_key).parts[0]).is_dir()
        and n_images == 0
    ):
        raise MissingFileError(
            f"{path}: rows for {video_key} but its frame folder {folder} is missing or empty", path=folder
        )
    max_frame = max(r[1] for r in rows)
    if n_images and max_frame >= n_images:
        raise DataError(
            f"{path}: line {max(rows, key=lambda r: r[1])[0]}: frame {max_frame} of {clip} but "
            f"{folder} has {n_images} frames",
            path=path,
        )
    n_frames = max(n_images, max_frame + 1)
    per_frame: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for lineno, frame, box, action, entity in rows:
        if not 1 <= action <= len(classes):
            raise DataError(f"{path}: line {lineno}: action_id {action} outside 1..{len(classes)} (1-based)", path=path)
        per_frame[frame][entity].append((box, action - 1))
    # one box per (entity, box) pair; the same entity with different boxes in a frame = unknown slots
    frame_boxes: dict[int, list[tuple[int, tuple, list[int]]]] = {}
    for frame, entities in per_frame.items():
        items = []
        for entity, pairs in entities.items():
            by_box: dict[tuple, list[int]] = {}
            for box, cls in pairs:
                by_box.setdefault(box, []).append(cls)
            items += [(entity, box, cls) for box, cls in by_box.items()]
        frame_boxes[frame] = items
    slots = _subject_slots({f: [e for e, _, _ in items] for f, items in frame_boxes.items()})
    s_index = {slot: j for j, slot in enumerate(slots)}
    boxes = np.full((n_frames, len(slots), 4), np.nan, np.float32)
    values = np.full((n_frames, len(slots), len(classes)), UNANNOTATED, np.int8)
    scale = np.array([size[1], size[0], size[1], size[0]], np.float32) if size else np.ones(4, np.float32)
    for frame, items in frame_boxes.items():
        seen: dict[int, int] = defaultdict(int)
        for entity, box, cls in items:
            slot = seen[entity]
            seen[entity] += 1
            if slot and entity != UNKNOWN_ID:
                raise DataError(f"{path}: frame {frame} of {clip}: entity {entity} has two different boxes", path=path)
            j = s_index[(entity, slot)]
            boxes[frame, j] = np.asarray(box, np.float32) * scale
            values[frame, j] = NEGATIVE
            values[frame, j, cls] = POSITIVE
    subjects = [_slot_name(b, k) for b, k in slots]
    presence = np.isfinite(boxes).all(-1)
    if size is None:  # boxes must be pixels; normalized ones cannot be placed without the frames
        warn_data(
            f"{path}: no frames of {clip} found, so its normalized boxes cannot be converted to pixels; "
            "the recording loads without boxes",
            stacklevel=3,
        )
        boxes = None
    return Recording(
        name=clip,
        video=folder if n_images else None,
        n_frames=n_frames,
        fps=FPS,
        subjects=subjects,
        boxes=boxes,
        labels=BehaviorLabels(values, classes, subjects),
        split=split or split_of(clip),
        presence=presence,
        metadata={"source": str(path), "clip": clip},
    )


def _ava_split(path: Path) -> str | None:
    m = re.match(r"(train|val|test(?:_indoor|_outdoor)?)_action$", path.stem)
    return m.group(1) if m else None


def load_ava_csv(
    path: str | Path,
    action_list: str | Path | None = None,
    processed_root: str | Path | None = None,
    splits: Sequence[str] | None = None,
) -> Dataset:
    """Recordings from a processed ChimpACT ``{split}_action.csv`` (AVA form).

    Boxes are converted from normalized x1,y1,x2,y2 to pixels with the size of the frames in
    ``<processed_root>/<split>/images/<clip>/``; without those frames a recording has no boxes
    (a `DataWarning` says so) but keeps the boxes' presence. Action ids are 1-based; frames not
    listed are not annotated.
    """
    path = Path(path)
    if processed_root is None:
        processed_root = path.parent.parent.parent if path.parent.name == "action" else None
    processed_root = Path(processed_root) if processed_root is not None else None
    if action_list is None:
        candidates = [path.parent / "action_list.txt"] + (
            [processed_root / "action_list.txt"] if processed_root else []
        )
        action_list = next((c for c in candidates if c.is_file()), None)
    if action_list:
        classes = read_action_list(action_list)
    else:
        warn_data(
            f"{path}: no action_list.txt found; action ids are named by the built-in ChimpACT order "
            "(tools/cal_vis_stat.py)",
            stacklevel=2,
        )
        classes = FALLBACK_BEHAVIORS
    split = _ava_split(path)
    recordings, failures = [], []
    for key, rows in _ava_rows(path).items():
        rec_split = split.split("_")[0] if split else None
        if splits is not None and (rec_split or split_of(Path(key).name)) not in splits:
            continue
        rec = try_load(failures, Path(key), _ava_recording, path, key, rows, classes, processed_root, rec_split)
        if rec is not None:
            recordings.append(rec)
    return Dataset(
        recordings,
        FORMAT,
        path,
        failures,
        test_split=_test_split(recordings),
        metadata={"vocabulary_source": str(action_list) if action_list else "built-in"},
    )


def _load_processed(root: Path, splits: Sequence[str] | None) -> Dataset:
    action_dir = root / "annotations" / "action"
    files = [
        action_dir / f"{s}_action.csv" for s in ("train", "val", "test") if (action_dir / f"{s}_action.csv").is_file()
    ]
    if not files:
        raise FormatError(f"{action_dir}: no {{train,val,test}}_action.csv", path=action_dir)
    parts = [load_ava_csv(f, processed_root=root, splits=splits) for f in files]
    recordings = [r for p in parts for r in p.recordings]
    return Dataset(
        recordings,
        FORMAT,
        root,
        [f for p in parts for f in p.failures],
        metadata=parts[0].metadata,
        test_split=_test_split(recordings),
    )


# ----------------------------------------------------------------------------- detection
def _looks_like_clip_json(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    if '"images"' not in head or '"annotations"' not in head:
        return False
    return '"bbox_id"' in head or bool(_CLIP_RE.search(path.stem))


def detect_chimpact(path: Path) -> float:
    """How sure we are that ``path`` is ChimpACT (release root, labels/, clip JSON, processed root, AVA CSV)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".json":
            return 0.9 if _looks_like_clip_json(path) else 0.0
        if path.suffix.lower() == ".csv" and _ava_split(path) is not None:
            return 0.8
        return 0.0
    if not path.is_dir():
        return 0.0
    if (path / "annotations" / "action").is_dir() and any((path / "annotations" / "action").glob("*_action.csv")):
        return 0.9
    _, labels_dir = _find_root(path)
    jsons = [p for p in sorted(labels_dir.glob("*.json")) if not p.name.endswith(".behavior.json")][:5]
    hits = [p for p in jsons if _looks_like_clip_json(p)]
    if not hits:
        return 0.0
    if (labels_dir.parent / "videos_full").is_dir() or labels_dir.name == "labels":
        return 0.9
    # A loose folder: an experiment folder of videos with COCO-like .json files is not ChimpACT
    # unless the files carry ChimpACT clip names (<recording>_clip_<start>_<end>).
    if any(_CLIP_RE.search(p.stem) for p in hits):
        return 0.7
    from vpbehavior.io.video import VIDEO_SUFFIXES

    has_videos = any(c.suffix.lower() in VIDEO_SUFFIXES for c in labels_dir.iterdir() if c.is_file())
    return 0.0 if has_videos else 0.5


register_format(FORMAT, detect_chimpact, load_chimpact, "ChimpACT per-clip COCO-like JSON or processed AVA CSV")
