"""NWB pose files: ndx-pose ``PoseEstimation`` containers, the form DANDI archives hold.

Read with pynwb and ndx-pose (the optional extra ``vpbehavior[nwb]``). Every ``PoseEstimation``
container in any processing module is one subject (its name, without sleap-io's ``track=``
prefix); its ``PoseEstimationSeries`` are the keypoints, in the order of its skeleton's nodes; its
``source_video`` (an external-file ImageSeries, ndx-pose 0.2+) or ``original_videos`` (older
files) names the video it belongs to, so a file covering several videos is read
for one of them. sleap-io's own NWB reader is not used: it finds only the processing modules
sleap-io writes, drops the track names, and numbers frames by the rank of their timestamps,
which shifts every frame after a gap.

Times become frames at the data's own rate: a series' ``rate`` when it has one, else the median
step between its timestamps; frame = round(time x rate), time 0 being frame 0. A series with one
sample per video frame (DeepLabCut's dense output, whose times are the video's own timestamps) is
placed sample i -> frame i. sleap-io writes frame indices as times at rate 1.0, which this reads
back exactly. DLC2NWB names a container "PoseEstimation" and its keypoints ``<animal>_<bodypart>``:
the animal becomes the subject and the body parts the keypoint names.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from vpbehavior.core import DataError, FormatError, MissingFileError, Pose, VpbehaviorError
from vpbehavior.reporting import warn_data

#: How to install what reading NWB needs.
INSTALL_HINT = "pip install 'vpbehavior[nwb]' (or: pip install pynwb ndx-pose)"


class MissingDependencyError(VpbehaviorError, ImportError):
    """An optional package that a file format needs is not installed (the message says how to install it)."""


def nwb_available() -> bool:
    """pynwb and ndx-pose are importable."""
    return all(importlib.util.find_spec(m) is not None for m in ("pynwb", "ndx_pose"))


def missing_dependency_message(path: str | Path | None = None) -> str:
    where = f"{path}: " if path is not None else ""
    return f"{where}reading NWB pose files needs pynwb and ndx-pose, which are not installed; install them with {INSTALL_HINT}"


def _require(path: Path) -> None:
    if not nwb_available():
        raise MissingDependencyError(missing_dependency_message(path))


def nwb_video_names(path: str | Path) -> list[str]:
    """File names of the videos an NWB pose file names (``source_video`` / ``original_videos``), read with h5py only."""
    import h5py

    names: list[str] = []
    try:
        with h5py.File(path, "r") as fh:
            processing = fh.get("processing")
            for module in processing.values() if processing is not None else []:
                for item in module.values() if isinstance(module, h5py.Group) else []:
                    if not isinstance(item, h5py.Group):
                        continue
                    stored = []
                    source = item.get("source_video")  # ndx-pose 0.2+: a link to an external-file ImageSeries
                    if isinstance(source, h5py.Group) and "external_file" in source:
                        stored += list(np.atleast_1d(source["external_file"][()]))
                    if "original_videos" in item:  # older files: a list of paths
                        stored += list(np.atleast_1d(item["original_videos"][()]))
                    for raw in stored:
                        text = raw.decode() if isinstance(raw, bytes) else str(raw)
                        names.append(Path(text.replace("\\", "/")).name)
    except OSError:
        return []
    return list(dict.fromkeys(n for n in names if n))


def _subject_name(container) -> str | None:
    """The subject a container holds: its name without sleap-io's ``track=`` / a ``PoseEstimation`` prefix,
    else its skeleton's subject; None when the container has only the default name."""
    name = str(container.name)
    for prefix in ("track=", "PoseEstimation"):
        if name.startswith(prefix):
            rest = name[len(prefix) :].strip("_-= ")
            if rest:
                return rest
            name = ""
    skeleton = getattr(container, "skeleton", None)
    subject = getattr(skeleton, "subject", None) if skeleton is not None else None
    if subject is not None and getattr(subject, "subject_id", None):
        return str(subject.subject_id)
    return name or None


def _animal_prefix(nodes: list[str]) -> str | None:
    """DLC2NWB names every keypoint ``<animal>_<bodypart>``: the animal when all nodes share that prefix."""
    heads = {n.split("_", 1)[0] for n in nodes if "_" in n}
    if len(heads) == 1 and all("_" in n for n in nodes) and len(nodes) > 0:
        return heads.pop()
    return None


def _nodes_edges(container) -> tuple[list[str], list[tuple[int, int]]]:
    skeleton = getattr(container, "skeleton", None)
    source = skeleton if skeleton is not None else container  # ndx-pose < 0.2 keeps them on the container
    nodes = [str(n) for n in (getattr(source, "nodes", None) or [])]
    edges_raw = getattr(source, "edges", None)
    edges = [(int(a), int(b)) for a, b in np.asarray(edges_raw[:]).reshape(-1, 2)] if edges_raw is not None else []
    for name in container.pose_estimation_series:
        if name not in nodes:
            nodes.append(str(name))
    return nodes, edges


def _times(series) -> np.ndarray:
    n = series.data.shape[0]
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], float)
    rate = float(series.rate or 1.0)
    return float(series.starting_time or 0.0) + np.arange(n) / rate


