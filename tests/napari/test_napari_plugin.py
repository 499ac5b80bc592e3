"""The plugin driven in a shown viewer (Xvfb through pytest-xvfb): the real fly video with its SLEAP
poses, bouts from key presses, undo, save and reload (ours, BORIS, .slp), the ethogram drawn and
synced both ways, train-and-predict in the worker, the experiment list, the readers."""

from __future__ import annotations

import numpy as np
import pytest
from napari_helpers import dock_widget, find_ethogram
from qtpy.QtCore import QPoint, Qt
from qtpy.QtGui import QImage

pytestmark = [pytest.mark.napari]


def _key(viewer, qtbot, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(viewer.window._qt_viewer, key, modifier)


def _canvas_pixels(canvas) -> np.ndarray:
    """The ethogram as drawn on screen (RGB); a 16-bit X display rounds colours by up to 8 levels."""
    image = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    arr = np.frombuffer(ptr, np.uint8).reshape(h, image.bytesPerLine() // 4, 4)[:, :w]
    return arr[..., [2, 1, 0]].copy()  # BGRA -> RGB


def _close(pixel, color, tol=8) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(color)).max() <= tol)


def test_fly_video_keys_undo_save_reload_and_screenshot(viewer, fly_video, qtbot, tmp_path):
    from napari_vpbehavior._ethogram import NEGATIVE_BG, UNANNOTATED_BG, color_for
    from napari_vpbehavior._session import session_for

    from vpbehavior.core import Bout
    from vpbehavior.io.video import VideoReader

    viewer.open(str(fly_video), plugin="vpbehavior")
    session = session_for(viewer)
    etho = find_ethogram(viewer, qtbot)
    video = viewer.layers["centered_pair_low_quality"]
    assert isinstance(video.data, VideoReader) and video.data.shape == (1100, 384, 384, 3)  # lazy
    rec = session.recording
    assert rec.pose is not None and len(rec.subjects) == 27 and session.pose_file.suffix == ".slp"

    # SLEAP pose overlay: the located keypoints of the frame, a colour per track, skeleton, boxes
    session.seek(200)
    overlay = session.overlay
    qtbot.waitUntil(lambda: overlay.frame == 200, timeout=3000)  # redrawn once the slider rests
    located = np.isfinite(rec.pose.points[200]).all(-1)
    assert len(overlay.points.data) == located.sum()
    np.testing.assert_allclose(overlay.points.data, rec.pose.points[200][located][:, ::-1])
    assert len(np.unique(overlay.points.face_color, axis=0)) == located.any(-1).sum()
    assert len(overlay.skeleton.data) > 0 and len(overlay.boxes.data) == located.any(-1).sum()

    annotate = dock_widget(viewer, "Annotation")
    annotate.add_behavior("chase")
    annotate.add_behavior("wing extension")
    assert session.model.classes == ["chase", "wing extension"] and session.behavior == "wing extension"
    _key(viewer, qtbot, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)  # Alt-1: chase
    assert session.behavior == "chase" and session.subject == "1"
    for start, stop in ((100, 130), (300, 340)):
        session.seek(start)
        _key(viewer, qtbot, Qt.Key.Key_BracketLeft)
        session.seek(stop)
        _key(viewer, qtbot, Qt.Key.Key_BracketRight)
    _key(viewer, qtbot, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)  # next subject: "2"
    _key(viewer, qtbot, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    session.seek(500)
    _key(viewer, qtbot, Qt.Key.Key_T)  # toggle: start
    _key(viewer, qtbot, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # 10 frames on
    assert session.frame == 510
    _key(viewer, qtbot, Qt.Key.Key_T)  # toggle: end at 510
    session.seek(700)
    _key(viewer, qtbot, Qt.Key.Key_BracketLeft)
    session.seek(720)
    _key(viewer, qtbot, Qt.Key.Key_BracketRight)
    assert len(session.model.bouts) == 4
    _key(viewer, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the last bout
    expected = (Bout(100, 131, "1", "chase"), Bout(300, 341, "1", "chase"), Bout(500, 511, "2", "wing extension"))
    assert session.model.bouts == expected
    assert annotate.unsaved.text()  # the unsaved-changes warning
    session.seek(0)
    _key(viewer, qtbot, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # next bout edge of subject "2"
    assert session.frame == 500
    _key(viewer, qtbot, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert session.frame == 510

    # save and reload: ours exactly, BORIS and .slp events as the same bouts
    labels = session.model.to_labels()
    ours = annotate.save(tmp_path / "flies.behavior.json")
    assert not annotate.unsaved.text() and not session.model.dirty
    boris = session.save_labels(tmp_path / "flies_boris.tsv")
    slp = session.save_labels(tmp_path / "flies_events.slp")
    session.model.set_labels(session.model.to_labels().with_values(np.full(labels.shape, -1, np.int8)))
    assert not session.model.bouts
    annotate.load(ours)
    assert session.model.to_labels() == labels
    for path in (boris, slp):
        session.model.mark_saved()
        annotate.load(path)
        assert session.model.bouts == expected, path.name

    # ethogram: the rows of both subjects, bout colours at the bouts' x positions
    etho.canvas.fit()
    qtbot.wait(50)
    rows = etho.canvas.data.rows
    assert rows == [("1", "chase"), ("1", "wing extension"), ("2", "chase"), ("2", "wing extension")]
    pixels = _canvas_pixels(etho.canvas)
    for bout in expected:
        row = rows.index((bout.subject, bout.behavior))
        lane = etho.canvas.lane_rect(row, "labels")
        y = lane.center().y()
        inside = int(etho.canvas.x_of((bout.start + bout.stop) / 2))
        outside = int(etho.canvas.x_of(bout.stop + 40))
        assert _close(pixels[y, inside], color_for(session.model.classes.index(bout.behavior))), bout
        assert _close(pixels[y, outside], NEGATIVE_BG) or _close(pixels[y, outside], UNANNOTATED_BG), bout

    # synced both ways: clicking the ethogram seeks the video; the slider moves the cursor only
    x = int(etho.canvas.x_of(800.5))
    qtbot.mouseClick(etho.canvas, Qt.MouseButton.LeftButton, pos=QPoint(x, etho.canvas.height() - 30))
    clicked = etho.canvas.frame_at(x)  # a pixel spans ~1 frame when the whole video is shown
    assert abs(clicked - 800) <= 1 and session.frame == clicked == viewer.dims.current_step[0]
    qtbot.wait(50)
    rebuilds = etho.canvas.stats["rebuilds"]
    viewer.dims.set_current_step(0, 810)
    assert etho.canvas.cursor == 810
    qtbot.wait(50)
    assert etho.canvas.stats["rebuilds"] == rebuilds  # the cursor moved; nothing was redrawn

    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert (shot[..., :3] > 20).mean() > 0.05  # the video frame is drawn, not a black canvas
    np.testing.assert_array_equal(np.asarray(video._slice.image.raw), next(video.data.iter_frames(810, 811)))


def test_select_drag_delete_and_zoom_in_the_ethogram(viewer, qtbot):
    from napari_vpbehavior._sample_data import sample_recording_layers
    from napari_vpbehavior._session import session_for

    for data, kwargs, kind in sample_recording_layers(n_frames=120):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    session = session_for(viewer)
    etho = find_ethogram(viewer, qtbot)
    assert session.predictions is not None and session.model.bouts
    canvas = etho.canvas
    assert canvas.data.scores is not None and canvas.data.calls is not None  # three lanes per row
    bout = session.model.bouts[0]
    row = canvas.data.rows.index((bout.subject, bout.behavior))
    y = canvas.lane_rect(row, "labels").center().y()
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(bout.start + 0.5)), y))
    assert session.selected == bout and session.frame == bout.start
    # drag the stop edge 3 frames later: one undoable step
    x0 = int(round(canvas.x_of(bout.stop)))
    new_stop = min(bout.stop + 3, session.n_frames)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x0, y))
    qtbot.mouseMove(canvas, QPoint(int(round(canvas.x_of(new_stop))), y))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(round(canvas.x_of(new_stop))), y))
    moved = session.selected
    assert moved.start == bout.start and moved.stop >= new_stop
    session.undo()
    assert bout in session.model.bouts
    session.select(bout)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert bout not in session.model.bouts
    t0, t1 = canvas.window
    canvas.zoom(4, center=60)
    assert canvas.window[1] - canvas.window[0] == pytest.approx((t1 - t0) / 4)
    canvas.pan(10)
    assert session.next_to_label() is None  # every frame of the sample is labelled
    unlabeled = np.zeros(session.n_frames, bool)
    unlabeled[70:] = True
    session.model.set_labels(session.model.to_labels().masked(unlabeled))
    stretch = session.next_to_label()
    assert stretch is not None and stretch[0] >= 70 and session.frame == stretch[0]
    assert canvas.highlight == stretch and canvas.window[0] <= stretch[0] < canvas.window[1]
    session.model.mark_saved()


