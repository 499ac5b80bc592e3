"""Benchmark: video decoding speed and frame accuracy, vpbehavior (PyAV) vs plain OpenCV.

Prints two tables.

1. Streaming decode, as feature extraction uses it: frames/s of ``reader.iter_frames()`` at the
   native size and at 288 x 288 (``size=(288, 288)``: scaled by swscale as frames leave the
   threaded decoder) beside OpenCV on the same file (``cv2.VideoCapture.read()``, and ``read()``
   + ``cv2.resize(INTER_AREA)``), with the ratio. The methods are timed in turns, ``--repeats`` rounds, best round kept, so that load
   from other processes hits all of them alike.
2. Random access: one row per (video, method): sequential frames/s, random-access frames/s, and
   for random access the fraction of frames identical to the same library's sequential decoding.

Usage::

    python benchmarks/video_io.py [--n-random 200] [--repeats 3] [--size 288] [--video extra.mp4 ...]

Videos: the real SLEAP fly recording from ``shared/`` (if present; located relative to the
repository or via ``VPBEHAVIOR_SHARED``) and a synthetic 640x480, 600-frame H.264 video with
B-frames written to a temporary folder with :func:`vpbehavior.io.video.write_video`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vpbehavior.io.video import open_video, write_video


def _sha(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


def _shared() -> Path:
    env = os.environ.get("VPBEHAVIOR_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


def synthetic_video(path: Path, n: int = 600, h: int = 480, w: int = 640, fps: float = 30.0) -> Path:
    """Moving blobs on textured noise; H.264, B-frames, 2 s GOP."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]

    def frames():
        for i in range(n):
            f = background.copy()
            for k in range(3):
                cx = (w / 2 + (w / 3) * np.sin(0.05 * i + 2 * k)) % w
                cy = (h / 2 + (h / 3) * np.cos(0.07 * i + k)) % h
                f[(yy - cy) ** 2 + (xx - cx) ** 2 < 30**2] = (200, 80 * k, 255 - 60 * k)
            f[:8, : (i % w)] = 255  # a progress bar: every frame differs
            yield f

    return write_video(path, frames(), fps=fps, codec="h264", bframes=3, preset="veryfast")


def bench_vpbehavior(path: Path, indices: list[int]) -> list[dict]:
    rows = []
    with open_video(path) as r:
        t = time.perf_counter()
        hashes = [_sha(f) for f in r.iter_frames()]
        dt = time.perf_counter() - t
        rows.append(dict(method="vpbehavior sequential (iter_frames)", frames=len(hashes), seq_fps=len(hashes) / dt))
    for label, cache in (("vpbehavior random, no cache", 0), ("vpbehavior random, default cache", None)):
        with open_video(path, cache_size=cache) as r:
            t = time.perf_counter()
            ok = sum(_sha(r[i]) == hashes[i] for i in indices)
            dt = time.perf_counter() - t
        rows.append(dict(method=label, rand_fps=len(indices) / dt, accuracy=ok / len(indices)))
    return rows


def bench_opencv(path: Path, indices: list[int]) -> list[dict]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    t = time.perf_counter()
    hashes = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        hashes.append(_sha(frame))
    dt = time.perf_counter() - t
    cap.release()
    rows = [dict(method=f"OpenCV sequential (claims {claimed} frames)", frames=len(hashes), seq_fps=len(hashes) / dt)]
    cap = cv2.VideoCapture(str(path))
    t = time.perf_counter()
    ok = 0
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        good, frame = cap.read()
        ok += bool(good) and i < len(hashes) and _sha(frame) == hashes[i]
    dt = time.perf_counter() - t
    cap.release()
    rows.append(
        dict(method="OpenCV random (CAP_PROP_POS_FRAMES)", rand_fps=len(indices) / dt, accuracy=ok / len(indices))
    )
    return rows


def _opencv_frames(path: Path, size: int | None) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if size is not None:
                cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
            n += 1
    finally:
        cap.release()
    return n