def _rate(containers) -> float | None:
    for container in containers:
        for series in container.pose_estimation_series.values():
            if series.timestamps is None and series.rate:
                return float(series.rate)
    steps = []
    for container in containers:
        for series in container.pose_estimation_series.values():
            t = _times(series)
            d = np.diff(np.unique(t))
            steps.append(d[d > 0])
    steps = np.concatenate(steps) if steps else np.zeros(0)
    return float(1.0 / np.median(steps)) if steps.size else None


def _video_of(container) -> str | None:
    source = getattr(container, "source_video", None)
    videos = getattr(source, "external_file", None) if source is not None else None
    if videos is None or len(videos) == 0:
        videos = getattr(container, "original_videos", None)
    if videos is None or len(videos) == 0:
        return None
    raw = videos[0]
    return Path((raw.decode() if isinstance(raw, bytes) else str(raw)).replace("\\", "/")).name


def read_nwb_pose(
    path: str | Path, n_frames: int | None = None, video: str | Path | None = None, fps: float | None = None
) -> tuple[Pose, float | None]:
    """(pose, the data's frame rate or None) from the ``PoseEstimation`` containers of one video.

    Raises `MissingDependencyError` without pynwb / ndx-pose, `FormatError` for an NWB file
    without pose, and `DataError` for one whose pose does not fit ``n_frames`` or names other videos.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: NWB file not found", path=path)
    _require(path)
    import warnings

    from pynwb import NWBHDF5IO

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # hdmf's namespace-version chatter is not the user's concern
            with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
                nwbfile = io.read()
                return _pose_from_nwbfile(nwbfile, path, n_frames, video, fps)
    except (DataError, MissingDependencyError):
        raise
    except Exception as err:  # pynwb / hdmf raise many types for a damaged file; report them uniformly
        raise DataError(f"could not read NWB file ({type(err).__name__}: {err})", path) from err


def _pose_from_nwbfile(nwbfile, path: Path, n_frames, video, fps) -> tuple[Pose, float | None]:
    containers = [o for o in nwbfile.objects.values() if getattr(o, "neurodata_type", "") == "PoseEstimation"]
    containers.sort(key=lambda c: (str(c.parent.name) if c.parent is not None else "", str(c.name)))
    if not containers:
        raise FormatError(f"{path}: no ndx-pose PoseEstimation in this NWB file", path=path)
    by_video: dict[str | None, list] = {}
    for container in containers:
        by_video.setdefault(_video_of(container), []).append(container)
    if len(by_video) > 1:
        name = Path(str(video)).name if video is not None else None
        if name not in by_video:
            raise DataError(
                f"holds pose for the videos {sorted(str(v) for v in by_video)}"
                + (f", none named {name}" if name else "; name the one to read"),
                path,
            )
        containers = by_video[name]
    nodes, edges = _nodes_edges(containers[0])
    rate = _rate(containers)
    software = str(getattr(containers[0], "source_software", "") or "")
    frame_indices = software.upper() == "SLEAP" and rate == 1.0  # sleap-io writes frame numbers as times
    if rate is None:
        rate = float(fps) if fps else 1.0
    if fps and not frame_indices and abs(rate - fps) > 0.01 * fps:
        warn_data(
            f"{path}: the pose is sampled at {rate:.4g} Hz but the video runs at {fps:.4g} fps; "
            "frames are placed at the pose's own rate",
            stacklevel=4,
        )
    entries = []
    animal = _animal_prefix(nodes)
    for c, container in enumerate(containers):
        subject = _subject_name(container) or animal or (f"instance{c}" if len(containers) > 1 else "instance0")
        for name, series in container.pose_estimation_series.items():
            data = np.asarray(series.data[:], np.float32)
            conf = np.asarray(series.confidence[:], np.float32) if series.confidence is not None else None
            times = _times(series)
            if n_frames is not None and len(times) == n_frames and np.all(np.diff(times) > 0):
                frames = np.arange(n_frames)  # one sample per video frame (DeepLabCut's dense output)
            else:
                frames = np.rint(times * rate).astype(np.int64)
            if frames.size and frames.min() < 0:
                raise DataError(f"series {container.name}/{name} has times before 0", path)
            entries.append((subject, nodes.index(str(name)), frames, data, conf))
    if animal is not None and all(subject == animal for subject, *_ in entries):
        nodes = [n.split("_", 1)[1] for n in nodes]  # "<animal>_<bodypart>" -> "<bodypart>"
    subjects = list(dict.fromkeys(e[0] for e in entries))
    length = max((int(e[2].max()) + 1 for e in entries if e[2].size), default=0)
    if n_frames is not None and length > n_frames:
        raise DataError(f"pose reaches frame {length - 1} but the video has {n_frames} frames", path)
    n = n_frames if n_frames is not None else length
    points = np.full((n, len(subjects), len(nodes), 2), np.nan, np.float32)
    scores = np.full((n, len(subjects), len(nodes)), np.nan, np.float32)
    for subject, k, frames, data, conf in entries:
        s = subjects.index(subject)
        points[frames, s, k] = data[:, :2]
        if conf is not None:
            scores[frames, s, k] = conf
    edges = [(a, b) for a, b in edges if a < len(nodes) and b < len(nodes)]
    return Pose(points, nodes, subjects, scores, edges), (None if frame_indices else rate)
