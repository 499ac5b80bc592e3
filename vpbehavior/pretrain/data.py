"""Clip data for pretraining and fine-tuning: sources, captions, sampling, augmentation, masks.

Where clips come from: any recordings `vpbehavior.load` reads (dataset folders, lab folders,
single videos) and plain folders of videos. A *source* is one video; an *item* is one slot of an
epoch: a window of a video (``clip_stride`` frames apart), or one row of a captions manifest.

Every random choice of a sample (the clip's start inside its window, the crop, the flips, the
token mask, the token shuffle) is drawn from ``numpy.random.default_rng([seed, epoch, item])``:
a sample is a pure function of its key, whichever worker, process or resume decodes it. With
`StepSampler` (data order as a function of the optimizer step) this makes a resumed run see
exactly the data of an uninterrupted one, and N processes together exactly the data of one.

Frames are decoded in DataLoader workers through `vpbehavior.io.video` (readers are opened
lazily in each worker and never pickled) and stay ``uint8`` until they are on the device.

Captions (stage 1) come from a manifest (CSV or JSONL with ``video, start, end, text``; frames,
0-based, ``end`` exclusive, paths relative to the manifest) or are generated from behavior labels
at the clip's middle frame: "the resident mouse attacks the intruder".
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vpbehavior.core import FRAME_LEVEL, Dataset, Recording
from vpbehavior.core.errors import ConfigError, DataError, FormatError, MissingFileError

from .masking import block_mask, shuffle_permutation, tube_mask

# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class VideoSource:
    """One video to sample clips from, with its recording (labels, subjects) when there is one."""

    name: str
    video: Path
    n_frames: int
    fps: float | None = None
    recording: Recording | None = field(default=None, compare=False, repr=False)


def _video_frames(path: Path) -> tuple[int, float | None]:
    from vpbehavior.io.video import open_video

    with open_video(path) as reader:
        return int(reader.n_frames), float(reader.fps) if reader.fps else None


def _from_recording(rec: Recording) -> VideoSource | None:
    if rec.video is None:
        return None
    n = int(rec.n_frames)
    if n <= 0:
        n, _ = _video_frames(rec.video)
    return VideoSource(rec.name, Path(rec.video), n, rec.fps, rec)


def _plain_videos(folder: Path) -> list[Path]:
    from vpbehavior.io.video import VIDEO_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def collect_sources(data, format: str = "auto") -> list[VideoSource]:
    """The videos of ``data``: paths (dataset / lab / video folders, video files), a `Dataset`,
    `Recording`\\ s, or a list mixing them. Recordings without a video are left out.

    Raises `DataError` when nothing with a video is found.
    """
    from vpbehavior.io.registry import load
    from vpbehavior.io.video import VIDEO_SUFFIXES

    items = [data] if isinstance(data, (str, os.PathLike, Dataset, Recording)) else list(data or [])
    sources: list[VideoSource] = []
    for item in items:
        if isinstance(item, Recording):
            recs = [item]
        elif isinstance(item, Dataset):
            recs = list(item.recordings)
        else:
            path = Path(item)
            if not path.exists():
                raise MissingFileError(f"{path}: no such file or folder", path)
            if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                n, fps = _video_frames(path)
                sources.append(VideoSource(path.stem, path, n, fps))
                continue
            try:
                recs = list(load(path, format=format).recordings)
            except FormatError:
                if not path.is_dir():
                    raise
                recs = []
                for video in _plain_videos(path):
                    n, fps = _video_frames(video)
                    sources.append(VideoSource(str(video.relative_to(path).with_suffix("")), video, n, fps))
        for rec in recs:
            src = _from_recording(rec)
            if src is not None:
                sources.append(src)
    names: dict[str, int] = {}
    unique = []
    for src in sources:  # the same name in two datasets: keep both, apart
        k = names.get(src.name, 0)
        names[src.name] = k + 1
        unique.append(
            src if k == 0 else VideoSource(f"{src.name}#{k}", src.video, src.n_frames, src.fps, src.recording)
        )
    if not unique:
        raise DataError("no recording with a video to train on")
    return unique


# --------------------------------------------------------------------------- captions


@dataclass(frozen=True)
class ManifestEntry:
    """One captioned segment: frames ``[start, end)`` of ``video`` (``end`` None: to the end)."""

    video: Path
    start: int
    end: int | None
    text: str


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """Captions from a CSV (header ``video,start,end,text``) or JSONL file (one object per line).

    ``start`` and ``end`` are frames (0-based, ``end`` exclusive, either may be empty); relative
    video paths are relative to the manifest's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: captions manifest not found", path)
    rows: list[dict] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise DataError(f"line {i} is not a JSON object", path) from None
            if not isinstance(row, dict):
                raise DataError(f"line {i} is not a JSON object", path)
            rows.append(row)
    else:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    out = []
    for i, row in enumerate(rows, start=1):
        missing = [k for k in ("video", "text") if not str(row.get(k) or "").strip()]
        if missing:
            raise DataError(f"row {i} has no {' or '.join(missing)}", path, field=missing[0])
        video = Path(str(row["video"]))
        if not video.is_absolute():
            video = path.parent / video
        try:
            start = int(row.get("start") or 0)
            end = None if row.get("end") in (None, "") else int(row["end"])
        except (TypeError, ValueError):
            raise DataError(f"row {i}: start and end must be frame numbers", path, field="start") from None
        if start < 0 or (end is not None and end <= start):
            raise DataError(f"row {i}: need 0 <= start < end, got {start}, {end}", path, field="start")
        out.append(ManifestEntry(video.resolve(), start, end, str(row["text"])))
    if not out:
        raise DataError("the captions manifest has no rows", path)
    return out