def bench_streaming(path: Path, size: int = 288, repeats: int = 3) -> dict[str, float]:
    """Best frames/s of each streaming method on ``path`` over ``repeats`` interleaved rounds."""
    reader = open_video(path)
    methods = {
        "opencv native": lambda: _opencv_frames(path, None),
        "vpbehavior native": lambda: sum(1 for _ in reader.iter_frames()),
        f"opencv {size}": lambda: _opencv_frames(path, size),
        f"vpbehavior {size}": lambda: sum(1 for _ in reader.iter_frames(size=(size, size))),
    }
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, run in methods.items():
            t = time.perf_counter()
            n = run()
            best[name] = max(best.get(name, 0.0), n / (time.perf_counter() - t))
    reader.close()
    return best


def print_streaming(videos: list[tuple[str, Path]], size: int, repeats: int) -> None:
    header = f"{'video':<30} {'size':>9} {'OpenCV fr/s':>11} {'vpbehavior fr/s':>15} {'ratio':>6}   vpbehavior method"
    print(header)
    print("-" * len(header))
    for name, path in videos:
        fps = bench_streaming(path, size, repeats)
        with open_video(path) as r:
            native = f"{r.width}x{r.height}"
        rows = [
            (native, "opencv native", "vpbehavior native", "iter_frames()"),
            (f"{size}x{size}", f"opencv {size}", f"vpbehavior {size}", f"iter_frames(size=({size}, {size}))"),
        ]
        for shown, ref, ours, how in rows:
            print(f"{name:<30} {shown:>9} {fps[ref]:>11.0f} {fps[ours]:>15.0f} {fps[ours] / fps[ref]:>5.2f}x   {how}")
    print(
        f"\nOpenCV: VideoCapture.read() (BGR), at {size}: + cv2.resize(INTER_AREA). vpbehavior: RGB frames, "
        f"threaded PyAV decoding, swscale scaling. Best of {repeats} interleaved rounds; CPUs: {os.cpu_count()}, "
        f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}\n"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-random", type=int, default=200, help="random accesses per video")
    ap.add_argument("--video", action="append", default=[], help="extra video files to benchmark")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the streaming benchmark")
    ap.add_argument("--size", type=int, default=288, help="square size of the scaled streaming benchmark")
    ap.add_argument("--streaming-only", action="store_true", help="skip the random-access table")
    args = ap.parse_args(argv)

    videos: list[tuple[str, Path]] = []
    fly = _shared() / "recordings" / "sleap_fly_pair" / "centered_pair_low_quality.mp4"
    if fly.exists():
        videos.append(("fly 384x384 H.264 (real)", fly))
    tmp = tempfile.TemporaryDirectory()
    t = time.perf_counter()
    synth = synthetic_video(Path(tmp.name) / "synthetic_640x480.mp4")
    print(f"wrote synthetic video in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    videos.append(("synthetic 640x480 H.264 bf=3", synth))
    videos += [(Path(v).name, Path(v)) for v in args.video]

    print_streaming(videos, args.size, args.repeats)
    if args.streaming_only:
        tmp.cleanup()
        return
    header = f"{'video':<30} {'method':<42} {'frames':>6} {'seq fr/s':>9} {'rand fr/s':>9} {'exact':>7}"
    print(header)
    print("-" * len(header))
    for name, path in videos:
        with open_video(path) as r:
            n = len(r)
        rng = random.Random(0)
        indices = [rng.randrange(n) for _ in range(args.n_random)]
        for row in bench_vpbehavior(path, indices) + bench_opencv(path, indices):
            frames = row.get("frames", "")
            seq = f"{row['seq_fps']:.0f}" if "seq_fps" in row else ""
            rnd = f"{row['rand_fps']:.1f}" if "rand_fps" in row else ""
            acc = f"{100 * row['accuracy']:.1f}%" if "accuracy" in row else ""
            print(f"{name:<30} {row['method']:<42} {frames!s:>6} {seq:>9} {rnd:>9} {acc:>7}")
    print(
        f"\nrandom access: {args.n_random} uniformly random frames per video; 'exact' = identical to "
        "the same library's sequential decoding of that frame. CPUs: " + str(os.cpu_count())
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
