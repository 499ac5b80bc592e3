"""Writer of CalMS21-format JSON files (SYNTHETIC content, real layout).

Layout per ``shared/docs/dataset_formats.md`` section 1::

    task1_classic_classification/calms21_task1_{train,test}.json
    task2_annotation_styles/calms21_task2_{train,test}.json
    task3_new_behaviors/calms21_task3_{train,test}.json
    unlabeled_videos/calms21_unlabeled_videos_part{1..4}.json

Each JSON is ``{annotator group: {sequence id: {"keypoints": [T][2][2][7],
"scores": [T][2][7], "annotations": [T], "metadata": {"annotator-id": k, "vocab": {...}}}}}``;
unlabeled files use the group ``"unlabeled_videos"`` and have neither annotations nor metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import mark_synthetic

BODYPARTS = ("nose", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tail_base")
TASK1_VOCAB = {"attack": 0, "investigation": 1, "mount": 2, "other": 3}
TASK_FOLDERS = {
    1: "task1_classic_classification",
    2: "task2_annotation_styles",
    3: "task3_new_behaviors",
}
IMAGE_SIZE = (1024, 570)


@dataclass
class WrittenSequence:
    """What the writer put in one sequence (ground truth for tests)."""

    file: Path
    group: str
    seq_id: str
    split: str | None
    keypoints: np.ndarray  # [T, 2, 2, 7] as written
    scores: np.ndarray  # [T, 2, 7]
    annotations: np.ndarray | None  # [T] class ids
    vocab: dict[str, int] | None
    video: Path | None = None

    @property
    def n_frames(self) -> int:
        return len(self.keypoints)

    def class_counts(self) -> dict[str, int]:
        """Frames per class name."""
        if self.annotations is None or self.vocab is None:
            return {}
        return {name: int((self.annotations == i).sum()) for name, i in self.vocab.items()}


@dataclass
class WrittenDataset:
    root: Path
    sequences: list[WrittenSequence] = field(default_factory=list)

    def files(self) -> list[Path]:
        return sorted({s.file for s in self.sequences})

    def class_counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for seq in self.sequences:
            for name, n in seq.class_counts().items():
                total[name] = total.get(name, 0) + n
        return total


def make_sequence(n_frames: int, vocab: dict[str, int] | None, rng: np.random.Generator) -> dict:
    """Random but plausible pose (two mice wandering in a 1024 x 570 arena) and bout labels."""
    t = np.arange(n_frames, dtype=np.float64)
    centre = np.stack(
        [512 + 300 * np.sin(t / 50 + rng.uniform(0, 6)), 285 + 150 * np.cos(t / 70 + rng.uniform(0, 6))], -1
    )  # [T, 2]
    kp = np.empty((n_frames, 2, 2, 7))
    for mouse in range(2):
        offsets = rng.normal(0, 15, size=(2, 7))
        kp[:, mouse] = (centre + (mouse * 40))[:, :, None] + offsets[None]
    kp = np.round(kp + rng.normal(0, 1, kp.shape), 3)
    scores = np.round(rng.uniform(0.2, 1.0, size=(n_frames, 2, 7)), 4)
    out = {"keypoints": kp, "scores": scores, "annotations": None}
    if vocab is not None:
        ids = np.empty(n_frames, dtype=np.int64)
        pos = 0
        values = sorted(vocab.values())
        while pos < n_frames:
            length = int(rng.integers(3, 25))
            ids[pos : pos + length] = rng.choice(values)
            pos += length
        out["annotations"] = ids
    return out


def sequence_to_json(seq: dict, annotator: int | None, vocab: dict[str, int] | None) -> dict:
    """The JSON object of one sequence, exactly as CalMS21 stores it (nested lists)."""
    obj = {"keypoints": seq["keypoints"].tolist(), "scores": seq["scores"].tolist()}
    if seq.get("annotations") is not None:
        obj["annotations"] = [int(a) for a in seq["annotations"]]
        obj["metadata"] = {"annotator-id": annotator, "vocab": dict(vocab)}
    return obj


def write_json(path: Path, groups: dict[str, dict[str, dict]]) -> Path:
    """Write ``{group: {seq_id: sequence JSON}}`` to ``path`` the way ``json.dump`` does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(groups, fh)
    mark_synthetic(path.parent)
    return path