def test_train_and_predict_in_the_worker_shows_predictions(viewer, qtbot, tmp_path, one_torch_thread):
    from napari_vpbehavior._session import session_for

    from vpbehavior.io.synthetic import sample_recording

    rec = sample_recording(seed=3, n_frames=64, size=64, folder=tmp_path)
    session = session_for(viewer)
    session.open_recording(rec)
    etho = find_ethogram(viewer, qtbot)
    assert session.predictions is None and etho.canvas.data.scores is None
    train = dock_widget(viewer, "Train & predict")
    train.weights.setCurrentText("random:tiny")
    train.kind.setCurrentText("video")
    train.epochs.setValue(2)
    train.size.setValue(48)  # a multiple of the tiny encoder's 12-pixel patches
    train.device.setCurrentText("cpu")
    train.cache.setText(str(tmp_path / "features"))
    seen = []
    train._relay.progressed.connect(lambda task, done, total: seen.append(task))
    worker = train.train_and_predict()
    assert worker is not None
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    assert "failed" not in train.status.text(), train.status.text()
    pred = session.predictions
    assert pred is not None and pred.n_frames == 64 and pred.classes
    data = etho.canvas.data
    assert data.scores is not None and np.isfinite(data.scores).any()  # the probability lanes
    assert data.calls is not None and data.calls.shape == data.labels.shape
    assert seen  # the progress callback reached the GUI thread
    assert train.run_button.isEnabled() and not train.cancel_button.isEnabled()

    # cancel: the callback raises Cancelled at the next step; the panel says so
    worker = train.train_and_predict()
    train.cancel()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    assert train.status.text() == "cancelled" and session.predictions is pred


