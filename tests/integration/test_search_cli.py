"""`vpbehavior search`: hits files from the command line, zero-shot predictions evaluated by `vpbehavior evaluate`."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from vpbehavior.cli import main


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from vpbehavior.api import make_experiment

    folder = tmp_path_factory.mktemp("cli_search_videos")
    make_experiment(folder, n_videos=2, seed=4, height=48, width=48, n_frames=40, fps=8, body_length=9)
    return folder


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def _base(videos, tiny_lvt_file, lvt_tokenizer, out):
    return [str(videos), "--weights", str(tiny_lvt_file), "--tokenizer", str(lvt_tokenizer), "--size", "36",
            "--out", str(out)]  # fmt: skip


def test_search_command_writes_ranked_hits_and_candidates(videos, tiny_lvt_file, lvt_tokenizer, tmp_path, capsys):
    queries = tmp_path / "queries.txt"
    queries.write_text("fight: two flies fighting | animals fighting\n")
    out = tmp_path / "found"
    args = ["search", str(videos), "a mouse grooming", *_base(videos, tiny_lvt_file, lvt_tokenizer, out)[1:]]
    assert main([*args, "--query-file", str(queries), "--top", "3", "--labels"]) == 0
    printed = capsys.readouterr().out
    assert "a mouse grooming" in printed and "fight" in printed and "2 recording(s) searched" in printed
    with open(out / "hits.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["query"] for r in rows] == ["a mouse grooming"] * 3 + ["fight"] * 3
    assert json.loads((out / "hits.json").read_text())["queries"][1]["phrasings"] == [
        "two flies fighting", "animals fighting"]  # fmt: skip
    assert (out / "hits.html").is_file() and len(list((out / "candidates").glob("*.behavior.json"))) >= 1
    assert len(list((out / "clips").glob("*.clips.h5"))) == 2
    # a rerun into the same folder reuses the clip embeddings and may replace its own outputs
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "clips").iterdir()}
    assert main([*args, "--top", "2"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "clips").iterdir()} == stamp


def test_zero_shot_predictions_evaluate_against_the_labels(videos, tiny_lvt_file, lvt_tokenizer, tmp_path, capsys):
    out = tmp_path / "zs"
    args = ["search", *_base(videos, tiny_lvt_file, lvt_tokenizer, out), "grooming", "approach", "circling"]
    assert main([*args, "--zero-shot"]) == 0
    assert "vpbehavior evaluate" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.predictions.h5")) == ["synthetic_00.predictions.h5",
                                                                    "synthetic_01.predictions.h5"]  # fmt: skip
    report = tmp_path / "report"
    assert main(["evaluate", str(videos), "--predictions", str(out), "--out", str(report)]) == 0
    metrics = json.loads((report / "report.json").read_text())
    assert metrics["classes"] == ["grooming", "approach", "circling"] and metrics["source"] == ["zero-shot"]
    assert 0.0 <= metrics["mAP"] <= 1.0 and metrics["n_cells"] == 80


def test_search_mistakes_are_one_line(videos, tiny_lvt_file, lvt_tokenizer, tmp_path, capsys):
    base = _base(videos, tiny_lvt_file, lvt_tokenizer, tmp_path / "o")
    assert main(["search", *base]) == 2
    assert "at least one query" in capsys.readouterr().err
    no_tok = [a for a in base if a != str(lvt_tokenizer) and a != "--tokenizer"]
    assert main(["search", *no_tok, "grooming"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--tokenizer" in err
    assert main(["search", *base, "grooming", "--zero-shot"]) == 2
    assert "at least two behaviors" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # an unknown option is still argparse's usage error
        main(["search", *base, "grooming", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["evaluate", str(videos), "--out", str(tmp_path / "r")]) == 2
    assert "--classifier CLF or --predictions PATH" in capsys.readouterr().err


def test_search_goes_on_past_a_bad_video(videos, tiny_lvt_file, lvt_tokenizer, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(videos, data)
    (data / "broken.mp4").write_bytes(b"not a video at all" * 10)
    out = tmp_path / "found"
    assert main(["search", *_base(data, tiny_lvt_file, lvt_tokenizer, out), "grooming"]) == 1
    printed = capsys.readouterr().out
    assert "not searched" in printed and "broken.mp4" in printed
    with open(out / "failures.csv") as fh:
        assert any("broken.mp4" in row["item"] for row in csv.DictReader(fh))
    assert len(list((out / "clips").glob("*.clips.h5"))) == 2
