"""Which pose and label files belong to which video, by the names the tools write and what the files say.

The rules (each pose or label file found under the loaded folder goes through them in order):

1. **Inside a frame folder**: a file in a folder of image frames belongs to it (DeepLabCut's
   ``labeled-data/<video>/CollectedData_<scorer>.h5``).
2. **Stored video reference**: a file that names its video inside belongs to the video of that
   file name anywhere under the folder (the one in the file's own folder first): a ``.slp``
   (every video it references), a SLEAP analysis ``.h5`` (``video_path``), an NWB pose file
   (``original_videos``), a BORIS export (its media file names: BORIS names exports after the
   observation id, not the video).
3. **Name** (same folder as the video): the longest video stem the file name starts with,
   followed by a separator, by DeepLabCut's scorer (``<video>DLC_<net>...``, 2.1+, and
   ``<video>DeepCut_resnet50_...``, 1.x and 2.0) or by nothing; or SLEAP's default export name
   ``<labels file>.<NNN>_<video stem>.analysis.h5`` / ``.analysis.csv``.

A file whose stored reference names no video found falls back to rule 3. When several pose files
claim one video, one is chosen by `pose_rank`: the stronger rule above, then DeepLabCut's stage
(stitched tracks: key "tracks", their CSV and their ``_filtered`` version > tracklets:
``_el``/``_bx``/``_sk``/``_ctd`` under "df_with_missing" > plain analysis output), then filtered over unfiltered, then the fuller format
(.slp / NWB > .h5 > .csv), then the first by file name. The others are listed in
``Dataset.unpaired`` with the choice. DeepLabCut's ``.h5`` / ``.csv`` twins (the same table) are
one file: the ``.csv`` is read and the ``.h5`` is listed in ``Dataset.skipped``. Every label file
that claims a video is read (they are merged). Files no video claims are listed in
``Dataset.unpaired`` with the reason; tool by-products (rendered videos, diagnostic plots, pickles,
skeleton analyses, machine labels) in ``Dataset.skipped``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from vpbehavior.core import SkippedFile
from vpbehavior.core.names import name_key

#: Suffixes of files that may be pose or label files (others are not looked at).
CANDIDATE_SUFFIXES = (".slp", ".h5", ".hdf5", ".csv", ".tsv", ".txt", ".json", ".nwb")
#: Suffixes of tool outputs that are never read, with the reason given for them.
UNREAD_SUFFIXES = {
    ".pickle": "a pickle (vpbehavior never unpickles files)",
    ".pkl": "a pickle (vpbehavior never unpickles files; BORIS: export the events as CSV/TSV)",
    ".xlsx": "a spreadsheet, not read (BORIS: export the events as CSV or TSV)",
    ".xls": "a spreadsheet, not read (BORIS: export the events as CSV or TSV)",
    ".ods": "a spreadsheet, not read (BORIS: export the events as CSV or TSV)",
    ".rds": "an R data file, not read (BORIS: export the events as CSV or TSV)",
}
_SEPARATORS = "._- "
#: DeepLabCut's scorer in a file name: ``DLC_<net>_<task><date>shuffle<N>_<iteration>`` (2.1+) or
#: ``DeepCut_resnet50_...`` (1.x, 2.0).
_DLC_SCORER = re.compile(r"(DLC|DeepCut)_")
_DLC_FULL_SCORER = re.compile(r"(DLC|DeepCut)_\w*?shuffle\d+")
_DLC_TRACKER = re.compile(r"_(el|bx|sk|ctd)(?=_|$)")
_SLEAP_EXPORT = re.compile(r"\.(\d{3})_(.+)\.analysis\.(h5|csv)$", re.IGNORECASE)
#: Folders DeepLabCut and SLEAP fill with diagnostic images or training files, not recordings.
BYPRODUCT_DIRS = {
    "plot-poses": "DeepLabCut's diagnostic plots (plot_trajectories)",
    "evaluation-results": "DeepLabCut's evaluation images",
    "evaluation-results-pytorch": "DeepLabCut's evaluation images",
    "dlc-models": "DeepLabCut's model folder",
    "dlc-models-pytorch": "DeepLabCut's model folder",
    "training-datasets": "DeepLabCut's training-set folder",
}


# ---------------------------------------------------------------------- tool names
@dataclass(frozen=True)
class DlcName:
    """What a DeepLabCut output name says: the video stem, the scorer and the variant suffixes."""

    video: str
    scorer_and_suffixes: str
    filtered: bool
    tracker: str | None  # "el", "bx", "sk", "ctd" (multi-animal tracklets or tracks)


def parse_dlc_name(stem: str) -> DlcName | None:
    """``m1DLC_resnet50_xshuffle1_1000_el_filtered`` -> DlcName("m1", ..., filtered, "el"); None if no scorer."""
    m = _DLC_SCORER.search(stem)
    if m is None:
        return None
    rest = stem[m.start() :]
    shuffle = re.search(r"shuffle\d+", rest)
    tail = rest[shuffle.end() :] if shuffle else rest
    tracker = _DLC_TRACKER.search(tail)
    return DlcName(stem[: m.start()], rest, "filtered" in tail.lower(), tracker.group(1) if tracker else None)


def sleap_export_stems(name: str) -> list[str]:
    """Video stems SLEAP's default export name ``<labels>.<NNN>_<video>.analysis.h5`` may carry (longest first)."""
    out = []
    for m in re.finditer(r"\.(\d{3})_", name):
        rest = name[m.end() :]
        end = re.search(r"\.analysis\.(h5|csv)$", rest, re.IGNORECASE)
        if end:
            out.append(rest[: end.start()])
    return out


