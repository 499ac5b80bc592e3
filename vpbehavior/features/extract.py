"""Frozen VideoPrism features for every frame (and every subject) of a recording.

Clips of ``clip_length`` frames (spaced ``frame_step`` apart, e.g. KABR's 16 x 5) start
every ``stride`` frames, so neighbouring clips overlap by ``clip_length - stride``. Every
frame takes its features from the clip whose centre is nearest (the clip in which it has
the most context on both sides); with ``frame_step > 1`` the video is split into
``frame_step`` interleaved phases, so every frame still gets features. A short video is
one clip, padded by repeating its last frame (padded frames are masked in the encoder).

From the encoder's tokens ``[L, gh, gw, D]`` of a clip, each owned frame stores:

- ``frame``: the mean of its gh x gw tokens;
- ``tokens``: its token grid average-pooled to ``token_grid x token_grid`` (the attention
  probe's input: a window of frames of pooled tokens);
- ``subject``: for each subject box (`Recording.subject_boxes`), the mean of the tokens
  whose patches overlap the box.

Frames are resized (not cropped) to ``size x size`` (a multiple of the patch size); boxes
are scaled the same way. Decoding and resizing run in a background thread that keeps
``prefetch`` batches ready, so decoding hides behind the encoder. Results go to the HDF5
cache (`vpbehavior.features.cache`) batch by batch; an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior._config import check_choices, check_range, option
from vpbehavior.core import Recording
from vpbehavior.core.errors import ConfigError, DataError, MissingFileError, VideoError
from vpbehavior.reporting import Progress, progress_reporter, warn_data
from vpbehavior.runtime import autocast, resolve_device

from . import cache as fcache

#: Fields of `ExtractConfig` that change how features are computed (the cache's provenance);
#: the others only change how fast.
_RUNTIME_FIELDS = ("batch_size", "prefetch", "device")


def resolve_clip_settings(model, clip_length: int, stride: int, size: int) -> tuple[int, int, int]:
    """``(clip_length, stride, size)`` with zeros replaced by the model's values (stride: half a clip), checked."""
    length = clip_length or model.num_frames
    stride = stride or max(1, length // 2)
    size = size or model.image_size
    if size % model.patch_size:
        raise ConfigError(f"--size {size} is not a multiple of the model's patch size {model.patch_size}")
    if stride > length:
        raise ConfigError(f"--stride {stride} > clip length {length} would leave frames without a clip")
    return length, stride, size


@dataclass(frozen=True)
class ExtractConfig:
    """Extraction options. Every field is also a `vpbehavior extract` flag.

    Zero means "the model's own value" for clip_length, stride and size; `resolved` fills them in.
    All fields but batch_size, prefetch and device are part of the cache's provenance.
    """

    clip_length: int = option(0, "frames per clip (0: the model's, 16 for base)")
    stride: int = option(0, "frames between clip starts (0: half a clip)")
    frame_step: int = option(1, "spacing of frames inside a clip (KABR: 5)")
    size: int = option(0, "input resolution in pixels, a multiple of the patch size (0: the model's, 288 for base)")
    token_grid: int = option(4, "side of the pooled token grid stored per frame for the attention probe (0: none)")
    subjects: bool = option(True, "also store per-subject (box-pooled) embeddings when there are boxes or pose")
    box_margin: float = option(4.0, "pixels added around keypoint-derived boxes")
    dtype: str = option("float16", "storage dtype of the cache", ("float16", "float32"))
    batch_size: int = option(4, "clips per encoder call")
    prefetch: int = option(2, "decoded batches kept ready by the decoding thread")
    device: str = option("auto", "cpu, cuda, cuda:N or auto (bf16 autocast where the hardware runs it natively)")

    def __post_init__(self) -> None:
        check_choices(self)
        for name in ("clip_length", "stride", "size", "token_grid"):
            check_range(self, name, 0, None)
        for name in ("frame_step", "batch_size", "prefetch"):
            check_range(self, name, 1, None)
        check_range(self, "box_margin", 0, None)

    def resolved(self, model) -> ExtractConfig:
        """Fill defaults from the model and validate against it."""
        length, stride, size = resolve_clip_settings(model, self.clip_length, self.stride, self.size)
        token_grid = min(self.token_grid, size // model.patch_size)  # never finer than the model's own grid
        device = resolve_device(self.device)
        return dataclasses.replace(
            self, clip_length=length, stride=stride, size=size, token_grid=token_grid, device=device
        )

    def provenance(self) -> dict:
        """The fields that decide what the features are."""
        return {k: v for k, v in asdict(self).items() if k not in _RUNTIME_FIELDS}


# ------------------------------------------------------------------ the clip plan
@dataclass
class Clip:
    """One encoder input: absolute frame indices (padded by repetition) and the frames it owns."""

    frames: np.ndarray  # [L] absolute indices
    valid: np.ndarray  # [L] bool (False = padding)
    owned: np.ndarray  # [L] bool: positions whose features this clip stores


def plan_clips(n_frames: int, length: int, stride: int, frame_step: int = 1) -> list[Clip]:
    """Clips covering ``n_frames`` frames; every frame is owned by exactly one clip.

    A frame is owned by the clip whose centre is nearest (ties go to the earlier clip). Time
    and memory are linear in the number of frames: the owner comes from a binary search
    among the sorted centres, never from a frames x clips table.

    Clips are ordered by their last frame, the order in which sequential decoding
    completes them.
    """
    frames, valid, owned = [], [], []
    for phase in range(min(frame_step, n_frames)):
        idx = np.arange(phase, n_frames, frame_step)
        n = idx.size
        if n <= length:
            pos = np.minimum(np.arange(length), n - 1)
            frames.append(idx[pos][None])
            valid.append((np.arange(length) < n)[None])
            owned.append(valid[-1].copy())
            continue
        starts = np.arange(0, n - length + 1, stride, dtype=np.int64)
        if starts[-1] + length < n:
            starts = np.append(starts, n - length)
        # centres doubled to stay in integers: 2 * (start + (length - 1) / 2); strictly increasing
        centers2 = 2 * starts + (length - 1)
        t2 = 2 * np.arange(n, dtype=np.int64)
        after = np.searchsorted(centers2, t2, side="left")  # first centre at or after each frame
        before = np.maximum(after - 1, 0)
        after = np.minimum(after, len(starts) - 1)
        # the earlier centre wins unless the later one is strictly nearer
        owner = np.where(centers2[after] - t2 < t2 - centers2[before], after, before)
        pos = starts[:, None] + np.arange(length)  # [clips, length]
        frames.append(idx[pos])
        valid.append(np.ones(pos.shape, bool))
        owned.append(owner[pos] == np.arange(len(starts))[:, None])
    frames_all, valid_all, owned_all = (np.concatenate(a) for a in (frames, valid, owned))
    order = np.lexsort((frames_all.min(1), frames_all.max(1)))  # by last frame, then first; stable
    return [Clip(frames_all[k], valid_all[k], owned_all[k]) for k in order.tolist()]


# ------------------------------------------------------------------ model identity
def weights_hash(model) -> str:
    """SHA-256 of the model's state dict (names, shapes and values as stored)."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update((t.float() if t.dtype == torch.bfloat16 else t).numpy().tobytes())
    return h.hexdigest()


DEFAULT_WEIGHTS = "videoprism_public_v1_base"


def load_encoder(weights: str = DEFAULT_WEIGHTS, device: str = "auto", seed: int = 0):
    """A VideoPrism encoder: official or own weights, or random weights for ``random:<config>``.

    ``weights`` is a file (.npz / .safetensors), a released name (``videoprism_public_v1_base``),
    a hub repo id, or ``random:<config>`` (``random:tiny``, seeded by ``seed``) for trying things
    out. Only the ``random:`` prefix gives random weights, so a name that is both a config and a
    released model never silently yields a random encoder.
    """
    from vpbehavior.models import VideoPrism, build_model

    device = resolve_device(device)
    weights = str(weights)
    if weights.startswith("random:"):
        name = weights.removeprefix("random:")
        model = build_model(name, seed=seed)
        origin = f"random:{name}:seed{seed}"
    else:
        model = VideoPrism.from_pretrained(weights, device=device)
        origin = str(Path(weights).resolve()) if Path(weights).exists() else weights
    model.eval().to(device)
    model.origin = origin
    return model


def encoder_identity(model) -> dict:
    """What identifies an encoder's features: name, config and weights hash."""
    return {
        "model": getattr(model, "origin", model.config.name),
        "config": model.config.to_dict(),
        "weights_sha256": weights_hash(model),
    }


# ------------------------------------------------------------------ decoding (background thread)
def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    """``frame`` as RGB ``[size, size, 3]``. Readers deliver frames at that size already (scaled inside
    the decoder, see `vpbehavior.io.video.RGBConverter`); this resizes what comes otherwise (gray
    frames, other frame sources) with OpenCV: area averaging to shrink, bilinear to enlarge."""
    import cv2

    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, -1)
    h, w = frame.shape[:2]
    if (h, w) == (size, size):
        return frame
    interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(frame, (size, size), interpolation=interp)


def iter_clip_batches(
    frames: Iterator[np.ndarray], first: int, clips: list[Clip], size: int, batch_size: int
) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield ``(clip numbers, uint8 [B, L, size, size, 3])`` from sequentially decoded frames.

    ``frames`` yields frames ``first, first + 1, ...``, ideally already ``size x size`` (from
    ``reader.iter_frames(..., size=(size, size))``); only frames still needed by a pending clip
    are kept.
    """
    if not clips:
        return
    need_from = np.minimum.accumulate(np.array([int(c.frames.min()) for c in clips])[::-1])[::-1]
    buffer: dict[int, np.ndarray] = {}
    k, batch_ids, batch = 0, [], []
    t = first - 1
    for t, frame in enumerate(frames, start=first):
        if t >= need_from[k]:
            buffer[t] = _resize(np.asarray(frame), size)
        while k < len(clips) and int(clips[k].frames.max()) <= t:
            batch_ids.append(k)
            batch.append(np.stack([buffer[int(i)] for i in clips[k].frames]))
            k += 1
            if len(batch) == batch_size:
                yield batch_ids, np.stack(batch)
                batch_ids, batch = [], []
            if k < len(clips):
                for old in [i for i in buffer if i < need_from[k]]:
                    del buffer[old]
        if k == len(clips):
            break
    if k < len(clips):
        raise VideoError(f"the video ended at frame {t + 1} but clip {k} needs frame {int(clips[k].frames.max())}")
    if batch:
        yield batch_ids, np.stack(batch)


class Prefetcher:
    """Run a generator in a daemon thread, keeping up to ``depth`` items ready."""

    _END = object()

    def __init__(self, gen: Iterator, depth: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(gen,), daemon=True)
        self._thread.start()

    def _run(self, gen: Iterator) -> None:
        try:
            for item in gen:
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(self._END)
        except BaseException as err:  # re-raised in the consumer
            self._queue.put(err)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------ pooling
def box_cells(boxes: np.ndarray, scale_xy: tuple[float, float], patch: int, grid: int) -> np.ndarray:
    """Boolean masks ``[..., grid, grid]`` of the patches each box ``[..., 4]`` overlaps (none for NaN boxes)."""
    boxes = np.asarray(boxes, np.float64)
    sx, sy = scale_xy
    edges = np.arange(grid + 1) * patch
    x1, y1, x2, y2 = (boxes[..., i] * s for i, s in zip(range(4), (sx, sy, sx, sy)))
    ok = np.isfinite(boxes).all(-1)
    cols = (edges[None, 1:] > np.nan_to_num(x1)[..., None]) & (edges[None, :-1] < np.nan_to_num(x2)[..., None])
    rows = (edges[None, 1:] > np.nan_to_num(y1)[..., None]) & (edges[None, :-1] < np.nan_to_num(y2)[..., None])
    # a degenerate box (a point) still covers the patch it lies in
    cx = np.clip(((np.nan_to_num(x1) + np.nan_to_num(x2)) / 2 // patch).astype(int), 0, grid - 1)
    cy = np.clip(((np.nan_to_num(y1) + np.nan_to_num(y2)) / 2 // patch).astype(int), 0, grid - 1)
    cols |= np.eye(grid, dtype=bool)[cx]
    rows |= np.eye(grid, dtype=bool)[cy]
    return (rows[..., :, None] & cols[..., None, :]) & ok[..., None, None]


def pool_clip_outputs(tokens, token_grid: int, masks=None) -> tuple:
    """Per-frame, pooled-grid and per-subject embeddings from tokens ``[B, L, g, g, D]``.

    ``masks`` ``[B, L, S, g, g]`` (bool tensor) selects each subject's patches.
    """
    import torch
    import torch.nn.functional as F

    b, n_t, g, _, d = tokens.shape
    frame = tokens.mean((2, 3))
    grid = None
    if token_grid:
        x = tokens.reshape(b * n_t, g, g, d).permute(0, 3, 1, 2)
        grid = F.adaptive_avg_pool2d(x, token_grid).permute(0, 2, 3, 1).reshape(b, n_t, token_grid * token_grid, d)
    subject = None
    if masks is not None:
        m = masks.to(tokens.dtype).flatten(3)  # [B, L, S, g*g]
        summed = torch.einsum("blsn,blnd->blsd", m, tokens.reshape(b, n_t, g * g, d))
        count = m.sum(-1, keepdim=True)
        subject = torch.where(count > 0, summed / count.clamp_min(1), torch.full_like(summed, float("nan")))
    return frame, grid, subject


# ------------------------------------------------------------------ the extractor
def extraction_provenance(
    recording: Recording, identity: dict, config: ExtractConfig, boxes: np.ndarray | None
) -> dict:
    return {
        "encoder": identity,
        "extraction": config.provenance(),
        "video": fcache.video_identity(recording.video),
        "n_frames": int(recording.n_frames),
        "subjects": list(recording.subjects) if boxes is not None else None,
        "boxes_sha256": hashlib.sha256(np.ascontiguousarray(boxes).tobytes()).hexdigest()
        if boxes is not None
        else None,
    }


def extract_recording(
    recording: Recording,
    model,
    cache_dir: str | Path,
    config: ExtractConfig | None = None,
    *,
    overwrite: bool = False,
    progress: Progress = False,
    identity: dict | None = None,
    max_clips: int | None = None,
) -> Path:
    """Extract (or resume, or reuse) the features of one recording; returns the cache path.

    Parameters
    ----------
    recording
        A recording with a video.
    model
        A `VideoPrism` encoder (see `load_encoder`).
    cache_dir
        Folder of ``<name>.features.h5`` files.
    config
        `ExtractConfig`; defaults from the model.
    overwrite
        Recompute even a fresh cache.
    progress
        True (a bar), False, or a callback (see `vpbehavior.reporting`).
    identity
        `encoder_identity(model)`, if already computed (hashing big weights takes a moment).
    max_clips
        Stop after this many clips (leaves a resumable partial file; for tests and demos).

    An interrupted run (Ctrl-C) keeps its partial file and resumes from it; a run that fails on
    the data (an undecodable video) removes it, so no ``.partial`` is left behind a failure.
    """
    import torch

    from vpbehavior.io.video import open_video

    if recording.video is None:
        raise DataError(f"recording {recording.name!r} has no video to extract features from")
    config = (config or ExtractConfig()).resolved(model)
    device = resolve_device(config.device)
    identity = identity or encoder_identity(model)
    path = fcache.cache_path(cache_dir, recording.name, recording.video)
    reader = open_video(recording.video, fps=recording.fps)
    n_video = len(reader)
    n_frames = int(recording.n_frames) or n_video
    if n_video < n_frames:
        warn_data(
            f"{recording.video}: the video has {n_video} frames but the recording has {n_frames}; "
            f"frames {n_video}..{n_frames - 1} get NaN features"
        )
    boxes = recording.subject_boxes(config.box_margin) if config.subjects else None
    provenance = extraction_provenance(recording, identity, config, boxes)
    if not overwrite and fcache.is_fresh(path, provenance):
        reader.close()
        return path
    if overwrite:
        fcache.partial_path(path).unlink(missing_ok=True)
    n_used = min(n_video, n_frames)
    if n_used == 0:
        reader.close()
        raise VideoError(f"{recording.video}: no decodable frames", recording.video)
    clips = plan_clips(n_used, config.clip_length, config.stride, config.frame_step)
    writer = fcache.CacheWriter(
        path, provenance, n_frames, model.model_dim, len(clips), config.token_grid,
        tuple(recording.subjects) if boxes is not None else None, config.dtype,
    )  # fmt: skip
    size, patch = config.size, model.patch_size
    g = size // patch
    frame_h, frame_w = reader.shape[1:3]
    scale_xy = (size / frame_w, size / frame_h)
    done = writer.clips_done
    todo = clips[done:] if max_clips is None else clips[done : done + max_clips]
    model = model.to(device).eval()
    producer = None
    failed = False
    bar = progress_reporter(progress, f"extract {recording.name}", len(clips), "clip", initial=done)
    try:
        if todo:
            first = int(min(c.frames.min() for c in todo))
            # decoded straight to the encoder's resolution: scaling and RGB conversion in one step
            frames = reader.iter_frames(first, n_used, size=(size, size))
            producer = Prefetcher(iter_clip_batches(frames, first, todo, size, config.batch_size), config.prefetch)
            for ids, batch in producer:
                sel = [todo[i] for i in ids]
                video = torch.from_numpy(batch).to(device, non_blocking=True)
                paddings = torch.from_numpy(np.stack([~c.valid for c in sel]).astype(np.float32)).to(device)
                with torch.inference_mode(), autocast(device):
                    tokens = model(
                        video.float().div_(255.0), frame_paddings=paddings if paddings.any() else None
                    ).embeddings
                    tokens = tokens.float().reshape(len(sel), config.clip_length, g, g, -1)
                    masks = None
                    if boxes is not None:
                        idx = np.stack([c.frames for c in sel])
                        masks = torch.from_numpy(box_cells(boxes[idx], scale_xy, patch, g)).to(device)
                    frame, grid, subject = pool_clip_outputs(tokens, config.token_grid, masks)
                frame, grid = frame.cpu().numpy(), None if grid is None else grid.cpu().numpy()
                subject = None if subject is None else subject.cpu().numpy()
                rows, picks = [], []
                for j, c in enumerate(sel):
                    for p in np.flatnonzero(c.owned):
                        rows.append(int(c.frames[p]))
                        picks.append((j, p))
                order = np.argsort(rows)
                rows_arr = np.asarray(rows)[order]
                jj = np.array([picks[o][0] for o in order])
                pp = np.array([picks[o][1] for o in order])
                writer.write(rows_arr, frame[jj, pp], None if grid is None else grid[jj, pp],
                             None if subject is None else subject[jj, pp])  # fmt: skip
                done += len(sel)
                writer.mark(done)
                bar.update(len(sel))
        if done == len(clips):
            return writer.finish()
        return fcache.partial_path(path)
    except Exception:
        failed = True
        raise
    finally:
        bar.close()
        if producer is not None:
            producer.close()
        writer.close()
        reader.close()
        if failed:  # a data failure: nothing to resume from; Ctrl-C (not an Exception) keeps the partial file
            fcache.partial_path(path).unlink(missing_ok=True)


@dataclass
class ExtractionResult:
    """What `extract_features` did: cache paths by recording name, and the recordings that failed."""

    paths: dict[str, Path] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def extract_features(
    recordings: Sequence[Recording],
    encoder,
    config: ExtractConfig | None = None,
    *,
    cache: str | Path,
    overwrite: bool = False,
    progress: Progress = False,
) -> ExtractionResult:
    """Extract the features of every recording with a video into the cache folder ``cache``.

    Batch work goes on past a recording that fails (an undecodable video, a missing file); each
    failure is in the result with its reason. Recordings without a video are skipped.
    """
    config = (config or ExtractConfig()).resolved(encoder)
    identity = encoder_identity(encoder)
    result = ExtractionResult()
    with_video = [r for r in recordings if r.video is not None]
    with progress_reporter(progress if len(with_video) > 1 else False, "recordings", len(with_video), "rec") as bar:
        for rec in with_video:
            try:
                result.paths[rec.name] = extract_recording(
                    rec, encoder, cache, config, overwrite=overwrite, progress=progress, identity=identity
                )
            except (DataError, MissingFileError, OSError) as err:
                result.failures.append((rec.name, str(err)))
            bar.update()
    return result
