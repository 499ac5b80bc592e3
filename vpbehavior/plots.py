"""Matplotlib figures: precision-recall curves and ethograms (standalone `Figure` objects saved to files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def new_figure(width: float, height: float):
    """A figure of its own (no pyplot, so the backend of a notebook or of napari stays as it was)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def save_figure(fig, path: str | Path) -> Path:
    """Save atomically (temp file + rename)."""
    from vpbehavior._files import atomic_output

    path = Path(path)
    # matplotlib infers the format from the extension: keep it on the temporary name, and
    # with no extension use matplotlib's default format, as savefig(path) itself would.
    fmt = None
    if not path.suffix:
        import matplotlib

        fmt = matplotlib.rcParams["savefig.format"]
    with atomic_output(path, suffix=path.suffix or None) as tmp:
        fig.savefig(tmp, bbox_inches="tight", format=fmt)
    return path


def plot_pr_curves(
    y: np.ndarray, scores: np.ndarray, classes: Sequence[str], path: str | Path, background: str | None = None
) -> Path:
    """One precision-recall curve per class (targets 1/0/-1 ``[N, C]``), AP in the legend."""
    from vpbehavior.classify.metrics import average_precision, precision_recall_curve

    fig = new_figure(6, 5)
    ax = fig.add_subplot()
    for j, name in enumerate(classes):
        if name == background:
            continue
        precision, recall, _ = precision_recall_curve(y[:, j], scores[:, j])
        if recall.size == 0 or np.isnan(recall).any():
            continue
        ap = average_precision(y[:, j], scores[:, j])
        ax.step(np.r_[0, recall], np.r_[precision[0], precision], where="post", label=f"{name} (AP {ap:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall per behavior")
    ax.legend(fontsize=7, loc="lower left")
    return save_figure(fig, path)


def plot_ethogram(
    rows: Sequence[tuple[str, np.ndarray]],
    classes: Sequence[str],
    path: str | Path,
    fps: float | None = None,
    title: str = "",
    background: str | None = None,
) -> Path:
    """Raster of behavior calls: one band per ``(label, calls [T, C])`` row, one color per class.

    Typical rows: ("true", targets == 1) and ("predicted", calls) for one subject.
    """
    import matplotlib

    fig = new_figure(10, 0.6 + 0.35 * len(rows) * max(1, len(classes)) / 2)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab20"]
    shown = [c for c in classes if c != background]
    height = 1.0 / max(1, len(shown))
    scale = 1.0 / fps if fps else 1.0
    for r, (_, calls) in enumerate(rows):
        calls = np.asarray(calls, bool)
        for k, name in enumerate(shown):
            j = list(classes).index(name)
            col = calls[:, j]
            edges = np.flatnonzero(np.diff(np.r_[0, col.astype(int), 0]))
            spans = [(a * scale, (b - a) * scale) for a, b in zip(edges[::2], edges[1::2])]
            ax.broken_barh(
                spans, (len(rows) - 1 - r + k * height, height), color=cmap(k % 20), label=name if r == 0 else None
            )
    ax.set_yticks([len(rows) - 1 - r + 0.5 for r in range(len(rows))], [label for label, _ in rows])
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=min(6, len(shown)), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return save_figure(fig, path)
