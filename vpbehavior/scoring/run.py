"""`score`: every video of a folder (or a dataset, or one video) through a trained classifier.

One process scores its videos one after another; ``workers > 1`` (or ``device="cuda"`` with
several GPUs) starts that many spawned worker processes, each loading the encoder once (one
GPU each with cuda), fed by a `multiprocessing` pool. Several runs (SLURM array tasks, two users,
a rerun) can share OUT: each video is claimed with a `FileLock` first, so a video another live
process holds is skipped and come back to at the end, once its holder is done (then it is up to
date, or its holder died and this run takes it over).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

from vpbehavior.core.errors import ConfigError, DataError
from vpbehavior.reporting import Progress, ProgressReporter, ProgressUpdate, progress_reporter

from .config import ScoreConfig, ScoreResult
from .job import BUSY, VIDEO_KINDS, ScoreContext, Scorer, check_encoder, load_checked_encoder
from .summary import MARKERS, rebuild_summary, versions
from .walk import discover


def _classifier(classifier):
    from vpbehavior.classify.classifier import BehaviorClassifier, file_sha256

    if isinstance(classifier, BehaviorClassifier):
        if classifier.path is None:
            raise ConfigError("score needs a saved classifier file (BehaviorClassifier.save) so workers can load it")
        path = Path(classifier.path)
        sha = classifier.info.get("sha256") or file_sha256(path)
        if file_sha256(path) != sha:
            raise ConfigError(f"{path}: the classifier file changed since it was loaded; load it again")
        return classifier, path, sha
    path = Path(classifier)
    clf = BehaviorClassifier.load(path)
    return clf, path, clf.info["sha256"]


def _workers(config: ScoreConfig, device: str) -> tuple[int, list[str]]:
    """(number of worker processes, the devices they cycle through)."""
    devices = [device]
    if device == "cuda":
        import torch

        devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cuda"]
    n = config.workers or (len(devices) if device == "cuda" else 1)
    return n, devices


def score_info(data, config: ScoreConfig, clf, clf_path: Path, sha: str) -> dict:
    """The content of score.json (see `vpbehavior.scoring.summary`)."""
    needs = clf.kind in VIDEO_KINDS
    return {
        "format": "vpbehavior-score",
        "format_version": 1,
        "data": str(Path(data).resolve()),
        "pattern": config.pattern,
        "tracks": config.tracks,
        "merge_tracks": config.merge_tracks,
        "classifier": {
            "path": str(clf_path.resolve()),
            "sha256": sha,
            "kind": clf.kind,
            "head": clf.config.head,
            "classes": list(clf.classes),
            "background": clf.background,
        },
        "encoder": clf.feature_spec.get("encoder") if needs else None,
        "extraction": clf.feature_spec.get("extraction") if needs else None,
        "pose_features": clf.feature_spec.get("pose"),
        "postprocess": clf.postprocess.to_dict(),
        "exports": list(config.exports),
        "versions": versions(),
    }


def score(
    data: str | Path,
    classifier,
    out: str | Path,
    config: ScoreConfig | None = None,
    *,
    encoder=None,
    progress: Progress = False,
) -> ScoreResult:
    """Score every video of ``data`` with ``classifier`` into folder ``out``; see `vpbehavior.scoring`.

    Parameters
    ----------
    data
        A folder in any format `vpbehavior.load` reads, or one video. Labels are not needed.
    classifier
        A classifier file (or a loaded `BehaviorClassifier` with its file).
    out
        The output folder: per video ``<name>.predictions.h5``, ``.bouts.csv``, ``.ethogram.png``
        and exports; per folder ``summary.csv``, ``failures.csv``, ``score.json``, ``report.html``.
    config
        `ScoreConfig` (pattern, features cache, weights, device, workers, shard, exports, ...).
    encoder
        An already loaded encoder to use in this process (its weights must be the classifier's).
    progress
        The usual hook: the folder ("score", one step per video) and the current video's extraction.

    A video that fails is listed in the result and ``failures.csv`` and the others go on; videos
    whose predictions are complete and current are not computed again.
    """
    from vpbehavior._outputs import check_output_folder
    from vpbehavior.runtime import resolve_device

    from .export import require_nwb

    started = time.time()  # predictions finished after this were made by another run
    config = config or ScoreConfig()
    exports = config.exports
    if "nwb" in exports:
        require_nwb()
    out = Path(out)
    clf, clf_path, sha = _classifier(classifier)
    check_output_folder(out, "score output folder", MARKERS, force_flag=None)
    shard = config.resolved_shard()
    device = resolve_device(config.device)
    root, jobs = discover(data, config)
    mine = shard.select(jobs)
    needs = clf.kind in VIDEO_KINDS
    spec_encoder = clf.feature_spec.get("encoder") if needs else None
    if needs and (not spec_encoder or not clf.feature_spec.get("extraction")):
        raise DataError("the classifier does not record its encoder and extraction settings", clf_path)
    model = None
    if needs:
        if encoder is not None:
            check_encoder(encoder, spec_encoder, "of the encoder given")
            model = encoder
        else:
            model = load_checked_encoder(spec_encoder, config.weights, device)
    cache = Path(config.features) if config.features else out / "features"
    ctx = ScoreContext(
        out=out, cache_dir=cache, classifier_path=clf_path, classifier_sha256=sha, encoder=spec_encoder,
        extraction=clf.feature_spec.get("extraction") if needs else None, weights=config.weights, device=device,
        batch_size=config.batch_size, exports=exports, overwrite=config.overwrite, lock_timeout=config.lock_timeout,
        heartbeat=min(30.0, config.lock_timeout / 4), tracks=config.tracks,
        merge_tracks=config.merge_tracks,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    n_workers, devices = _workers(config, device)
    result = ScoreResult(out, shard=shard)
    with progress_reporter(progress, "score", len(mine), "video") as bar:
        if n_workers <= 1 or len(mine) <= 1:
            _run_inline(Scorer(ctx, clf, model), mine, started, progress, bar, result)
        else:
            del model  # each worker loads its own
            _run_pool(ctx, mine, started, n_workers, devices, progress, bar, result)
    order = {job.key: i for i, job in enumerate(mine)}
    result.outcomes.sort(key=lambda o: order[o.name])
    result.files = rebuild_summary(out, score_info(data, config, clf, clf_path, sha), lock_timeout=config.lock_timeout)
    return result


def summarize_scores(out: str | Path, progress: Progress = False) -> dict[str, Path]:
    """Rebuild summary.csv, failures.csv and report.html of a score output folder from its predictions.

    For the end of a SLURM array job (each task wrote its own videos): ``vpbehavior score --summarize OUT``.
    """
    return rebuild_summary(Path(out), None, progress)


# ------------------------------------------------------------------ one process
def _run_inline(scorer: Scorer, jobs, started: float, progress, bar: ProgressReporter, result: ScoreResult) -> None:
    busy = []
    for job in jobs:
        outcome = scorer.process(job, since=started, progress=progress)
        if outcome.status == BUSY:
            busy.append(job)
            continue
        result.outcomes.append(outcome)
        bar.update(1, video=job.key)
    for job in busy:  # held by another run when met: wait for it, then it is current or ours
        result.outcomes.append(scorer.process(job, wait=True, since=started, progress=progress))
        bar.update(1, video=job.key)


# ------------------------------------------------------------------ worker processes
_WORKER: Scorer | None = None
_QUEUE = None


def _raise_exit(signum, frame):  # SIGTERM (pool shutdown, scancel): unwind so temporaries and locks go
    raise SystemExit(128 + signum)


def _init_worker(ctx: ScoreContext, devices: list[str], counter, queue, threads: int) -> None:
    import dataclasses

    import torch

    global _WORKER, _QUEUE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    signal.signal(signal.SIGTERM, _raise_exit)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    device = devices[index % len(devices)]
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    else:  # share the cores; never more threads than the user allows (OMP_NUM_THREADS)
        torch.set_num_threads(max(1, min(threads, torch.get_num_threads())))
    _QUEUE = queue
    _WORKER = Scorer(dataclasses.replace(ctx, device=device))
    if ctx.needs_encoder:
        _WORKER.encoder  # noqa: B018 - load (and check) the encoder once, up front


def _forward(update: ProgressUpdate) -> None:
    if _QUEUE is not None:
        _QUEUE.put((os.getpid(), update))


def _work(args):
    job, wait, since = args
    return _WORKER.process(job, wait=wait, since=since, progress=_forward if _QUEUE is not None else False)


class _ProgressRelay:
    """Shows the workers' per-video progress (sent over a queue) through the parent's hook."""

    def __init__(self, progress: Progress, queue) -> None:
        self.progress, self.queue = progress, queue
        self.bars: dict[tuple[int, str], ProgressReporter] = {}

    def drain(self) -> None:
        import queue as _queue

        while True:
            try:
                pid, update = self.queue.get_nowait()
            except (_queue.Empty, OSError, EOFError):
                return
            if callable(self.progress):
                self.progress(update)
                continue
            key = (pid, update.task)
            bar = self.bars.get(key)
            if bar is None and not update.finished:
                bar = self.bars[key] = ProgressReporter(self.progress, update.task, update.total, update.unit)
            if bar is None:
                continue
            bar.update(update.done - bar.done)
            if update.finished:
                bar.close()
                del self.bars[key]

    def close(self) -> None:
        self.drain()
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def _run_pool(ctx, jobs, started, n_workers, devices, progress, bar, result) -> None:
    spawn = mp.get_context("spawn")
    queue = spawn.Queue() if progress else None
    counter = spawn.Value("i", 0)
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    relay = _ProgressRelay(progress, queue) if queue is not None else None
    pool = spawn.Pool(n_workers, initializer=_init_worker, initargs=(ctx, devices, counter, queue, threads))
    try:
        busy = []
        for wait, todo in ((False, jobs), (True, None)):
            todo = todo if todo is not None else busy
            pending = pool.imap_unordered(_work, [(job, wait, started) for job in todo])
            for outcome in _results(pending, relay, len(todo)):
                if outcome.status == BUSY:
                    busy.append(next(j for j in todo if j.key == outcome.name))
                    continue
                result.outcomes.append(outcome)
                bar.update(1, video=outcome.name)
        pool.close()
        pool.join()
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    finally:
        if relay is not None:
            relay.close()


def _results(pending, relay, n: int):
    for _ in range(n):
        while True:
            if relay is not None:
                relay.drain()
            try:
                yield pending.next(timeout=0.2)
                break
            except mp.TimeoutError:
                continue
