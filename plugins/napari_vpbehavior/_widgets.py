"""The plugin's dock widgets: ethogram, annotation, train & predict, experiment.

All share the viewer's `Session`; none imports torch (the train panel runs the API in a worker
thread, where torch is imported on first use).
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vpbehavior.core import Predictions, VpbehaviorError

from ._ethogram import EthogramCanvas, EthogramData, color_for
from ._session import SHORTCUTS, Session, session_for, setting

LABEL_FILTER = "vpbehavior labels (*.behavior.json);;BORIS table (*.csv *.tsv);;SLEAP events (*.slp)"


def _button(text: str, slot, tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.clicked.connect(lambda *_: slot())
    if tip:
        b.setToolTip(tip)
    return b


#: File-dialog filter of encoder weights files.
WEIGHTS_FILES = "weights (*.npz *.safetensors)"


def _file_button(parent: QWidget, text: str, tip: str, title: str, file_filter: str, on_pick) -> QPushButton:
    """A button that asks for a file to open and calls ``on_pick(path)`` when one is chosen."""

    def pick() -> None:
        path, _ = QFileDialog.getOpenFileName(parent, title, "", file_filter)
        if path:
            on_pick(path)

    return _button(text, pick, tip)


def _report(session: Session, err: Exception) -> None:
    """A user's mistake or a data problem: one line in the status and a napari notification."""
    session.say(str(err))
    try:
        from napari.utils.notifications import show_warning

        show_warning(str(err))
    except Exception:
        pass


# ---------------------------------------------------------------------- ethogram
_QT_KEYS = {
    (Qt.Key.Key_Delete, False): "delete",
    (Qt.Key.Key_Backspace, False): "delete",
    (Qt.Key.Key_BracketLeft, False): "start",
    (Qt.Key.Key_BracketRight, False): "end",
    (Qt.Key.Key_T, False): "toggle",
    (Qt.Key.Key_Escape, False): "cancel",
    (Qt.Key.Key_N, False): "next_to_label",
    (Qt.Key.Key_Right, False): "step_one_forward",
    (Qt.Key.Key_Left, False): "step_one_back",
    (Qt.Key.Key_Right, True): "step_forward",
    (Qt.Key.Key_Left, True): "step_back",
}


