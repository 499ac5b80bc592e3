"""Text queries: what to look for, in one or several phrasings, and their LvT text embeddings.

A query has a name (the column in results, the class in zero-shot predictions) and one or
more phrasings; the query's embedding is the mean of its phrasings' L2-normalised text
embeddings, normalised again (prompt ensembling, as CLIP does with its templates).

A query file is plain text, one query per line; blank lines and lines starting with ``#``
are skipped::

    two flies fighting
    grooming: a mouse grooming | a mouse licking its fur | a mouse washing its face

or JSON: a list of strings, or an object ``{"name": "phrasing"}`` / ``{"name": ["a", "b"]}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vpbehavior.core.errors import ConfigError, DataError, MissingFileError
from vpbehavior.core.names import name_key

#: Phrasings a bare behavior name is put into when templates are asked for (zero-shot mode).
DEFAULT_TEMPLATES = (
    "{}",
    "a video of {}",
    "a video of an animal {}",
    "animals {} in a video",
    "a clip of {} behavior",
)


@dataclass(frozen=True)
class Query:
    """One thing to look for: ``name`` and the ``phrasings`` whose embeddings are averaged."""

    name: str
    phrasings: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", str(self.name).strip())
        object.__setattr__(self, "phrasings", tuple(str(p).strip() for p in self.phrasings))
        if not self.name:
            raise ConfigError("a query needs a name (an empty query was given)")
        if not self.phrasings or not all(self.phrasings):
            raise ConfigError(f"query {self.name!r} has an empty phrasing")

    @classmethod
    def parse(cls, text: str) -> Query:
        """``"name: phrasing | phrasing"`` or a bare phrasing (which is also its name)."""
        text = text.strip()
        name, sep, rest = text.partition(":")
        if sep and rest.strip():
            return cls(name, tuple(p for p in (s.strip() for s in rest.split("|")) if p) or (name,))
        return cls(text, tuple(p for p in (s.strip() for s in text.split("|")) if p) or (text,))

    def with_templates(self, templates: Sequence[str] = DEFAULT_TEMPLATES) -> Query:
        """Every phrasing put into every template (``"{}"`` keeps the phrasing itself)."""
        out = [t.format(p) for p in self.phrasings for t in templates]
        return Query(self.name, tuple(dict.fromkeys(out)))


QueryLike = str | Query


def as_queries(queries: QueryLike | Iterable[QueryLike] | Mapping[str, str | Sequence[str]]) -> list[Query]:
    """A list of distinct-named `Query` from strings (``"name: a | b"``), queries or a name -> phrasings map."""
    if isinstance(queries, (str, Query)):
        queries = [queries]
    if isinstance(queries, Mapping):
        items = [Query(k, (v,) if isinstance(v, str) else tuple(v)) for k, v in queries.items()]
    else:
        items = [q if isinstance(q, Query) else Query.parse(str(q)) for q in queries]
    if not items:
        raise ConfigError("no query given")
    seen: dict[str, str] = {}
    for q in items:
        key = name_key(q.name)
        if key in seen:
            raise ConfigError(f"two queries are named {q.name!r}; give each its own name (name: phrasing)")
        seen[key] = q.name
    return items


def read_query_file(path: str | os.PathLike) -> list[Query]:
    """Queries from a text or JSON file (see the module docstring); errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: query file not found", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not a UTF-8 text file ({err})", path) from None
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"invalid JSON at line {err.lineno} column {err.colno} ({err.msg})", path) from None
        if isinstance(obj, list) and all(isinstance(v, str) for v in obj):
            source: object = obj
        elif isinstance(obj, dict) and all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(p, str) for p in v)) for v in obj.values()
        ):
            source = obj
        else:
            raise DataError('expected a list of strings or {"name": "phrasing" or ["phrasing", ...]}', path)
        try:
            return as_queries(source)
        except ConfigError as err:
            raise DataError(str(err), path) from None
    items = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            items.append(Query.parse(line))
        except ConfigError as err:
            raise DataError(f"line {lineno}: {err}", path) from None
    try:
        return as_queries(items)
    except ConfigError as err:
        raise DataError(str(err), path) from None


# ------------------------------------------------------------------ text embeddings
def open_tokenizer(tokenizer, model):
    """A `Tokenizer` from a path (or the tokenizer itself), checked to fit ``model``'s text tower."""
    from vpbehavior.models.tokenizer import Tokenizer

    if not getattr(model.config, "is_lvt", False):
        raise ConfigError(
            f"text search needs a video-text (LvT) model such as videoprism_lvt_public_v1_base; "
            f"{getattr(model, 'origin', model.config.name)} has no text tower"
        )
    if tokenizer is None:
        raise ConfigError(
            "text search needs the text tower's SentencePiece model: pass --tokenizer path/to/spm.model "
            "(c4_en, gs://t5-data/vocabs/cc_en.32000/sentencepiece.model, for the released LvT models)"
        )
    if not isinstance(tokenizer, Tokenizer):
        if not Path(tokenizer).is_file():
            raise MissingFileError(f"{tokenizer}: SentencePiece model not found", tokenizer)
        try:
            tokenizer = Tokenizer(tokenizer)
        except (RuntimeError, OSError) as err:
            raise DataError(f"not a SentencePiece model ({err})", tokenizer) from None
    if tokenizer.vocab_size > model.config.vocabulary_size:
        raise ConfigError(
            f"the tokenizer has {tokenizer.vocab_size} pieces but the model's text tower only "
            f"{model.config.vocabulary_size} embeddings: it is not this model's tokenizer"
        )
    return tokenizer


def encode_queries(model, tokenizer, queries: Sequence[Query], batch_size: int = 64) -> np.ndarray:
    """L2-normalised ``float32 [Q, D]``: each query's phrasings embedded, averaged and normalised again."""
    import torch

    phrasings = [p for q in queries for p in q.phrasings]
    parts = []
    with torch.inference_mode():
        for i in range(0, len(phrasings), batch_size):
            ids, pads = tokenizer(phrasings[i : i + batch_size])
            parts.append(model.encode_text(ids, pads, normalize=True).float().cpu().numpy())
    emb = np.concatenate(parts)
    out, at = [], 0
    for q in queries:
        mean = emb[at : at + len(q.phrasings)].mean(0)
        out.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        at += len(q.phrasings)
    return np.stack(out).astype(np.float32)
