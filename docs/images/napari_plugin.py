"""Make docs/images/napari_plugin.png: the plugin on the two-fly SLEAP video, with predictions.

The labels are made here from the pose for the picture only (a "close" bout where the two
flies' thoraxes are within 60 px, "walking" where a fly's thorax moves faster than 2 px per
frame), on the first 600 frames; a pose classifier is then trained and run in the plugin's
worker on the whole video, so frames 600-1099 show calls and probabilities without labels.

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/images/napari_plugin.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from vpbehavior.core import Bout, runs
from vpbehavior.testing.fixtures import find_shared_dir

OUT = Path(__file__).with_name("napari_plugin.png")


def heuristic_bouts(pose, upto: int) -> list[Bout]:
    thorax = pose.points[:, :2, pose.keypoint_names.index("thorax")]  # tracks "1" and "2"
    dist = np.linalg.norm(thorax[:, 0] - thorax[:, 1], axis=-1)
    bouts = []
    close = np.nan_to_num(dist, nan=1e9) < 60
    for s, name in enumerate(pose.subjects[:2]):
        for a, b in runs(close[:upto]):
            if b - a >= 5:
                bouts.append(Bout(a, b, name, "close"))
        speed = np.r_[0, np.linalg.norm(np.diff(thorax[:, s], axis=0), axis=-1)]
        smooth = np.convolve(np.nan_to_num(speed), np.ones(9) / 9, mode="same")
        for a, b in runs(smooth[:upto] > 2.0):
            if b - a >= 5:
                bouts.append(Bout(a, b, name, "walking"))
    return bouts


def main() -> None:
    import napari
    from napari_vpbehavior._session import session_for
    from qtpy.QtWidgets import QApplication

    shared = find_shared_dir()
    if shared is None:
        sys.exit("../shared is not here")
    video = shared / "recordings/sleap_fly_pair/centered_pair_low_quality.mp4"
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 950)
    app = QApplication.instance()
    viewer.open(str(video), plugin="vpbehavior")
    session = session_for(viewer)
    session.confirm_discard = lambda what: True
    for _ in range(20):
        app.processEvents()
    _, annotate = viewer.window.add_plugin_dock_widget("vpbehavior", "Annotation")
    _, train = viewer.window.add_plugin_dock_widget("vpbehavior", "Train & predict")
    for name in ("close", "walking"):
        annotate.add_behavior(name)
    for bout in heuristic_bouts(session.pose, 600):
        session.model.add_bout(bout)
    for subject in ("1", "2"):
        session.model.mark_reviewed(0, 600, subject)
    session.choose(behavior="walking", subject="1")
    train.kind.setCurrentText("pose")
    train.epochs.setValue(30)
    worker = train.train_and_predict()
    while worker is not None and train.worker is not None:
        app.processEvents()
        time.sleep(0.02)
    print(train.status.text())
    session.seek(820)
    viewer.reset_view()
    for _ in range(50):
        app.processEvents()
        time.sleep(0.01)
    session.draw_overlay()
    for _ in range(10):
        app.processEvents()
    shot = viewer.screenshot(canvas_only=False, flash=False)
    from PIL import Image

    Image.fromarray(shot).save(OUT)
    print(f"wrote {OUT} {shot.shape}")
    session.model.mark_saved()
    viewer.close()


if __name__ == "__main__":
    main()