def _strip_known_suffixes(name: str) -> str:
    lower = name.lower()
    for suffix in (".analysis.h5", ".analysis.csv", ".behavior.json", ".pkg.slp"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


# ---------------------------------------------------------------------- by-products
def byproduct_dir_reason(path: Path) -> str | None:
    """Why a folder is a tool by-product and not recordings, or None."""
    name = path.name
    if name in BYPRODUCT_DIRS:
        return f"{BYPRODUCT_DIRS[name]}, not recordings"
    if (path / "training_config.json").is_file() or (path / "initial_config.json").is_file():
        return "a SLEAP model folder (training configuration and visualizations), not recordings"
    if name.lower().endswith("_labeled") and path.parent.name == "labeled-data":
        return "DeepLabCut's check_labels images (labels drawn on the frames), not recordings"
    if name.startswith("temp-") and any(
        c.is_file() and c.stem == name[5:] for c in path.parent.iterdir() if not c.name.startswith(".")
    ):
        return "DeepLabCut's frames of a labeled video (save_frames), not recordings"
    return None


def byproduct_video_reason(path: Path, stems: set[str]) -> str | None:
    """Why a video (or frame folder) is a tool's rendering and not a recording, or None.

    ``stems`` are the stems of the other videos in its folder.
    """
    stem = path.name if path.is_dir() else path.stem
    if _DLC_FULL_SCORER.search(stem):
        return "a video DeepLabCut rendered (its name carries DeepLabCut's scorer), not a recording"
    if stem.lower().endswith("_labeled") or "_labeled_" in stem.lower():
        return "a labeled video (keypoints drawn on the frames), not a recording"
    if ".slp." in path.name.lower() or stem.lower().endswith(".slp"):
        return "a video SLEAP rendered from a labels file, not a recording"
    for suffix in ("_full", "_id", "_bp", "_tracked", "_trajectories", "_keypoints_only"):
        if stem.lower().endswith(suffix) and stem[: -len(suffix)] in stems:
            return f"a rendering of {stem[: -len(suffix)]} ({suffix}), not a recording"
    return None


def byproduct_file_reason(path: Path) -> str | None:
    """Why a file next to the videos is a tool by-product and not read, or None."""
    name = path.name
    lower = name.lower()
    suffix = path.suffix.lower()
    dlc = parse_dlc_name(path.stem)
    if suffix in (".pickle", ".pkl") and dlc is not None:
        tail = dlc.scorer_and_suffixes.lower()
        if tail.endswith("_full"):
            return "DeepLabCut's raw detections (pickle), not read"
        if tail.endswith("_meta") or tail.endswith("includingmetadata"):
            return "DeepLabCut's analysis metadata (pickle), not read"
        if tail.endswith("_assemblies"):
            return "DeepLabCut's animal assemblies (pickle), not read"
        if dlc.tracker:
            return (
                "DeepLabCut's tracklets as a pickle, never unpickled: deeplabcut.stitch_tracklets writes "
                "the tracks .h5 that is read"
            )
        return "a DeepLabCut pickle, not read"
    if dlc is not None and suffix in (".h5", ".csv") and "skeleton" in dlc.scorer_and_suffixes.lower():
        return "DeepLabCut's skeleton analysis (bone lengths and orientations), not keypoints"
    if lower.startswith("machinelabels") and suffix in (".h5", ".csv"):
        return "DeepLabCut's machine labels from outlier refinement (the CollectedData file is read)"
    if suffix in UNREAD_SUFFIXES:
        return UNREAD_SUFFIXES[suffix]
    return None


# ---------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    """A pose or label file, what kind it is, and the videos it names inside (stored paths)."""

    path: Path
    role: str  # "pose" or "labels"
    kind: str
    references: tuple[str, ...] = ()
    dlc_stage: int = 1  # 3 stitched tracks, 2 tracklets, 1 anything else
    filtered: bool = False

    @property
    def fidelity(self) -> int:
        return {"slp": 3, "nwb": 3, "sleap_h5": 2, "dlc_h5": 2}.get(self.kind, 1)

    def describe(self) -> str:
        from vpbehavior.io.pose import POSE_KINDS

        what = POSE_KINDS.get(self.kind, self.kind.replace("_", " "))
        if self.dlc_stage == 3:
            what += ", stitched tracks"
        elif self.dlc_stage == 2:
            what += ", tracklets"
        return what + (", filtered" if self.filtered else "")


def _slp_references(path: Path) -> list[str]:
    """The video paths a .slp file stores (``videos_json``; an embedded video's source video)."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            entries = fh["videos_json"][:]
    except (OSError, KeyError):
        return []
    out = []
    for raw in entries:
        try:
            obj = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except (ValueError, AttributeError):
            continue
        if not isinstance(obj, dict):
            continue
        for entry in (obj, obj.get("source_video") or {}):
            backend = entry.get("backend", {}) if isinstance(entry, dict) else {}
            filename = backend.get("filename") or entry.get("filename", "")
            if isinstance(filename, list):  # image-sequence videos
                filename = str(PurePosixPath(str(filename[0]).replace("\\", "/")).parent) if filename else ""
            if filename and filename != ".":
                out.append(str(filename))
                break
    return out


def _h5_string(path: Path, key: str) -> list[str]:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if key not in fh:
                return []
            value = fh[key][()]
    except OSError:
        return []
    text = value.decode() if isinstance(value, bytes) else str(value)
    return [text] if text.strip() else []


def boris_media_names(path: Path) -> list[str]:
    """The media files a BORIS export names (``Media file name`` / ``Media file path`` / ``Source``
    columns, BORIS 7's metadata lines), as stored."""
    from vpbehavior.io.label_formats import read_table

    try:
        table = read_table(path)
    except Exception:  # an unreadable export is reported when its labels are read
        return []
    wanted = {"media file name", "media file path", "media file", "source", "media file(s)"}
    cols = [i for i, h in enumerate(table.header) if name_key(h) in wanted]
    values = [row[i] for row in table.rows for i in cols if i < len(row)]
    values += [c for cells in table.preamble for c in cells[1:]]
    from vpbehavior.io.video import VIDEO_SUFFIXES

    out = []
    for value in values:
        for part in value.replace("|", ";").split(";"):
            part = re.sub(r"^\s*player\s*#\s*\d+\s*:", "", part, flags=re.IGNORECASE).strip()
            if Path(part.replace("\\", "/")).suffix.lower() in VIDEO_SUFFIXES:
                out.append(part)
    return list(dict.fromkeys(out))


def classify(path: Path) -> Candidate | None:
    """The pose or label file at ``path`` (by content), or None when it is neither."""
    from vpbehavior.io.label_formats import sniff_label_kind
    from vpbehavior.io.pose import sniff_pose_file

    path = Path(path)
    if path.suffix.lower() not in CANDIDATE_SUFFIXES and not path.name.lower().endswith(".slp"):
        return None
    kind = sniff_pose_file(path)
    if kind is not None:
        refs: list[str] = []
        if kind == "slp":
            refs = _slp_references(path)
        elif kind == "sleap_h5":
            refs = _h5_string(path, "video_path")
        elif kind == "nwb":
            from vpbehavior.io.nwb import nwb_video_names

            refs = nwb_video_names(path)
        stage, filtered = 1, False
        if kind in ("dlc_h5", "dlc_csv"):
            dlc = parse_dlc_name(path.stem)
            filtered = bool(dlc and dlc.filtered)
            if dlc is not None and dlc.tracker:
                # stitch_tracklets writes key "tracks" (and the CSV); filterpredictions filters those tracks
                # (key "df_with_missing"); convert_raw_tracks_to_h5 writes tracklets under "df_with_missing"
                stage = 3 if kind == "dlc_csv" or filtered or _dlc_key(path) == "tracks" else 2
        return Candidate(path, "pose", kind, tuple(refs), stage, filtered)
    label_kind = sniff_label_kind(path)
    if label_kind is None:
        return None
    refs = boris_media_names(path) if label_kind in ("boris_events", "boris_aggregated") else []
    return Candidate(path, "labels", label_kind, tuple(refs))


def _dlc_key(path: Path) -> str | None:
    import h5py

    from vpbehavior.io._pandas_h5 import frame_keys

    try:
        with h5py.File(path, "r") as fh:
            keys = frame_keys(fh)
    except OSError:
        return None
    return keys[0] if keys else None


def _per_animal_nwb_prefix(path: Path) -> str | None:
    """``<video><scorer>`` of DLC2NWB's per-animal files ``<video><scorer>_<animal>.nwb``, else None."""
    stem = path.stem
    if "_" not in stem or parse_dlc_name(stem) is None:
        return None
    return stem.rsplit("_", 1)[0]


def pose_rank(candidate: Candidate, strength: int) -> tuple:
    """Sort key of a pose file competing for a video: higher wins (see the module docstring)."""
    return (strength, candidate.dlc_stage, candidate.filtered, candidate.fidelity)


def _why_chosen(best: tuple, other: tuple) -> str:
    if best[0] != other[0]:
        return ["", "a name match", "a stored video reference", "a file inside the frame folder"][best[0]] + " wins"
    if best[1] != other[1]:
        return "stitched tracks are preferred over tracklets and tracklets over untracked output"
    if best[2] != other[2]:
        return "filtered output is preferred over unfiltered"
    if best[3] != other[3]:
        return "the fuller format is preferred (.slp / NWB over .h5 over .csv)"
    return "equal rank: the first by file name"


# ---------------------------------------------------------------------- scanning
@dataclass
class RecordingFiles:
    """The files that make up one recording: the video (or frame folder), its pose and label files.

    ``pose`` holds the chosen pose file (at most one after pairing); ``notes`` say how each file
    was paired and which were passed over.
    """

    video: Path
    pose: list[Path] = field(default_factory=list)
    labels: list[Path] = field(default_factory=list)
    kinds: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.video.name if self.video.is_dir() else self.video.stem


def is_frame_folder(path: Path) -> bool:
    """A folder of image frames (and no video file)."""
    from vpbehavior.io.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    has_image = False
    try:
        children = list(path.iterdir())
    except OSError:
        return False
    for child in children:
        if child.is_file():
            suffix = child.suffix.lower()
            if suffix in VIDEO_SUFFIXES:
                return False
            has_image = has_image or suffix in IMAGE_SUFFIXES
    return has_image


@dataclass
class Scan:
    """What a walk over a folder found: videos, candidate files, and the by-products skipped."""

    videos: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _has_recordings(folder: Path, depth: int = 3) -> bool:
    from vpbehavior.io.video import VIDEO_SUFFIXES

    for dirpath, dirnames, filenames in os.walk(folder):
        if any(Path(f).suffix.lower() in VIDEO_SUFFIXES for f in filenames) or is_frame_folder(Path(dirpath)):
            return True
        if len(Path(dirpath).relative_to(folder).parts) >= depth:
            dirnames[:] = []
    return False


def scan(root: Path, recursive: bool = True) -> Scan:
    """Videos, frame folders and candidate pose / label files under ``root`` (hidden entries skipped).

    Tool by-products (see `byproduct_dir_reason`, `byproduct_video_reason`, `byproduct_file_reason`)
    go to ``skipped`` with their reason; by-product folders are not entered (and listed only when
    they hold something that would have looked like a recording).
    """
    from vpbehavior.io.video import VIDEO_SUFFIXES

    out = Scan()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            children = sorted(folder.iterdir())
        except OSError:
            continue
        stems = {c.stem for c in children if c.is_file() and c.suffix.lower() in VIDEO_SUFFIXES}
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_file():
                if child.suffix.lower() in VIDEO_SUFFIXES:
                    reason = byproduct_video_reason(child, stems - {child.stem})
                    if reason:
                        out.skipped.append(SkippedFile(child, reason))
                    else:
                        out.videos.append(child)
                    continue
                reason = byproduct_file_reason(child)
                if reason:
                    out.skipped.append(SkippedFile(child, reason))
                elif child.suffix.lower() in CANDIDATE_SUFFIXES:
                    out.files.append(child)
            elif child.is_dir():
                reason = byproduct_dir_reason(child)
                if reason:
                    if _has_recordings(child):
                        out.skipped.append(SkippedFile(child, reason))
                    continue
                if is_frame_folder(child):
                    reason = byproduct_video_reason(child, stems)
                    if reason:
                        out.skipped.append(SkippedFile(child, reason))
                        continue
                    out.videos.append(child)
                    for inner in sorted(child.iterdir()):
                        if not inner.is_file() or inner.name.startswith("."):
                            continue
                        reason = byproduct_file_reason(inner)
                        if reason:
                            out.skipped.append(SkippedFile(inner, reason))
                        elif inner.suffix.lower() in CANDIDATE_SUFFIXES:
                            out.files.append(inner)
                elif recursive:
                    stack.append(child)
    out.videos.sort()
    return out


# ---------------------------------------------------------------------- pairing
def _owner(name: str, stems: list[str]) -> str | None:
    """The longest video stem that ``name`` starts with (followed by a separator, the scorer or the end)."""
    best = None
    for stem in stems:
        rest = name[len(stem) :]
        if name.startswith(stem) and (
            not rest or rest[0] in _SEPARATORS or rest.startswith("DLC_") or rest.startswith("DeepCut_")
        ):
            if best is None or len(stem) > len(best):
                best = stem
    return best


def _name_claim(cand: Candidate, by_dir: dict[Path, dict[str, Path]]) -> tuple[Path, str] | None:
    """The video a file's name names: in its own folder first, else the one video of that stem elsewhere."""
    name = cand.path.name
    dlc = parse_dlc_name(cand.path.stem)
    here = by_dir.get(cand.path.parent, {})
    for stem in sleap_export_stems(name):
        if stem in here:
            return here[stem], "SLEAP's export name <labels>.<NNN>_<video>.analysis"
    if dlc is not None and dlc.video in here:
        return here[dlc.video], "DeepLabCut's output name <video><scorer>"
    owner = _owner(name, list(here))
    if owner is not None:
        return here[owner], "its name starts with the video's name"
    # the tools' own output names also pair across folders (DeepLabCut's destfolder, a SLEAP export folder),
    # when exactly one video has the stem they name (video files before frame folders)
    stems = [*sleap_export_stems(name), *([dlc.video] if dlc is not None and dlc.video else [])]
    for stem in stems:
        found = [folder[stem] for folder in by_dir.values() if stem in folder]
        files = [v for v in found if not v.is_dir()]
        found = files if len(files) == 1 else found
        if len(found) == 1:
            return found[0], f"its name names {found[0].name} (in another folder)"
    return None


def _reference_claims(cand: Candidate, videos: list[Path]) -> tuple[list[Path], list[str]]:
    """Videos named by the file's stored references (exact file name), and the references that matched none."""
    claims, missing = [], []
    for ref in cand.references:
        ref_path = PurePosixPath(ref.replace("\\", "/"))
        same = [v for v in videos if v.name.casefold() == ref_path.name.casefold()]
        if len(same) > 1:
            local = [v for v in same if v.parent == cand.path.parent]
            by_parent = [v for v in same if v.parent.name == ref_path.parent.name]
            same = local or by_parent or same
        if len(same) == 1:
            claims.append(same[0])
        elif not same:
            missing.append(ref_path.name)
        else:
            missing.append(f"{ref_path.name} (several videos have that name)")
    return list(dict.fromkeys(claims)), missing


def _csv_twin(cand: Candidate, others: dict[Path, Candidate]) -> Path | None:
    """The DeepLabCut .csv holding the same table as the .h5 ``cand`` (DeepLabCut writes both), if it competes too."""
    twin = cand.path.with_suffix(".csv")
    if cand.kind == "dlc_h5" and twin in others and others[twin].kind == "dlc_csv":
        return twin
    return None


def _unrecognized_reason(path: Path, by_dir: dict[Path, dict[str, Path]]) -> str | None:
    """Why a file that looks like pose or labels but is neither is worth listing (None: not worth it)."""
    suffix = path.suffix.lower()
    if suffix == ".nwb":
        return "an NWB file without ndx-pose pose estimation (PoseEstimation), so not a pose file"
    if suffix in (".csv", ".tsv") and path.parent in by_dir:
        return (
            "not recognized as a pose or label file (expected DeepLabCut's scorer/bodyparts/coords header, SLEAP's "
            "track/frame_idx/<node>.x columns, a BORIS export or a per-frame CSV with a frame/behavior header)"
        )
    return None


def pair(
    videos: list[Path],
    files: list[Path],
    unpaired: list[SkippedFile] | None = None,
    skipped: list[SkippedFile] | None = None,
    unavailable: dict[str, str] | None = None,
) -> list[RecordingFiles]:
    """Attach pose and label ``files`` to ``videos`` by the rules of this module.

    Files left unpaired are appended to ``unpaired`` and twins to ``skipped``, each with its reason.
    ``unavailable`` maps pose kinds that cannot be read here to the reason (e.g. NWB without pynwb).
    """
    unpaired = unpaired if unpaired is not None else []
    skipped = skipped if skipped is not None else []
    recs = {v: RecordingFiles(v) for v in videos}
    by_dir: dict[Path, dict[str, Path]] = {}
    for v in videos:
        by_dir.setdefault(v.parent, {})[v.name if v.is_dir() else v.stem] = v
    pose_claims: dict[Path, list[tuple[tuple, Candidate, str]]] = {}
    video_set = set(videos)
    for path in files:
        cand = classify(path)
        if cand is None:
            why = _unrecognized_reason(path, by_dir)
            if why:
                unpaired.append(SkippedFile(path, why))
            continue
        if cand.role == "pose" and unavailable and cand.kind in unavailable:
            unpaired.append(SkippedFile(path, f"pose file not read: {unavailable[cand.kind]}"))
            continue
        claims: list[tuple[Path, int, str]] = []
        if path.parent in video_set:
            claims.append((path.parent, 3, "it is inside the frame folder"))
        else:
            refs, missing = _reference_claims(cand, videos)
            claims += [(v, 2, f"it names {v.name} inside") for v in refs]
            if not claims:
                named = _name_claim(cand, by_dir)
                if named is not None:
                    how = named[1] + (f" (its stored video {missing[0]} was not found)" if missing else "")
                    claims.append((named[0], 1, how))
        if not claims:
            what = "pose" if cand.role == "pose" else "label"
            if cand.references:
                refs_text = ", ".join(PurePosixPath(r.replace("\\", "/")).name for r in cand.references)
                why = f"{what} file naming the videos [{refs_text}], none of them found here"
            else:
                why = f"{what} file whose name starts with no video's name and that names no video inside"
            unpaired.append(SkippedFile(path, why))
            continue
        for video, strength, how in claims:
            if cand.role == "labels":
                recs[video].labels.append(path)
                recs[video].kinds[path] = cand.kind
                recs[video].notes.append(f"labels {path.name}: {how}")
            else:
                pose_claims.setdefault(video, []).append((pose_rank(cand, strength), cand, how))
    chosen_anywhere: set[Path] = set()
    lost: dict[Path, str] = {}
    for video, entries in pose_claims.items():
        paths = {c.path: c for _, c, _ in entries}
        kept = []
        for entry in entries:
            twin = _csv_twin(entry[1], paths)
            if twin is not None:
                skipped.append(
                    SkippedFile(
                        entry[1].path, f"DeepLabCut writes the same table to {twin.name}, which is read instead"
                    )
                )
                chosen_anywhere.add(entry[1].path)  # reported as skipped, not unpaired
            else:
                kept.append(entry)
        kept.sort(key=lambda e: (tuple(-x for x in e[0]), e[1].path.name))
        best_rank, best, how = kept[0]
        recs[video].pose.append(best.path)
        recs[video].kinds[best.path] = best.kind
        recs[video].notes.append(f"pose {best.path.name} ({best.describe()}): {how}")
        chosen_anywhere.add(best.path)
        rest = []
        for rank, cand, how_other in kept[1:]:
            prefix = _per_animal_nwb_prefix(best.path) if best.kind == "nwb" else None
            if cand.kind == "nwb" and rank == best_rank and prefix and _per_animal_nwb_prefix(cand.path) == prefix:
                recs[video].pose.append(cand.path)  # DLC2NWB writes one NWB file per animal: read them all
                recs[video].kinds[cand.path] = cand.kind
                recs[video].notes.append(f"pose {cand.path.name} (another animal of {prefix}): {how_other}")
                chosen_anywhere.add(cand.path)
            else:
                rest.append((rank, cand, how_other))
        for rank, cand, _ in rest:
            why = _why_chosen(best_rank, rank)
            recs[video].notes.append(f"pose {cand.path.name} passed over: {why}")
            lost.setdefault(cand.path, f"another pose file was chosen for {video.name}: {best.path.name} ({why})")
    for path, why in lost.items():
        if path not in chosen_anywhere:
            unpaired.append(SkippedFile(path, why))
    return [recs[v] for v in videos]


def unique_names(videos: list[Path], root: Path | None) -> dict[Path, str]:
    """Recording names: the video stem, or its path under ``root`` (without suffix) where stems repeat,
    with the suffix as well where even that repeats (``x.mov`` and ``x.mkv`` in one folder)."""
    stems = {}
    for v in videos:
        stems.setdefault(v.name if v.is_dir() else v.stem, []).append(v)
    names = {}
    for stem, same in stems.items():
        for v in same:
            if len(same) == 1 or root is None:
                names[v] = stem
            else:
                rel = v.relative_to(root) if v.is_relative_to(root) else v
                names[v] = str(rel.with_suffix("") if v.is_file() else rel).replace(os.sep, "/")
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    for v, name in names.items():  # one folder, one stem, several containers (x.mov, x.mkv): keep the suffix
        if counts[name] > 1 and v.is_file():
            names[v] = f"{name}{v.suffix}"
    return names


def display_stem(path: Path) -> str:
    """The video stem a pose or label file's name stands for (for recordings without video)."""
    stems = sleap_export_stems(path.name)
    if stems:
        return stems[0]
    dlc = parse_dlc_name(path.stem)
    if dlc is not None and dlc.video:
        return dlc.video.rstrip(_SEPARATORS) or dlc.video
    stem = _strip_known_suffixes(path.name)
    for suffix in (".predictions", ".analysis"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem


__all__ = [
    "BYPRODUCT_DIRS",
    "Candidate",
    "DlcName",
    "RecordingFiles",
    "Scan",
    "boris_media_names",
    "byproduct_dir_reason",
    "byproduct_file_reason",
    "byproduct_video_reason",
    "classify",
    "display_stem",
    "is_frame_folder",
    "pair",
    "parse_dlc_name",
    "pose_rank",
    "scan",
    "sleap_export_stems",
    "unique_names",
]
