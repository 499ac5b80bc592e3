"""One `Session` per viewer: the recording on screen, its editable labels, predictions, and the shortcuts.

Widgets share it (`session_for(viewer)`); readers and sample data hand it data through the
``metadata["vpbehavior"]`` of the layers they make, which the session adopts when napari inserts
them. The time slider (``dims.current_step[0]``) is the one source of the current frame.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from qtpy.QtCore import QObject, QTimer, Signal

from vpbehavior.core import FRAME_LEVEL, BehaviorLabels, Bout, DataError, Pose, Predictions, Recording

from ._ethogram import Trace
from ._layers import KEY, recording_layers
from ._model import AnnotationModel, least_certain_stretch, pose_change, snap_frame
from ._overlay import PoseOverlay

#: milliseconds the slider must rest before the pose overlay is redrawn
OVERLAY_DELAY_MS = 30

#: the npe2 plugin name: npe2 requires it to equal the distribution name (vpbehavior)
PLUGIN = "vpbehavior"

_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: the keyboard shortcuts (napari key names) and what they do; shown in the annotation panel
SHORTCUTS = {
    "[": ("start", "start a bout of the chosen behavior and subject at the current frame"),
    "]": ("end", "end the open bout at the current frame (inclusive)"),
    "T": ("toggle", "toggle the chosen behavior: start a bout, or end the open one here"),
    "Escape": ("cancel", "forget the bout started but not ended"),
    "Shift-Right": ("step_forward", "10 frames forward (Left / Right: one frame)"),
    "Shift-Left": ("step_back", "10 frames back"),
    "Alt-Right": ("next_bout", "jump to the next bout start or end of the chosen subject"),
    "Alt-Left": ("previous_bout", "jump to the previous bout start or end"),
    "Delete": ("delete", "delete the selected bout"),
    "Backspace": ("delete", "delete the selected bout"),
    "Control-Z": ("undo", "undo"),
    "Control-Shift-Z": ("redo", "redo"),
    "Control-Y": ("redo", "redo"),
    "N": ("next_to_label", "jump to the stretch the classifier is least sure of among unlabeled frames"),
    "Alt-S": ("next_subject", "choose the next subject"),
    **{f"Alt-{i}": (f"behavior_{i}", f"choose behavior {i}") for i in range(1, 10)},
}


def session_for(viewer) -> Session:
    """The viewer's session (made on first use)."""
    session = _SESSIONS.get(viewer)
    if session is None:
        session = Session(viewer)
        _SESSIONS[viewer] = session
    return session


def _settings():
    """The plugin's settings (napari >= 0.9 configurations), or None where napari has none."""
    try:
        from napari.settings import get_plugin_settings

        return get_plugin_settings(PLUGIN)
    except Exception:  # older napari, or the plugin not registered (tests of parts)
        return None


def setting(section: str, name: str, default):
    settings = _settings()
    try:
        return getattr(getattr(settings, section), name)
    except AttributeError:
        return default


