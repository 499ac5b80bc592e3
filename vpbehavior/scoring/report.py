"""Per-video bouts tables and ethograms, and the folder's self-contained HTML report.

The ethogram has one row per subject and behavior, named on the axis (colour repeats the
behavior, it never carries it alone); frames where a subject is absent are shaded grey. With
many subjects (a tracker's fragmented tracks) only the behaviors a subject shows get a row,
and a subject that shows none gets one row saying so, so every subject is still listed.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vpbehavior.core import Predictions
from vpbehavior.core.labels import runs

#: Above this many subject x behavior rows, only the behaviors a subject shows get a row.
MAX_FULL_ROWS = 40
#: The `vpbehavior.classify.postprocess.BOUT_COLUMNS` of evaluate's bouts.csv, in the same order.
BOUT_COLUMNS = (
    "recording", "subject", "behavior", "start_frame", "stop_frame", "n_frames", "start_s", "stop_s",
    "mean_score", "max_score",
)  # fmt: skip


def bouts_rows(pred: Predictions) -> list[dict]:
    """The bouts of ``pred`` as rows with `BOUT_COLUMNS` (stop exclusive; times None without fps)."""
    from vpbehavior.io.predictions import predicted_bouts

    fps = pred.fps
    return [
        {
            "recording": pred.recording,
            "subject": b.subject,
            "behavior": b.behavior,
            "start_frame": b.start,
            "stop_frame": b.stop,
            "n_frames": b.n_frames,
            "start_s": round(b.start / fps, 4) if fps else None,
            "stop_s": round(b.stop / fps, 4) if fps else None,
            "mean_score": round(b.mean_score, 4),
            "max_score": round(b.max_score, 4),
        }
        for b in predicted_bouts(pred)
    ]


def write_bouts_csv(path: str | Path, pred: Predictions) -> Path:
    from vpbehavior.classify.postprocess import write_csv

    return write_csv(path, bouts_rows(pred), BOUT_COLUMNS)


def _ethogram_rows(pred: Predictions) -> list[tuple[int, int | None]]:
    """(subject index, class index or None for "nothing called") for each row, top to bottom."""
    shown = [c for c, name in enumerate(pred.classes) if name != pred.background]
    if len(pred.subjects) * len(shown) <= MAX_FULL_ROWS:
        return [(s, c) for s in range(len(pred.subjects)) for c in shown]
    rows: list[tuple[int, int | None]] = []
    for s in range(len(pred.subjects)):
        called = [c for c in shown if pred.calls[:, s, c].any()]
        rows += [(s, c) for c in called] or [(s, None)]
    return rows


def _palette(n: int) -> list:
    """Distinct colours for ``n`` behaviors, without the greys (grey marks absence)."""
    import matplotlib

    if n <= 9:
        cmap = matplotlib.colormaps["tab10"]
        return [cmap(i) for i in range(10) if i != 7]
    cmap = matplotlib.colormaps["tab20"]
    return [cmap(i) for i in range(20) if i not in (14, 15)]


def plot_ethogram(pred: Predictions, path: str | Path, title: str = "") -> Path:
    """The ethogram of every subject of ``pred`` as a PNG (see the module docstring)."""
    from matplotlib.patches import Patch

    from vpbehavior.plots import new_figure, save_figure

    rows = _ethogram_rows(pred)
    n_rows = max(1, len(rows))
    fps = pred.fps
    minutes = bool(fps) and pred.n_frames / fps > 600
    scale = (1.0 / fps / (60.0 if minutes else 1.0)) if fps else 1.0
    unit = "time (min)" if minutes else ("time (s)" if fps else "frame")
    row_h = 0.26 if n_rows <= 24 else 0.17
    fig = new_figure(11, 1.2 + row_h * n_rows)
    ax = fig.add_subplot()
    palette = _palette(len(pred.classes))
    end = pred.n_frames * scale
    labels, subject_span = [], {}
    for r, (s, c) in enumerate(rows):
        y = n_rows - 1 - r
        subject_span.setdefault(s, []).append(y)
        absent = runs(~pred.presence[:, s])
        if absent:
            ax.broken_barh([(a * scale, (b - a) * scale) for a, b in absent], (y, 1.0), color="0.88", lw=0)
        if c is None:
            labels.append("(nothing called)")
            continue
        labels.append(pred.classes[c])
        spans = [(a * scale, max((b - a) * scale, end / 2000)) for a, b in runs(pred.calls[:, s, c])]
        ax.broken_barh(spans, (y + 0.12, 0.76), color=palette[c % len(palette)], lw=0)
    ax.set_yticks([n_rows - 1 - r + 0.5 for r in range(len(rows))], labels, fontsize=7 if n_rows > 24 else 8)
    ax.set_ylim(0, n_rows)
    ax.set_xlim(0, end if end > 0 else 1)
    ax.set_xlabel(unit)
    several = len(pred.subjects) > 1 or pred.subjects[0] != "all"
    for s, ys in subject_span.items():  # subject names beside their group of rows, lines between groups
        low, high = min(ys), max(ys) + 1
        if several:
            ax.annotate(
                pred.subjects[s], xy=(0, (low + high) / 2), xycoords=("axes fraction", "data"),
                xytext=(-6, 0), textcoords="offset points", ha="right", va="center", fontsize=8,
                fontweight="bold", annotation_clip=False,
            )  # fmt: skip
        if low > 0:
            ax.axhline(low, color="0.35", lw=0.8)
    if several:
        ax.tick_params(axis="y", pad=4)
        ax.yaxis.set_label_position("left")
        # the subject names sit left of the behavior names: move the tick labels right of the axis
        ax.yaxis.tick_right()
        ax.tick_params(axis="y", which="both", length=0)
    ax.set_title(title or pred.recording, fontsize=10, loc="left")
    ax.grid(axis="x", color="0.8", lw=0.5)
    ax.set_axisbelow(True)
    if any(not pred.presence[:, s].all() for s in range(len(pred.subjects))):
        ax.legend(
            handles=[Patch(color="0.88", label="subject absent (not scored)")], fontsize=7, loc="upper right",
            bbox_to_anchor=(1.0, 1.0 + 0.35 / (row_h * n_rows + 0.4)), frameon=False,
        )  # fmt: skip
    return save_figure(fig, path)


# ------------------------------------------------------------------ report.html
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.t, th.t { text-align: left; }
.meta td { text-align: left; } .fail td { background: #fff3f3; }
img { max-width: 100%; border: 1px solid #eee; }
.muted { color: #777; }
details { margin-bottom: 1em; } summary { cursor: pointer; color: #345; margin: 0.3em 0; }
"""


