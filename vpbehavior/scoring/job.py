"""One video's scoring: claim it, check what is current, extract, classify, write; or record why not.

Per video, under OUT (``<key>`` is the job's key, see `vpbehavior.scoring.walk`):

- ``<key>.bouts.csv`` and ``<key>.ethogram.png``, then ``<key>.predictions.h5`` (written last:
  a complete, current predictions file means every file derived from it was written first),
  then the exports asked for (missing ones are made again from the predictions file);
- ``.score/locks/<key>.lock`` while a process works on it (`FileLock`);
- ``.score/failures/<key>.json`` while the video fails (stage and reason; removed once scored).

Predictions are *current* when their provenance names the same classifier file (SHA-256), the
same encoder weights and extraction settings, and the same inputs (video path, size and mtime;
pose files; for dataset formats a digest of the recording). Everything else in the provenance
(vpbehavior version, device kind) is recorded, not compared.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from vpbehavior._version import __version__
from vpbehavior.core import Recording
from vpbehavior.core.errors import ConfigError, DataError, MissingFileError, VpbehaviorError
from vpbehavior.reporting import one_line

from .config import ELSEWHERE, FAILED, SCORED, UP_TO_DATE, VideoOutcome
from .locks import FileLock

#: Internal outcome: another live process holds the video; try again later.
BUSY = "busy"
#: Classifier feature kinds that need the encoder's features.
VIDEO_KINDS = ("video", "tokens", "video+pose")
STATE_DIR = ".score"
#: Errors that fail one video (input problems, the file system) rather than the whole run.
VIDEO_ERRORS: tuple[type[BaseException], ...] = (VpbehaviorError, OSError)


@dataclass(frozen=True)
class ScoreContext:
    """Everything a worker needs to score a video, picklable (sent to spawned workers)."""

    out: Path
    cache_dir: Path
    classifier_path: Path
    classifier_sha256: str
    encoder: dict | None  # the classifier's encoder identity (model, config, weights_sha256)
    extraction: dict | None  # the classifier's extraction settings
    weights: str | None  # what to load the encoder from (None: the classifier's)
    device: str
    batch_size: int
    exports: tuple[str, ...] = ()
    overwrite: bool = False
    lock_timeout: float = 600.0
    heartbeat: float = 30.0
    tracks: int | None = None
    merge_tracks: dict | None = None

    @property
    def needs_encoder(self) -> bool:
        return self.encoder is not None


# ------------------------------------------------------------------ paths
def output_paths(out: Path, key: str, exports: tuple[str, ...] = ()) -> dict[str, Path]:
    """The files of one video under OUT: predictions, bouts, ethogram and each export."""
    from .export import export_path

    base = Path(out) / key
    paths = {
        "predictions": base.with_name(base.name + ".predictions.h5"),
        "bouts": base.with_name(base.name + ".bouts.csv"),
        "ethogram": base.with_name(base.name + ".ethogram.png"),
    }
    for kind in exports:
        paths[kind] = export_path(base, kind)
    return paths


def lock_path(out: Path, key: str) -> Path:
    return Path(out) / STATE_DIR / "locks" / f"{key}.lock"


def failure_path(out: Path, key: str) -> Path:
    return Path(out) / STATE_DIR / "failures" / f"{key}.json"


# ------------------------------------------------------------------ encoder
_RANDOM = re.compile(r"random:(?P<name>[^:]+)(?::seed(?P<seed>\d+))?")


def weights_source(weights: str) -> tuple[str, int]:
    """``(weights for load_encoder, seed)``; ``random:<config>:seed<N>`` (an encoder's origin) keeps its seed."""
    found = _RANDOM.fullmatch(str(weights))
    if found:
        return f"random:{found['name']}", int(found["seed"] or 0)
    return str(weights), 0


def check_encoder(model, expected: dict, what: str) -> None:
    """ConfigError unless ``model``'s weights are those of the classifier's encoder identity ``expected``."""
    from vpbehavior.features.extract import encoder_identity

    got = encoder_identity(model)["weights_sha256"]
    want = expected.get("weights_sha256")
    if got != want:
        raise ConfigError(
            f"encoder weights {what} (sha256 {got[:12]}) are not those the classifier was trained on "
            f"({expected.get('model')}, sha256 {str(want)[:12]}); pass those weights with --weights, or leave it out"
        )


def load_checked_encoder(expected: dict, weights: str | None, device: str):
    """The encoder the classifier was trained on, loaded from ``weights`` (default: the name it records)."""
    from vpbehavior.features.extract import load_encoder

    source, seed = weights_source(weights or expected.get("model") or "")
    if not source:
        raise DataError("the classifier does not name its encoder; pass --weights")
    model = load_encoder(source, device=device, seed=seed)
    check_encoder(model, expected, repr(weights or source))
    return model


# ------------------------------------------------------------------ provenance
def _json(value):
    return json.loads(json.dumps(value, sort_keys=True))


def current_key(provenance: dict) -> dict:
    """The part of a predictions file's provenance that decides whether it is current."""
    classifier = provenance.get("classifier") if isinstance(provenance.get("classifier"), dict) else {}
    encoder = provenance.get("encoder") if isinstance(provenance.get("encoder"), dict) else {}
    return _json(
        {
            "classifier": classifier.get("sha256"),
            "encoder": encoder.get("weights_sha256"),
            "extraction": provenance.get("extraction"),
            "inputs": provenance.get("inputs"),
            "settings": provenance.get("settings"),
        }
    )


def is_current(path: Path, expected: dict) -> bool:
    """Whether ``path`` is a complete predictions file made exactly as ``expected`` says."""
    from vpbehavior.io.predictions import read_header

    try:
        head = read_header(path)
    except (DataError, MissingFileError, OSError):
        return False
    return current_key(head["provenance"]) == current_key(expected)


# ------------------------------------------------------------------ the per-video work
class Scorer:
    """Scores jobs one at a time in this process (inline, or inside one worker)."""

    def __init__(self, ctx: ScoreContext, classifier=None, encoder=None) -> None:
        from vpbehavior.classify.classifier import BehaviorClassifier, file_sha256

        self.ctx = ctx
        if classifier is None:
            classifier = BehaviorClassifier.load(ctx.classifier_path)
        sha = classifier.info.get("sha256") or file_sha256(ctx.classifier_path)
        if sha != ctx.classifier_sha256:
            raise DataError("the classifier file changed while scoring ran", ctx.classifier_path)
        self.clf = classifier
        self._encoder = encoder

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_checked_encoder(self.ctx.encoder, self.ctx.weights, self.ctx.device)
        return self._encoder

    def provenance(self, inputs: dict) -> dict:
        clf, ctx = self.clf, self.ctx
        return {
            "classifier": {
                "path": str(Path(ctx.classifier_path).resolve()),
                "sha256": ctx.classifier_sha256,
                "kind": clf.kind,
                "head": clf.config.head,
            },
            "encoder": ctx.encoder,
            "extraction": ctx.extraction,
            "pose_features": clf.feature_spec.get("pose"),
            "postprocess": clf.postprocess.to_dict(),
            "inputs": inputs,
            "settings": {"tracks": self.ctx.tracks, "merge_tracks": self.ctx.merge_tracks},
            "device": str(ctx.device).split(":")[0],
            "vpbehavior": __version__,
        }

    # -------------------------------------------------------------- one job
    def process(self, job, *, wait: bool = False, since: float | None = None, progress=False) -> VideoOutcome:
        """Score ``job`` unless another process holds it (then `BUSY`, or with ``wait`` wait for it).

        ``since``: when this run started (a ``time.time()``). Predictions finished after it were made by
        another run; in the waiting pass a failure recorded after it was another run's attempt at the
        same video, reported instead of trying again.
        """
        started = time.monotonic()
        lock = FileLock(lock_path(self.ctx.out, job.key), self.ctx.heartbeat, self.ctx.lock_timeout)
        if not lock.acquire(blocking=wait, poll_s=0.5):
            return VideoOutcome(job.key, str(job.video), BUSY)
        try:
            outcome = self._locked(job, wait, since, progress)
        finally:
            lock.release()
        return VideoOutcome(
            outcome.name, outcome.video, outcome.status, outcome.stage, outcome.reason, outcome.n_frames,
            round(time.monotonic() - started, 3),
        )  # fmt: skip

    def _locked(self, job, wait: bool, since: float | None, progress) -> VideoOutcome:
        ctx = self.ctx
        paths = output_paths(ctx.out, job.key, ctx.exports)
        record = failure_path(ctx.out, job.key)
        if wait and since is not None and record.is_file() and record.stat().st_mtime >= since:
            failed = _read_failure(record)
            if failed is not None:  # another run tried it while this one waited
                return VideoOutcome(job.key, str(job.video), FAILED, failed["stage"], failed["reason"])
        stage, rec = "load", None
        try:
            if job.files is None and job.load_error is None:
                rec = job.load()
            expected = self.provenance(job.inputs(rec))
            if not ctx.overwrite and is_current(paths["predictions"], expected):
                stage = "write"
                missing = [k for k, p in paths.items() if k != "predictions" and not p.exists()]
                if missing:
                    from vpbehavior.io.predictions import read_predictions

                    self._derived(read_predictions(paths["predictions"]), job, paths, missing)
                record.unlink(missing_ok=True)
                # finished after this run started: another run (or worker) scored it meanwhile
                fresh = since is not None and paths["predictions"].stat().st_mtime >= since
                return VideoOutcome(job.key, str(job.video), ELSEWHERE if fresh else UP_TO_DATE)
            if rec is None:
                rec = job.load()
            if ctx.needs_encoder:
                stage = "features"
                self._features(rec, progress)
            stage = "classify"
            pred = self.clf.predict(rec, features=ctx.cache_dir if ctx.needs_encoder else None)
            stage = "write"
            for key, path in paths.items():  # nothing derived from older predictions may outlive them
                if key != "predictions":
                    path.unlink(missing_ok=True)
            self._derived(pred, job, paths, ["bouts", "ethogram"])
            from vpbehavior.io.predictions import write_predictions

            write_predictions(paths["predictions"], pred, expected)
            stage = "export"
            self._derived(pred, job, paths, list(ctx.exports))
            record.unlink(missing_ok=True)
            return VideoOutcome(job.key, str(job.video), SCORED, n_frames=pred.n_frames)
        except VIDEO_ERRORS as err:
            reason = one_line(err) or type(err).__name__
            _write_failure(record, {"video": str(job.video), "stage": stage, "reason": reason})
            return VideoOutcome(job.key, str(job.video), FAILED, stage, reason)

    def _features(self, rec: Recording, progress) -> None:
        from vpbehavior.features.cache import cache_path
        from vpbehavior.features.extract import ExtractConfig, extract_recording

        ctx = self.ctx
        config = ExtractConfig(**ctx.extraction, batch_size=ctx.batch_size, device=ctx.device)
        target = cache_path(ctx.cache_dir, rec.name, rec.video)
        lock = FileLock(target.with_name(f".{target.name}.lock"), ctx.heartbeat, ctx.lock_timeout)
        lock.acquire(blocking=True, poll_s=0.5)  # another run extracting the same video: wait, then reuse
        try:
            extract_recording(rec, self.encoder, ctx.cache_dir, config, identity=ctx.encoder, progress=progress)
        finally:
            lock.release()

    def _derived(self, pred, job, paths: dict[str, Path], kinds: list[str]) -> None:
        from .export import export
        from .report import plot_ethogram, write_bouts_csv

        for kind in kinds:
            if kind == "bouts":
                write_bouts_csv(paths["bouts"], pred)
            elif kind == "ethogram":
                plot_ethogram(pred, paths["ethogram"], title=job.key)
            else:
                pose = job.pose_files[0] if job.pose_files and Path(job.pose_files[0]).suffix == ".slp" else None
                export(pred, kind, paths[kind], video=job.video, pose=pose)


def _write_failure(path: Path, record: dict) -> None:
    from vpbehavior._files import atomic_write_text

    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _read_failure(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not {"video", "stage", "reason"} <= set(data):
        return None
    return data
