"""The ethogram canvas: one row per (subject, behavior) with label, call and probability lanes,
then one lane per extra per-frame trace (`Trace`: e.g. a text query's similarity).

Drawn for long recordings: only the visible time window is touched, reduced to one value per
pixel column (max for labels and calls, a min-max envelope for probabilities) with numpy, into
one image; the names axis and time axis are painted onto the same pixmap. Moving the cursor
repaints two thin strips (the old and the new cursor) from that pixmap; the image is rebuilt
only when the window, the size or the data change. Plain QPainter through qtpy: no plotting
library.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from qtpy.QtCore import QPoint, QRect, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

#: behavior colours (a qualitative palette), by vocabulary position
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120), (152, 223, 138),
]  # fmt: skip

BACKGROUND = (38, 41, 48)
NEGATIVE_BG = (24, 26, 31)  # annotated, behavior absent
UNANNOTATED_BG = (62, 65, 74)  # nobody looked
LANE_BG = (30, 32, 38)
TEXT = QColor(220, 222, 226)
CURSOR = QColor(255, 255, 255)
LABEL_H, CALL_H, PROB_H, GAP, ROW_PAD = 9, 6, 16, 1, 4
TRACE_H = 18
AXIS_H = 18


#: colours of the extra trace lanes (apart from the behaviors' palette)
TRACE_PALETTE = [(240, 200, 80), (120, 220, 200), (230, 140, 200), (170, 200, 110), (150, 170, 240)]


def color_for(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True, eq=False)
class Trace:
    """An extra per-frame lane under the behavior rows: ``values`` ``[T]`` (NaN: none), drawn from ``[lo, hi]`` to 0..1.

    ``lo`` / ``hi`` default to the lowest and highest finite value, so the lane spans its full
    height whatever the values' scale (a cosine similarity lives in a narrow band).
    """

    name: str
    values: np.ndarray
    lo: float | None = None
    hi: float | None = None
    color: tuple[int, int, int] | None = None
    scaled: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, np.float32).reshape(-1)
        finite = values[np.isfinite(values)]
        lo = float(self.lo if self.lo is not None else (finite.min() if finite.size else 0.0))
        hi = float(self.hi if self.hi is not None else (finite.max() if finite.size else 1.0))
        span = hi - lo if hi > lo else 1.0
        with np.errstate(invalid="ignore"):
            scaled = np.clip((values - lo) / span, 0.0, 1.0).astype(np.float32)  # NaN stays NaN
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        object.__setattr__(self, "scaled", scaled)


@dataclass
class EthogramData:
    """What the canvas draws: lanes ``[T, R]`` for R rows of ``(subject, behavior)``; any lane may be None."""

    n_frames: int = 0
    rows: list[tuple[str, str]] = field(default_factory=list)
    colors: list[tuple[int, int, int]] = field(default_factory=list)
    labels: np.ndarray | None = None  # int8 1 / 0 / -1
    calls: np.ndarray | None = None  # bool
    scores: np.ndarray | None = None  # float32, NaN where absent
    fps: float | None = None
    show_subject: bool = True
    #: extra lanes under the rows, each ``[T]`` (see `Trace`)
    traces: list[Trace] = field(default_factory=list)


def column_starts(t0: float, t1: float, width: int, n_frames: int) -> tuple[np.ndarray, np.ndarray, int]:
    """First frame of each pixel column of the window ``[t0, t1)``, which columns hold frames, and the stop frame."""
    edges = t0 + np.arange(width, dtype=np.float64) * ((t1 - t0) / max(width, 1))
    starts = np.floor(edges).astype(np.int64)
    valid = (starts >= 0) & (starts < n_frames)
    starts = np.clip(starts, 0, max(n_frames - 1, 0))
    stop = int(min(n_frames, max(math.ceil(t1), starts[-1] + 1))) if width else 0
    return starts, valid, stop


def reduce_columns(array: np.ndarray, starts: np.ndarray, stop: int, ufunc) -> np.ndarray:
    """``ufunc.reduceat`` over the frames of each column (``[W, R]``); touches only frames ``starts[0]..stop``."""
    lo = int(starts[0])
    return ufunc.reduceat(array[lo:stop], starts - lo, axis=0)


class EthogramCanvas(QWidget):
    """The drawing surface; the owner (`EthogramWidget`) turns its signals into seeks and edits."""

    #: a frame was clicked (or dragged over): seek there
    seekRequested = Signal(int)
    #: pressed on ``(row, frame)`` in a label lane (-1: another lane)
    rowPressed = Signal(int, int)
    #: drag of the selected bout's ``"start"`` / ``"stop"`` edge: begun, moved to a frame, ended
    edgeDragStarted = Signal(str)
    edgeDragged = Signal(str, int)
    edgeDragFinished = Signal()
    #: the visible window changed (t0, t1)
    windowChanged = Signal(float, float)
    keyPressed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._data = EthogramData()
        self._t0, self._t1 = 0.0, 1.0
        self._cursor = 0
        self._pixmap: QImage | None = None
        self._dirty = True
        self._font = QFont()
        self._font.setPointSize(8)
        self._margin = 80
        self.follow = True
        #: ``(row, start, stop)`` of the selected bout, drawn outlined
        self.selected: tuple[int, int, int] | None = None
        #: ``[(row, start)]`` bouts started but not ended, drawn up to the cursor
        self.open_spans: list[tuple[int, int]] = []
        #: ``(start, stop)`` of a stretch to look at (the next one to label), shaded
        self.highlight: tuple[int, int] | None = None
        self._drag: str | None = None
        #: cursor strips waiting to be repainted (Qt hands paintEvent their bounding rectangle)
        self._strips: list[QRect] = []
        self._pan_from: tuple[int, float, float] | None = None
        #: timings for the scrubbing benchmark and the tests (milliseconds) and rebuild count
        self.stats = {"rebuilds": 0, "rebuild_ms": deque(maxlen=4096), "paint_ms": deque(maxlen=4096),
                      "cursor_ms": deque(maxlen=4096), "painted_px": deque(maxlen=4096)}  # fmt: skip

    # ------------------------------------------------------------------ geometry
    def lane_heights(self) -> list[tuple[str, int]]:
        d = self._data
        lanes = [("labels", LABEL_H)]
        if d.calls is not None:
            lanes.append(("calls", CALL_H))
        if d.scores is not None:
            lanes.append(("scores", PROB_H))
        return lanes

    def row_height(self) -> int:
        return sum(h for _, h in self.lane_heights()) + GAP * (len(self.lane_heights()) - 1) + ROW_PAD

    @property
    def traces_top(self) -> int:
        """The y of the first trace lane (under the behavior rows)."""
        return 2 + len(self._data.rows) * self.row_height()

    def trace_rect(self, index: int) -> QRect:
        """The lane of the ``index``-th trace."""
        return QRect(self.plot_left, self.traces_top + index * (TRACE_H + ROW_PAD), self.plot_width, TRACE_H)

    def sizeHint(self):  # noqa: N802 (Qt)
        from qtpy.QtCore import QSize

        rows = self.row_height() * max(1 if not self._data.traces else 0, len(self._data.rows))
        traces = (TRACE_H + ROW_PAD) * len(self._data.traces)
        return QSize(600, max(60, rows + traces + AXIS_H + 4))

    def minimumSizeHint(self):  # noqa: N802 (Qt)
        from qtpy.QtCore import QSize

        return QSize(200, min(self.sizeHint().height(), 120))

    @property
    def plot_left(self) -> int:
        return self._margin

    @property
    def plot_width(self) -> int:
        return max(1, self.width() - self._margin - 4)

    def lane_rect(self, row: int, lane: str) -> QRect | None:
        y = 2 + row * self.row_height()
        for name, h in self.lane_heights():
            if name == lane:
                return QRect(self.plot_left, y, self.plot_width, h)
            y += h + GAP
        return None

    def x_of(self, frame: float) -> float:
        return self.plot_left + (frame - self._t0) * self.plot_width / (self._t1 - self._t0)

    def frame_at(self, x: float) -> int:
        frame = self._t0 + (x - self.plot_left) * (self._t1 - self._t0) / self.plot_width
        return int(np.clip(math.floor(frame), 0, max(self._data.n_frames - 1, 0)))

    def row_at(self, y: float) -> tuple[int, str | None]:
        rh = self.row_height()
        row = int((y - 2) // rh)
        if not 0 <= row < len(self._data.rows):
            return -1, None
        offset = (y - 2) - row * rh
        for name, h in self.lane_heights():
            if offset < h + GAP:
                return row, name
            offset -= h + GAP
        return row, None

    # ------------------------------------------------------------------ state
    @property
    def data(self) -> EthogramData:
        return self._data

    @property
    def window(self) -> tuple[float, float]:
        return self._t0, self._t1

    @property
    def cursor(self) -> int:
        return self._cursor

    def set_data(self, data: EthogramData, keep_window: bool = True) -> None:
        n_before = self._data.n_frames
        rows_before = len(self._data.rows), self.row_height()
        self._data = data
        if not keep_window or n_before != data.n_frames or self._t1 <= self._t0:
            self._t0, self._t1 = 0.0, float(max(1, data.n_frames))
        self._margin = self._names_width()
        self._dirty = True
        if rows_before != (len(data.rows), self.row_height()):
            self.updateGeometry()
        self.update()

    def set_window(self, t0: float, t1: float) -> None:
        n = max(1, self._data.n_frames)
        span = float(np.clip(t1 - t0, min(8.0, n), max(n, 8.0)))
        t0 = float(np.clip(t0, 0.0, max(0.0, n - span)))
        if (t0, t0 + span) != (self._t0, self._t1):
            self._t0, self._t1 = t0, t0 + span
            self._dirty = True
            self.update()
            self.windowChanged.emit(self._t0, self._t1)

    def zoom(self, factor: float, center: float | None = None) -> None:
        """Zoom by ``factor`` (> 1: closer) around frame ``center`` (default: the cursor)."""
        center = self._cursor + 0.5 if center is None else center
        span = (self._t1 - self._t0) / factor
        frac = (center - self._t0) / (self._t1 - self._t0)
        self.set_window(center - frac * span, center - frac * span + span)

    def pan(self, frames: float) -> None:
        self.set_window(self._t0 + frames, self._t1 + frames)

    def fit(self) -> None:
        self.set_window(0.0, float(max(1, self._data.n_frames)))

    def _cursor_rect(self, frame: int) -> QRect:
        x0, x1 = self.x_of(frame), self.x_of(frame + 1)
        left = int(math.floor(min(x0, x1 - 2))) - 1
        right = int(math.ceil(max(x1, x0 + 2))) + 1
        return QRect(left, 0, right - left + 1, self.height())

    def set_cursor(self, frame: int) -> None:
        """Move the cursor: repaints two strips, or pages the window when the frame leaves it."""
        t = time.perf_counter()
        frame = int(frame)
        if frame == self._cursor:
            return
        old = self._cursor
        self._cursor = frame
        if self.follow and not (self._t0 <= frame < self._t1):
            span = self._t1 - self._t0
            self.set_window(frame - 0.1 * span, frame + 0.9 * span)
        elif not self._dirty:
            for rect in (self._cursor_rect(old), self._cursor_rect(frame)):
                self._strips.append(rect)
                self.update(rect)
            if self.open_spans:  # an open bout grows with the cursor
                self.update()
        self.stats["cursor_ms"].append((time.perf_counter() - t) * 1e3)

    # ------------------------------------------------------------------ drawing
    def _names_width(self) -> int:
        metrics = QFontMetrics(self._font)
        names = [self._row_name(i) for i in range(len(self._data.rows))] + [t.name for t in self._data.traces] or [""]
        return int(min(240, max(60, max(metrics.horizontalAdvance(n) for n in names) + 12)))

    def _row_name(self, i: int) -> str:
        subject, behavior = self._data.rows[i]
        return f"{subject} · {behavior}" if self._data.show_subject else behavior

    def render_image(self) -> np.ndarray:
        """The plot area as RGBA ``[H, W, 4]`` (the numpy part of a rebuild, also used by tests)."""
        d = self._data
        width, height = self.plot_width, max(1, self.height())
        img = np.empty((height, width, 4), np.uint8)
        img[..., :3] = BACKGROUND
        img[..., 3] = 255
        if not d.rows or d.n_frames == 0:
            return img
        starts, valid, stop = column_starts(self._t0, self._t1, width, d.n_frames)
        lanes = self.lane_heights()
        rh = self.row_height()
        reduced = {}
        if d.labels is not None:
            reduced["pos"] = reduce_columns(d.labels == 1, starts, stop, np.maximum)
            reduced["unann"] = reduce_columns(d.labels == -1, starts, stop, np.minimum)
        if d.calls is not None:
            reduced["calls"] = reduce_columns(d.calls, starts, stop, np.maximum)
        if d.scores is not None:
            with np.errstate(invalid="ignore"):
                reduced["lo"] = reduce_columns(d.scores, starts, stop, np.fmin)
                reduced["hi"] = reduce_columns(d.scores, starts, stop, np.fmax)
        for r in range(len(d.rows)):
            color = np.array(d.colors[r] if r < len(d.colors) else color_for(r), np.uint8)
            y = 2 + r * rh
            for name, h in lanes:
                if y + h > height:
                    break
                lane = img[y : y + h]
                if name == "labels":
                    lane[..., :3] = NEGATIVE_BG
                    if d.labels is not None:
                        lane[:, reduced["unann"][:, r] & valid, :3] = UNANNOTATED_BG
                        lane[:, reduced["pos"][:, r] & valid, :3] = color
                elif name == "calls":
                    lane[..., :3] = LANE_BG
                    lane[1:-1, reduced["calls"][:, r] & valid, :3] = (color * 0.75 + 40).astype(np.uint8)
                elif name == "scores":
                    _draw_envelope(lane, reduced["lo"][:, r], reduced["hi"][:, r], valid, color)
                y += h + GAP
        y = self.traces_top
        for k, trace in enumerate(d.traces):
            if y + TRACE_H > height:
                break
            values = trace.scaled[: d.n_frames, None]
            if len(values) < d.n_frames:  # a trace shorter than the recording: the rest is absent
                values = np.vstack([values, np.full((d.n_frames - len(values), 1), np.nan, np.float32)])
            with np.errstate(invalid="ignore"):
                lo = reduce_columns(values, starts, stop, np.fmin)[:, 0]
                hi = reduce_columns(values, starts, stop, np.fmax)[:, 0]
            color = np.array(trace.color or TRACE_PALETTE[k % len(TRACE_PALETTE)], np.uint8)
            _draw_envelope(img[y : y + TRACE_H], lo, hi, valid, color, filled=True)
            y += TRACE_H + ROW_PAD
        img[:, ~valid, :3] = BACKGROUND
        return img

    def _rebuild(self) -> None:
        t = time.perf_counter()
        w, h = max(1, self.width()), max(1, self.height())
        pixmap = QImage(w, h, QImage.Format.Format_RGB32)  # device-independent (X displays may be 16-bit)
        pixmap.fill(QColor(*BACKGROUND))
        img = np.ascontiguousarray(self.render_image())
        qimg = QImage(img.data, img.shape[1], img.shape[0], img.shape[1] * 4, QImage.Format.Format_RGBA8888)
        p = QPainter(pixmap)
        p.drawImage(QPoint(self.plot_left, 0), qimg)
        p.setFont(self._font)
        p.setPen(TEXT)
        rh = self.row_height()
        for r in range(len(self._data.rows)):
            rect = QRect(2, 2 + r * rh, self._margin - 6, rh - ROW_PAD)
            p.drawText(rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), self._row_name(r))
        for k, trace in enumerate(self._data.traces):
            lane = self.trace_rect(k)
            rect = QRect(2, lane.top() - ROW_PAD // 2, self._margin - 6, lane.height() + ROW_PAD)
            p.drawText(rect, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), trace.name)
        if not self._data.rows and not self._data.traces:
            p.drawText(
                self.rect(), int(Qt.AlignmentFlag.AlignCenter), "no behaviors yet: load labels or add a behavior"
            )
        self._draw_axis(p)
        p.end()
        self._pixmap = pixmap
        self._dirty = False
        self.stats["rebuilds"] += 1
        self.stats["rebuild_ms"].append((time.perf_counter() - t) * 1e3)

    def _draw_axis(self, p: QPainter) -> None:
        y = self.height() - AXIS_H
        p.setPen(QPen(QColor(120, 123, 130)))
        p.drawLine(self.plot_left, y, self.plot_left + self.plot_width, y)
        span = self._t1 - self._t0
        target = span * 90 / self.plot_width  # a label every ~90 px
        step = next(b * 10**m for m in range(10) for b in (1, 2, 5) if b * 10**m >= target)
        first = int(math.ceil(self._t0 / step) * step)
        fps = self._data.fps
        for f in range(first, int(self._t1) + 1, step):
            x = int(self.x_of(f))
            p.drawLine(x, y, x, y + 4)
            text = str(f)
            if fps:
                secs = f / fps
                text += f"  {int(secs // 60)}:{secs % 60:04.1f}"
            p.setPen(TEXT)
            p.drawText(x + 2, y + AXIS_H - 4, text)
            p.setPen(QPen(QColor(120, 123, 130)))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        t = time.perf_counter()
        if self._dirty or self._pixmap is None or self._pixmap.size() != self.size():
            self._rebuild()
        p = QPainter(self)
        rect = event.rect()
        strips = self._strips
        self._strips = []
        bounds = QRect()
        for strip in strips:
            bounds = bounds.united(strip)
        parts = (
            [r.intersected(rect) for r in strips]
            if strips and rect.contains(bounds) and bounds.contains(rect)
            else [rect]
        )
        painted = 0
        for part in parts:  # only the strips, not the span between an old and a new cursor
            p.drawImage(part, self._pixmap, part)
            painted += part.width() * part.height()
        if self.highlight is not None:
            a, b = self.highlight
            x0, x1 = int(self.x_of(a)), int(math.ceil(self.x_of(b)))
            p.fillRect(QRect(x0, 0, max(2, x1 - x0), self.height() - AXIS_H), QColor(255, 220, 80, 45))
        if self.selected is not None:
            row, start, stop = self.selected
            lane = self.lane_rect(row, "labels")
            if lane is not None:
                x0, x1 = int(self.x_of(start)), int(math.ceil(self.x_of(stop)))
                p.setPen(QPen(QColor(255, 255, 255), 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(QRect(x0, lane.top() - 1, max(2, x1 - x0), lane.height() + 2))
        for row, start in self.open_spans:
            lane = self.lane_rect(row, "labels")
            if lane is not None:
                a, b = sorted((start, self._cursor))
                x0, x1 = int(self.x_of(a)), int(math.ceil(self.x_of(b + 1)))
                color = QColor(*(self._data.colors[row] if row < len(self._data.colors) else color_for(row)))
                p.fillRect(QRect(x0, lane.top(), max(2, x1 - x0), lane.height()),
                           QBrush(color, Qt.BrushStyle.Dense4Pattern))  # fmt: skip
        if self._data.n_frames and self._t0 <= self._cursor < self._t1:
            x0, x1 = self.x_of(self._cursor), self.x_of(self._cursor + 1)
            bottom = self.height() - AXIS_H
            if x1 - x0 >= 4:
                band = QColor(CURSOR)
                band.setAlpha(70)
                p.fillRect(QRect(int(x0), 0, int(x1 - x0), bottom), band)
            p.setPen(QPen(CURSOR, 1))
            xc = int(x0)
            p.drawLine(xc, 0, xc, bottom)
        p.end()
        self.stats["paint_ms"].append((time.perf_counter() - t) * 1e3)
        self.stats["painted_px"].append(painted)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        self._dirty = True
        self._strips = []
        super().resizeEvent(event)

    # ------------------------------------------------------------------ input
    def _near_selected_edge(self, x: float, y: float) -> str | None:
        if self.selected is None:
            return None
        row, start, stop = self.selected
        r, lane = self.row_at(y)
        if r != row or lane != "labels":
            return None
        if abs(x - self.x_of(start)) <= 4:
            return "start"
        if abs(x - self.x_of(stop)) <= 4:
            return "stop"
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt)
        pos = event.position() if hasattr(event, "position") else event.pos()
        x, y = pos.x(), pos.y()
        if event.button() in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self._pan_from = (int(x), self._t0, self._t1)
            return
        if event.button() != Qt.MouseButton.LeftButton or x < self.plot_left:
            return
        edge = self._near_selected_edge(x, y)
        if edge is not None:
            self._drag = edge
            self.edgeDragStarted.emit(edge)
            return
        frame = self.frame_at(x)
        row, lane = self.row_at(y)
        self.rowPressed.emit(row if lane == "labels" else -1, frame)
        self.seekRequested.emit(frame)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt)
        pos = event.position() if hasattr(event, "position") else event.pos()
        x, y = pos.x(), pos.y()
        if self._pan_from is not None:
            x0, t0, t1 = self._pan_from
            frames = -(x - x0) * (t1 - t0) / self.plot_width
            self.set_window(t0 + frames, t1 + frames)
            return
        if self._drag is not None:
            edge_frame = self._t0 + (x - self.plot_left) * (self._t1 - self._t0) / self.plot_width
            frame = int(round(edge_frame)) - (1 if self._drag == "stop" else 0)
            self.edgeDragged.emit(self._drag, frame)
            return
        if event.buttons() & Qt.MouseButton.LeftButton and x >= self.plot_left:
            self.seekRequested.emit(self.frame_at(x))  # scrub by dragging
            return
        edge = self._near_selected_edge(x, y)
        self.setCursor(Qt.CursorShape.SizeHorCursor if edge else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt)
        if self._drag is not None:
            self._drag = None
            self.edgeDragFinished.emit()
        self._pan_from = None

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt)
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        pos = event.position() if hasattr(event, "position") else event.pos()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.pan(-np.sign(delta) * 0.1 * (self._t1 - self._t0))
        else:
            center = self._t0 + (pos.x() - self.plot_left) * (self._t1 - self._t0) / self.plot_width
            self.zoom(1.25 ** (delta / 120), center)
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt)
        self.keyPressed.emit(event)


def _draw_envelope(
    lane: np.ndarray, lo: np.ndarray, hi: np.ndarray, valid: np.ndarray, color: np.ndarray, filled: bool = False
) -> None:
    """A 0..1 lane ``[h, W, 4]``: per column the span from ``lo`` to ``hi`` (NaN: nothing) over the 0.5 line;
    ``filled``: an area from the bottom, ``hi`` in ``color`` and the rest of the column dimmer."""
    h = lane.shape[0]
    lane[..., :3] = LANE_BG
    ok = np.isfinite(lo) & np.isfinite(hi) & valid
    top = np.round((1 - np.nan_to_num(hi)) * (h - 1)).astype(np.int64)
    bottom = np.round((1 - np.nan_to_num(lo)) * (h - 1)).astype(np.int64)
    ys = np.arange(h)[:, None]
    if filled:
        lane[(ys >= top[None]) & ok[None], :3] = (color * 0.45 + 0.55 * np.array(LANE_BG)).astype(np.uint8)
    else:
        lane[(h - 1) // 2, :, :3] = (70, 72, 80)  # the 0.5 line
    lane[(ys >= top[None]) & (ys <= bottom[None]) & ok[None], :3] = color


def bout_row(rows: Sequence[tuple[str, str]], subject: str, behavior: str) -> int:
    try:
        return list(rows).index((subject, behavior))
    except ValueError:
        return -1
