"""Atomic output (vpbehavior._files): permissions, cleanup, and the writers built on it."""

import os
import stat
import time

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
    from vpbehavior.plots import new_figure, save_figure

    return save_figure(new_figure(1, 1), path)


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


# --------------------------------------------------------------------------- leftovers of killed writers
_CHILD = """
import sys, time
from vpbehavior._files import atomic_output
with atomic_output(sys.argv[1]) as tmp:
    tmp.write_bytes(b"x" * 100_000)
    print(tmp.name, flush=True)
    time.sleep(60)
"""


def _killed_writer(path):
    """Start a process that is writing ``path`` through atomic_output, SIGKILL it; its temp name."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        name = child.stdout.readline().strip()
        assert name, "the writer did not start"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return name, child.pid


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process ids of this host")
def test_next_write_removes_temporaries_of_a_killed_writer(tmp_path):
    from vpbehavior._files import host_tag

    path = tmp_path / "classifier.pt"
    name, pid = _killed_writer(path)
    assert (tmp_path / name).is_file() and not path.exists()
    assert name.startswith(".classifier.pt.") and name.endswith(".tmp")
    assert f"{pid}@{host_tag()}" in name  # recognisable: the writer's pid and host

    host = host_tag()
    keep = {
        # not ours: other tools' names, an old-style name, the real file of another target
        ".classifier.pt.abc123.tmp",
        ".classifier.pt.swp",
        "classifier.pt.bak",
        # ours but alive: the parent process (this test runner's parent) is running
        f".classifier.pt.vpb-{os.getppid()}@{host}-aaaaaaaa.tmp",
        # ours, another host, recent: that host may still be writing
        ".classifier.pt.vpb-12345@other-node.cluster-bbbbbbbb.tmp",
        # a killed writer's temp of another target: only cleaned when that target is written
        ".other.pt.vpb-999999999@" + host + "-cccccccc.tmp",
    }
    stale = {
        ".classifier.pt.vpb-23456@other-node.cluster-dddddddd.tmp",  # another host, two days old
    }
    for n in keep | stale:
        (tmp_path / n).write_bytes(b"?")
    old = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / ".classifier.pt.vpb-23456@other-node.cluster-dddddddd.tmp", (old, old))
    (tmp_path / f".classifier.pt.vpb-99999999@{host}-eeeeeeee.tmp").mkdir()  # a dead writer's folder
    (tmp_path / f".classifier.pt.vpb-99999999@{host}-eeeeeeee.tmp" / "part").write_bytes(b"1")

    atomic_write_bytes(path, b"model")
    assert path.read_bytes() == b"model"
    remaining = {p.name for p in tmp_path.iterdir()}
    assert remaining == keep | {"classifier.pt"}


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process ids of this host")
def test_killed_writer_with_suffix_is_cleaned_and_others_suffixes_are_not(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "clip.mp4"
    code = _CHILD.replace("atomic_output(sys.argv[1])", "atomic_output(sys.argv[1], suffix='.mp4')")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        name = child.stdout.readline().strip()
        child.kill()
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert name.startswith(".clip.vpb-") and name.endswith(".tmp.mp4")
    without_suffix = f".clip.mp4.vpb-{child.pid}@x-ffffffff.tmp"  # another host: kept (recent)
    (tmp_path / without_suffix).write_bytes(b"?")
    with atomic_output(path, suffix=".mp4") as tmp:
        tmp.write_bytes(b"v")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([without_suffix, "clip.mp4"])


def test_pid_reused_by_a_later_process_counts_as_gone(tmp_path):
    """A temp older than the live process with its pid cannot be that process's."""
    from vpbehavior._files import host_tag, process_state

    alive, started = process_state(os.getppid())
    if not alive or started is None:
        pytest.skip("process start times need Linux /proc")
    name = f".x.bin.vpb-{os.getppid()}@{host_tag()}-gggggggg.tmp"
    (tmp_path / name).write_bytes(b"?")
    before = started - 3600
    os.utime(tmp_path / name, (before, before))
    atomic_write_bytes(tmp_path / "x.bin", b"1")
    assert leftovers(tmp_path) == []


def test_temp_name_fits_for_long_and_non_ascii_names(tmp_path):
    path = tmp_path / ("é" * 120)  # 240 bytes
    with atomic_output(path) as tmp:
        assert len(os.fsencode(tmp.name)) <= 255 and tmp.name.startswith(".é")
        tmp.write_bytes(b"1")
    assert path.read_bytes() == b"1" and leftovers(tmp_path) == []
