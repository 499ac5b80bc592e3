"""Folder summary numbers, the ethogram's rows, the self-contained report, and the export formats."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from vpbehavior.core import Predictions
from vpbehavior.io.predictions import predicted_bouts, read_header, write_predictions
from vpbehavior.scoring.report import _ethogram_rows, plot_ethogram, render_report
from vpbehavior.scoring.summary import SUMMARY_COLUMNS, rebuild_summary, summary_rows

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


def _pred(n_subjects=2, n=100, fps=10.0) -> Predictions:
    classes = ("walk", "groom")
    subjects = tuple(f"s{i}" for i in range(n_subjects))
    presence = np.ones((n, n_subjects), bool)
    presence[50:, 0] = False  # s0 present for 5 s only
    calls = np.zeros((n, n_subjects, 2), bool)
    calls[10:20, 0, 0] = True  # 1.0 s
    calls[30:34, 0, 0] = True  # 0.4 s
    calls[5:6, 1, 1] = True
    scores = np.where(calls, 0.9, 0.1).astype(np.float32)
    scores[~presence] = np.nan
    return Predictions("m1", scores, calls, classes, subjects, presence, fps)


def test_summary_numbers():
    pred = _pred()
    header = {"fps": 10.0, "background": None, "subjects": pred.subjects, "classes": pred.classes}
    rows = {
        (r["subject"], r["behavior"]): r for r in summary_rows("day1/m1", header, predicted_bouts(pred), pred.presence)
    }
    walk = rows[("s0", "walk")]
    assert walk["video"] == "day1/m1" and walk["present_s"] == 5.0 and walk["time_s"] == 1.4
    assert walk["time_pct"] == 28.0 and walk["bouts"] == 2  # 1.4 s of the 5 s present
    assert walk["mean_bout_s"] == 0.7 and walk["median_bout_s"] == 0.7 and walk["latency_s"] == 1.0
    assert walk["time_frames"] == 14 and walk["latency_frame"] == 10
    none = rows[("s0", "groom")]
    assert none["bouts"] == 0 and none["time_s"] == 0 and none["latency_s"] is None and none["mean_bout_s"] is None
    assert rows[("s1", "groom")]["latency_s"] == 0.5 and rows[("s1", "groom")]["present_s"] == 10.0
    assert set(walk) == set(SUMMARY_COLUMNS)


def test_ethogram_rows_name_every_subject(tmp_path):
    assert _ethogram_rows(_pred()) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    many = _pred(n_subjects=30)  # more rows than fit: only the behaviors a subject shows, or one "none" row
    rows = _ethogram_rows(many)
    assert rows[:2] == [(0, 0), (1, 1)] and rows[2] == (2, None) and len(rows) == 30
    for pred, name in ((_pred(), "two.png"), (many, "many.png")):
        path = plot_ethogram(pred, tmp_path / name, "m1")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_is_self_contained_and_the_rebuild_reads_the_folder(tmp_path):
    out = tmp_path / "out"
    pred = _pred()
    write_predictions(out / "day1" / "m1.predictions.h5", pred)
    plot_ethogram(pred, out / "day1" / "m1.ethogram.png")
    (out / ".score" / "failures").mkdir(parents=True)
    (out / ".score" / "failures" / "bad.json").write_text('{"video": "/d/bad.mp4", "stage": "load", "reason": "x <y>"}')
    files = rebuild_summary(out, {"classifier": {"path": "c.safetensors", "sha256": "ab" * 32}, "versions": {}})
    text = files["report"].read_text()
    assert "data:image/png;base64," in text and "day1/m1" in text and "x &lt;y&gt;" in text  # escaped
    assert "<script" not in text and "http://" not in text and "https://" not in text and 'src="day1' not in text
    with open(files["summary"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and rows[0]["video"] == "day1/m1"
    with open(files["failures"]) as fh:
        assert list(csv.DictReader(fh)) == [{"video": "/d/bad.mp4", "stage": "load", "reason": "x <y>"}]
    assert read_header(out / "day1" / "m1.predictions.h5")["n_frames"] == 100
    html = render_report(out, [], [], None, [])
    assert html.startswith("<!DOCTYPE html>") and "0 with predictions" in html


def test_boris_export_reads_back_with_our_boris_reader(tmp_path):
    from vpbehavior.io.label_formats import read_label_file
    from vpbehavior.scoring.export import export_boris

    pred = _pred()
    path = export_boris(pred, tmp_path / "m1.boris.tsv", video=tmp_path / "m1.mp4")
    header = path.read_text().splitlines()[0].split("\t")
    assert header[:3] == ["Observation id", "Observation date", "Description"] and "Behavior type" in header
    labels = read_label_file(path, n_frames=pred.n_frames, fps=pred.fps, media="m1.mp4")
    got = {(b.start, b.stop, b.subject, b.behavior) for b in labels.to_bouts()}
    assert got == {(b.start, b.stop, b.subject, b.behavior) for b in predicted_bouts(pred)}


def test_csv_export_has_a_row_per_frame_and_subject(tmp_path):
    from vpbehavior.scoring.export import export_csv

    pred = _pred()
    with open(export_csv(pred, tmp_path / "m1.frames.csv")) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 200 and list(rows[0])[:4] == ["frame", "time_s", "subject", "present"]
    r = next(r for r in rows if r["frame"] == "60" and r["subject"] == "s0")
    assert r["present"] == "0" and r["walk"] == "" and r["walk_call"] == "0"
    r = next(r for r in rows if r["frame"] == "10" and r["subject"] == "s0")
    assert r["walk_call"] == "1" and float(r["walk"]) == pytest.approx(0.9) and r["time_s"] == "1.0000"


def test_nwb_export_says_how_to_install_when_pynwb_is_missing(tmp_path, monkeypatch):
    import sys

    from vpbehavior.core import ConfigError
    from vpbehavior.scoring.export import export_nwb

    monkeypatch.setitem(sys.modules, "pynwb", None)  # import pynwb now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install vpbehavior\[nwb\]"):
        export_nwb(_pred(), tmp_path / "m1.nwb")
    assert not list(tmp_path.iterdir())