def _conjugate(behavior: str) -> str:
    """A third-person verb phrase for a behavior name as datasets spell it ("attack" -> "attacks")."""
    words = behavior.replace("_", " ").strip().lower().split()
    if not words:
        return "does something"
    head, rest = words[0], words[1:]
    if head.endswith("ing"):
        return " ".join(["is", head, *rest])
    if head.endswith(("ion", "ment", "ance", "ence")) or rest:  # a noun ("investigation", "wing threat")
        return "shows " + " ".join(words)
    if head.endswith(("s", "sh", "ch", "x", "z")):
        return " ".join([head + "es", *rest])
    if head.endswith("y") and len(head) > 1 and head[-2] not in "aeiou":
        return " ".join([head[:-1] + "ies", *rest])
    return " ".join([head + "s", *rest])


def caption_from_labels(recording: Recording, frame: int, species: str = "") -> str | None:
    """A sentence for what the labels say happens at ``frame``, or None where nothing is annotated.

    One clause per subject with a positive (non-background) behavior, naming its target when the
    labels have one: "the resident mouse attacks the intruder". Frame-level labels give "an
    animal <verb>"; a frame annotated only as background gives "the <subject> shows <background>".
    """
    labels = recording.labels
    if labels is None or not 0 <= frame < labels.n_frames:
        return None
    noun = f" {species.strip()}" if species.strip() else ""
    values = labels.values[frame]  # [S, C]
    clauses, background = [], []
    kind = species.strip() or "animal"
    anyone = ("an " if kind[0].lower() in "aeiou" else "a ") + kind
    for s, subject in enumerate(labels.subjects):
        who = anyone if subject == FRAME_LEVEL else f"the {subject}{noun}"
        for c, behavior in enumerate(labels.classes):
            if values[s, c] != 1:
                continue
            if behavior == labels.background:
                background.append(f"{who} shows {behavior.replace('_', ' ')}")
                continue
            clause = f"{who} {_conjugate(behavior)}"
            target = labels.targets.get((subject, behavior))
            if target is not None:
                clause += f" the {target}"
            clauses.append(clause)
    if clauses:
        return " and ".join(clauses)
    if background:
        return " and ".join(background)
    return None


