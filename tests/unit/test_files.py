"""Atomic output (vpbehavior._files): permissions, cleanup, and the writers built on it."""

import os
import stat

import numpy as np
import pytest

from vpbehavior._files import atomic_output, atomic_write_bytes, atomic_write_text, default_file_mode


@pytest.fixture
def umask():
    """Set a known umask for the test; restore the old one after."""
    old = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder) -> list:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_final_mode_follows_umask(tmp_path, umask, mask):
    umask(mask)
    assert default_file_mode() == 0o666 & ~mask
    path = tmp_path / "report.json"
    atomic_write_text(path, "{}")
    assert mode(path) == 0o666 & ~mask
    assert os.umask(mask) == mask  # reading it did not change it


def test_success_leaves_no_temp_and_creates_parents(tmp_path, umask):
    path = tmp_path / "a" / "b" / "data.bin"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert mode(path) == 0o644
    assert leftovers(path.parent) == []
    atomic_write_text(path, "new")  # replaces an existing file
    assert path.read_text() == "new" and leftovers(path.parent) == []


def test_temp_name_is_hidden_in_same_folder(tmp_path):
    path = tmp_path / "clip.mp4"
    with atomic_output(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".clip.mp4.") and tmp.name.endswith(".tmp")
        assert tmp.is_file() and not path.exists()
        tmp.write_bytes(b"x")
    with atomic_output(path, suffix=".mp4") as tmp:
        assert tmp.name.startswith(".clip.") and tmp.name.endswith(".tmp.mp4")
        tmp.write_bytes(b"y")
    assert path.read_bytes() == b"y" and leftovers(tmp_path) == []


@pytest.mark.parametrize("existing", [False, True])
def test_exception_leaves_target_untouched(tmp_path, existing):
    path = tmp_path / "labels.behavior.json"
    if existing:
        path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(path) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("boom")
    assert (path.read_text() == "old") if existing else not path.exists()
    assert leftovers(tmp_path) == []


def test_exception_removes_directory_made_under_temp_name(tmp_path):
    path = tmp_path / "store.zarr"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(path) as tmp:
            tmp.unlink()
            (tmp / "sub").mkdir(parents=True)
            (tmp / "sub" / "chunk").write_bytes(b"1")
            raise KeyboardInterrupt
    assert not path.exists() and leftovers(tmp_path) == []


def test_labels_file_reexport():
    from vpbehavior.io import labels_file

    assert labels_file.atomic_write_text is atomic_write_text


def _write_labels(path):
    from vpbehavior.core import BehaviorLabels, Bout
    from vpbehavior.io.labels_file import save_labels

    labels = BehaviorLabels.from_bouts([Bout(0, 3, "m1", "attack")], 5, classes=["attack"], subjects=["m1"])
    return save_labels(labels, path)


def _write_checkpoint(path):
    import torch

    from vpbehavior.models.checkpoints import save_checkpoint
    from vpbehavior.models.configs import get_config

    return save_checkpoint({"w": torch.zeros(2)}, get_config("tiny"), path)


def _write_plot(path):
    from vpbehavior.plots import _figure, _save

    return _save(_figure(1, 1), path)


def _write_video(path):
    from vpbehavior.io.video import write_video

    return write_video(path, [np.zeros((16, 16, 3), np.uint8)] * 2, 10, codec="mp4v")


@pytest.mark.parametrize(
    "writer, name",
    [
        (_write_labels, "x.behavior.json"),
        (_write_checkpoint, "m.safetensors"),
        (_write_checkpoint, "m.pt"),
        (_write_plot, "fig.png"),
        (_write_plot, "fig"),
        (_write_video, "v.mp4"),
    ],
)
def test_writers_produce_shareable_files(tmp_path, umask, writer, name):
    path = tmp_path / "out" / name
    assert writer(path) == path
    assert path.is_file() and path.stat().st_size > 0
    assert mode(path) == 0o644  # not mkstemp's 0o600
    assert leftovers(path.parent) == []
