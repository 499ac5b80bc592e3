"""The text-search panel in a shown viewer (Xvfb through pytest-xvfb), with the tiny LvT parity model and a
tokenizer trained on the fly: the hits listed are `TextSearch.search`'s, clicking one seeks to it, the
ethogram gets one lane per query with `TextSearch.trace`'s values, a second search reuses the clip
embeddings, and mistakes are a line in the panel."""

from __future__ import annotations

import numpy as np
import pytest
from napari_helpers import dock_widget, find_ethogram
from qtpy.QtCore import Qt

pytestmark = [pytest.mark.napari]

QUERIES = ["grooming", "fight: two flies fighting | animals fighting"]
TOP = 5


@pytest.fixture(scope="module")
def lvt(tiny_lvt):
    return tiny_lvt


@pytest.fixture(scope="module")
def spm(lvt_tokenizer):
    return lvt_tokenizer


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    import vpbehavior as vpb

    folder = tmp_path_factory.mktemp("search_video")
    (path,) = vpb.make_experiment(folder, n_videos=1, seed=1, height=48, width=48, n_frames=40, fps=8, body_length=9)
    return path


def _panel(viewer, lvt, spm, queries=QUERIES):
    panel = dock_widget(viewer, "Text search")
    panel.set_model(lvt)
    panel.tokenizer.setText(str(spm))
    panel.size.setValue(36)  # the tiny model's 36 x 36 input (three 12-pixel patches)
    panel.device.setCurrentText("cpu")
    panel.top.setValue(TOP)
    panel.queries.setPlainText("\n".join(queries))
    return panel


def _run(panel, qtbot, cancel=False):
    """Search in the worker and wait for the panel to be reset (connected first: a failure can be instant)."""
    with qtbot.waitSignal(panel.job.finished, timeout=120_000):
        worker = panel.search()
        assert worker is not None, panel.status.text()
        if cancel:
            panel.cancel()
    return worker