def write_task_file(
    path: Path,
    task: int,
    split: str,
    mouse_ids: list[int],
    n_frames: list[int] | int,
    rng: np.random.Generator,
    annotators: tuple[int, ...] = (0,),
    vocab: dict[str, int] | None = None,
) -> list[WrittenSequence]:
    """One ``calms21_task{k}_{split}.json`` with one group per annotator."""
    vocab = dict(TASK1_VOCAB if vocab is None else vocab)
    lengths = [n_frames] * len(mouse_ids) if isinstance(n_frames, int) else list(n_frames)
    groups: dict[str, dict] = {}
    written = []
    for annotator in annotators:
        group = f"annotator-id_{annotator}"
        groups[group] = {}
        for mouse, length in zip(mouse_ids, lengths):
            seq_id = f"task{task}/{split}/mouse{mouse:03d}_task{task}_annotator{annotator + 1}"
            seq = make_sequence(length, vocab, rng)
            groups[group][seq_id] = sequence_to_json(seq, annotator, vocab)
            written.append(
                WrittenSequence(path, group, seq_id, split, seq["keypoints"], seq["scores"], seq["annotations"], vocab)
            )
    write_json(path, groups)
    return written


def write_unlabeled_file(path: Path, part: int, lengths: list[int], rng: np.random.Generator) -> list[WrittenSequence]:
    """One ``calms21_unlabeled_videos_part{k}.json``: keypoints and scores only."""
    groups: dict[str, dict] = {"unlabeled_videos": {}}
    written = []
    for i, length in enumerate(lengths):
        seq_id = f"unlabeled_videos/part{part}/mouse{i + 1:03d}"
        seq = make_sequence(length, None, rng)
        groups["unlabeled_videos"][seq_id] = sequence_to_json(seq, None, None)
        written.append(
            WrittenSequence(path, "unlabeled_videos", seq_id, "unlabeled", seq["keypoints"], seq["scores"], None, None)
        )
    write_json(path, groups)
    return written


def write_task1_video(path: Path, n_frames: int, fps: float = 30.0, size: tuple[int, int] = (64, 36)) -> Path:
    """A tiny grayscale-looking top-view video (synthetic) with ``n_frames`` frames."""
    from vpbehavior.io.video import write_video

    w, h = size
    frames = (np.full((h, w, 3), (i * 7) % 256, np.uint8) for i in range(n_frames))
    return write_video(path, frames, fps=fps, codec="mp4v")


def write_calms21_dataset(
    root: Path,
    seed: int = 0,
    frames: int = 60,
    videos: bool = False,
    tasks: tuple[int, ...] = (1, 2, 3),
    unlabeled_parts: int = 2,
) -> WrittenDataset:
    """A small CalMS21 tree (tasks 1-3 and unlabeled parts) with varied sequence lengths."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    out = WrittenDataset(root)
    mouse = 1
    for task in tasks:
        folder = root / TASK_FOLDERS[task]
        for split, count in (("train", 3), ("test", 2)):
            ids = list(range(mouse, mouse + count))
            mouse += count
            lengths = [frames + 7 * i for i in range(count)]
            if task == 1:
                vocab, annotators = TASK1_VOCAB, (0,)
            elif task == 2:
                vocab, annotators = TASK1_VOCAB, (0, 1)
            else:  # task 3: a binary vocabulary, "other" first (read it, never assume the order)
                vocab, annotators = {"other": 0, "approach": 1}, (0,)
            path = folder / f"calms21_task{task}_{split}.json"
            seqs = write_task_file(path, task, split, ids, lengths, rng, annotators, vocab)
            if task == 1 and videos:
                for seq in seqs:
                    base = seq.seq_id.split("/")[-1].split("_")[0]  # mouse001
                    seq.video = write_task1_video(root / "task1_videos" / split / f"{base}.mp4", seq.n_frames)
            out.sequences += seqs
    for part in range(1, unlabeled_parts + 1):
        path = root / "unlabeled_videos" / f"calms21_unlabeled_videos_part{part}.json"
        out.sequences += write_unlabeled_file(path, part, [frames, frames + 3], rng)
    mark_synthetic(root)
    return out
