"""Reading and writing labels and predictions for the plugin, through vpbehavior's readers and writers.

- our ``<video>.behavior.json`` (`vpbehavior.io.labels_file`), exact, "not annotated" included;
- a BORIS tabular-events table (CSV/TSV, BORIS 8 columns) that `vpbehavior.io.label_formats`
  reads back to the same bouts (BORIS has no "not annotated": every frame reads back annotated);
- behavior events inside a SLEAP ``.slp`` (`vpbehavior.io.pose`), next to the pose;
- predictions files, through ``vpbehavior.io.predictions.read_predictions`` when that module exists.
"""

from __future__ import annotations

from pathlib import Path

from vpbehavior.core import BehaviorLabels, DataError, Predictions, VpbehaviorError


class PredictionsReaderMissing(VpbehaviorError):
    """This vpbehavior has no predictions-file reader (``vpbehavior.io.predictions``)."""


def label_kind(path: str | Path) -> str:
    """ "behavior_json", "boris" or "slp": how `save_labels_as` writes ``path`` (from its name)."""
    name = Path(path).name.lower()
    if name.endswith(".behavior.json"):
        return "behavior_json"
    if name.endswith(".slp"):
        return "slp"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "boris"
    raise DataError(f"{path}: save labels as .behavior.json, .slp, or a BORIS .csv / .tsv table")


def boris_table(labels: BehaviorLabels, fps: float, media: str = "", delimiter: str = ",") -> str:
    """``labels`` as a BORIS tabular-events export (`vpbehavior.io.label_formats.boris_events_text`)."""
    from vpbehavior.io.label_formats import boris_events_text

    return boris_events_text(labels.to_bouts(), labels.n_frames, fps, media=media, delimiter=delimiter)


def save_labels_as(
    labels: BehaviorLabels,
    path: str | Path,
    *,
    fps: float | None = None,
    media: str = "",
    pose_file: str | Path | None = None,
    pose=None,
    video: str | Path | None = None,
) -> Path:
    """Write ``labels`` as our label file, a BORIS table or events inside a .slp (by the suffix of ``path``).

    For a .slp, the pose comes from ``pose_file`` (its own events of this video are replaced) or
    from ``pose``; the file is written whole to a temporary file first and then renamed.
    """
    path = Path(path)
    kind = label_kind(path)
    if kind == "behavior_json":
        from vpbehavior.io.labels_file import save_labels

        return save_labels(labels, path)
    if kind == "boris":
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        from vpbehavior.io.labels_file import atomic_write_text

        atomic_write_text(path, boris_table(labels, fps or 0, media, delimiter))
        return path
    import sleap_io as sio

    from vpbehavior.io.pose import labels_to_events, load_pose_file, pose_to_sleap, save_slp

    if pose_file is not None and Path(pose_file).is_file():
        base = load_pose_file(pose_file)
    elif pose is not None:
        base = pose_to_sleap(pose, video)
    else:
        base = sio.Labels(videos=[sio.Video(filename=str(video or ""), open_backend=False)])
    target_video = base.videos[0] if base.videos else None
    base.events[:] = [e for e in base.events if e.video is not target_video]
    labels_to_events(labels, base, target_video)
    return save_slp(base, path)


def load_labels_from(
    path: str | Path,
    n_frames: int | None = None,
    fps: float | None = None,
    subjects=None,
    media: str | None = None,
) -> BehaviorLabels:
    """Labels from our label file, a BORIS export, the per-frame CSV or a .slp's events, on ``subjects``."""
    from vpbehavior.io.label_formats import align_subjects, read_label_file

    path = Path(path)
    if path.suffix.lower() == ".slp":
        from vpbehavior.io.pose import events_to_labels, load_pose_file

        sleap = load_pose_file(path)
        if n_frames is None:
            n_frames = max([e.end_frame + 1 for e in sleap.events] + [lf.frame_idx + 1 for lf in sleap.labeled_frames]
                           + [0])  # fmt: skip
        labels = events_to_labels(sleap, n_frames)
    else:
        labels = read_label_file(path, n_frames=n_frames, fps=fps, media=media)
    if subjects is not None and tuple(labels.subjects) != tuple(subjects):
        labels = align_subjects(labels, list(subjects), str(path))
    return labels


def read_predictions_file(path: str | Path) -> Predictions:
    """A predictions file (``<video>.predictions.h5``) through ``vpbehavior.io.predictions``."""
    try:
        from vpbehavior.io import predictions as predictions_io
    except ModuleNotFoundError as err:
        if err.name not in ("vpbehavior.io.predictions",):
            raise
        raise PredictionsReaderMissing(
            f"{path}: this vpbehavior has no predictions-file reader (vpbehavior.io.predictions); "
            "update vpbehavior, or predict in the Train & predict panel"
        ) from None
    reader = getattr(predictions_io, "read_predictions", None)
    if reader is None:
        raise PredictionsReaderMissing(f"{path}: vpbehavior.io.predictions has no read_predictions()")
    pred = reader(path)
    if not isinstance(pred, Predictions):
        pred = getattr(pred, "predictions", pred)
    if not isinstance(pred, Predictions):
        raise DataError(f"{path}: the predictions reader returned {type(pred).__name__}, not Predictions")
    return pred


def predictions_path_for(video: str | Path) -> Path | None:
    """``<video stem>.predictions.h5`` (or ``<video name>.predictions.h5``) beside the video, if it exists."""
    video = Path(video)
    for candidate in (video.with_name(video.stem + ".predictions.h5"), video.with_name(video.name + ".predictions.h5")):
        if candidate.is_file():
            return candidate
    return None
