"""The plugin's parts that need no viewer: the editable model, snapping, 'next to label', files, summary.csv."""

from __future__ import annotations

import numpy as np
import pytest

from vpbehavior.core import FRAME_LEVEL, BehaviorLabels, Bout

pytest.importorskip("qtpy")

from napari_vpbehavior._ethogram import column_starts, reduce_columns  # noqa: E402
from napari_vpbehavior._files import boris_table, load_labels_from, save_labels_as  # noqa: E402
from napari_vpbehavior._model import (  # noqa: E402
    AnnotationModel,
    least_certain_stretch,
    pose_change,
    snap_frame,
)


def _model():
    return AnnotationModel(100, ["chase", "groom"], ["a", "b"])


def test_bouts_merge_undo_redo_and_dirty_flag():
    m = _model()
    assert not m.dirty
    m.add_bout(Bout(10, 20, "a", "chase"))
    m.add_bout(Bout(18, 30, "a", "chase"))  # overlaps: merged, as frame labels would
    m.add_bout(Bout(40, 45, "b", "groom", target="a"))
    assert m.bouts == (Bout(10, 30, "a", "chase"), Bout(40, 45, "b", "groom", target="a"))
    assert m.dirty
    m.mark_saved()
    assert not m.dirty
    m.delete_bout(m.bouts[0])
    assert m.undo() and m.bouts[0] == Bout(10, 30, "a", "chase") and m.dirty
    assert m.redo() and len(m.bouts) == 1
    m.undo()
    # one undo step per drag, merged on release
    m.begin_drag()
    for f in (33, 36, 39):
        b = m.set_edge(m.bouts[0] if m.bouts[0].behavior == "chase" else m.bouts[1], "stop", f)
    assert b == Bout(10, 40, "a", "chase")
    m.end_drag(b)
    m.undo()
    assert m.bouts[0] == Bout(10, 30, "a", "chase")


def test_labels_from_model_keep_not_annotated_apart():
    m = _model()
    m.start_bout("a", "chase", 12)
    assert ("a", "chase") in m.open_bouts and not m.bouts
    m.end_bout("a", "chase", 5)  # ended before its start: the frames between, both ends included
    assert m.bouts == (Bout(5, 13, "a", "chase"),)
    m.mark_reviewed(50, 60, "b")
    labels = m.to_labels()
    assert labels.values[5:13, 0, 0].tolist() == [1] * 8
    assert labels.values[5:13, 0, 1].tolist() == [0] * 8  # other classes of a labelled frame: negative
    assert (labels.values[0:5, 0] == -1).all() and (labels.values[50:60, 1] == 0).all()
    assert (labels.values[60:, 1] == -1).all()
    again = AnnotationModel.from_labels(labels)
    assert again.to_labels() == labels
    dense = m.dense([("a", "chase"), ("a", "groom"), ("b", "chase")])
    assert dense[5:13, 0].tolist() == [1] * 8 and dense[5:13, 1].tolist() == [0] * 8 and dense[55, 2] == 0


def test_snapping_and_least_certain_stretch():
    points = np.zeros((50, 3, 2), np.float32)
    points[21:] += 10.0  # the pose jumps at frame 21
    change = pose_change(points)
    assert int(np.argmax(change)) == 21
    assert snap_frame(18, change, radius=5) == 21 and snap_frame(10, change, radius=5) == 10

    scores = np.full((200, 2, 2), 0.02, np.float32)
    scores[120:140, 1, 0] = 0.5  # unsure here
    scores[40:60, 0, 1] = 0.5  # also unsure, but already labelled
    annotated = np.zeros((200, 2), bool)
    annotated[30:70, 0] = True
    assert least_certain_stretch(scores, annotated, length=20) == (120, 140, 1)
    assert least_certain_stretch(scores, np.ones((200, 2), bool), length=20) is None


def test_per_pixel_columns_touch_only_the_window():
    n = 100_000
    values = np.zeros((n, 1), bool)
    values[50_000:50_010] = True
    starts, valid, stop = column_starts(40_000.0, 60_000.0, 500, n)
    cols = reduce_columns(values, starts, stop, np.maximum)
    assert cols.shape == (500, 1) and valid.all()
    assert cols[:, 0].sum() == 1 and cols[250, 0]  # a 10-frame bout stays visible as one column
    starts, valid, stop = column_starts(99_990.0, 100_010.0, 40, n)  # past the end
    assert valid.sum() == 20 and stop == n


def test_label_files_round_trip(tmp_path):
    bouts = [Bout(3, 9, "a", "chase", target="b"), Bout(9, 12, "b", "groom"), Bout(20, 21, "a", "groom")]
    labels = BehaviorLabels.from_bouts(bouts, 30, ["chase", "groom"], ["a", "b"])
    ours = save_labels_as(labels, tmp_path / "v.behavior.json")
    assert load_labels_from(ours, 30, 25.0, ["a", "b"]) == labels
    for name in ("v_boris.csv", "v_boris.tsv"):
        path = save_labels_as(labels, tmp_path / name, fps=25.0, media="v.mp4")
        back = load_labels_from(path, 30, 25.0, ["a", "b"])
        assert [(b.start, b.stop, b.subject, b.behavior) for b in back.to_bouts()] == [
            (b.start, b.stop, b.subject, b.behavior) for b in labels.to_bouts()
        ]
    assert "No focal subject" in boris_table(BehaviorLabels.from_bouts([Bout(0, 2, FRAME_LEVEL, "x")], 4), 30.0)
    slp = save_labels_as(labels, tmp_path / "v.slp", video=tmp_path / "v.mp4")
    assert load_labels_from(slp, 30, None, ["a", "b"]).to_bouts() == labels.to_bouts()


def test_summary_csv_is_read_tolerantly(tmp_path):
    from napari_vpbehavior._widgets import read_summary, video_key

    (tmp_path / "summary.csv").write_text(
        "Video,Subject,Behavior,Bout_Count,total_frames\n"
        "C:\\data\\m1.mp4,a,chase,3,40\nm1.mp4,b,chase,2,10\nm2,a,groom,not a number,0\n,a,x,1,1\n"
    )
    counts = read_summary(tmp_path / "summary.csv")
    assert counts == {"m1": {"chase": 5}, "m2": {"groom": 0}}
    assert video_key("m1.predictions.h5") == "m1" and video_key("dir/m1.MP4") == "m1"
    assert read_summary(tmp_path / "missing.csv") == {}
