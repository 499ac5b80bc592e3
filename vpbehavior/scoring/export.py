"""Predictions in other tools' formats: BORIS, sleap-io (.slp), NWB and a per-frame CSV.

- ``boris``: ``<key>.boris.tsv``, a BORIS tabular events table (the columns of BORIS's own
  "tabular events" export): one START and one STOP row per bout, times in seconds; frame-level
  bouts have the subject "No focal subject". BORIS imports it, and so does
  `vpbehavior.io.label_formats.read_label_file`.
- ``slp``: ``<key>.predictions.slp``, a copy of the video's .slp pose file with every bout added
  as a sleap-io ``PredictedEvent`` (per-frame scores included); the pose and any events already
  in the file are kept as they are. Without a pose file it holds the video and the events only.
- ``nwb``: ``<key>.nwb`` (needs pynwb: ``pip install vpbehavior[nwb]``): one ``TimeIntervals``
  table per subject and behavior in ``intervals`` (start, stop, mean and max score), and the
  probabilities of each subject as a ``TimeSeries`` [frames, classes] in the processing module
  ``behavior``.
- ``csv``: ``<key>.frames.csv``: one row per frame and subject: frame, time, presence, then the
  probability and the call of every behavior.

All files are written atomically. Times are ``frame / fps`` (a bout's STOP is its exclusive end).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import uuid
from pathlib import Path

import numpy as np

from vpbehavior._files import atomic_output
from vpbehavior.core import BehaviorLabels, Predictions
from vpbehavior.core.errors import ConfigError, DataError

from .config import EXPORT_FORMATS

SUFFIXES = {"boris": ".boris.tsv", "slp": ".predictions.slp", "nwb": ".nwb", "csv": ".frames.csv"}

#: The columns of BORIS's tabular events export (BORIS 8).
NO_FOCAL = "No focal subject"


def export_path(base: str | Path, kind: str) -> Path:
    """Where export ``kind`` of the predictions ``<base>.predictions.h5`` goes: ``<base><suffix>``."""
    if kind not in SUFFIXES:
        raise ConfigError(f"unknown export format {kind!r}; choose from {', '.join(EXPORT_FORMATS)}")
    base = Path(base)
    return base.with_name(base.name + SUFFIXES[kind])


def require_nwb() -> None:
    """ConfigError (one line) when pynwb is not installed."""
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise ConfigError("NWB export needs pynwb: pip install vpbehavior[nwb]") from None


def export(
    pred: Predictions, kind: str, path: str | Path, *, video: str | Path | None = None, pose: str | Path | None = None
) -> Path:
    """Write ``pred`` as ``kind`` (boris, slp, nwb, csv) to ``path``."""
    path = Path(path)
    if kind == "boris":
        return export_boris(pred, path, video)
    if kind == "slp":
        return export_slp(pred, path, pose=pose, video=video)
    if kind == "nwb":
        return export_nwb(pred, path, video)
    if kind == "csv":
        return export_csv(pred, path)
    raise ConfigError(f"unknown export format {kind!r}; choose from {', '.join(EXPORT_FORMATS)}")


def _shown(pred: Predictions) -> list[int]:
    return [c for c, name in enumerate(pred.classes) if name != pred.background]


def _need_fps(pred: Predictions, what: str) -> float:
    if not pred.fps:
        raise DataError(f"predictions of {pred.recording!r} have no frame rate; {what} needs times in seconds")
    return float(pred.fps)


# ------------------------------------------------------------------ BORIS
def export_boris(pred: Predictions, path: str | Path, video: str | Path | None = None) -> Path:
    """The predicted bouts as a BORIS tabular-events table (`vpbehavior.io.label_formats.boris_events_text`)."""
    from vpbehavior._files import atomic_write_text
    from vpbehavior.io.label_formats import boris_events_text
    from vpbehavior.io.predictions import predicted_bouts

    fps = _need_fps(pred, "a BORIS table")
    text = boris_events_text(
        predicted_bouts(pred), pred.n_frames, fps, media=str(video) if video else pred.recording,
        observation=pred.recording, description="vpbehavior predictions",
    )  # fmt: skip
    atomic_write_text(Path(path), text)
    return Path(path)


# ------------------------------------------------------------------ sleap-io
def called_labels(pred: Predictions) -> tuple[BehaviorLabels, np.ndarray]:
    """The calls as labels without the background class (1 called, 0 not, -1 absent) and their scores."""
    keep = _shown(pred)
    values = np.where(pred.calls[:, :, keep], 1, 0).astype(np.int8)
    values[~pred.presence] = -1
    labels = BehaviorLabels(values, [pred.classes[c] for c in keep], pred.subjects)
    return labels, np.asarray(pred.scores[:, :, keep])


def export_slp(
    pred: Predictions, path: str | Path, *, pose: str | Path | None = None, video: str | Path | None = None
) -> Path:
    """A copy of the pose file ``pose`` (or a new .slp) with the bouts added as ``PredictedEvent``s."""
    import sleap_io as sio

    from vpbehavior.io.pose import labels_to_events, load_pose_file, save_slp

    path = Path(path)
    if pose is not None:
        slp = load_pose_file(pose)
        target = None
        if video is not None and len(slp.videos) > 1:
            target = next((v for v in slp.videos if Path(str(v.filename)).name == Path(video).name), None)
        target = target if target is not None else (slp.videos[0] if slp.videos else None)
    else:
        target = sio.Video(filename=str(video) if video else pred.recording, open_backend=False)
        slp = sio.Labels(videos=[target])
    if target is None:
        raise DataError("the pose file references no video to attach behavior events to", pose)
    labels, scores = called_labels(pred)
    labels_to_events(labels, slp, video=target, predicted=True, scores=scores)
    return save_slp(slp, path)


# ------------------------------------------------------------------ NWB
def _nwb_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text)) or "_"


def export_nwb(pred: Predictions, path: str | Path, video: str | Path | None = None) -> Path:
    """An NWB file with the bouts as TimeIntervals (per subject and behavior) and the probabilities."""
    require_nwb()
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals

    from vpbehavior.io.predictions import predicted_bouts

    fps = _need_fps(pred, "NWB")
    path = Path(path)
    stamp = None
    inputs = (pred.provenance.get("inputs") or {}).get("video") or {}
    if inputs.get("mtime_ns"):
        stamp = _dt.datetime.fromtimestamp(inputs["mtime_ns"] / 1e9, tz=_dt.timezone.utc).replace(microsecond=0)
    elif video is not None and Path(video).exists():
        stamp = _dt.datetime.fromtimestamp(Path(video).stat().st_mtime, tz=_dt.timezone.utc).replace(microsecond=0)
    stamp = stamp or _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    classifier = pred.provenance.get("classifier")
    sha = classifier.get("sha256") if isinstance(classifier, dict) else pred.provenance.get("classifier_sha256")
    identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vpbehavior:{pred.recording}:{video}:{sha}"))
    nwb = NWBFile(
        session_description=f"vpbehavior behavior predictions of {pred.recording}",
        identifier=identifier,
        session_start_time=stamp,
        file_create_date=stamp,
        source_script="vpbehavior",
        source_script_file_name="vpbehavior score",
        notes=json.dumps(
            {"classes": list(pred.classes), "subjects": list(pred.subjects), "provenance_classifier": sha}
        ),
    )
    module = nwb.create_processing_module("behavior", "vpbehavior: per-frame behavior probabilities and calls")
    bouts = predicted_bouts(pred)
    for s, subject in enumerate(pred.subjects):
        module.add(
            TimeSeries(
                name=f"probabilities_{_nwb_name(subject)}",
                data=np.asarray(pred.scores[:, s, :], np.float32),
                unit="probability",
                rate=fps,
                starting_time=0.0,
                description=f"probability of each behavior for subject {subject!r} per frame (NaN where absent); "
                f"columns: {json.dumps(list(pred.classes))}",
            )
        )
        for c in _shown(pred):
            behavior = pred.classes[c]
            table = TimeIntervals(
                name=f"{_nwb_name(subject)}__{_nwb_name(behavior)}",
                description=f"bouts of {behavior!r} by subject {subject!r} called by vpbehavior",
            )
            mine = [b for b in bouts if b.subject == subject and b.behavior == behavior]
            for b in mine:
                table.add_interval(start_time=b.start / fps, stop_time=b.stop / fps)
            # columns after the rows, with their dtype: an empty table's columns need one too
            table.add_column("mean_score", "mean probability over the bout",
                             data=np.array([b.mean_score for b in mine], np.float32))  # fmt: skip
            table.add_column("max_score", "highest probability in the bout",
                             data=np.array([b.max_score for b in mine], np.float32))  # fmt: skip
            nwb.add_time_intervals(table)
    with atomic_output(path, suffix=".nwb") as tmp:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return path


# ------------------------------------------------------------------ per-frame CSV
def export_csv(pred: Predictions, path: str | Path) -> Path:
    """One row per frame and subject: frame, time_s, subject, present, then <class> (probability) and <class>_call."""
    path = Path(path)
    header = ["frame", "time_s", "subject", "present"]
    for name in pred.classes:
        header += [name, f"{name}_call"]
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for t in range(pred.n_frames):
            time_s = f"{t / pred.fps:.4f}" if pred.fps else ""
            for s, subject in enumerate(pred.subjects):
                present = bool(pred.presence[t, s])
                row = [t, time_s, subject, int(present)]
                for c in range(len(pred.classes)):
                    score = float(pred.scores[t, s, c])
                    row += ["" if math.isnan(score) else f"{score:.6g}", int(pred.calls[t, s, c])]
                writer.writerow(row)
    return path


# ------------------------------------------------------------------ from a predictions file
def export_file(
    predictions: str | Path,
    kinds,
    out: str | Path | None = None,
    *,
    pose: str | Path | None = None,
    video: str | Path | None = None,
) -> dict[str, Path]:
    """Export one predictions file to each of ``kinds``; files go beside it or into folder ``out``.

    The video and pose file default to those recorded in the file's provenance (when they exist).
    """
    from vpbehavior.io.predictions import SUFFIX, read_predictions

    predictions = Path(predictions)
    pred = read_predictions(predictions)
    name = predictions.name[: -len(SUFFIX)] if predictions.name.endswith(SUFFIX) else predictions.stem
    base = (Path(out) if out is not None else predictions.parent) / name
    inputs = pred.provenance.get("inputs") or {}
    if video is None:
        recorded = (inputs.get("video") or {}).get("path")
        video = recorded
    if pose is None:
        for entry in inputs.get("pose") or []:
            if entry and str(entry.get("path", "")).endswith(".slp") and Path(entry["path"]).is_file():
                pose = entry["path"]
                break
    if "nwb" in kinds:
        require_nwb()
    return {kind: export(pred, kind, export_path(base, kind), video=video, pose=pose) for kind in kinds}