class EthogramWidget(QWidget):
    """The ethogram, docked under the canvas: rows per (subject, behavior), synced with the time slider.

    Click to seek (drag to scrub); click a bout to select it, drag its edges, Delete removes it;
    wheel zooms around the mouse, shift+wheel or right-drag pans.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.canvas = EthogramCanvas(self)
        self._pred_cache: tuple | None = None
        self._drag_bout = None
        self._docked_bottom = False

        bar = QHBoxLayout()
        bar.setContentsMargins(2, 0, 2, 0)
        for text, slot, tip in (
            ("−", lambda: self.canvas.zoom(1 / 2), "zoom out (wheel)"),
            ("+", lambda: self.canvas.zoom(2), "zoom in around the cursor (wheel)"),
            ("fit", self.canvas.fit, "show the whole recording"),
        ):
            b = _button(text, slot, tip)
            b.setMaximumWidth(40)
            bar.addWidget(b)
        self.follow = QCheckBox("follow")
        self.follow.setChecked(True)
        self.follow.setToolTip("page the ethogram along when the cursor leaves it")
        self.follow.toggled.connect(lambda on: setattr(self.canvas, "follow", on))
        self.show_calls = QCheckBox("calls")
        self.show_scores = QCheckBox("probabilities")
        for box in (self.show_calls, self.show_scores):
            box.setChecked(True)
            box.toggled.connect(lambda *_: self.refresh())
        bar.addWidget(self.follow)
        bar.addWidget(self.show_calls)
        bar.addWidget(self.show_scores)
        self.status = QLabel("")
        self.status.setMinimumWidth(100)
        bar.addWidget(self.status, 1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.canvas)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)

        self.canvas.seekRequested.connect(self.session.seek)
        self.canvas.rowPressed.connect(self._on_row_pressed)
        self.canvas.edgeDragStarted.connect(self._on_drag_start)
        self.canvas.edgeDragged.connect(self._on_drag)
        self.canvas.edgeDragFinished.connect(self._on_drag_end)
        self.canvas.keyPressed.connect(self._on_key)
        self.session.changed.connect(self._on_session)
        self.session.message.connect(self.status.setText)
        napari_viewer.dims.events.current_step.connect(self._on_step)
        self.refresh()
        self.canvas.set_cursor(self.session.frame)

    # docked under the canvas even when napari opened it on the right (npe2 widgets have no area)
    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if not self._docked_bottom:
            self._docked_bottom = True
            QTimer.singleShot(0, self._dock_bottom)  # not from inside the show: Qt re-parents the dock

    def _dock_bottom(self) -> None:
        dock = self.parent()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parent()
        window = dock.parent() if dock is not None else None
        if not isinstance(window, QMainWindow):
            return
        if window.dockWidgetArea(dock) != Qt.DockWidgetArea.BottomDockWidgetArea:
            window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        dock.setMinimumHeight(110)
        self.fit_height()

    def fit_height(self, limit: int = 340) -> None:
        """Give the dock the height of its rows (at most ``limit`` pixels)."""
        dock = self.parent()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parent()
        window = dock.parent() if dock is not None else None
        if isinstance(window, QMainWindow):
            wanted = min(limit, self.canvas.sizeHint().height() + 40)
            self.setMinimumHeight(wanted)  # every row in view (a scroll bar beyond the limit)
            window.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)

    def rows(self) -> list[tuple[str, str]]:
        classes = self.session.model.classes
        return [(s, b) for s in self.session.shown_subjects() for b in classes]

    def _prediction_lanes(self, rows) -> tuple[np.ndarray | None, np.ndarray | None]:
        pred: Predictions | None = self.session.predictions
        if pred is None:
            return None, None
        key = (id(pred), tuple(rows))
        if self._pred_cache is None or self._pred_cache[0] != key:
            n = pred.n_frames
            scores = np.full((n, len(rows)), np.nan, np.float32)
            calls = np.zeros((n, len(rows)), bool)
            for i, (s, b) in enumerate(rows):
                if s in pred.subjects and b in pred.classes:
                    j, c = pred.subjects.index(s), pred.classes.index(b)
                    scores[:, i] = pred.scores[:, j, c]
                    calls[:, i] = pred.calls[:, j, c]
            self._pred_cache = (key, scores, calls)
        _, scores, calls = self._pred_cache
        return scores, calls

    def refresh(self) -> None:
        s = self.session
        rows = self.rows()
        classes = s.model.classes
        colors = [color_for(classes.index(b)) for _, b in rows]
        scores, calls = self._prediction_lanes(rows)
        data = EthogramData(
            n_frames=s.n_frames,
            rows=rows,
            colors=colors,
            labels=s.model.dense(rows) if rows else None,
            calls=calls if self.show_calls.isChecked() else None,
            scores=scores if self.show_scores.isChecked() else None,
            fps=s.fps,
            show_subject=len(s.subjects) > 1,
            traces=list(s.traces.values()),
        )
        self.canvas.set_data(data)
        self._overlays()

    def _overlays(self) -> None:
        s, rows = self.session, self.canvas.data.rows
        sel = s.selected
        self.canvas.selected = None
        if sel is not None and (sel.subject, sel.behavior) in rows:
            self.canvas.selected = (rows.index((sel.subject, sel.behavior)), sel.start, sel.stop)
        self.canvas.open_spans = [(rows.index(k), start) for k, start in s.model.open_bouts.items() if k in rows]
        self.canvas.highlight = s.stretch
        self.canvas.update()

    def _on_session(self, what: str) -> None:
        if what in ("selection",):
            self._overlays()
        elif what == "stretch" and self.session.stretch is not None:
            a, b = self.session.stretch
            t0, t1 = self.canvas.window
            if not (t0 <= a and b <= t1):
                span = max(t1 - t0, 4 * (b - a))
                self.canvas.set_window(a - 0.25 * span, a + 0.75 * span)
            self.refresh()
        else:
            if what == "recording":
                self._pred_cache = None
            self.refresh()
            if what == "recording":
                self.canvas.fit()
            if what in ("recording", "predictions", "traces"):
                QTimer.singleShot(0, self.fit_height)

    def _on_step(self, event=None) -> None:
        self.canvas.set_cursor(int(self.viewer.dims.current_step[0]) if self.viewer.dims.ndim >= 3 else 0)

    def _on_row_pressed(self, row: int, frame: int) -> None:
        rows = self.canvas.data.rows
        if row < 0:
            if self.session.selected is not None:
                self.session.select(None)
            return
        subject, behavior = rows[row]
        hits = self.session.model.bouts_at(frame, subject, behavior)
        self.session.select(hits[0] if hits else None)
        if not hits:
            self.session.choose(behavior=behavior, subject=subject)

    def _on_drag_start(self, edge: str) -> None:
        self._drag_bout = self.session.selected
        self.session.model.begin_drag()

    def _on_drag(self, edge: str, frame: int) -> None:
        if self._drag_bout is None:
            return
        frame = self.session.snapped(frame, self._drag_bout.subject)
        self._drag_bout = self.session.model.set_edge(self._drag_bout, edge, frame)
        self.session.selected = self._drag_bout
        self._overlays()

    def _on_drag_end(self) -> None:
        bout = self.session.model.end_drag(self._drag_bout)
        self._drag_bout = None
        self.session.select(bout)

    def _on_key(self, event) -> None:
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier and event.key() == Qt.Key.Key_Z:
            self.session.run("redo" if mods & Qt.KeyboardModifier.ShiftModifier else "undo")
            return
        if event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.canvas.zoom(2)
            return
        if event.key() == Qt.Key.Key_Minus:
            self.canvas.zoom(0.5)
            return
        action = _QT_KEYS.get((event.key(), bool(mods & Qt.KeyboardModifier.ShiftModifier)))
        if action:
            self.session.run(action)


# ---------------------------------------------------------------------- annotation
class AnnotationWidget(QWidget):
    """Choose a behavior and a subject, add and correct bouts, save and load labels."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        s = self.session

        self.behavior = QComboBox()
        self.behavior.setToolTip("behavior to annotate (Alt-1 ... Alt-9)")
        self.behavior.activated.connect(lambda i: s.choose(behavior=self.behavior.itemText(i)))
        self.new_behavior = QLineEdit()
        self.new_behavior.setPlaceholderText("new behavior name")
        self.new_behavior.returnPressed.connect(self.add_behavior)
        self.subject = QComboBox()
        self.subject.setToolTip("subject (track) the bouts belong to (Alt-S: next)")
        self.subject.activated.connect(lambda i: s.choose(subject=self.subject.itemText(i)))
        self.target = QComboBox()
        self.target.setToolTip("subject the behavior is directed at, if any")
        self.target.activated.connect(lambda i: s.choose(target=None if i == 0 else self.target.itemText(i)))
        self.snap = QCheckBox("snap edges to pose changes")
        self.snap.setChecked(s.snap)
        self.snap.toggled.connect(lambda on: setattr(s, "snap", on))
        self.radius = QSpinBox()
        self.radius.setRange(1, 100)
        self.radius.setValue(s.snap_radius)
        self.radius.setSuffix(" frames")
        self.radius.valueChanged.connect(lambda v: setattr(s, "snap_radius", int(v)))
        self.unsaved = QLabel("")
        self.info = QLabel("")
        self.info.setWordWrap(True)

        form = QFormLayout()
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_behavior)
        add_row.addWidget(_button("add", self.add_behavior))
        form.addRow("behavior", self.behavior)
        form.addRow("", add_row)
        form.addRow("subject", self.subject)
        form.addRow("target", self.target)
        snap_row = QHBoxLayout()
        snap_row.addWidget(self.snap)
        snap_row.addWidget(self.radius)
        form.addRow(snap_row)

        grid = QGridLayout()
        buttons = [
            ("start [", s.start, "start a bout at the current frame"),
            ("end ]", s.end, "end the open bout at the current frame"),
            ("toggle T", s.toggle, "start, or end the open bout"),
            ("delete", s.delete, "delete the selected bout (Delete)"),
            ("undo", s.undo, "Ctrl-Z"),
            ("redo", s.redo, "Ctrl-Shift-Z"),
            ("◀ bout", lambda: s.jump(-1), "previous bout edge (Alt-Left)"),
            ("bout ▶", lambda: s.jump(1), "next bout edge (Alt-Right)"),
            ("mark window reviewed", self.mark_reviewed, "frames shown in the ethogram without bouts become negatives"),
            ("next to label N", s.next_to_label, "least certain unlabeled stretch (needs predictions)"),
        ]
        for i, (text, slot, tip) in enumerate(buttons):
            grid.addWidget(_button(text, slot, tip), i // 2, i % 2)

        files = QHBoxLayout()
        files.addWidget(_button("load labels…", self._load_dialog, "our .behavior.json, a BORIS export or a .slp"))
        files.addWidget(_button("save", self.save, "save to the labels file (next to the video)"))
        files.addWidget(_button("save as…", self._save_dialog, ".behavior.json, BORIS .csv/.tsv or events in a .slp"))

        shortcuts = QLabel("<br>".join(f"<b>{k}</b> {v[1]}" for k, v in SHORTCUTS.items() if not k.startswith("Alt-")
                                       or k in ("Alt-Right", "Alt-Left", "Alt-S")) + "<br><b>Alt-1…9</b> choose behavior")  # fmt: skip
        shortcuts.setWordWrap(True)
        shortcuts.setTextFormat(Qt.TextFormat.RichText)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(grid)
        layout.addLayout(files)
        layout.addWidget(self.unsaved)
        layout.addWidget(self.info)
        layout.addWidget(shortcuts)
        layout.addStretch(1)
        s.changed.connect(self._sync)
        s.message.connect(self.info.setText)
        self._sync()

    def add_behavior(self, name: str | None = None) -> None:
        name = (name if name is not None else self.new_behavior.text()).strip()
        if not name:
            return
        self.session.choose(behavior=name)
        self.new_behavior.clear()

    def mark_reviewed(self) -> None:
        s = self.session
        etho = _find_widget(self.viewer, EthogramWidget)
        t0, t1 = etho.canvas.window if etho is not None else (0, s.n_frames)
        s.model.mark_reviewed(int(t0), int(np.ceil(t1)), s.subject)
        s.say(f"frames {int(t0)}-{int(np.ceil(t1)) - 1} of {s.subject} reviewed")

    def _sync(self, what: str = "") -> None:
        s = self.session
        for combo, items, current in (
            (self.behavior, s.model.classes, s.behavior),
            (self.subject, list(s.subjects), s.subject),
            (self.target, ["(none)", *s.subjects], s.target or "(none)"),
        ):
            if [combo.itemText(i) for i in range(combo.count())] != list(items):
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(list(items))
                combo.blockSignals(False)
            if current is not None and combo.currentText() != current:
                combo.setCurrentText(current)
        self.unsaved.setText("● unsaved changes" if s.model.dirty else "")
        self.unsaved.setStyleSheet("color: #f0a030" if s.model.dirty else "")

    def save(self, path: str | Path | None = None) -> Path | None:
        path = path or self.session.default_labels_path()
        if path is None:
            return self._save_dialog()
        try:
            return self.session.save_labels(path)
        except (VpbehaviorError, OSError) as err:
            _report(self.session, err)
            return None

    def load(self, path: str | Path) -> None:
        try:
            self.session.load_labels_file(path)
        except (VpbehaviorError, OSError) as err:
            _report(self.session, err)

    def _save_dialog(self) -> Path | None:
        start = str(self.session.default_labels_path() or "")
        path, _ = QFileDialog.getSaveFileName(self, "Save labels", start, LABEL_FILTER)
        return self.save(path) if path else None

    def _load_dialog(self) -> None:
        start = str(self.session.default_labels_path() or "")
        path, _ = QFileDialog.getOpenFileName(self, "Load labels", start,
                                              "labels (*.behavior.json *.csv *.tsv *.txt *.slp)")  # fmt: skip
        if path:
            self.load(path)


def _find_widget(viewer, cls):
    """The plugin widget of type ``cls`` docked in ``viewer``, if any."""
    try:
        docks = viewer.window.dock_widgets
    except AttributeError:
        return None
    for widget in docks.values():
        if isinstance(widget, cls):
            return widget
        inner = getattr(widget, "widget", lambda: None)()
        if isinstance(inner, cls):
            return inner
    return None


# ---------------------------------------------------------------------- train and predict
class _Relay(QObject):
    """Carries progress from the worker thread to the GUI thread (queued signal)."""

    progressed = Signal(str, int, int)


def temp_folder(prefix: str) -> Path:
    """A new temporary folder (for caches that live as long as the napari session)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix))


class Job(QObject):
    """One long API call at a time in a napari ``thread_worker``, for a panel's run / cancel buttons.

    The ``progress=`` callback it makes (`callback`) relays every step to the panel's progress
    bar and napari's activity bar, and raises `Cancelled` after *cancel*; errors become one line
    in the panel's status (and a notification), never a traceback dialog. ``what`` names the
    work in messages ("training cancelled").
    """

    #: emitted in the GUI thread once a run ended (done, failed or cancelled) and the panel is reset
    finished = Signal()

    def __init__(self, session: Session, progress: QProgressBar, status: QLabel, run_button: QPushButton,
                 cancel_button: QPushButton, what: str = "work") -> None:  # fmt: skip
        super().__init__()
        self.session, self.progress, self.status, self.what = session, progress, status, what
        self.run_button, self.cancel_button = run_button, cancel_button
        self.cancel_button.setEnabled(False)
        self.worker = None
        self._cancel = threading.Event()
        self.relay = _Relay()
        self.relay.progressed.connect(self._on_progress)
        self._pbar = None
        self._pbar_task = None

    @property
    def running(self) -> bool:
        return self.worker is not None

    def callback(self):
        """A ``progress=`` callback for the worker thread (raises `Cancelled` once cancelled)."""
        cancel, relay = self._cancel, self.relay

        def progress(update) -> None:
            from vpbehavior.reporting import Cancelled

            if cancel.is_set():
                raise Cancelled("cancelled from napari")
            relay.progressed.emit(update.task, int(update.done), int(update.total or 0))

        return progress

    def start(self, work, on_done, message: str = "running…"):
        """Run ``work()`` in a worker thread; ``on_done(result)`` runs in the GUI thread. Returns the worker."""
        from napari.qt.threading import thread_worker

        self._cancel.clear()
        worker = thread_worker(work, start_thread=False, ignore_errors=True)()  # errors go to _on_error
        worker.returned.connect(on_done)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(message)
        worker.start()
        return worker

    def cancel(self) -> None:
        self._cancel.set()
        self.status.setText("cancelling…")

    def _on_progress(self, task: str, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1) if total else 0)
        self.progress.setValue(min(done, total) if total else 0)
        self.progress.setFormat(f"{task}: {done}/{total}" if total else f"{task}: {done}")
        try:
            from napari.utils import progress as napari_progress

            if self._pbar is None or self._pbar_task != task:
                if self._pbar is not None:
                    self._pbar.close()
                self._pbar = napari_progress(total=total or None, desc=task)
                self._pbar_task = task
            self._pbar.n = done
            self._pbar.refresh()
        except Exception:  # napari's activity bar is optional
            pass

    def _on_error(self, err: Exception) -> None:
        from vpbehavior.reporting import Cancelled

        if isinstance(err, Cancelled):
            self.status.setText("cancelled")
            self.session.say(f"{self.what} cancelled")
        else:
            self.status.setText(f"failed: {err}")
            _report(self.session, err)

    def _on_finished(self) -> None:
        self.worker = None
        if self.progress.maximum() > 0:
            self.progress.setValue(self.progress.maximum())
        self.progress.setFormat(self.status.text() or "done")
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.finished.emit()


class TrainWidget(QWidget):
    """Extract features, train a classifier on the labels on screen, predict, and show the result."""

    WEIGHTS = ("random:tiny", "videoprism_public_v1_base", "videoprism_public_v1_large")
    KINDS = ("video", "pose", "video+pose", "tokens")
    HEADS = ("mlp", "linear", "conv", "attention")

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.weights = QComboBox()
        self.weights.setEditable(True)
        self.weights.addItems(self.WEIGHTS)
        self.weights.setCurrentText(str(setting("training", "weights", "random:tiny")))
        self.weights.setToolTip("encoder weights: a released name, a .npz / .safetensors file, or random:tiny to try")
        self.kind = QComboBox()
        self.kind.addItems(self.KINDS)
        self.head = QComboBox()
        self.head.addItems(self.HEADS)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(20)
        self.size = QSpinBox()
        self.size.setRange(0, 1024)
        self.size.setSingleStep(16)
        self.size.setValue(int(setting("training", "input_size", 0)))
        self.size.setToolTip("encoder input size in pixels (0: the model's own)")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(str(setting("training", "device", "auto")))
        self.cache = QLineEdit(str(setting("training", "feature_cache", "")))
        self.cache.setPlaceholderText("feature cache folder (empty: a temporary folder)")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.run_button = _button("train && predict", self.train_and_predict)
        self.cancel_button = _button("cancel", self.cancel)

        form = QFormLayout()
        wrow = QHBoxLayout()
        wrow.addWidget(self.weights, 1)
        wrow.addWidget(_file_button(self, "…", "weights file", "Encoder weights", WEIGHTS_FILES,
                                    self.weights.setCurrentText))  # fmt: skip
        form.addRow("encoder", wrow)
        form.addRow("features", self.kind)
        form.addRow("head", self.head)
        form.addRow("epochs", self.epochs)
        form.addRow("input size", self.size)
        form.addRow("device", self.device)
        form.addRow("cache", self.cache)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(_file_button(self, "predict with…", "a saved classifier (.safetensors)", "Classifier",
                                    "classifier (*.safetensors)", self.predict_with))  # fmt: skip
        row2.addWidget(_button("save classifier…", self._save_classifier))
        layout.addLayout(row2)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.classifier = None
        self.job = Job(self.session, self.progress, self.status, self.run_button, self.cancel_button, "training")
        self._relay = self.job.relay
        self._tmp_cache = None

    @property
    def worker(self):
        """The running worker, or None."""
        return self.job.worker

    # -- the work -------------------------------------------------------------------------
    def _cache_dir(self) -> Path:
        text = self.cache.text().strip()
        if text:
            return Path(text)
        if self._tmp_cache is None:
            self._tmp_cache = temp_folder("vpbehavior-napari-features-")
        return self._tmp_cache

    def train_and_predict(self, classifier=None):
        """Start the worker (returns it); predictions land in the ethogram when it finishes."""
        s = self.session
        if self.worker is not None:
            s.say("already running")
            return self.worker
        try:
            rec = s.training_recording() if classifier is None else s.recording
            if rec is None:
                raise VpbehaviorError("open a video first")
        except VpbehaviorError as err:
            _report(s, err)
            return None
        weights, kind, head = self.weights.currentText().strip(), self.kind.currentText(), self.head.currentText()
        epochs, size, device = self.epochs.value(), self.size.value(), self.device.currentText()
        cache = self._cache_dir()
        progress = self.job.callback()

        def work():
            import vpbehavior as vpb

            clf = classifier
            uses_video = (clf.kind if clf is not None else kind) in ("video", "tokens", "video+pose")
            if uses_video:
                if rec.video is None:
                    raise VpbehaviorError("video features need a video; choose pose features")
                encoder = vpb.load_encoder(weights, device=device)
                config = vpb.ExtractConfig(size=size, device=device)
                result = vpb.extract_features([rec], encoder, config, cache=cache, progress=progress)
                if not result.ok:
                    raise VpbehaviorError(f"feature extraction failed: {result.failures}")
            if clf is None:
                config = vpb.TrainConfig(kind=kind, head=head, max_epochs=epochs, hidden=64)
                clf = vpb.train_classifier([rec], config=config, features=cache if uses_video else None,
                                           progress=progress)  # fmt: skip
            pred = clf.predict(rec, features=cache if uses_video else None)
            return clf, pred

        return self.job.start(work, self._on_done)

    def cancel(self) -> None:
        self.job.cancel()

    def _on_done(self, result) -> None:
        clf, pred = result
        self.classifier = clf
        try:
            self.session.set_predictions(pred)
        except VpbehaviorError as err:
            _report(self.session, err)
            return
        n = len(pred.bouts())
        self.status.setText(f"predicted {n} bouts in {pred.n_frames} frames ({', '.join(pred.classes)})")

    def predict_with(self, path: str | Path):
        import vpbehavior as vpb

        try:
            clf = vpb.load_classifier(path)
        except (VpbehaviorError, OSError) as err:
            _report(self.session, err)
            return None
        return self.train_and_predict(classifier=clf)

    def _save_classifier(self) -> None:
        if self.classifier is None:
            self.session.say("train a classifier first")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save classifier", "classifier.safetensors", "(*.safetensors)")
        if path:
            self.classifier.save(path)
            self.session.say(f"classifier saved to {path}")


# ---------------------------------------------------------------------- experiment
def read_summary(path: str | Path) -> dict[str, dict[str, int]]:
    """Per-video bout counts ``{video key: {behavior: count}}`` from a scoring summary.csv, read tolerantly.

    Columns are matched case- and space-insensitively (``video``, ``behavior``, ``bout_count`` /
    ``bouts`` / ``n_bouts``); videos are keyed by their stem; unreadable counts count as 0.
    """
    path = Path(path)
    out: dict[str, dict[str, int]] = {}
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return out
    lines = text.splitlines()
    if not lines:
        return out
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.DictReader(lines, delimiter=delimiter)

    def col(*names):
        keys = {" ".join((k or "").lower().replace("_", " ").split()): k for k in reader.fieldnames or []}
        for n in names:
            if n in keys:
                return keys[n]
        return None

    video_col, behavior_col = col("video", "recording", "video name"), col("behavior", "behaviour", "class")
    count_col = col("bout count", "bouts", "n bouts", "count")
    if video_col is None:
        return out
    for row in reader:
        video = video_key(row.get(video_col) or "")
        if not video:
            continue
        behavior = (row.get(behavior_col) or "").strip() if behavior_col else "all"
        try:
            count = int(float(row.get(count_col) or 0)) if count_col else 0
        except ValueError:
            count = 0
        per = out.setdefault(video, {})
        per[behavior] = per.get(behavior, 0) + count
    return out


def video_key(name: str | Path) -> str:
    """A video's name for matching: the stem of the file name, Windows paths and predictions suffix removed."""
    name = str(name).strip().replace("\\", "/").split("/")[-1]
    for suffix in (".predictions.h5", ".behavior.json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return Path(name).stem if Path(name).suffix.lower() in _video_suffixes() else name


def _video_suffixes() -> tuple[str, ...]:
    from vpbehavior.api import VIDEO_SUFFIXES

    return tuple(VIDEO_SUFFIXES)


class ExperimentWidget(QWidget):
    """A scored folder: its videos with their bout counts; choosing one puts it on screen."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.folder: Path | None = None
        self.entries: list[dict] = []
        self.path_label = QLabel("no folder")
        self.path_label.setWordWrap(True)
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._on_row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(_button("open scored folder…", self._dialog))
        layout.addWidget(self.path_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)

    def _dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Scored experiment folder")
        if path:
            self.open_folder(path)

    def open_folder(self, folder: str | Path) -> list[dict]:
        """List the folder's videos (recursively), their predictions files and summary.csv bout counts."""
        folder = Path(folder)
        suffixes = _video_suffixes()
        videos = {video_key(p): p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes
                  and not p.name.startswith(".")}  # fmt: skip
        preds = {video_key(p): p for p in sorted(folder.rglob("*.predictions.h5"))}
        summaries = sorted(folder.rglob("summary.csv"))
        counts: dict[str, dict[str, int]] = {}
        for summary in summaries:
            for key, per in read_summary(summary).items():
                counts.setdefault(key, {}).update(per)
        keys = list(dict.fromkeys([*videos, *preds, *counts]))
        self.folder = folder
        self.entries = [
            {"name": k, "video": videos.get(k), "predictions": preds.get(k), "counts": counts.get(k, {})} for k in keys
        ]
        self.list.blockSignals(True)
        self.list.clear()
        for e in self.entries:
            total = sum(e["counts"].values())
            text = f"{e['name']}  —  {total} bouts" if e["counts"] else f"{e['name']}  —  not scored"
            if e["video"] is None:
                text += "  (video not found)"
            item = QListWidgetItem(text)
            item.setToolTip("\n".join(f"{b}: {n}" for b, n in e["counts"].items()) or "no summary row")
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.path_label.setText(str(folder))
        note = "" if summaries else " (no summary.csv: bout counts unknown)"
        self.status.setText(f"{len(self.entries)} videos{note}")
        return self.entries

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.entries):
            QTimer.singleShot(0, lambda: self.show_entry(row))

    def show_entry(self, row: int) -> bool:
        """Put the ``row``-th video on screen with its pose, labels and predictions."""
        import vpbehavior as vpb

        from ._files import PredictionsReaderMissing, read_predictions_file

        entry = self.entries[row]
        if entry["video"] is None:
            self.status.setText(f"{entry['name']}: no video in the folder")
            return False
        try:
            rec = vpb.load(entry["video"]).recordings[0]
        except (VpbehaviorError, IndexError) as err:
            _report(self.session, err if isinstance(err, VpbehaviorError) else VpbehaviorError(str(err)))
            return False
        pred = None
        if entry["predictions"] is not None:
            try:
                pred = read_predictions_file(entry["predictions"])
            except PredictionsReaderMissing as err:
                self.status.setText(str(err))
            except VpbehaviorError as err:
                _report(self.session, err)
        if pred is not None and pred.n_frames != rec.n_frames:
            _report(
                self.session, VpbehaviorError(f"{entry['predictions']}: {pred.n_frames} frames, video {rec.n_frames}")
            )
            pred = None
        self.session.open_recording(rec, pred, pose_file=rec.metadata.get("pose_file"))
        if self.session.recording is rec:
            self.status.setText(f"{entry['name']}: {rec.n_frames} frames" + (", predictions" if pred else ""))
            return True
        return False
