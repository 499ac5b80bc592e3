"""`ScoreConfig` (how a folder is scored; every field is a `vpbehavior score` flag), shards and results.

Torch-free, so the command line builds its flags fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vpbehavior._config import option
from vpbehavior.core.errors import ConfigError

#: Export formats of `vpbehavior export` and ``score --export``.
EXPORT_FORMATS = ("boris", "slp", "nwb", "csv")


@dataclass(frozen=True)
class ScoreConfig:
    """Options of `vpbehavior.score`. Every field is also a `vpbehavior score` flag.

    What the features are (encoder, clip length, stride, size, ...) is not an option: it is read
    from the classifier, so scoring computes exactly the features the classifier was trained on.
    """

    pattern: str = option("*", "glob of the videos to score, matched against the path under DATA or the file name")
    format: str = option("auto", "format of DATA (a registered format name, or auto: detect from the files)")
    features: str | None = option(None, "feature cache folder to reuse and fill (default: OUT/features)")
    weights: str | None = option(
        None,
        "encoder weights; must be those the classifier was trained on (default: the encoder named in the classifier)",
    )
    device: str = option("auto", "cpu, cuda, cuda:N or auto; cuda without N uses every visible GPU, one worker each")
    workers: int = option(0, "worker processes on this machine (0: one per visible GPU with cuda, else 1)")
    shard: str | None = option(
        None,
        "score only part i of n of the videos (i/n, 0-based: every n-th of them sorted by path) (default: "
        "from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT when set, else all)",
    )
    tracks: int | None = option(None, "keep the N pose tracks present in the most frames (default: all tracks)")
    merge_tracks: dict | None = option(
        None, "merge pose tracks: {track: subject} or {recording: {track: subject}}", cli=False
    )
    batch_size: int = option(4, "clips per encoder call")
    export: str = option(
        "",
        f"also export every video's predictions: a comma-separated list of {', '.join(EXPORT_FORMATS)} (default: none)",
    )
    overwrite: bool = option(False, "recompute predictions that are complete and current")
    lock_timeout: float = option(
        600.0, "seconds without a heartbeat after which another host's claim on a video is taken over"
    )

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if self.batch_size < 1:
            raise ConfigError(f"batch-size must be >= 1, got {self.batch_size}")
        if self.tracks is not None or self.merge_tracks is not None:
            from vpbehavior.io.tracks import check_merge_tracks, check_tracks

            check_tracks(self.tracks)
            object.__setattr__(self, "merge_tracks", check_merge_tracks(self.merge_tracks))
        if self.lock_timeout <= 0:
            raise ConfigError(f"lock-timeout must be > 0 seconds, got {self.lock_timeout}")
        if not self.pattern:
            raise ConfigError("pattern must not be empty (use '*' for every video)")
        self.exports  # noqa: B018 - validates
        if self.shard is not None:
            Shard.parse(self.shard)

    @property
    def load_options(self) -> dict:
        """The track options as `vpbehavior.load` takes them (only those given)."""
        return {k: v for k, v in (("tracks", self.tracks), ("merge_tracks", self.merge_tracks)) if v is not None}

    @property
    def exports(self) -> tuple[str, ...]:
        """The export formats asked for, in the order given, without repeats."""
        names = [n.strip().lower() for n in self.export.split(",") if n.strip()]
        unknown = [n for n in names if n not in EXPORT_FORMATS]
        if unknown:
            raise ConfigError(f"unknown export format(s) {unknown}; choose from {', '.join(EXPORT_FORMATS)}")
        return tuple(dict.fromkeys(names))

    def resolved_shard(self, environ: Mapping[str, str] | None = None) -> Shard:
        """The shard given, else the SLURM array task's, else the whole set (0/1)."""
        if self.shard is not None:
            return Shard.parse(self.shard)
        return Shard.from_slurm(os.environ if environ is None else environ) or Shard(0, 1)


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count``: the videos at positions index, index + count, ... when sorted by path."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"shard {self.index}/{self.count}: need 0 <= i < n")

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, sep, n = str(text).partition("/")
        if not sep or not i.strip().isdigit() or not n.strip().isdigit():
            raise ConfigError(f"shard must be i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
        return cls(int(i), int(n))

    @classmethod
    def from_slurm(cls, environ: Mapping[str, str]) -> Shard | None:
        """The shard of a SLURM array task, or None outside one.

        ``SLURM_ARRAY_TASK_ID`` counts from ``SLURM_ARRAY_TASK_MIN`` in steps of
        ``SLURM_ARRAY_TASK_STEP`` (``--array=1-8`` and ``--array=0-14:2`` both work);
        ``SLURM_ARRAY_TASK_COUNT`` is the number of tasks.
        """
        task, count = environ.get("SLURM_ARRAY_TASK_ID"), environ.get("SLURM_ARRAY_TASK_COUNT")
        if task is None or count is None:
            return None
        try:
            task_i, count_i = int(task), int(count)
            low = int(environ.get("SLURM_ARRAY_TASK_MIN", 0))
            step = int(environ.get("SLURM_ARRAY_TASK_STEP", 1)) or 1
        except ValueError:
            raise ConfigError(
                f"SLURM_ARRAY_TASK_ID={task!r} / SLURM_ARRAY_TASK_COUNT={count!r} are not numbers"
            ) from None
        index = (task_i - low) // step
        if not 0 <= index < count_i:
            raise ConfigError(
                f"SLURM array task {task_i} (min {low}, step {step}) is not one of {count_i} tasks; "
                "pass --shard i/n explicitly"
            )
        return cls(index, count_i)

    def select(self, items: list) -> list:
        """Every ``count``-th item from ``index`` (``items`` already sorted)."""
        return items[self.index :: self.count]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


#: Outcomes of one video.
SCORED, UP_TO_DATE, ELSEWHERE, FAILED = "scored", "up to date", "scored by another run", "failed"


@dataclass(frozen=True)
class VideoOutcome:
    """What happened to one video: ``status`` is scored, up to date, scored by another run, or failed.

    ``stage`` and ``reason`` say where and why a video failed (stages: load, features, classify,
    write, export).
    """

    name: str
    video: str
    status: str
    stage: str = ""
    reason: str = ""
    n_frames: int = 0
    seconds: float = 0.0


@dataclass
class ScoreResult:
    """What `vpbehavior.score` did, video by video, and where the folder's files are."""

    out: Path
    outcomes: list[VideoOutcome] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    shard: Shard = field(default_factory=lambda: Shard(0, 1))

    def _names(self, status: str) -> list[str]:
        return [o.name for o in self.outcomes if o.status == status]

    @property
    def scored(self) -> list[str]:
        return self._names(SCORED)

    @property
    def up_to_date(self) -> list[str]:
        return self._names(UP_TO_DATE)

    @property
    def elsewhere(self) -> list[str]:
        return self._names(ELSEWHERE)

    @property
    def failures(self) -> list[VideoOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def exit_status(self) -> int:
        """0 when every video is scored, 1 when some failed (the command's exit status)."""
        return 0 if self.ok else 1

    def __repr__(self) -> str:
        return (
            f"ScoreResult({str(self.out)!r}: {len(self.scored)} scored, {len(self.up_to_date)} up to date, "
            f"{len(self.elsewhere)} by another run, {len(self.failures)} failed)"
        )