def test_experiment_list_switches_videos_and_readers(viewer, qtbot, tmp_path):
    from napari_vpbehavior._reader import get_labels_reader, get_predictions_reader, get_video_reader
    from napari_vpbehavior._session import session_for

    from vpbehavior.io.synthetic import sample_recording

    folder = tmp_path / "scored"
    recs = [sample_recording(seed=i, n_frames=40, size=64, folder=folder, name=f"m{i}") for i in (1, 2)]
    (folder / "summary.csv").write_text("video,subject,behavior,bout_count\nm1.mp4,a,chase,4\nm1.mp4,b,chase,1\n")
    experiment = dock_widget(viewer, "Experiment")
    entries = experiment.open_folder(folder)
    assert [e["name"] for e in entries] == ["m1", "m2"]
    assert "5 bouts" in experiment.list.item(0).text() and "not scored" in experiment.list.item(1).text()
    session = session_for(viewer)
    for row, rec in enumerate(recs):
        assert experiment.show_entry(row)
        assert session.recording.name == rec.name and session.model.bouts  # labels paired beside the video
    assert len([layer for layer in viewer.layers if layer._type_string == "image"]) == 1

    # readers: a label file joins the recording on screen; videos and predictions files are claimed
    labels_file = folder / "m2.behavior.json"
    assert get_labels_reader(str(labels_file)) is not None and get_video_reader(str(folder / "m2.mp4"))
    assert get_video_reader(str(labels_file)) is None and get_predictions_reader(str(labels_file)) is None
    viewer.open(str(labels_file), plugin="vpbehavior")
    assert session.labels_path == labels_file
    try:
        from vpbehavior.io.predictions import write_predictions
    except ImportError:  # the predictions file module has not landed: the reader says so clearly
        from napari_vpbehavior._files import PredictionsReaderMissing, read_predictions_file

        with pytest.raises(PredictionsReaderMissing, match="predictions-file reader"):
            read_predictions_file(folder / "m2.predictions.h5")
    else:
        from napari_vpbehavior._sample_data import simulated_predictions

        pred_path = write_predictions(folder / "m2.predictions.h5", simulated_predictions(recs[1]))
        viewer.open(str(pred_path), plugin="vpbehavior")
        assert session.predictions is not None and session.predictions.n_frames == recs[1].n_frames
