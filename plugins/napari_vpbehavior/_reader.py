"""npe2 readers: videos, predictions files, label files (ours, BORIS), SLEAP .slp and DeepLabCut pose.

Each ``get_*_reader`` returns None for a path it does not read, else a reader returning napari
layer data. Videos open lazily (`vpbehavior.open_video`: frame-accurate, one frame decoded per
slider step) together with the pose and labels paired beside them (`vpbehavior.load`). Files
that carry no picture (labels, predictions) go to the ethogram of the current viewer and return
napari's "no layer" sentinel ``[(None,)]``; with no recording on screen they bring a placeholder
layer that gives the time slider.
"""

from __future__ import annotations

from pathlib import Path

from vpbehavior.core import DataError, Recording, VpbehaviorError

from ._layers import KEY, recording_layers

NULL_LAYER = [(None,)]


def _single(path) -> Path | None:
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    return Path(path)


def _video_suffixes() -> tuple[str, ...]:
    from vpbehavior.api import VIDEO_SUFFIXES

    return tuple(s for s in VIDEO_SUFFIXES if s != ".gif")


def _current_session():
    import napari

    from ._session import session_for

    viewer = napari.current_viewer()
    return session_for(viewer) if viewer is not None else None


# ---------------------------------------------------------------------- videos
def get_video_reader(path):
    p = _single(path)
    if p is None or p.suffix.lower() not in _video_suffixes() or not p.is_file():
        return None
    return read_video


