"""The format registry's errors and the per-recording failure catcher (try_load)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vpbehavior
from vpbehavior.core import ConfigError, DataError, FormatError, LoadFailure, MissingFileError
from vpbehavior.io import _matfile, folder
from vpbehavior.io._sidecars import check_video_mode, try_load
from vpbehavior.io.registry import available_formats, detect_format, load


def test_unrecognized_path_is_a_format_error(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see")
    with pytest.raises(FormatError, match="could not recognize the format") as info:
        detect_format(tmp_path)
    assert info.value.path == tmp_path
    with pytest.raises(FormatError):
        vpbehavior.load(tmp_path / "notes.txt")


def test_unknown_format_name_is_a_config_error_listing_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown format 'calms22'") as info:
        load(tmp_path, format="calms22")
    for name in ("calms21", "flyvsfly", "chimpact", "kabr", "folder"):
        assert name in str(info.value) and name in available_formats()


def test_missing_path_and_unknown_option(tmp_path):
    with pytest.raises(MissingFileError, match="no such file"):
        load(tmp_path / "nowhere")
    with pytest.raises(MissingFileError):
        detect_format(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"no option\(s\) \['propagate'\].*'fps'"):
        load(tmp_path, format="folder", propagate=True)
    with pytest.raises(ConfigError, match="videos must be one of"):
        check_video_mode("sometimes")


def test_try_load_catches_data_errors_only(tmp_path):
    failures: list[LoadFailure] = []

    def data_problem():
        raise DataError("bad field", path=tmp_path / "x.json", field="bbox")

    def missing():
        raise FileNotFoundError(f"{tmp_path / 'y.mp4'}: gone")

    assert try_load(failures, tmp_path / "x.json", data_problem) is None
    assert try_load(failures, tmp_path / "y.mp4", missing) is None
    assert [f.path.name for f in failures] == ["x.json", "y.mp4"] and "'bbox'" in failures[0].error
    for bug in (TypeError("a bug"), KeyError("a bug"), IndexError("a bug"), ValueError("a bug")):

        def buggy(err=bug):
            raise err

        with pytest.raises(type(bug)):
            try_load(failures, tmp_path, buggy)
    assert len(failures) == 2


def test_a_loader_bug_is_a_traceback_not_a_failure(tmp_path, monkeypatch):
    import numpy as np

    from vpbehavior.io.video import write_video

    write_video(tmp_path / "m1.mp4", (np.zeros((16, 16, 3), np.uint8) for _ in range(3)), fps=10, codec="mp4v")

    def broken(*args, **kwargs):
        raise TypeError("a bug in our code")

    monkeypatch.setattr(folder, "build_recording", broken)
    with pytest.raises(TypeError, match="a bug in our code"):
        vpbehavior.load(tmp_path)


def test_mat_file_error_is_a_data_error(tmp_path):
    path = tmp_path / "empty.mat"
    path.write_bytes(b"")
    with pytest.raises(DataError) as info:
        _matfile.read_mat(path)
    assert isinstance(info.value, _matfile.MatFileError) and info.value.path == Path(path)