def label_captions(recordings: Sequence[Recording], species: str = "") -> list[str]:
    """The distinct captions `caption_from_labels` makes from these recordings' labels, canonicalized as the
    text tower's tokenizer receives them (sorted): the corpus for a tokenizer of a text tower trained from scratch."""
    from vpbehavior.models.tokenizer import canonicalize_text

    captions = set()
    for rec in recordings:
        if rec.labels is None:
            continue
        first_frames = {}  # one frame per distinct [S, C] label state
        for t, values in enumerate(rec.labels.values):
            first_frames.setdefault(values.tobytes(), t)
        for t in first_frames.values():
            caption = caption_from_labels(rec, t, species)
            if caption:
                captions.add(canonicalize_text(caption))
    return sorted(captions)


def train_caption_tokenizer(recordings: Sequence[Recording], folder: str | os.PathLike, species: str = "") -> Path:
    """A word-level SentencePiece model ``<folder>/captions.model`` of the recordings' label captions (written
    beside it as ``captions.txt``), with the ids the LvT tokenizer expects (unk 0, BOS 1, EOS 2), for stage 1
    from scratch (the released LvT text tower needs its own c4_en model instead)."""
    import sentencepiece as spm

    captions = label_captions(recordings, species)
    if not captions:
        raise DataError("the recordings have no behavior labels to make stage-1 captions from")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "captions.txt"
    corpus.write_text("\n".join(captions) + "\n")
    words = {w for c in captions for w in c.split()}
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "captions"), vocab_size=len(words) + 8, model_type="word",
        hard_vocab_limit=False, bos_id=1, eos_id=2, unk_id=0, pad_id=-1, minloglevel=2,
    )  # fmt: skip
    return folder / "captions.model"


def frame_targets(recording: Recording, frame: int, classes: Sequence[str]) -> np.ndarray:
    """Clip targets ``int8 [C]`` at ``frame``: 1 where any subject shows the class, 0 where it is
    annotated and nobody does, -1 where it is not annotated (or the class is not in the labels)."""
    out = np.full(len(classes), -1, np.int8)
    labels = recording.labels
    if labels is None or not 0 <= frame < labels.n_frames:
        return out
    values = labels.values[frame]
    index = {c: i for i, c in enumerate(labels.classes)}
    for j, name in enumerate(classes):
        i = index.get(name)
        if i is None:
            continue
        col = values[:, i]
        if (col == 1).any():
            out[j] = 1
        elif (col == 0).any():
            out[j] = 0
    return out


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class ClipItem:
    """One slot of an epoch: a clip starting in ``[lo, hi]`` of source ``source`` (frames < ``end``)."""

    source: int
    lo: int
    hi: int
    end: int
    text: str | None = None


@dataclass(frozen=True)
class ClipSampling:
    """How clips are cut and augmented (see `PretrainConfig` for each field)."""

    frames: int
    frame_step: int = 1
    size: int = 288
    clip_stride: int = 0
    min_crop: float = 1.0
    crop_aspect: float = 1.0
    hflip: bool = False
    vflip: bool = False
    train: bool = True

    @property
    def span(self) -> int:
        """Frames from a clip's first to its last frame, inclusive."""
        return (self.frames - 1) * self.frame_step + 1


def window_items(sources: Sequence[VideoSource], sampling: ClipSampling) -> list[ClipItem]:
    """Windows ``clip_stride`` apart over every source; each clip starts anywhere in its window."""
    span = sampling.span
    stride = sampling.clip_stride or span
    items = []
    for s, src in enumerate(sources):
        if src.n_frames < 1:
            continue
        last = max(0, src.n_frames - span)
        for start in range(0, last + 1, stride):
            hi = min(start + stride - 1, last) if sampling.train else start
            items.append(ClipItem(s, start, hi, src.n_frames))
    return items