def _cell(value, text: bool = False) -> str:
    shown = "" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
    return f'<td class="t">{html.escape(shown)}</td>' if text else f"<td>{html.escape(shown)}</td>"


def _table(rows: Sequence[dict], columns: Sequence[str], text_columns: Sequence[str], cls: str = "") -> str:
    head = "".join(f'<th class="{"t" if c in text_columns else ""}">{html.escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(_cell(r.get(c), c in text_columns) for c in columns) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _image(path: Path) -> str:
    if not path.is_file():
        return '<p class="muted">(no ethogram)</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="ethogram of {html.escape(path.name)}" src="data:image/png;base64,{data}">'


#: Summary columns shown in the report (summary.csv has them all).
REPORT_COLUMNS = (
    "subject", "behavior", "present_s", "time_s", "time_pct", "bouts", "mean_bout_s", "median_bout_s", "latency_s",
)  # fmt: skip
#: A video's summary table starts folded when it has more rows than this.
OPEN_ROWS = 24


def render_report(out: Path, summary: list[dict], failures: list[dict], info: dict | None, videos: list[dict]) -> str:
    """The HTML text of ``report.html``: one file, images inlined, no scripts or external resources.

    ``videos``: per predictions file, ``key``, ``ethogram`` (path), ``n_frames``, ``fps``,
    ``subjects`` and ``bouts``.
    """
    info = info or {}
    clf = info.get("classifier") or {}
    enc = info.get("encoder") or {}
    meta = [
        ("classifier", f"{clf.get('path', '')} (sha256 {str(clf.get('sha256', ''))[:12]}, {clf.get('kind', '')} "
                       f"features, {clf.get('head', '')} head)"),
        ("encoder", f"{enc.get('model', '')} (weights sha256 {str(enc.get('weights_sha256', ''))[:12]})" if enc else "none"),
        ("extraction", ", ".join(f"{k}={v}" for k, v in (info.get("extraction") or {}).items()) or "none"),
        ("data", str(info.get("data", ""))),
        ("vpbehavior", str((info.get("versions") or {}).get("vpbehavior", ""))),
        ("videos", f"{len(videos)} with predictions, {len(failures)} failed"),
    ]  # fmt: skip
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>vpbehavior score report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>vpbehavior score report</h1>",
        '<table class="meta"><tbody>'
        + "".join(f"<tr><th class='t'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in meta)
        + "</tbody></table>",
    ]
    if failures:
        cols = ("video", "stage", "reason")
        parts += ["<h2>Failures</h2>", _table(failures, cols, cols, "fail")]
    index = []
    for v in videos:
        duration = v["n_frames"] / v["fps"] if v.get("fps") else None
        index.append({**v, "video": v["key"], "duration_s": None if duration is None else round(duration, 2)})
    parts += [
        "<h2>Videos</h2>",
        _table(index, ("video", "n_frames", "fps", "duration_s", "subjects", "bouts"), ("video",)),
        '<p class="muted">Per video below: the ethogram (grey: subject absent) and the summary. time_pct is the '
        "share of the time the subject was present (scored); latency runs from the start of the video to the first "
        "bout; durations in seconds. summary.csv has every column.</p>",
    ]
    by_video: dict[str, list[dict]] = {}
    for row in summary:
        by_video.setdefault(row["video"], []).append(row)
    for v in videos:
        rows = by_video.get(v["key"], [])
        table = _table(rows, REPORT_COLUMNS, ("subject", "behavior"))
        opened = " open" if len(rows) <= OPEN_ROWS else ""
        parts += [
            f'<h2 id="{html.escape(v["key"])}">{html.escape(v["key"])}</h2>',
            _image(v["ethogram"]),
            f"<details{opened}><summary>summary ({len(rows)} subject x behavior rows)</summary>{table}</details>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def bout_stats(durations: np.ndarray) -> tuple[float | None, float | None]:
    if durations.size == 0:
        return None, None
    return float(durations.mean()), float(np.median(durations))
