"""The folder's files, rebuilt from whatever predictions exist under OUT.

- ``summary.csv``: one row per video x subject x behavior (`SUMMARY_COLUMNS`): the time the
  subject was present (scored), time spent in the behavior (seconds and % of the present time),
  bout count, mean and median bout duration, latency from the start of the video to the first bout;
- ``failures.csv``: video, stage, reason of every video whose last attempt failed;
- ``report.html``: the summary table and every ethogram, images inlined (one file, works offline);
- ``score.json``: what decides the outputs (classifier, encoder, extraction and post-processing
  settings, data, pattern, exports) and the versions that made them. Runtime choices (device,
  workers, shard, batch size) change how fast, not what, and are not recorded, so a sharded
  run's folder equals an unsharded one's.

Rebuilding takes the folder's summary lock, so concurrent runs never interleave these files,
and each run's rebuild sees every predictions file finished before it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from vpbehavior.core.errors import DataError, MissingFileError
from vpbehavior.reporting import Progress, track, warn_data

from .job import STATE_DIR, _read_failure
from .locks import FileLock
from .report import bout_stats, render_report

SCORE_JSON = "score.json"
SUMMARY_COLUMNS = (
    "video", "subject", "behavior", "fps", "present_s", "time_s", "time_pct", "bouts", "mean_bout_s",
    "median_bout_s", "latency_s", "time_frames", "latency_frame",
)  # fmt: skip
FAILURE_COLUMNS = ("video", "stage", "reason")
#: Files (beside per-video outputs) that mark a folder as a score output.
MARKERS = (SCORE_JSON, "summary.csv", STATE_DIR)


def predictions_files(out: Path) -> list[tuple[str, Path]]:
    """``(key, path)`` of every predictions file under ``out`` (hidden folders skipped), sorted by key."""
    from vpbehavior.io.predictions import SUFFIX

    found = []
    for path in Path(out).rglob(f"*{SUFFIX}"):
        rel = path.relative_to(out)
        if any(part.startswith(".") for part in rel.parts):
            continue
        found.append((rel.as_posix()[: -len(SUFFIX)], path))
    return sorted(found)


def summary_rows(key: str, header: dict, bouts, presence: np.ndarray) -> list[dict]:
    """The `SUMMARY_COLUMNS` rows of one predictions file."""
    fps = header["fps"]

    def sec(frames):
        return None if frames is None or not fps else round(frames / fps, 4)

    rows = []
    background = header["background"]
    for s, subject in enumerate(header["subjects"]):
        present = int(presence[:, s].sum())
        for behavior in header["classes"]:
            if behavior == background:
                continue
            mine = [b for b in bouts if b.subject == subject and b.behavior == behavior]
            frames = np.array([b.n_frames for b in mine], dtype=np.float64)
            total = int(frames.sum())
            mean, median = bout_stats(frames)
            first = min((b.start for b in mine), default=None)
            rows.append(
                {
                    "video": key,
                    "subject": subject,
                    "behavior": behavior,
                    "fps": fps,
                    "present_s": sec(present),
                    "time_s": sec(total),
                    "time_pct": round(100.0 * total / present, 3) if present else None,
                    "bouts": len(mine),
                    "mean_bout_s": sec(mean),
                    "median_bout_s": sec(median),
                    "latency_s": sec(first),
                    "time_frames": total,
                    "latency_frame": first,
                }
            )
    return rows


def read_failures(out: Path) -> list[dict]:
    """The failure records under ``out/.score/failures``, sorted by video."""
    folder = Path(out) / STATE_DIR / "failures"
    records = [_read_failure(p) for p in sorted(folder.rglob("*.json"))] if folder.is_dir() else []
    return sorted((r for r in records if r is not None), key=lambda r: (r["video"], r["stage"]))


def versions() -> dict:
    """Versions of vpbehavior and the libraries that shape its outputs."""
    from importlib import metadata

    from vpbehavior._version import __version__

    out = {"vpbehavior": __version__, "python": ".".join(map(str, sys.version_info[:3]))}
    for name in ("numpy", "torch", "h5py", "sleap-io", "matplotlib", "pynwb"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def rebuild_summary(
    out: str | Path, info: dict | None = None, progress: Progress = False, lock_timeout: float = 600.0
) -> dict[str, Path]:
    """Write summary.csv, failures.csv and report.html from the predictions under ``out`` (and score.json
    from ``info`` when given); returns the paths. A damaged predictions file is warned about and skipped."""
    from vpbehavior._files import atomic_write_text
    from vpbehavior.classify.postprocess import write_csv
    from vpbehavior.io.predictions import SUFFIX, read_bouts, read_header

    out = Path(out)
    if not out.is_dir():
        raise MissingFileError(f"{out}: no such score output folder", out)
    files = {
        "summary": out / "summary.csv",
        "failures": out / "failures.csv",
        "report": out / "report.html",
        "score": out / SCORE_JSON,
    }
    with FileLock(out / STATE_DIR / "summary.lock", stale_after_s=lock_timeout):
        if info is not None:
            text = json.dumps(info, indent=1, sort_keys=True, allow_nan=False) + "\n"
            atomic_write_text(files["score"], text)
            info = json.loads(text)  # the report shows what score.json says, in its order
        elif files["score"].is_file():
            try:
                info = json.loads(files["score"].read_text())
            except ValueError:
                info = None
        rows, videos = [], []
        for key, path in track(predictions_files(out), progress, "summary", unit="video"):
            try:
                header = read_header(path)
                bouts = read_bouts(path)
                presence = _presence(path)
            except (DataError, MissingFileError, OSError) as err:
                warn_data(f"{path}: left out of the summary ({err})")
                continue
            rows += summary_rows(key, header, bouts, presence)
            videos.append(
                {
                    "key": key,
                    "ethogram": path.with_name(path.name[: -len(SUFFIX)] + ".ethogram.png"),
                    "n_frames": header["n_frames"],
                    "fps": header["fps"],
                    "subjects": len(header["subjects"]),
                    "bouts": len(bouts),
                }
            )
        failures = read_failures(out)
        write_csv(files["summary"], rows, SUMMARY_COLUMNS)
        write_csv(files["failures"], failures, FAILURE_COLUMNS)
        atomic_write_text(files["report"], render_report(out, rows, failures, info, videos))
    if not files["score"].is_file():
        del files["score"]
    return files


def _presence(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as fh:
        return fh["presence"][()].astype(bool)