def manifest_items(
    entries: Sequence[ManifestEntry], sources: list[VideoSource], sampling: ClipSampling
) -> list[ClipItem]:
    """One item per captioned segment; sources the manifest names but ``sources`` lacks are added."""
    by_path = {src.video.resolve(): i for i, src in enumerate(sources)}
    items = []
    for e in entries:
        if e.video not in by_path:
            if not e.video.exists():
                raise MissingFileError(f"{e.video}: video named in the captions manifest not found", e.video)
            n, fps = _video_frames(e.video)
            by_path[e.video] = len(sources)
            sources.append(VideoSource(e.video.stem, e.video, n, fps))
        src = sources[by_path[e.video]]
        end = min(src.n_frames, e.end if e.end is not None else src.n_frames)
        if e.start >= end:
            raise DataError(f"captioned segment [{e.start}, {e.end}) lies outside the video's {src.n_frames} frames",
                            e.video)  # fmt: skip
        hi = max(e.start, end - sampling.span) if sampling.train else e.start
        items.append(ClipItem(by_path[e.video], e.start, hi, end, e.text))
    return items


def labelled_items(sources: Sequence[VideoSource], sampling: ClipSampling, classes: Sequence[str]) -> list[ClipItem]:
    """Windows whose clips have an annotated middle frame (fine-tuning): one fixed start per item."""
    items = []
    half = (sampling.frames // 2) * sampling.frame_step
    for item in window_items(sources, sampling):
        rec = sources[item.source].recording
        if rec is None or rec.labels is None:
            continue
        if (frame_targets(rec, item.lo + half, classes) >= 0).any():
            items.append(item)
    return items


# --------------------------------------------------------------------------- augmentation


def crop_box(height: int, width: int, sampling: ClipSampling, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A random resized crop ``(top, left, h, w)`` in pixels, the same for every frame of a clip.

    Area and aspect are relative to the frame itself (our choice), so ``min_crop=1`` and
    ``crop_aspect=1`` keep the whole frame: exactly what feature extraction feeds the encoder.
    """
    if not sampling.train or (sampling.min_crop >= 1 and sampling.crop_aspect <= 1):
        return 0, 0, height, width
    area = rng.uniform(sampling.min_crop, 1.0)
    log_a = math.log(sampling.crop_aspect)
    ratio = math.exp(rng.uniform(-log_a, log_a))
    fw = min(1.0, math.sqrt(area * ratio))
    fh = min(1.0, math.sqrt(area / ratio))
    w = max(1, int(round(fw * width)))
    h = max(1, int(round(fh * height)))
    top = int(rng.integers(0, height - h + 1))
    left = int(rng.integers(0, width - w + 1))
    return top, left, h, w


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    if (h, w) == (size, size):
        return frame
    interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(frame, (size, size), interpolation=interp)


def augment_clip(frames: np.ndarray, sampling: ClipSampling, rng: np.random.Generator) -> np.ndarray:
    """Crop, resize to ``size x size`` and flip a clip ``uint8 [T, H, W, 3]`` (one draw per clip)."""
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, -1)
    top, left, h, w = crop_box(frames.shape[1], frames.shape[2], sampling, rng)
    hflip = sampling.train and sampling.hflip and rng.random() < 0.5
    vflip = sampling.train and sampling.vflip and rng.random() < 0.5
    out = np.empty((len(frames), sampling.size, sampling.size, 3), np.uint8)
    for i, frame in enumerate(frames):
        out[i] = _resize(np.ascontiguousarray(frame[top : top + h, left : left + w, :3]), sampling.size)
    if hflip:
        out = out[:, :, ::-1]
    if vflip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


# --------------------------------------------------------------------------- the dataset

#: Readers a forked worker inherited from its parent: kept referenced so they are never closed here.
_INHERITED_READERS: list = []


@dataclass(frozen=True)
class MaskSpec:
    """Which token mask each clip gets: ``kind`` "tube" (stage 1) or "block" (stage 2)."""

    kind: str
    ratio: float
    grid: tuple[int, int]


class ClipDataset:
    """Map-style dataset of clips: ``dataset[key]`` with ``key = epoch * len(dataset) + item``.

    Each sample is a dict of tensors: ``video`` uint8 ``[T, S, S, 3]``, ``key``; with a mask spec
    ``visible`` int64 ``[N_vis]``; with ``shuffle`` also ``perm`` int64 ``[T * N]``; with a
    tokenizer ``text_ids`` int32 ``[L]`` and ``text_paddings`` float32 ``[L]``; with ``classes``
    ``targets`` int8 ``[C]``.
    """

    def __init__(
        self,
        sources: Sequence[VideoSource],
        items: Sequence[ClipItem],
        sampling: ClipSampling,
        *,
        seed: int = 0,
        mask: MaskSpec | None = None,
        shuffle: bool = False,
        tokenizer: str | os.PathLike | None = None,
        text_length: int = 64,
        species: str = "",
        classes: Sequence[str] | None = None,
        max_open: int = 8,
    ) -> None:
        if not items:
            raise DataError("no clips to train on: the videos are shorter than one clip, or nothing is labelled")
        self.sources = list(sources)
        self.items = list(items)
        self.sampling = sampling
        self.seed = int(seed)
        self.mask = mask
        self.shuffle = bool(shuffle)
        self.tokenizer_path = None if tokenizer is None else str(tokenizer)
        self.text_length = int(text_length)
        self.species = species
        self.classes = None if classes is None else tuple(classes)
        self.max_open = max_open
        self._readers: OrderedDict = OrderedDict()
        self._owner = os.getpid()
        self._tokenizer = None

    def __len__(self) -> int:
        return len(self.items)

    def __getstate__(self) -> dict:  # readers and the tokenizer are opened again in each worker
        state = self.__dict__.copy()
        state["_readers"] = OrderedDict()
        state["_tokenizer"] = None
        state["_owner"] = None
        return state

    def _reader(self, s: int):
        from vpbehavior.io.video import open_video

        if self._owner != os.getpid():
            # a forked DataLoader worker inherits the parent's open readers (and their decoder
            # threads' locks): never touch them, not even to close them (their __del__ would
            # wait on a lock no thread of this process holds), and open our own
            _INHERITED_READERS.extend(self._readers.values())
            self._readers = OrderedDict()
            self._owner = os.getpid()
        reader = self._readers.get(s)
        if reader is None:
            src = self.sources[s]
            reader = open_video(src.video, fps=src.fps)
            self._readers[s] = reader
            while len(self._readers) > self.max_open:
                _, old = self._readers.popitem(last=False)
                old.close()
        self._readers.move_to_end(s)
        return reader

    def tokenize(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if self._tokenizer is None:
            from vpbehavior.models.tokenizer import Tokenizer

            self._tokenizer = Tokenizer(self.tokenizer_path, max_length=self.text_length)
        ids, pads = self._tokenizer([text])
        return ids[0], pads[0]

    def frame_indices(self, item: ClipItem, rng: np.random.Generator) -> np.ndarray:
        start = int(rng.integers(item.lo, item.hi + 1)) if item.hi > item.lo else item.lo
        idx = start + np.arange(self.sampling.frames) * self.sampling.frame_step
        return np.minimum(idx, item.end - 1)  # a short video or segment repeats its last frame

    def __getitem__(self, key: int) -> dict:
        import torch

        epoch, k = divmod(int(key), len(self.items))
        item = self.items[k]
        rng = np.random.default_rng([self.seed, epoch, k])
        idx = self.frame_indices(item, rng)
        reader = self._reader(item.source)
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = reader.get_frames(unique.tolist())[inverse]
        out = {"video": torch.from_numpy(augment_clip(frames, self.sampling, rng)), "key": torch.tensor(int(key))}
        if self.mask is not None:
            draw = tube_mask if self.mask.kind == "tube" else block_mask
            out["visible"] = torch.from_numpy(draw(self.mask.grid, self.mask.ratio, rng))
            if self.shuffle:
                n = self.mask.grid[0] * self.mask.grid[1]
                out["perm"] = torch.from_numpy(shuffle_permutation(self.sampling.frames * n, rng))
        middle = int(idx[len(idx) // 2])
        rec = self.sources[item.source].recording
        if self.tokenizer_path is not None:
            text = item.text
            if text is None and rec is not None:
                text = caption_from_labels(rec, middle, self.species)
            if text is None:
                raise DataError(f"{self.sources[item.source].video}: no caption for frame {middle} (no labels there)")
            ids, pads = self.tokenize(text)
            out["text_ids"] = torch.from_numpy(ids.astype(np.int64))
            out["text_paddings"] = torch.from_numpy(pads)
        if self.classes is not None:
            targets = frame_targets(rec, middle, self.classes) if rec is not None else None
            if targets is None:
                targets = np.full(len(self.classes), -1, np.int8)
            out["targets"] = torch.from_numpy(targets)
        return out

    def close(self) -> None:
        if self._owner == os.getpid():
            for reader in self._readers.values():
                reader.close()
        self._readers = OrderedDict()


def captioned_items(sources: Sequence[VideoSource], sampling: ClipSampling, species: str = "") -> list[ClipItem]:
    """Windows whose middle frame has a caption from the labels (stage 1 without a manifest)."""
    items = []
    half = (sampling.frames // 2) * sampling.frame_step
    for item in window_items(sources, sampling):
        rec = sources[item.source].recording
        if rec is None or rec.labels is None:
            continue
        # the start is drawn in [lo, hi]: keep the window when its fixed-start caption exists, and
        # fix the start (a jittered start could land on an unannotated middle frame)
        if caption_from_labels(rec, min(item.lo + half, item.end - 1), species) is not None:
            items.append(ClipItem(item.source, item.lo, item.lo, item.end))
    return items


# --------------------------------------------------------------------------- order


class StepSampler:
    """Data order as a function of the optimizer step: exact resume, and N processes = one.

    The stream of keys is epoch after epoch of seeded permutations of the items; optimizer step
    ``s`` takes stream positions ``[s * B, (s + 1) * B)`` (``B`` the global batch), process ``r``
    of ``W`` the ``r``-th contiguous ``B / W`` of them, in micro-batches of ``B / (W * accum)``.
    Iteration starts at ``start_step`` and ends after ``total_steps``.
    """

    def __init__(
        self,
        n_items: int,
        global_batch: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        start_step: int = 0,
        total_steps: int = 1,
    ) -> None:
        if global_batch % world:
            raise ConfigError(f"batch size {global_batch} is not divisible by the {world} processes")
        self.n, self.batch, self.seed = int(n_items), int(global_batch), int(seed)
        self.rank, self.world = int(rank), int(world)
        self.start_step, self.total_steps = int(start_step), int(total_steps)
        self._perms: OrderedDict[int, np.ndarray] = OrderedDict()

    def permutation(self, epoch: int) -> np.ndarray:
        perm = self._perms.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch, 1_000_003]).permutation(self.n)
            self._perms[epoch] = perm
            while len(self._perms) > 2:
                self._perms.popitem(last=False)
        return perm

    def keys(self, step: int) -> list[int]:
        """This process's keys of optimizer step ``step``."""
        per = self.batch // self.world
        first = step * self.batch + self.rank * per
        out = []
        for pos in range(first, first + per):
            epoch, off = divmod(pos, self.n)
            out.append(epoch * self.n + int(self.permutation(epoch)[off]))
        return out

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start_step, self.total_steps):
            yield from self.keys(step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step) * (self.batch // self.world)


def make_loader(dataset: ClipDataset, sampler: StepSampler, micro_batch: int, workers: int, pin_memory: bool = False):
    """A DataLoader decoding ``dataset`` in ``workers`` processes in the sampler's order."""
    from torch.utils.data import DataLoader

    kwargs = {}
    if workers > 0:
        kwargs.update(prefetch_factor=4, persistent_workers=False)
    return DataLoader(
        dataset,
        batch_size=micro_batch,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=False,
        **kwargs,
    )