def test_hits_seek_lanes_and_embeddings_reused(viewer, qtbot, tmp_path, lvt, spm, video, one_torch_thread):
    from napari_vpbehavior._ethogram import TRACE_PALETTE
    from napari_vpbehavior._search import hit_cells
    from napari_vpbehavior._session import session_for

    import vpbehavior as vpb

    viewer.open(str(video), plugin="vpbehavior")
    session = session_for(viewer)
    etho = find_ethogram(viewer, qtbot)
    rec = session.recording
    assert rec.video is not None and rec.n_frames == 40

    # what the API finds, computed directly (its own cache), before the model is wrapped
    direct = vpb.TextSearch(lvt, spm, config=vpb.SearchConfig(size=36, device="cpu"), cache=tmp_path / "direct")
    expected = direct.search(rec, QUERIES, top=TOP)
    expected_trace = direct.trace(rec, QUERIES)
    assert len(expected.hits) == 2 * TOP

    calls = []
    encode_video = lvt.encode_video

    def counted(*args, **kwargs):
        calls.append(len(args[0]))
        return encode_video(*args, **kwargs)

    lvt.encode_video = counted
    try:
        panel = _panel(viewer, lvt, spm)
        seen = []
        panel.job.relay.progressed.connect(lambda task, done, total: seen.append(task))
        _run(panel, qtbot)
        assert panel.status.text() == f"{2 * TOP} hits for 2 queries in {rec.name}", panel.status.text()
        assert calls and sum(calls) == 19  # 40 frames: 4-frame clips every 2 frames, each embedded once
        assert "embed synthetic_00" in seen  # progress reached the GUI thread
        assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()

        # the list: the API's hits, in its order, with its frames and scores
        got = [(h.query, h.rank, h.recording, h.start, h.stop) for h in panel.hits]
        assert got == [(h.query, h.rank, h.recording, h.start, h.stop) for h in expected.hits]
        np.testing.assert_allclose([h.score for h in panel.hits], [h.score for h in expected.hits], atol=1e-6)
        table = panel.table
        assert table.rowCount() == len(expected.hits)
        for r, hit in enumerate(expected.hits):
            assert tuple(table.item(r, c).text() for c in range(table.columnCount())) == hit_cells(hit)
        assert hit_cells(expected.hits[0])[2] == f"{expected.hits[0].start}–{expected.hits[0].stop - 1}"

        # clicking hit k seeks to its start and shades it in the ethogram
        for k in (3, 0, TOP + 1):
            hit = expected.hits[k]
            rect = table.visualItemRect(table.item(k, 0))
            qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            assert viewer.dims.current_step[0] == hit.start == session.frame, k
            assert etho.canvas.highlight == (hit.start, hit.stop)

        # one ethogram lane per query: the per-frame similarity, drawn rescaled to 0..1
        traces = etho.canvas.data.traces
        assert [t.name for t in traces] == ["search: grooming", "search: fight"]
        for i, trace in enumerate(traces):
            np.testing.assert_allclose(trace.values, expected_trace[:, i], rtol=1e-5, atol=1e-6)
            assert np.nanmin(trace.scaled) == 0 and np.nanmax(trace.scaled) == 1
        assert etho.canvas.data.rows  # the behavior rows of the labels stay above the lanes
        etho.canvas.fit()
        image = etho.canvas.render_image()
        lane = etho.canvas.trace_rect(0)
        strip = image[lane.top() : lane.bottom() + 1, :, :3].reshape(-1, 3)
        assert (np.abs(strip.astype(int) - TRACE_PALETTE[0]).max(1) == 0).any()  # the lane is drawn

        # a second search (other queries, fewer hits) reuses the engine and its clip embeddings
        engine = panel.engine
        panel.queries.setPlainText("attacks\nflees: animal1 flees")
        panel.top.setValue(3)
        n_calls = len(calls)
        _run(panel, qtbot)
        assert len(calls) == n_calls and panel.engine is engine
        assert [h.query for h in panel.hits] == ["attacks"] * 3 + ["flees"] * 3
        assert [t.name for t in etho.canvas.data.traces] == ["search: attacks", "search: flees"]
        np.testing.assert_allclose(etho.canvas.data.traces[1].values, direct.trace(rec, ["flees: animal1 flees"])[:, 0],
                                   rtol=1e-5, atol=1e-6)  # fmt: skip
        panel.clear()
        assert panel.table.rowCount() == 0 and not etho.canvas.data.traces
    finally:
        del lvt.encode_video  # the instance attribute; the class's method again


def test_mistakes_are_a_line_in_the_panel(viewer, qtbot, tmp_path, lvt, spm, video, shared_dir, one_torch_thread):
    from napari_vpbehavior._session import session_for

    from vpbehavior.models import VideoPrism

    panel = _panel(viewer, lvt, spm)
    assert panel.search() is None and panel.status.text() == "open a video first"
    viewer.open(str(video), plugin="vpbehavior")
    session = session_for(viewer)
    assert session.recording is not None

    panel.tokenizer.setText("")
    assert panel.search() is None and "tokenizer" in panel.status.text()
    missing = tmp_path / "missing.model"
    panel.tokenizer.setText(str(missing))
    assert panel.search() is None and panel.status.text() == f"{missing}: SentencePiece model not found"
    panel.tokenizer.setText(str(spm))
    for text, message in (("", "no query given"), ("grooming\ngrooming: a mouse grooming", "two queries are named")):
        panel.queries.setPlainText(text)
        assert panel.search() is None and message in panel.status.text(), text
    assert panel.worker is None and panel.table.rowCount() == 0

    # a model without a text tower: the worker fails with one line, no traceback dialog
    panel.set_model(VideoPrism.from_flax(shared_dir / "fixtures/videoprism_parity/tiny_video_params.npz"), "video only")
    panel.queries.setPlainText("grooming")
    _run(panel, qtbot)
    assert panel.status.text().startswith("failed: text search needs a video-text (LvT) model"), panel.status.text()
    assert panel.engine is None and not session.traces

    # cancel: the progress callback stops the embedding at its next step
    panel.set_model(lvt, "tiny lvt")
    _run(panel, qtbot, cancel=True)
    assert panel.status.text() == "cancelled" and not panel.hits and not session.traces
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
