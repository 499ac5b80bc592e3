"""Output claims without HDF5 file locking: one holder at a time, a dead holder's claim is taken over,
a live one's never is, and several processes racing for one (fresh or stale) claim get exactly one winner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vpbehavior._files import host_tag
from vpbehavior.scoring.locks import FileLock

HOLD = """
import sys, time
from vpbehavior.scoring.locks import FileLock
lock = FileLock(sys.argv[1], heartbeat_s=float(sys.argv[2]))
assert lock.acquire()
print("held", flush=True)
time.sleep(60)
"""

RACE = """
import os, sys, time
from vpbehavior.scoring.locks import FileLock
lock, out, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
claim = FileLock(lock)
held = claim.acquire()
if held:
    with open(os.path.join(out, str(os.getpid())), "w") as fh:
        fh.write("won")
    time.sleep(1.0)  # hold it while the others try
    claim.release()
print("won" if held else "lost")
"""


def _holder(path, heartbeat=30.0):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(heartbeat)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_one_holder_at_a_time_and_release(tmp_path):
    path = tmp_path / "locks" / "v.lock"
    a, b = FileLock(path), FileLock(path)
    assert a.acquire() and a.held
    info = json.loads(path.read_text())
    assert info["pid"] == os.getpid() and info["host"] == host_tag() and info["started"] <= time.time()
    assert not b.acquire()  # held by a live FileLock of this very process
    assert not b.acquire(blocking=True, poll_s=0.05, timeout=0.2)
    a.release()
    assert not path.exists()
    assert b.acquire()
    b.release()


def test_a_live_process_keeps_its_claim_and_a_killed_one_loses_it(tmp_path):
    path = tmp_path / "v.lock"
    proc = _holder(path)
    try:
        lock = FileLock(path)
        assert not lock.acquire() and not lock.is_stale()
        assert lock.holder()["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lock.is_stale()  # its process is gone on this host
    assert lock.acquire()
    assert lock.holder()["pid"] == os.getpid()
    lock.release()


def test_another_hosts_claim_is_stale_only_without_heartbeat(tmp_path):
    path = tmp_path / "v.lock"
    path.write_text(json.dumps({"pid": 1, "host": "node17~4026531836", "started": time.time(), "token": "x"}))
    lock = FileLock(path, heartbeat_s=1, stale_after_s=60)
    assert not lock.acquire()  # recently refreshed: its holder may be alive
    old = time.time() - 120
    os.utime(path, (old, old))
    assert lock.acquire()  # no heartbeat for longer than stale_after_s
    lock.release()


def test_heartbeat_keeps_refreshing_the_claim(tmp_path):
    path = tmp_path / "v.lock"
    proc = _holder(path, heartbeat=0.1)
    try:
        old = time.time() - 1000
        os.utime(path, (old, old))
        time.sleep(0.6)
        assert time.time() - path.stat().st_mtime < 5  # the holder touched it again
    finally:
        proc.kill()
        proc.wait()


def test_a_replaced_claim_is_not_removed_by_its_former_holder(tmp_path):
    path = tmp_path / "v.lock"
    lock = FileLock(path)
    assert lock.acquire()
    path.unlink()  # e.g. taken over by another host that judged it stale
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": 0, "token": "theirs"}))
    lock.release()
    assert path.exists() and json.loads(path.read_text())["token"] == "theirs" and lock.lost


def test_a_garbled_claim_counts_as_debris_after_a_grace_period(tmp_path):
    path = tmp_path / "v.lock"
    path.write_bytes(b"")  # a writer killed between create and write
    lock = FileLock(path)
    assert not lock.acquire()
    old = time.time() - 300
    os.utime(path, (old, old))
    assert lock.acquire()
    lock.release()


@pytest.mark.parametrize("stale", [False, True], ids=["free", "dead holder"])
def test_racing_processes_get_exactly_one_winner(tmp_path, stale):
    path = tmp_path / "v.lock"
    if stale:  # a claim left by a process that is gone: everyone tries to take it over at once
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        path.write_text(json.dumps({"pid": dead.pid, "host": host_tag(), "started": 0.0, "token": "dead"}))
    winners = tmp_path / "winners"
    winners.mkdir()
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(path), str(winners), str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(results) == ["lost", "lost", "lost", "won"], results
    assert len(list(winners.iterdir())) == 1
    assert not path.exists()  # the winner released it