def read_video(path) -> list[tuple]:
    """The video as a lazy image layer, with the pose, labels and predictions found beside it."""
    import warnings

    import vpbehavior as vpb

    from ._files import PredictionsReaderMissing, predictions_path_for, read_predictions_file

    p = _single(path)
    _current_session()  # listening before napari inserts the layer
    reader = vpb.open_video(p)
    rec = None
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = vpb.load(p)
            rec = data.recordings[0] if data.recordings else None
            problems += [f"{f.path}: {f.error}" for f in getattr(data, "failures", ())]
        except VpbehaviorError as err:
            problems.append(str(err))
    problems += [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if rec is None:
        rec = Recording(p.stem, video=p, n_frames=reader.n_frames, fps=reader.fps)
    predictions = None
    pred_path = predictions_path_for(p)
    if pred_path is not None:
        try:
            predictions = read_predictions_file(pred_path)
            if predictions.n_frames != rec.n_frames:
                problems.append(f"{pred_path}: {predictions.n_frames} frames, the video {rec.n_frames}; not shown")
                predictions = None
        except PredictionsReaderMissing as err:
            problems.append(str(err))
        except VpbehaviorError as err:
            problems.append(str(err))
    label_files = list(rec.metadata.get("label_files") or [])
    extra = {"pose_file": rec.metadata.get("pose_file"), "labels_path": label_files[0] if label_files else None,
             "problems": problems}  # fmt: skip
    _notify(problems)
    return recording_layers(rec, reader, predictions, extra)


def _notify(problems: list[str]) -> None:
    if not problems:
        return
    try:
        from napari.utils.notifications import show_warning

        show_warning("; ".join(problems[:3]))
    except Exception:
        pass


# ---------------------------------------------------------------------- predictions files
def get_predictions_reader(path):
    p = _single(path)
    if p is None or not p.name.endswith(".predictions.h5"):
        return None
    return read_predictions


def read_predictions(path) -> list[tuple]:
    """Predictions into the ethogram of the recording on screen (or with their video, when it lies beside them)."""
    from ._files import read_predictions_file

    p = _single(path)
    pred = read_predictions_file(p)  # PredictionsReaderMissing says clearly what is missing
    session = _current_session()
    if session is not None and session.recording is not None and session.n_frames == pred.n_frames:
        session.set_predictions(pred)
        return NULL_LAYER
    stem = p.name[: -len(".predictions.h5")]
    for suffix in _video_suffixes():
        video = p.with_name(Path(stem).stem + suffix)
        if video.is_file():
            layers = read_video(video)
            for _, kwargs, _ in layers:
                info = kwargs.get("metadata", {}).get(KEY)
                if info and info.get("recording") is not None:
                    info["predictions"] = pred
            return layers
    rec = Recording(pred.recording, n_frames=pred.n_frames, fps=pred.fps, subjects=pred.subjects)
    return recording_layers(rec, None, pred)


# ---------------------------------------------------------------------- label files
def get_labels_reader(path):
    from vpbehavior.io.label_formats import sniff_label_kind

    p = _single(path)
    if p is None or not p.is_file():
        return None
    if p.name.endswith(".behavior.json"):
        return read_labels
    if p.suffix.lower() in (".csv", ".tsv", ".txt"):
        kind = sniff_label_kind(p)
        if kind is not None:
            return read_labels
        if p.suffix.lower() == ".csv" and _is_dlc_csv(p):
            return read_dlc_pose
    return None


def _is_dlc_csv(p: Path) -> bool:
    try:
        with open(p, encoding="utf-8-sig", errors="replace") as fh:
            return fh.readline().split(",")[0].strip().lower() == "scorer"
    except OSError:
        return False


def read_labels(path) -> list[tuple]:
    """Labels into the editable model of the recording on screen (or alone, with a time slider)."""
    from ._files import load_labels_from

    p = _single(path)
    session = _current_session()
    if session is not None and session.recording is not None:
        session.load_labels_file(p)
        return NULL_LAYER
    labels = load_labels_from(p)
    rec = Recording(p.name.split(".")[0], n_frames=labels.n_frames, subjects=labels.subjects, labels=labels)
    return recording_layers(rec, None, None, {"labels_path": str(p)})


# ---------------------------------------------------------------------- pose files
def get_slp_reader(path):
    p = _single(path)
    if p is None or p.suffix.lower() != ".slp" or not p.is_file():
        return None
    return read_slp


def read_slp(path) -> list[tuple]:
    """SLEAP pose (points per track, skeleton, boxes) and the behavior events inside the file.

    With the same video already on screen the pose and events go to it; otherwise the video the
    file references is opened too, when it exists.
    """
    import vpbehavior as vpb
    from vpbehavior.io.pose import events_to_labels, load_pose_file, pose_from_sleap

    p = _single(path)
    sleap = load_pose_file(p)
    session = _current_session()
    video = Path(sleap.videos[0].filename) if sleap.videos and sleap.videos[0].filename else None
    if video is not None and not video.is_file():
        beside = p.with_name(video.name)
        video = beside if beside.is_file() else None
    on_screen = session.recording if session is not None else None
    same = on_screen is not None and (
        (video is not None and on_screen.video is not None and on_screen.video.resolve() == video.resolve())
        or video is None
    )
    reader = None
    if same:
        n_frames = on_screen.n_frames
    elif video is not None:
        reader = vpb.open_video(video)
        n_frames = reader.n_frames
    else:
        n_frames = None
    pose = pose_from_sleap(sleap, n_frames=n_frames)
    labels = None
    if sleap.events:
        try:
            labels = events_to_labels(sleap, pose.n_frames, subjects=list(pose.subjects))
        except DataError:
            labels = events_to_labels(sleap, pose.n_frames)
    if same:
        if pose.n_frames != on_screen.n_frames:
            raise DataError(f"{p}: the pose covers {pose.n_frames} frames, the video on screen {on_screen.n_frames}")
        session.set_pose(pose, p, labels)
        return NULL_LAYER
    rec = Recording(p.stem if video is None else video.stem, video=video, n_frames=pose.n_frames,
                    fps=reader.fps if reader is not None else None, subjects=pose.subjects, pose=pose)  # fmt: skip
    if labels is not None and tuple(labels.subjects) == tuple(rec.subjects):
        rec = rec.replace(labels=labels)
    return recording_layers(rec, reader, None, {"pose_file": str(p), "labels_path": str(p) if labels else None})


def get_dlc_reader(path):
    p = _single(path)
    if p is None or p.suffix.lower() != ".h5" or p.name.endswith((".predictions.h5", ".features.h5")):
        return None
    return read_dlc_pose


def read_dlc_pose(path) -> list[tuple]:
    """DeepLabCut pose (.h5 / .csv): points per individual; added to the recording on screen when it fits."""
    from vpbehavior.io.pose import read_dlc

    p = _single(path)
    session = _current_session()
    on_screen = session.recording if session is not None else None
    pose = read_dlc(p, n_frames=on_screen.n_frames if on_screen is not None else None)
    if on_screen is not None:
        session.set_pose(pose)
        return NULL_LAYER
    rec = Recording(p.stem, n_frames=pose.n_frames, subjects=pose.subjects, pose=pose)
    return recording_layers(rec, None, None)
