"""Make docs/images/napari_search.png: the text-search panel on a synthetic recording, with its hits and lanes.

The model is the tiny LvT of the parity fixtures (../shared/fixtures/videoprism_parity) and the
tokenizer a SentencePiece model trained here on a few words: the picture shows the panel, the
ranked hits and the ``search: <query>`` lanes of the ethogram, not what the released LvT model
finds (its scores here mean nothing). The video is a synthetic two-animal recording with labels,
so the label rows sit above the search lanes.

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/images/napari_search.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vpbehavior.testing.fixtures import find_shared_dir

OUT = Path(__file__).with_name("napari_search.png")
WORDS = "the animal0 animal1 animal2 is idle grooming approaches retreats circling chases flees attacks and shows a an"
QUERIES = ["grooming: an animal grooming | an animal is grooming", "chase: animal0 chases animal1", "attacks"]


def main() -> None:
    import napari
    import torch
    from napari_vpbehavior._session import session_for
    from qtpy.QtWidgets import QApplication

    import vpbehavior as vpb
    from vpbehavior.models import VideoPrism
    from vpbehavior.testing.tokenizer import train_sentencepiece

    shared = find_shared_dir()
    if shared is None:
        sys.exit("../shared is not here")
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="vpbehavior-search-shot-"))
    (video,) = vpb.make_experiment(work / "video", n_videos=1, seed=4, n_frames=600, fps=30)
    words = WORDS.split()
    lines = [" ".join(np.random.default_rng(i).permutation(words)) + "." for i in range(300)]
    spm = train_sentencepiece(lines, work / "spm", vocab_size=40)
    lvt = VideoPrism.from_flax(shared / "fixtures/videoprism_parity/tiny_lvt_params.npz")

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 950)
    app = QApplication.instance()
    viewer.open(str(video), plugin="vpbehavior")
    session = session_for(viewer)
    session.confirm_discard = lambda what: True
    for _ in range(20):
        app.processEvents()
    _, panel = viewer.window.add_plugin_dock_widget("vpbehavior", "Text search")
    panel.set_model(lvt, "tiny_lvt (test model)")
    panel.tokenizer.setText(str(spm))
    panel.size.setValue(36)
    panel.device.setCurrentText("cpu")
    panel.top.setValue(4)
    panel.queries.setPlainText("\n".join(QUERIES))
    done = []
    panel.job.finished.connect(lambda: done.append(True))
    panel.search()
    while not done:
        app.processEvents()
        time.sleep(0.02)
    print(panel.status.text())
    panel.table.selectRow(1)  # the second hit: seeks there and shades it in the ethogram
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
