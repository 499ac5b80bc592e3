"""The loading flags every command shares: --format, --tracks, --merge-tracks (on the real fragmented SLEAP file)."""

from __future__ import annotations

import json

import pytest

from vpbehavior.cli import main


@pytest.fixture
def fly(shared_dir):
    return shared_dir / "recordings" / "sleap_fly_pair" / "centered_pair_low_quality.mp4"


def test_tracks_and_merge_tracks_flags(fly, tmp_path, capsys):
    assert main(["inspect", str(fly), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)["recording_summaries"][0]
    assert rec["tracks"]["count"] == 27 and rec["tracks"]["fragmented"]
    assert main(["inspect", str(fly), "--json", "--tracks", "2"]) == 0
    rec = json.loads(capsys.readouterr().out)["recording_summaries"][0]
    assert rec["subjects"] == ["1", "2"] and not rec["tracks"]["fragmented"]
    longest = sorted(rec["present_frames"].values())
    mapping = tmp_path / "tracks.json"
    mapping.write_text(json.dumps({"1": "fly1", "2": "fly2"}))
    assert main(["inspect", str(fly), "--json", "--merge-tracks", str(mapping)]) == 0
    rec = json.loads(capsys.readouterr().out)["recording_summaries"][0]
    assert {"fly1", "fly2"} <= set(rec["subjects"])
    assert sorted(rec["present_frames"][s] for s in ("fly1", "fly2")) == longest
    assert main(["inspect", str(fly), "--tracks", "0"]) == 2
    assert "tracks" in capsys.readouterr().err
    mapping.write_text("{not json")
    assert main(["inspect", str(fly), "--merge-tracks", str(mapping)]) == 2
    assert "tracks.json" in capsys.readouterr().err
