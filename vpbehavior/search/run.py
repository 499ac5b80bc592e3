"""Text search over recordings with the LvT video-text model: ranked hits, similarity traces, zero-shot calls.

`TextSearch` holds a model, its tokenizer, the clip settings and the embeddings cache, so that
a session (a notebook, the napari panel) embeds each recording's clips once and then answers
any number of queries in milliseconds. `search`, `similarity_trace` and `zero_shot` are the
one-call forms.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vpbehavior.core import FRAME_LEVEL, Dataset, Predictions, Recording
from vpbehavior.core.errors import INPUT_ERRORS, ConfigError
from vpbehavior.reporting import Progress, one_line, progress_reporter

from .config import SearchConfig
from .embeddings import ClipEmbeddings, embed_recording
from .queries import DEFAULT_TEMPLATES, Query, as_queries, encode_queries, open_tokenizer
from .results import SearchHit, SearchResults


def as_recordings(data) -> tuple[list[Recording], list[tuple[str, str]]]:
    """Recordings (and load failures) from a path, a `Dataset`, a `Recording` or a list of them."""
    if isinstance(data, (str, os.PathLike)):
        from vpbehavior.io.registry import load

        data = load(data)
    if isinstance(data, Dataset):
        return list(data.recordings), [(str(f.path), str(f)) for f in data.failures]
    if isinstance(data, Recording):
        return [data], []
    recordings = list(data)
    bad = [type(r).__name__ for r in recordings if not isinstance(r, Recording)]
    if bad:
        raise ConfigError(f"search takes recordings, a Dataset or a path; got {bad[0]}")
    return recordings, []


def pick_hits(
    clip_scores: Sequence[np.ndarray], clips: Sequence[ClipEmbeddings], query: str, top: int
) -> list[SearchHit]:
    """The ``top`` best clips over all recordings, best first, none overlapping a better one in time.

    ``clip_scores[r]`` holds recording ``r``'s clip similarities with ``query``. Ties keep the
    earlier recording and clip.
    """
    rec_of = np.concatenate([np.full(len(s), r) for r, s in enumerate(clip_scores)]) if clip_scores else np.zeros(0)
    clip_of = np.concatenate([np.arange(len(s)) for s in clip_scores]) if clip_scores else np.zeros(0)
    scores = np.concatenate(clip_scores) if clip_scores else np.zeros(0)
    order = np.lexsort((clip_of, rec_of, -scores))
    taken: dict[int, list[tuple[int, int]]] = {}
    hits: list[SearchHit] = []
    for k in order:
        if len(hits) == top:
            break
        r, c = int(rec_of[k]), int(clip_of[k])
        emb = clips[r]
        start, stop = int(emb.start[c]), int(emb.stop[c])
        if any(start < b and a < stop for a, b in taken.get(r, [])):
            continue
        taken.setdefault(r, []).append((start, stop))
        hits.append(SearchHit(query, len(hits) + 1, emb.recording, start, stop, float(scores[k]), emb.fps, emb.video))
    return hits


class TextSearch:
    """Search recordings by text with an LvT model.

    Parameters
    ----------
    model
        A loaded LvT model (`vpbehavior.load_encoder("videoprism_lvt_public_v1_base")`) or weights
        to load with `vpbehavior.load_encoder`.
    tokenizer
        The text tower's SentencePiece ``.model`` file (c4_en for the released models) or a `Tokenizer`.
    config
        `SearchConfig` (clip length, stride, size, hits per query, device, ...).
    cache
        Folder of clip-embedding files, reused across queries and runs (default: a temporary
        folder that lives as long as this object).
    """

    def __init__(self, model, tokenizer, config: SearchConfig | None = None, cache: str | os.PathLike | None = None):
        from vpbehavior.features.extract import encoder_identity, load_encoder

        config = config or SearchConfig()
        if isinstance(model, (str, os.PathLike)):
            model = load_encoder(str(model), device=config.device)
        self.model = model
        self.tokenizer = open_tokenizer(tokenizer, model)
        self.config = config.resolved(model)
        self._tmp = tempfile.TemporaryDirectory(prefix="vpbehavior-search-") if cache is None else None
        self.cache = Path(self._tmp.name if cache is None else cache)
        self.identity = encoder_identity(model)
        self._clips: dict[tuple[str, str], ClipEmbeddings] = {}

    # ------------------------------------------------------------------ pieces
    def embed(self, recording: Recording, progress: Progress = False) -> ClipEmbeddings:
        """The recording's clip embeddings (computed once per session, and cached on disk)."""
        key = (recording.name, str(recording.video))
        if key not in self._clips:
            self._clips[key] = embed_recording(
                recording, self.model, self.cache, self.config, identity=self.identity, progress=progress
            )
        return self._clips[key]

    def encode(self, queries) -> tuple[list[Query], np.ndarray]:
        """``(queries, text embeddings [Q, D])`` for strings (``"name: a | b"``), `Query` objects or a dict."""
        queries = as_queries(queries)
        return queries, encode_queries(self.model, self.tokenizer, queries)

    def settings(self) -> dict:
        return {"model": self.identity["model"], "weights_sha256": self.identity["weights_sha256"],
                **self.config.provenance(), "top": self.config.top}  # fmt: skip

    # ------------------------------------------------------------------ the three uses
    def search(self, data, queries, *, top: int | None = None, progress: Progress = False) -> SearchResults:
        """Rank the clips of every recording in ``data`` for each query; a recording that fails is reported, not fatal."""
        queries, text = self.encode(queries)
        recordings, failures = as_recordings(data)
        clips: list[ClipEmbeddings] = []
        with progress_reporter(progress if len(recordings) > 1 else False, "search", len(recordings), "rec") as bar:
            for rec in recordings:
                if rec.video is None:
                    failures.append((rec.name, "no video attached"))
                else:
                    try:
                        clips.append(self.embed(rec, progress=progress))
                    except INPUT_ERRORS as err:
                        failures.append((rec.name, one_line(err)))
                bar.update()
        sims = [c.similarity(text) for c in clips]
        hits = []
        for q, query in enumerate(queries):
            hits += pick_hits([s[:, q] for s in sims], clips, query.name, top or self.config.top)
        return SearchResults(
            queries, hits, [c.recording for c in clips], failures, self.settings(),
            {c.recording: c.n_frames for c in clips},
        )  # fmt: skip

    def trace(self, recording: Recording, queries, progress: Progress = False) -> np.ndarray:
        """Per-frame similarity ``float32 [T, Q]`` of ``recording`` with each query (NaN where no clip covers a frame)."""
        _, text = self.encode(queries)
        clips = self.embed(recording, progress)
        return clips.frame_trace(clips.similarity(text))

    def behavior_queries(self, behaviors, templates: Sequence[str] | None = DEFAULT_TEMPLATES):
        """``(queries, text embeddings)`` of zero-shot behaviors: each put through ``templates`` (None: as given)."""
        queries = as_queries(behaviors)
        if len(queries) < 2:
            raise ConfigError("zero-shot classification needs at least two behaviors to choose between")
        if templates:
            queries = [q.with_templates(templates) for q in queries]
        return queries, encode_queries(self.model, self.tokenizer, queries)

    def zero_shot(
        self, recording: Recording, behaviors, *, templates: Sequence[str] | None = DEFAULT_TEMPLATES,
        encoded: tuple[list[Query], np.ndarray] | None = None, progress: Progress = False,
    ) -> Predictions:  # fmt: skip
        """Per-frame behavior probabilities from text alone, as a classifier's `Predictions`.

        Each behavior (a name, or ``"name: phrasing | phrasing"``) is embedded through the
        ``templates`` (None: as given); every frame gets softmax(cosine / temperature) over the
        behaviors and calls the most probable one. Predictions are frame-level (subject "all"), so
        `vpbehavior.evaluate_predictions` compares them with labels as it does a frame-level
        classifier's. ``encoded``: `behavior_queries` already computed (for many recordings).
        """
        queries, text = encoded or self.behavior_queries(behaviors, templates)
        clips = self.embed(recording, progress)
        cosine = clips.frame_trace(clips.similarity(text)).astype(np.float64)
        present = np.isfinite(cosine).all(1)
        logits = np.where(present[:, None], cosine, 0.0) / self.config.temperature
        logits -= logits.max(1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(1, keepdims=True)
        prob[~present] = np.nan
        calls = np.zeros(prob.shape, bool)
        calls[np.flatnonzero(present), prob[present].argmax(1)] = True
        provenance = {
            "kind": "zero-shot",
            "encoder": {k: self.identity[k] for k in ("model", "weights_sha256")},
            "search": self.settings() | {"temperature": self.config.temperature},
            "queries": {q.name: list(q.phrasings) for q in queries},
            "video": str(recording.video),
        }
        return Predictions(
            recording.name, prob[:, None].astype(np.float32), calls[:, None], [q.name for q in queries],
            (FRAME_LEVEL,), present[:, None], recording.fps, None, provenance,
        )  # fmt: skip


# ------------------------------------------------------------------ one-call forms
def _engine(model, tokenizer, config, cache) -> TextSearch:
    return model if isinstance(model, TextSearch) else TextSearch(model, tokenizer, config, cache)


def search(data, queries, model, *, tokenizer=None, config: SearchConfig | None = None, cache=None,
           progress: Progress = False) -> SearchResults:  # fmt: skip
    """Rank every recording's clips for each query (see `TextSearch.search`); ``model`` may be a `TextSearch`."""
    return _engine(model, tokenizer, config, cache).search(data, queries, progress=progress)


def similarity_trace(recording: Recording, queries, model, *, tokenizer=None, config: SearchConfig | None = None,
                     cache=None, progress: Progress = False) -> np.ndarray:  # fmt: skip
    """Per-frame similarity ``[T, Q]`` of one recording with each query (see `TextSearch.trace`)."""
    return _engine(model, tokenizer, config, cache).trace(recording, queries, progress=progress)


def zero_shot(data, behaviors, model, *, tokenizer=None, config: SearchConfig | None = None, cache=None,
              out: str | os.PathLike | None = None, templates: Sequence[str] | None = DEFAULT_TEMPLATES,
              progress: Progress = False) -> tuple[list[Predictions], list[tuple[str, str]]]:  # fmt: skip
    """Zero-shot `Predictions` for every recording of ``data``; returns them and the failures (name, reason).

    ``model`` is an LvT model, weights, or a `TextSearch` (then ``tokenizer``, ``config`` and
    ``cache`` are its own). A recording that fails is listed and the others go on. With ``out``,
    each recording's predictions go to ``OUT/<recording>.predictions.h5`` (the file `score` writes,
    read by `vpbehavior evaluate --predictions OUT` and the napari plugin), with ``zero_shot.json``
    (behaviors, phrasings, settings) and ``failures.csv`` beside them.
    """
    import json

    from vpbehavior._files import atomic_write_text
    from vpbehavior._outputs import write_failures
    from vpbehavior.features.cache import cache_path
    from vpbehavior.io.predictions import SUFFIX, write_predictions

    engine = _engine(model, tokenizer, config, cache)
    encoded = engine.behavior_queries(behaviors, templates)
    recordings, failures = as_recordings(data)
    preds = []
    with progress_reporter(progress if len(recordings) > 1 else False, "zero-shot", len(recordings), "rec") as bar:
        for rec in recordings:
            if rec.video is None:
                failures.append((rec.name, "no video attached"))
                continue
            try:
                pred = engine.zero_shot(rec, behaviors, encoded=encoded, progress=progress)
                if out is not None:
                    write_predictions(cache_path(out, rec.name, suffix=SUFFIX), pred)
                preds.append(pred)
            except INPUT_ERRORS as err:
                failures.append((rec.name, one_line(err)))
            bar.update()
    if out is not None:
        summary = {
            "format": "vpbehavior-zero-shot", "format_version": 1,
            "behaviors": {q.name: list(q.phrasings) for q in encoded[0]},
            "recordings": [p.recording for p in preds], "settings": engine.settings(),
            "temperature": engine.config.temperature, "failures": [{"recording": n, "reason": r} for n, r in failures],
        }  # fmt: skip
        atomic_write_text(Path(out) / "zero_shot.json", json.dumps(summary, indent=1))
        write_failures(Path(out) / "failures.csv", [(n, "zero-shot", r) for n, r in failures])
    return preds, failures
