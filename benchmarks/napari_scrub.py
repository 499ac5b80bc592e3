"""Scrubbing a 100k-frame recording in napari with the plugin's ethogram: milliseconds per frame step.

Builds (once, cached in ``--workdir``) a 100,000-frame H.264 video with a keyframe every 250
frames, random bouts for 2 subjects x 4 behaviors, simulated predictions and a 7-keypoint pose;
opens it in a shown napari viewer with the ethogram docked under the canvas; then steps the time
slider and times, per step:

- ethogram: the slider handler (moves the cursor) plus the ethogram's paint events (two thin
  strips blitted from the cached image), and how often the image was rebuilt (paging);
- video decode: the time napari spends in the reader (``layer.data[...]``), and how often the
  decoder restarted from the file's start (it never should) or seeked to a keyframe;
- pose overlay: redrawing the frame's points, skeleton and boxes (done once the slider rests
  for 30 ms, not at every step of a scrub; timed on its own);
- whole step: ``set_current_step`` plus the Qt events it triggers (napari's canvas included).

Scenarios: sequential steps with a 2000-frame ethogram window (paging on), sequential steps with
the whole recording in view (100k frames over ~1000 px: per-pixel min/max envelopes), random
seeks. Run under a display (``xvfb-run -a python benchmarks/napari_scrub.py``); prints a table.

Usage::

    xvfb-run -a python benchmarks/napari_scrub.py                  # ~1 min to write the video once
    xvfb-run -a python benchmarks/napari_scrub.py --steps 300 --frames 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vpbehavior.core import BehaviorLabels, Bout, Pose, Predictions, Recording

SUBJECTS = ("a", "b")
CLASSES = ("chase", "groom", "rear", "walk")


def make_video(path: Path, n_frames: int, size: int, fps: float) -> Path:
    from vpbehavior.io.video import write_video

    if path.is_file():
        return path
    yy, xx = np.mgrid[0:size, 0:size]
    base = ((xx + yy) * (255 / (2 * size))).astype(np.uint8)

    def frames():
        for i in range(n_frames):
            frame = np.stack([base, np.roll(base, i % size, 1), np.full_like(base, (i * 7) % 256)], -1)
            c = (i // 3) % (size - 16)
            frame[c : c + 16, c : c + 16] = 255
            yield frame

    t = time.perf_counter()
    write_video(path, frames(), fps=fps, preset="ultrafast", gop_size=250, bframes=2)
    print(f"wrote {path} ({n_frames} frames) in {time.perf_counter() - t:.0f} s")
    return path


def make_recording(video: Path, n_frames: int, size: int, fps: float, seed: int = 0) -> tuple[Recording, Predictions]:
    rng = np.random.default_rng(seed)
    bouts = []
    for s in SUBJECTS:
        for c in CLASSES:
            t = int(rng.integers(0, 200))
            while t < n_frames - 1:
                length = int(rng.integers(5, 120))
                bouts.append(Bout(t, min(n_frames, t + length), s, c))
                t += length + int(rng.integers(20, 600))
    labels = BehaviorLabels.from_bouts(bouts, n_frames, CLASSES, SUBJECTS)
    truth = labels.positive.astype(np.float32)
    noise = rng.normal(0, 0.15, truth.shape).astype(np.float32)
    scores = np.clip(0.1 + 0.8 * truth + noise, 0, 1).astype(np.float32)
    pred = Predictions("scrub", scores, scores > 0.5, CLASSES, SUBJECTS, np.ones((n_frames, len(SUBJECTS)), bool), fps)
    steps = rng.normal(0, 0.6, (n_frames, len(SUBJECTS), 1, 2)).cumsum(0)
    centre = size / 2 + (size / 4) * np.tanh(steps / 50)
    offsets = rng.normal(0, 3, (1, len(SUBJECTS), 7, 2))
    points = (centre + offsets).astype(np.float32)
    pose = Pose(points, [f"k{i}" for i in range(7)], SUBJECTS, edges=[(i, i + 1) for i in range(6)])
    rec = Recording("scrub", video=video, n_frames=n_frames, fps=fps, subjects=SUBJECTS, pose=pose, labels=labels)
    return rec, pred


class TimedReader:
    """The video reader as napari sees it, timing every read."""

    def __init__(self, reader) -> None:
        self.reader, self.times = reader, []
        self.shape, self.dtype, self.ndim = reader.shape, reader.dtype, reader.ndim

    def __getitem__(self, key):
        t = time.perf_counter()
        out = self.reader[key]
        self.times.append((time.perf_counter() - t) * 1e3)
        return out

    def __len__(self) -> int:
        return len(self.reader)


def run(args) -> list[dict]:
    import napari
    from napari_vpbehavior._session import session_for
    from napari_vpbehavior._widgets import EthogramWidget, _find_widget
    from qtpy.QtWidgets import QApplication

    workdir = Path(args.workdir or tempfile.gettempdir()) / "vpbehavior-napari-scrub"
    workdir.mkdir(parents=True, exist_ok=True)
    video = make_video(workdir / f"scrub_{args.frames}_{args.size}.mp4", args.frames, args.size, 30.0)
    rec, pred = make_recording(video, args.frames, args.size, 30.0)
    if args.no_pose:
        rec = rec.replace(pose=None, presence=None)

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    session = session_for(viewer)
    session.confirm_discard = lambda what: True
    session.open_recording(rec, pred)
    app = QApplication.instance()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    etho = _find_widget(viewer, EthogramWidget)
    if etho is None:
        etho = EthogramWidget(viewer)
        viewer.window.add_dock_widget(etho, area="bottom")
    for _ in range(10):
        app.processEvents()
    canvas = etho.canvas

    layer = session.video_layer
    reader = layer.data
    timed = TimedReader(reader)
    layer.data = timed
    starts = {"from_start": 0, "seeks": 0}
    original_start = reader._start

    def counting_start(point):  # the reader's private restart hook: a keyframe, or None / -1 for the file's start
        starts["seeks"] += 1
        if point is None or (isinstance(point, int) and point < 0):
            starts["from_start"] += 1
        return original_start(point)

    reader._start = counting_start

    handler_ms = []
    original_step = etho._on_step

    def timed_step(event=None):
        t = time.perf_counter()
        original_step(event)
        handler_ms.append((time.perf_counter() - t) * 1e3)

    viewer.dims.events.current_step.disconnect(etho._on_step)
    viewer.dims.events.current_step.connect(timed_step)
    rng = np.random.default_rng(1)
    n = args.frames
    mid = n // 2
    scenarios = [
        ("sequential, 2000-frame window", lambda: canvas.set_window(mid - 100, mid + 1900),
         [mid + i for i in range(args.steps)]),
        ("sequential, whole recording", canvas.fit, [(mid + n // 10 + i) % n for i in range(args.steps)]),
        ("random seeks, whole recording", canvas.fit, rng.integers(0, n, args.steps // 3).tolist()),
    ]  # fmt: skip
    rows = []
    for name, setup, frames in scenarios:
        setup()
        viewer.dims.set_current_step(0, frames[0])
        for _ in range(5):
            app.processEvents()
        timed.times.clear()
        handler_ms.clear()
        starts.update(from_start=0, seeks=0)
        rebuilds0 = canvas.stats["rebuilds"]
        paint0 = len(canvas.stats["paint_ms"])
        canvas.stats["paint_ms"].clear()
        per_step, etho_ms, decode_ms = [], [], []
        for f in frames[1:]:
            n_read, n_paint, n_handler = len(timed.times), len(canvas.stats["paint_ms"]), len(handler_ms)
            t = time.perf_counter()
            viewer.dims.set_current_step(0, int(f))
            app.processEvents()
            per_step.append((time.perf_counter() - t) * 1e3)
            etho_ms.append(sum(handler_ms[n_handler:]) + sum(list(canvas.stats["paint_ms"])[n_paint:]))
            decode_ms.append(sum(timed.times[n_read:]))
        del paint0
        overlay_ms = []
        for f in (
            frames[1:11] if session.overlay is not None else []
        ):  # the overlay is redrawn when the slider rests: time the redraw itself
            viewer.dims.set_current_step(0, int(f))
            t = time.perf_counter()
            session.draw_overlay()
            overlay_ms.append((time.perf_counter() - t) * 1e3)
        rows.append({
            "scenario": name,
            "steps": len(per_step),
            "ethogram_ms": np.array(etho_ms),
            "decode_ms": np.array(decode_ms),
            "overlay_ms": np.array(overlay_ms or [np.nan]),
            "step_ms": np.array(per_step),
            "rebuilds": canvas.stats["rebuilds"] - rebuilds0,
            "rebuild_ms": float(np.median(list(canvas.stats["rebuild_ms"])[-max(1, canvas.stats["rebuilds"] - rebuilds0):])),
            "seeks": starts["seeks"],
            "from_start": starts["from_start"],
        })  # fmt: skip
    session.model.mark_saved()
    viewer.close()
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=96, help="video frame size in pixels")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--no-pose", action="store_true", help="without the pose overlay layers")
    parser.add_argument("--workdir", default=None, help="where the video is cached (default: the temp folder)")
    args = parser.parse_args(argv)
    rows = run(args)
    print(f"\n{args.frames} frames, {args.size}x{args.size} H.264 (keyframe every 250), 2 subjects x 4 behaviors, "
          "labels + calls + probability lanes, 7-keypoint pose overlay; milliseconds per frame step")  # fmt: skip
    head = (f"| {'scenario':31} | steps | ethogram median / p95 | video decode median / p95 | overlay redraw median "
            f"| whole step median / p95 | ethogram rebuilds (ms each) | decoder seeks / restarts from start |")  # fmt: skip
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for r in rows:
        e, d, o, s = r["ethogram_ms"], r["decode_ms"], r["overlay_ms"], r["step_ms"]
        print(f"| {r['scenario']:31} | {r['steps']:5} | {np.median(e):8.2f} / {np.percentile(e, 95):6.2f}       "
              f"| {np.median(d):10.2f} / {np.percentile(d, 95):6.2f}          | {np.median(o):18.2f} "
              f"| {np.median(s):11.2f} / {np.percentile(s, 95):6.2f}     | {r['rebuilds']:7} ({r['rebuild_ms']:.1f})"
              f"            | {r['seeks']:6} / {r['from_start']}                       |")  # fmt: skip


if __name__ == "__main__":
    main()
