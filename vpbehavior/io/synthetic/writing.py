"""Synthetic recordings on disk: ``<name>.mp4``, ``<name>.behavior.json`` and ``<name>.slp``.

`write_recording` writes one recording, `make_experiment` a folder of them (the layout the
experiment-folder loader reads), and `sample_recording` one short clip for sample data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from vpbehavior.core import Recording
from vpbehavior.core.errors import ConfigError
from vpbehavior.reporting import Progress, track

from .config import SyntheticConfig
from .rendering import SyntheticRecording, generate


def write_recording(
    config: SyntheticConfig,
    out_dir: str | Path,
    name: str = "synthetic",
    codec: str = "h264",
    video_options: dict | None = None,
) -> Path:
    """Generate ``config`` and write ``<name>.mp4``, ``<name>.behavior.json`` and ``<name>.slp``.

    Every file is written under a temporary name and renamed into place. The .slp holds the
    (noisy) pose, one track per animal, and the labels as sleap-io behavior events. ``codec``
    and ``video_options`` (e.g. ``crf``, ``preset``; the preset defaults to "veryfast": pixel
    noise makes x264 slow) go to `vpbehavior.io.video.write_video`. Returns the video file.
    """
    return _write_files(generate(config), out_dir, name, codec, video_options)


def _write_files(
    rec: SyntheticRecording, out_dir: str | Path, name: str, codec: str = "h264", video_options: dict | None = None
) -> Path:
    """Write the three files of ``rec``; returns the video file."""

    from vpbehavior.io.labels_file import SUFFIX, save_labels
    from vpbehavior.io.pose import labels_to_events, pose_to_sleap, save_slp
    from vpbehavior.io.video import write_video

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    video_path = out_dir / f"{name}.mp4"
    options = {"preset": "veryfast", **(video_options or {})}
    write_video(video_path, rec.iter_frames(), rec.fps, codec=codec, **options)
    save_labels(rec.labels, out_dir / f"{name}{SUFFIX}")
    slp = pose_to_sleap(rec.pose, video_path=video_path.resolve())
    labels_to_events(rec.labels, slp)
    save_slp(slp, out_dir / f"{name}.slp")
    return video_path


def experiment_seeds(seed: int, n_videos: int) -> list[int]:
    """The per-video seeds `make_experiment` uses: distinct and stable for a given ``seed``."""
    children = np.random.SeedSequence(seed).spawn(n_videos)
    return [int(c.generate_state(1, np.uint32)[0]) for c in children]


def make_experiment(
    out_dir: str | Path,
    n_videos: int = 4,
    seed: int = 0,
    progress: Progress = False,
    codec: str = "h264",
    video_options: dict | None = None,
    **config_overrides,
) -> list[Path]:
    """Write a folder of ``n_videos`` synthetic recordings with different seeds.

    Each recording is ``synthetic_XX.mp4`` with a same-stem ``.behavior.json`` and ``.slp``.
    Video ``i`` uses seed ``experiment_seeds(seed, n_videos)[i]`` and the `SyntheticConfig`
    fields in ``config_overrides``. ``progress`` is the usual progress hook;
    ``codec`` and ``video_options`` are as for `write_recording`. Returns the video files, in order.
    """
    if isinstance(n_videos, bool) or not isinstance(n_videos, (int, np.integer)) or n_videos < 1:
        raise ConfigError(f"make_experiment: n_videos must be an integer >= 1, got {n_videos!r}")
    base = SyntheticConfig().replace(**config_overrides)  # checks the overrides once, up front
    seeds = experiment_seeds(seed, int(n_videos))
    return [
        write_recording(base.replace(seed=s), out_dir, f"synthetic_{i:02d}", codec=codec, video_options=video_options)
        for i, s in enumerate(track(seeds, progress, "synthetic videos", unit="video"))
    ]


def sample_recording(
    seed: int = 0,
    n_frames: int = 150,
    size: int | tuple[int, int] = (240, 320),
    folder: str | Path | None = None,
    name: str = "sample",
) -> Recording:
    """One short synthetic recording (video, labels, pose), for sample data and notebooks.

    Writes ``<name>.mp4``, ``.behavior.json`` and ``.slp`` into ``folder`` (default: a new
    temporary folder, left for the caller) and returns the `Recording` pointing at the video.
    ``size`` is ``(height, width)``, or one number for a square frame.
    """
    shape = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(shape) != 2:
        raise ConfigError(f"sample_recording: size must be one number or (height, width), got {size!r}")
    height, width = shape
    rec = generate(SyntheticConfig(height=height, width=width, n_frames=n_frames, seed=seed))
    folder = Path(tempfile.mkdtemp(prefix="vpbehavior-sample-")) if folder is None else Path(folder)
    video = _write_files(rec, folder, name)
    return rec.to_recording(name, video=video.resolve())