class Session(QObject):
    """State shared by the plugin's widgets for one viewer.

    Signals
    -------
    changed(str)
        What changed: "recording", "labels", "predictions", "selection", "choice" (behavior /
        subject chosen), "stretch" (a stretch to label was found), "traces" (extra ethogram lanes).
    message(str)
        A line for the status bars.
    """

    changed = Signal(str)
    message = Signal(str)

    def __init__(self, viewer) -> None:
        super().__init__()
        self._viewer_ref = weakref.ref(viewer)
        self.recording: Recording | None = None
        self.video_layer = None
        self.pose: Pose | None = None
        self.pose_file: Path | None = None
        self.model = AnnotationModel()
        self.model.on_change(self._model_changed)
        self.predictions: Predictions | None = None
        #: extra per-frame lanes of the ethogram by name (e.g. "search: grooming"); cleared with the recording
        self.traces: dict[str, Trace] = {}
        self.behavior: str | None = None
        self.subject: str | None = None
        self.target: str | None = None
        self.selected: Bout | None = None
        self.snap = bool(setting("annotation", "snap_to_pose", False))
        self.snap_radius = int(setting("annotation", "snap_radius", 5))
        self.stretch: tuple[int, int] | None = None
        self.labels_path: Path | None = None
        self.overlay: PoseOverlay | None = None
        # napari layer data setters cost tens of ms: the overlay is redrawn when scrubbing pauses
        self._overlay_timer = QTimer(self)
        self._overlay_timer.setSingleShot(True)
        self._overlay_timer.setInterval(OVERLAY_DELAY_MS)
        self._overlay_timer.timeout.connect(self.draw_overlay)
        self._change_cache: dict[str, np.ndarray] = {}
        #: asked before unsaved edits are thrown away; returns True to go on (tests replace it)
        self.confirm_discard = self._ask_discard
        self._adopting = False
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.dims.events.current_step.connect(self._on_step)
        self.install_shortcuts()
        for layer in list(viewer.layers):  # a recording opened before the first plugin widget
            info = getattr(layer, "metadata", {}).get(KEY)
            if info and info.get("recording") is not None:
                if layer._type_string == "image" and info["recording"].video is not None:
                    self.video_layer = layer
                self.adopt(info)

    # ------------------------------------------------------------------ basics
    @property
    def viewer(self):
        return self._viewer_ref()

    @property
    def n_frames(self) -> int:
        return self.model.n_frames

    @property
    def fps(self) -> float | None:
        return self.recording.fps if self.recording is not None else None

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.model.subjects

    @property
    def frame(self) -> int:
        viewer = self.viewer
        if viewer is None or viewer.dims.ndim < 3:
            return 0
        return int(round(viewer.dims.point[0]))  # world units: frames, whatever the slider's range

    def seek(self, frame: int) -> None:
        if self.n_frames:
            self.viewer.dims.set_point(0, int(np.clip(frame, 0, self.n_frames - 1)))

    def say(self, text: str) -> None:
        self.message.emit(text)

    # ------------------------------------------------------------------ adopting data
    def _on_inserted(self, event) -> None:
        layer = event.value
        info = getattr(layer, "metadata", {}).get(KEY)
        if not info or self._adopting or info.get("recording") is None:
            return
        if layer._type_string == "image" and info["recording"].video is not None:
            self.video_layer = layer
        self.adopt(info)

    def _on_removed(self, event) -> None:
        if event.value is self.video_layer:
            self.video_layer = None

    def set_pose(self, pose: Pose, pose_file: str | Path | None = None, labels: BehaviorLabels | None = None) -> None:
        """A pose (and the behavior events that came with it) for the recording on screen."""
        if self.recording is None:
            raise DataError("open the video first, then its pose")
        if pose.n_frames != self.n_frames:
            raise DataError(f"the pose covers {pose.n_frames} frames, the recording {self.n_frames}")
        self.pose = pose
        self.pose_file = Path(pose_file) if pose_file else self.pose_file
        self._change_cache.clear()
        self._make_overlay()
        if labels is not None:
            self.load_labels(labels, pose_file)

    def adopt(self, info: dict) -> None:
        """Take a recording (and its labels, predictions, pose file) as the one on screen."""
        rec: Recording = info["recording"]
        if self.model.dirty and self.recording is not None and rec is not self.recording:
            if not self.confirm_discard(f"the labels of {self.recording.name!r} have unsaved changes"):
                return
        self.recording = rec
        self.pose = rec.pose
        self._change_cache.clear()
        self.pose_file = Path(info["pose_file"]) if info.get("pose_file") else (
            Path(rec.metadata["pose_file"]) if rec.metadata.get("pose_file") else None)  # fmt: skip
        labels = info.get("labels") if info.get("labels") is not None else rec.labels
        pred = info.get("predictions")
        classes = list(labels.classes) if labels is not None else []
        if pred is not None:
            classes += [c for c in pred.classes if c not in classes and c != pred.background]
        self.model = AnnotationModel(rec.n_frames, classes, rec.subjects, labels.background if labels else None)
        if labels is not None:
            self.model = AnnotationModel.from_labels(self._aligned(labels), rec.subjects)
            for c in classes:
                if c not in self.model.classes:
                    self.model.classes.append(c)
        self.model.on_change(self._model_changed)
        self.labels_path = Path(info["labels_path"]) if info.get("labels_path") else None
        self.predictions = None
        self.traces = {}
        self.selected = None
        self.stretch = None
        self.behavior = self.model.classes[0] if self.model.classes else None
        self.subject = self._default_subject()
        self.changed.emit("recording")
        if pred is not None:
            self.set_predictions(pred)
        self._make_overlay()
        if self.viewer.dims.ndim == 3:
            self.viewer.dims.axis_labels = ("frame", "y", "x")
        # docked after napari finished adding the layers (not from inside viewer.open's loop)
        QTimer.singleShot(0, self.show_ethogram)
        self.say(f"{rec.name}: {rec.n_frames} frames, {len(rec.subjects)} subjects, {len(self.model.bouts)} bouts")

    def _default_subject(self) -> str:
        subjects = self.model.subjects
        rec = self.recording
        if rec is not None and len(subjects) > 1:
            presence = rec.presence
            return subjects[int(np.argmax(presence.sum(0)))] if presence is not None else subjects[0]
        return subjects[0]

    def _aligned(self, labels: BehaviorLabels) -> BehaviorLabels:
        from vpbehavior.io.label_formats import align_subjects

        if labels.n_frames != self.n_frames and self.recording is not None:
            raise DataError(f"labels cover {labels.n_frames} frames but {self.recording.name!r} has {self.n_frames}")
        if tuple(labels.subjects) != tuple(self.subjects):
            labels = align_subjects(labels, list(self.subjects))
            if tuple(labels.subjects) != tuple(self.subjects):  # frame-level labels beside tracks
                raise DataError(
                    f"labels name subjects {list(labels.subjects)}; the recording has {list(self.subjects)}"
                )
        return labels

    def open_recording(self, recording: Recording, predictions: Predictions | None = None, **extra) -> None:
        """Put a recording on screen (replacing the plugin's layers of the previous one)."""
        from vpbehavior.api import open_video

        if self.model.dirty and self.recording is not None:
            if not self.confirm_discard(f"the labels of {self.recording.name!r} have unsaved changes"):
                return
            self.model.mark_saved()
        viewer = self.viewer
        for layer in list(viewer.layers):
            if KEY in getattr(layer, "metadata", {}):
                viewer.layers.remove(layer)
        self.overlay = None
        reader = open_video(recording) if recording.video is not None else None
        info_extra = dict(extra)
        layers = recording_layers(recording, reader, predictions, info_extra)
        self._adopting = True
        try:
            added = []
            for data, kwargs, kind in layers:
                added.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
        finally:
            self._adopting = False
        self.video_layer = added[0] if reader is not None else None
        self.adopt({"recording": recording, "predictions": predictions, **info_extra})
        if self.video_layer is not None:
            viewer.layers.selection.active = self.video_layer
        viewer.reset_view()

    def load_labels(self, labels: BehaviorLabels, path: str | Path | None = None) -> None:
        """Labels into the editable model (an undoable edit)."""
        if self.recording is None:
            self.adopt({"recording": Recording(Path(path).stem if path else "labels", n_frames=labels.n_frames,
                                               subjects=labels.subjects)})  # fmt: skip
        labels = self._aligned(labels)
        self.model.set_labels(labels)
        self.labels_path = Path(path) if path else self.labels_path
        if self.behavior not in self.model.classes:
            self.behavior = self.model.classes[0] if self.model.classes else None
        self.model.mark_saved()
        self.changed.emit("labels")

    def load_labels_file(self, path: str | Path) -> None:
        from ._files import load_labels_from

        if self.model.dirty and not self.confirm_discard("the labels on screen have unsaved changes"):
            return
        media = self.recording.video.name if self.recording is not None and self.recording.video else None
        labels = load_labels_from(path, self.n_frames or None, self.fps,
                                  self.subjects if self.recording is not None else None, media)  # fmt: skip
        self.load_labels(labels, path)
        self.say(f"loaded {len(self.model.bouts)} bouts from {Path(path).name}")

    def save_labels(self, path: str | Path) -> Path:
        from ._files import save_labels_as

        rec = self.recording
        out = save_labels_as(
            self.model.to_labels(),
            path,
            fps=self.fps,
            media=rec.video.name if rec is not None and rec.video else "",
            pose_file=self.pose_file,
            pose=self.pose,
            video=rec.video if rec is not None else None,
        )
        self.model.mark_saved()
        self.labels_path = out
        self.changed.emit("labels")
        self.say(f"saved {len(self.model.bouts)} bouts to {out}")
        return out

    def default_labels_path(self) -> Path | None:
        rec = self.recording
        if rec is None or rec.video is None:
            return self.labels_path
        return self.labels_path or rec.video.with_name(rec.video.stem + ".behavior.json")

    def set_predictions(self, predictions: Predictions | None) -> None:
        if predictions is not None and predictions.n_frames != self.n_frames:
            raise DataError(f"predictions cover {predictions.n_frames} frames but the recording has {self.n_frames}")
        self.predictions = predictions
        if predictions is not None:
            for c in predictions.classes:
                if c not in self.model.classes and c != predictions.background:
                    self.model.classes.append(c)
            if self.behavior is None and self.model.classes:
                self.behavior = self.model.classes[0]
        self.stretch = None
        self.changed.emit("predictions")

    def set_traces(self, prefix: str, traces: Sequence[Trace]) -> None:
        """Replace the ethogram's extra lanes whose names start with ``prefix`` by ``traces`` (none: remove them)."""
        for trace in traces:
            if not trace.name.startswith(prefix):
                raise ValueError(f"trace {trace.name!r} does not start with {prefix!r}")
            if len(trace.values) != self.n_frames:
                raise DataError(
                    f"trace {trace.name!r} covers {len(trace.values)} frames, the recording {self.n_frames}"
                )
        kept = {k: v for k, v in self.traces.items() if not k.startswith(prefix)}
        self.traces = kept | {t.name: t for t in traces}
        self.changed.emit("traces")

    def show_span(self, start: int, stop: int) -> None:
        """Seek to frame ``start`` and shade frames ``[start, stop)`` in the ethogram (e.g. a search hit)."""
        self.stretch = (int(start), int(stop))
        self.seek(start)
        self.changed.emit("stretch")

    def training_recording(self) -> Recording:
        """The recording on screen with the labels being edited."""
        if self.recording is None:
            raise DataError("open a video first")
        labels = self.model.to_labels()
        if not labels.annotated.any():
            raise DataError("no labels yet: add bouts (or load labels) before training")
        return self.recording.replace(labels=labels)

    # ------------------------------------------------------------------ choices
    def choose(self, behavior: str | None = None, subject: str | None = None, target: str | None = ...) -> None:
        if behavior is not None:
            self.model.add_class(behavior) if behavior not in self.model.classes else None
            self.behavior = behavior
        if subject is not None:
            if subject not in self.subjects:
                raise KeyError(f"subject {subject!r} is not among {self.subjects}")
            self.subject = subject
        if target is not ...:
            self.target = target if target != self.subject else None
        self.changed.emit("choice")

    def shown_subjects(self) -> list[str]:
        """Subjects that get rows in the ethogram: those with bouts or calls, and the chosen one."""
        have = {b.subject for b in self.model.bouts} | {s for s, _ in self.model.open_bouts}
        pred = self.predictions
        if pred is not None:
            called = pred.calls.any(axis=(0, 2))
            have |= {s for s, c in zip(pred.subjects, called) if c}
        if self.subject is not None:
            have.add(self.subject)
        shown = [s for s in self.subjects if s in have]
        return shown or list(self.subjects[:1])

    # ------------------------------------------------------------------ actions (shortcuts, buttons)
    def _ready(self) -> bool:
        if self.recording is None:
            self.say("open a video first")
            return False
        if self.behavior is None:
            self.say("add a behavior first (annotation panel)")
            return False
        return True

    def _change_of(self, subject: str) -> np.ndarray | None:
        if self.pose is None:
            return None
        if subject not in self._change_cache:
            if subject in self.pose.subjects:
                change = pose_change(self.pose.points[:, self.pose.subjects.index(subject)])
            else:  # frame-level: all tracks together
                change = np.nanmean(np.stack([pose_change(self.pose.points[:, i])
                                              for i in range(len(self.pose.subjects))]), 0)  # fmt: skip
            self._change_cache[subject] = change
        return self._change_cache[subject]

    def snapped(self, frame: int, subject: str | None = None) -> int:
        """``frame``, moved to the nearby frame where the subject's pose changes most when snapping is on."""
        change = self._change_of(subject or self.subject) if self.snap else None
        return frame if change is None else snap_frame(frame, change, self.snap_radius)

    def start(self) -> None:
        if self._ready():
            frame = self.snapped(self.frame)
            self.model.start_bout(self.subject, self.behavior, frame)
            self.say(f"{self.behavior} of {self.subject}: started at frame {frame}")

    def end(self) -> Bout | None:
        if not self._ready():
            return None
        if (self.subject, self.behavior) not in self.model.open_bouts:
            self.say(f"no open {self.behavior} bout of {self.subject}: press [ first")
            return None
        bout = self.model.end_bout(self.subject, self.behavior, self.snapped(self.frame), self.target)
        self.select(bout)
        self.say(f"added {bout.behavior} of {bout.subject}: frames {bout.start}-{bout.stop - 1}")
        return bout

    def toggle(self) -> None:
        if not self._ready():
            return
        if (self.subject, self.behavior) in self.model.open_bouts:
            self.end()
        else:
            self.start()

    def cancel(self) -> None:
        self.model.cancel_open()

    def select(self, bout: Bout | None) -> None:
        self.selected = bout
        if bout is not None:
            self.subject, self.behavior = bout.subject, bout.behavior
        self.changed.emit("selection")

    def delete(self) -> None:
        if self.selected is None:
            self.say("select a bout first (click it in the ethogram)")
            return
        bout = self.selected
        self.model.delete_bout(bout)
        self.select(None)
        self.say(f"deleted {bout.behavior} of {bout.subject} at {bout.start}-{bout.stop - 1}")

    def undo(self) -> None:
        if self.model.undo():
            self._reselect()
            self.say("undone")

    def redo(self) -> None:
        if self.model.redo():
            self._reselect()
            self.say("redone")

    def _reselect(self) -> None:
        if self.selected is not None and self.selected not in self.model.bouts:
            self.select(None)

    def step(self, n: int) -> None:
        self.seek(self.frame + n)

    def jump(self, direction: int) -> None:
        subject = self.subject if any(b.subject == self.subject for b in self.model.bouts) else None
        target = self.model.next_edge(self.frame, direction, subject)
        if target == self.frame:
            self.say("no more bouts that way")
        self.seek(target)

    def next_to_label(self) -> tuple[int, int] | None:
        """Seek to the least certain stretch of unlabeled frames (needs predictions)."""
        pred = self.predictions
        if pred is None:
            self.say("predict first: 'next to label' ranks frames by the classifier's uncertainty")
            return None
        annotated = self.model.annotated_mask()
        mask = np.zeros(pred.presence.shape, bool)
        for j, s in enumerate(pred.subjects):
            if s in self.subjects:
                mask[:, j] = annotated[:, self.subjects.index(s)]
            elif s == FRAME_LEVEL:
                mask[:, j] = annotated.all(1)
        length = int(max(8, round((self.fps or 30) * float(setting("annotation", "stretch_seconds", 2.0)))))
        found = least_certain_stretch(pred.scores, mask, length)
        if found is None:
            self.say("every frame is labeled")
            return None
        start, stop, j = found
        self.stretch = (start, stop)
        if pred.subjects[j] in self.subjects:
            self.subject = pred.subjects[j]
        self.seek(start)
        self.changed.emit("stretch")
        self.say(f"least certain unlabeled stretch: frames {start}-{stop - 1} ({pred.subjects[j]})")
        return start, stop

    def next_subject(self) -> None:
        if self.subject in self.subjects:
            i = (self.subjects.index(self.subject) + 1) % len(self.subjects)
            self.choose(subject=self.subjects[i])

    def choose_behavior_index(self, i: int) -> None:
        if 0 <= i < len(self.model.classes):
            self.choose(behavior=self.model.classes[i])

    def run(self, action: str) -> None:
        """Run a shortcut's action by name (also used by the ethogram's own key handling)."""
        if action.startswith("behavior_"):
            self.choose_behavior_index(int(action.split("_")[1]) - 1)
            return
        simple = {
            "start": self.start, "end": self.end, "toggle": self.toggle, "cancel": self.cancel,
            "step_forward": lambda: self.step(10), "step_back": lambda: self.step(-10),
            "next_bout": lambda: self.jump(1), "previous_bout": lambda: self.jump(-1),
            "delete": self.delete, "undo": self.undo, "redo": self.redo,
            "next_to_label": self.next_to_label, "next_subject": self.next_subject,
            "step_one_forward": lambda: self.step(1), "step_one_back": lambda: self.step(-1),
        }  # fmt: skip
        simple[action]()

    def install_shortcuts(self) -> None:
        viewer = self.viewer
        for key, (action, _) in SHORTCUTS.items():
            viewer.bind_key(key, self._key_handler(action), overwrite=True)

    def _key_handler(self, action: str):
        ref = weakref.ref(self)

        def handler(viewer):
            session = ref()
            if session is not None:
                session.run(action)

        handler.__doc__ = SHORTCUTS.get(next((k for k, v in SHORTCUTS.items() if v[0] == action), ""), ("", ""))[1]
        return handler

    # ------------------------------------------------------------------ listeners
    def _model_changed(self) -> None:
        self.changed.emit("labels")

    def _on_step(self, event=None) -> None:
        if self.overlay is not None:
            self._overlay_timer.start()  # restarted by every step; fires once the slider rests

    def draw_overlay(self) -> None:
        """Redraw the pose overlay for the current frame now."""
        if self.overlay is not None and self.viewer is not None:
            self.overlay.show(self.frame)

    # ------------------------------------------------------------------ pose overlay
    def _make_overlay(self) -> None:
        if self.overlay is not None:
            self.overlay.remove()
            self.overlay = None
        rec, pose = self.recording, self.pose
        if rec is None or pose is None:
            return
        if rec.pose is pose or rec.boxes is not None:
            boxes, box_subjects = rec.subject_boxes(margin=4.0), rec.subjects
        else:
            boxes, box_subjects = pose.boxes(margin=4.0), pose.subjects
        self._adopting = True
        try:
            self.overlay = PoseOverlay(self.viewer, pose, rec.name, boxes, box_subjects,
                                       bool(setting("display", "subject_boxes", True)))  # fmt: skip
        finally:
            self._adopting = False
        self.overlay.show(self.frame)

    # ------------------------------------------------------------------ docking
    def show_ethogram(self) -> None:
        """Dock the ethogram under the canvas (once per viewer)."""
        viewer = self.viewer
        try:
            viewer.window.add_plugin_dock_widget(PLUGIN, "Ethogram")
        except Exception as err:  # the plugin not registered with napari (a bare test viewer)
            self.say(f"ethogram not docked: {err}")

    def _ask_discard(self, what: str) -> bool:
        from qtpy.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            None, "vpbehavior", f"{what}. Discard them?", QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
        )  # fmt: skip
        return answer == QMessageBox.StandardButton.Discard
