"""Find moments by text: zero-shot search over recordings with the LvT video-text model.

    import vpbehavior as vpb

    lvt = vpb.load_encoder("videoprism_lvt_public_v1_base")
    found = vpb.search("experiment/", ["a mouse grooming", "two mice fighting"], lvt, tokenizer="c4_en.model",
                       cache="clips")                      # -> SearchResults (hits per query, best first)
    found.write("search_out", labels=True)                 # hits.csv / .json / .html, candidates/*.behavior.json
    engine = vpb.TextSearch(lvt, "c4_en.model", cache="clips")
    trace = engine.trace(recording, ["grooming"])          # per-frame similarity [T, 1] for the ethogram
    pred = engine.zero_shot(recording, ["grooming", "attack", "other"])   # Predictions, like a classifier's

Clip embeddings are computed once per recording and cached (`vpbehavior.search.embeddings`);
queries are text embeddings, averaged over their phrasings (`vpbehavior.search.queries`).
"""

from vpbehavior._modules import call_through

from .config import SearchConfig
from .embeddings import ClipEmbeddings, embed_recording, read_clip_embeddings
from .queries import DEFAULT_TEMPLATES, Query, as_queries, encode_queries, read_query_file
from .results import SearchHit, SearchResults
from .run import TextSearch, search, similarity_trace, zero_shot

call_through(__name__, search)  # ``vpbehavior.search(...)`` stays the function once this package is imported

__all__ = [
    "DEFAULT_TEMPLATES",
    "ClipEmbeddings",
    "Query",
    "SearchConfig",
    "SearchHit",
    "SearchResults",
    "TextSearch",
    "as_queries",
    "embed_recording",
    "encode_queries",
    "read_clip_embeddings",
    "read_query_file",
    "search",
    "similarity_trace",
    "zero_shot",
]
