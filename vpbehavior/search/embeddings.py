"""LvT clip embeddings of a recording, cached in HDF5 and reused by every query.

Clips of ``clip_length`` frames start every ``stride`` frames (the plan of
`vpbehavior.features.extract.plan_clips`; a short video is one padded clip). Each clip's
embedding is the LvT video embedding (vision tower, auxiliary layers, attention pooler, L2
normalised), the vector the text embeddings are compared with.

Layout of ``<cache>/<recording>-<hash>.clips.h5``::

    attrs   format="vpbehavior-clip-embeddings", format_version, provenance (JSON),
            n_frames, n_clips, clips_done, complete, fps
    start   int64 [n]      first frame of each clip
    stop    int64 [n]      one past its last real (not padded) frame
    embedding float32 [n, D]

While it is written the file is ``....clips.h5.partial`` and progress is flushed after every
batch; an interrupted run resumes from ``clips_done``; a complete file is renamed into place.
A file whose provenance (encoder weights, clip settings, video file) differs is recomputed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior.core import Recording
from vpbehavior.core.errors import DataError, MissingFileError, VideoError
from vpbehavior.features import cache as fcache
from vpbehavior.reporting import Progress, progress_reporter, warn_data

from .config import SearchConfig

FORMAT = "vpbehavior-clip-embeddings"
FORMAT_VERSION = 1
SUFFIX = ".clips.h5"


@dataclass(frozen=True, eq=False)
class ClipEmbeddings:
    """The clips of one recording: frame spans ``[start, stop)`` and unit-length embeddings ``[n, D]``."""

    recording: str
    start: np.ndarray
    stop: np.ndarray
    embedding: np.ndarray
    n_frames: int
    fps: float | None = None
    video: str | None = None
    provenance: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.start)

    def similarity(self, text_embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarity of every clip with every text, ``[n, Q]``."""
        return self.embedding @ np.asarray(text_embeddings, np.float32).T

    def frame_trace(self, clip_scores: np.ndarray) -> np.ndarray:
        """Per-frame values ``[T, Q]`` from per-clip values ``[n, Q]``: the mean over the clips covering each frame.

        Frames no clip covers (past the decodable end of the video) are NaN.
        """
        clip_scores = np.asarray(clip_scores, np.float64).reshape(len(self), -1)
        total = np.zeros((self.n_frames + 1, clip_scores.shape[1]))
        count = np.zeros(self.n_frames + 1)
        np.add.at(total, self.start, clip_scores)
        np.add.at(total, self.stop, -clip_scores)
        np.add.at(count, self.start, 1)
        np.add.at(count, self.stop, -1)
        total, count = np.cumsum(total, 0)[:-1], np.cumsum(count)[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = total / count[:, None]
        out[count < 0.5] = np.nan
        return out.astype(np.float32)


def embeddings_provenance(recording: Recording, identity: dict, config: SearchConfig) -> dict:
    return {
        "encoder": identity,
        "clips": config.provenance(),
        "video": fcache.video_identity(recording.video),
        "n_frames": int(recording.n_frames),
    }


def _read(path: Path, recording: str) -> ClipEmbeddings:
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if fh.attrs.get("format") != FORMAT or not fh.attrs.get("complete", False):
                raise KeyError("not a complete vpbehavior clip-embeddings file")
            fps = float(fh.attrs["fps"]) if float(fh.attrs.get("fps", 0)) > 0 else None
            prov = json.loads(fh.attrs["provenance"])
            return ClipEmbeddings(
                recording, fh["start"][()], fh["stop"][()], fh["embedding"][()].astype(np.float32),
                int(fh.attrs["n_frames"]), fps, (prov.get("video") or {}).get("path"), prov,
            )  # fmt: skip
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"unreadable clip-embeddings file ({err})", path) from None


def read_clip_embeddings(path: str | os.PathLike, recording: str | None = None) -> ClipEmbeddings:
    """A complete clip-embeddings file written by `embed_recording`."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no clip embeddings", path)
    return _read(path, recording or path.name.removesuffix(SUFFIX))


class _Writer:
    """The partial file of one recording: created, or resumed when its provenance matches."""

    def __init__(self, path: Path, provenance: dict, n_frames: int, n_clips: int, dim: int, fps: float | None):
        import h5py

        self.path, self.partial = path, fcache.partial_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not fcache.can_resume(self.partial, FORMAT, provenance, n_clips):
            self.partial.unlink(missing_ok=True)
            with h5py.File(self.partial, "w") as fh:
                fh.attrs.update(
                    format=FORMAT, format_version=FORMAT_VERSION, provenance=json.dumps(provenance),
                    n_frames=n_frames, n_clips=n_clips, clips_done=0, complete=False, fps=float(fps or 0.0),
                )  # fmt: skip
                fh.create_dataset("start", (n_clips,), "int64")
                fh.create_dataset("stop", (n_clips,), "int64")
                fh.create_dataset("embedding", (n_clips, dim), "float32", fillvalue=np.nan)
        self.fh = h5py.File(self.partial, "r+")
        self.done = int(self.fh.attrs["clips_done"])

    def write(self, at: int, start: np.ndarray, stop: np.ndarray, emb: np.ndarray) -> None:
        sl = slice(at, at + len(start))
        self.fh["start"][sl], self.fh["stop"][sl], self.fh["embedding"][sl] = start, stop, emb
        self.done = at + len(start)
        self.fh.attrs["clips_done"] = self.done
        self.fh.flush()

    def finish(self) -> Path:
        self.fh.attrs["complete"] = True
        self.fh.close()
        os.replace(self.partial, self.path)
        return self.path

    def close(self) -> None:
        if self.fh.id.valid:
            self.fh.close()


def embed_recording(
    recording: Recording,
    model,
    cache: str | os.PathLike,
    config: SearchConfig | None = None,
    *,
    identity: dict | None = None,
    overwrite: bool = False,
    progress: Progress = False,
) -> ClipEmbeddings:
    """The clip embeddings of ``recording``: read from ``cache`` when current, else computed and cached.

    An interrupted run (Ctrl-C) keeps its partial file and resumes from it; a run that fails on
    the data (an undecodable video) removes it.
    """
    import torch

    from vpbehavior.features.extract import Prefetcher, encoder_identity, iter_clip_batches, plan_clips
    from vpbehavior.io.video import open_video
    from vpbehavior.runtime import autocast

    if recording.video is None:
        raise DataError(f"recording {recording.name!r} has no video to search")
    config = (config or SearchConfig()).resolved(model)
    identity = identity or encoder_identity(model)
    path = fcache.cache_path(cache, recording.name, recording.video, suffix=SUFFIX)
    provenance = embeddings_provenance(recording, identity, config)
    if not overwrite and fcache.is_fresh(path, provenance):
        return _read(path, recording.name)
    if overwrite:
        fcache.partial_path(path).unlink(missing_ok=True)
    reader = open_video(recording.video, fps=recording.fps)
    n_video = len(reader)
    n_frames = int(recording.n_frames) or n_video
    if n_video < n_frames:
        warn_data(f"{recording.video}: the video has {n_video} frames but the recording has {n_frames}; "
                  f"frames {n_video}..{n_frames - 1} are not searched")  # fmt: skip
    n_used = min(n_video, n_frames)
    if n_used == 0:
        reader.close()
        raise VideoError(f"{recording.video}: no decodable frames", recording.video)
    clips = plan_clips(n_used, config.clip_length, config.stride)
    writer = _Writer(path, provenance, n_frames, len(clips), model.model_dim, recording.fps)
    todo = clips[writer.done :]
    device = config.device
    model = model.to(device).eval()
    producer, failed = None, False
    bar = progress_reporter(progress, f"embed {recording.name}", len(clips), "clip", initial=writer.done)
    try:
        if todo:
            first = int(min(c.frames.min() for c in todo))
            frames = reader.iter_frames(first, n_used, size=(config.size, config.size))
            producer = Prefetcher(iter_clip_batches(frames, first, todo, config.size, config.batch_size),
                                  config.prefetch)  # fmt: skip
            at = writer.done
            for ids, batch in producer:
                sel = [todo[i] for i in ids]
                video = torch.from_numpy(batch).to(device).float().div_(255.0)
                pads = torch.from_numpy(np.stack([~c.valid for c in sel]).astype(np.float32)).to(device)
                with torch.inference_mode(), autocast(device):
                    emb, _ = model.encode_video(video, frame_paddings=pads if pads.any() else None)
                start = np.array([int(c.frames[0]) for c in sel])
                stop = np.array([int(c.frames[c.valid].max()) + 1 for c in sel])
                writer.write(at, start, stop, emb.float().cpu().numpy())
                at += len(sel)
                bar.update(len(sel))
        writer.finish()
        return _read(path, recording.name)
    except Exception:
        failed = True
        raise
    finally:
        bar.close()
        if producer is not None:
            producer.close()
        writer.close()
        reader.close()
        if failed:
            fcache.partial_path(path).unlink(missing_ok=True)
