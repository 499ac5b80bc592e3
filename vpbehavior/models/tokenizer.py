"""Text canonicalisation and SentencePiece tokenisation for the LvT text tower.

The released LvT models use the SentencePiece ``c4_en`` vocabulary (32k), which is not
shipped here: pass the ``.model`` file to :class:`Tokenizer`.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Sequence

import numpy as np

_PUNCT = re.compile("[" + re.escape(string.punctuation) + "]")
_SPACES = re.compile(r"\s+")


def canonicalize_text(text: str) -> str:
    """Official canonicalisation: punctuation -> spaces, lowercase, collapse whitespace,
    strip, then append ``"."``."""
    text = _PUNCT.sub(" ", text)
    text = _SPACES.sub(" ", text.lower()).strip()
    return text + "."


def pad_ids(ids: Sequence[Sequence[int]], max_length: int, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Truncate / right-pad id lists to ``max_length``.

    Returns ``ids int32 [B, L]`` and ``paddings float32 [B, L]`` (1.0 at padded positions).
    No end token is added to truncated texts.
    """
    out = np.full((len(ids), max_length), pad_id, dtype=np.int32)
    paddings = np.ones((len(ids), max_length), dtype=np.float32)
    for i, seq in enumerate(ids):
        seq = list(seq)[:max_length]
        out[i, : len(seq)] = seq
        paddings[i, : len(seq)] = 0.0
    return out, paddings


def tokenize_texts(
    encode: Callable[[str], Sequence[int]],
    texts: Sequence[str],
    max_length: int = 64,
    bos_id: int | None = None,
    canonicalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Tokenise a batch with any ``encode(text) -> ids`` callable.

    ``bos_id`` (if not None) is prepended before truncation, as the official code does.
    """
    if isinstance(texts, str):
        texts = [texts]
    seqs = []
    for text in texts:
        if canonicalize:
            text = canonicalize_text(text)
        ids = list(encode(text))
        if bos_id is not None:
            ids = [bos_id, *ids]
        seqs.append(ids)
    return pad_ids(seqs, max_length)


class Tokenizer:
    """SentencePiece tokenizer producing ``(ids, paddings)`` for ``encode_text``.

    Parameters
    ----------
    model_file : path
        A SentencePiece ``.model`` file (``c4_en`` for the released LvT models).
    max_length : int
        Output length (64 for the released models).
    add_bos : bool
        Prepend BOS when the model defines one (official default).
    """

    def __init__(self, model_file: str | os.PathLike, max_length: int = 64, add_bos: bool = True) -> None:
        try:
            import sentencepiece as spm
        except ImportError as err:  # pragma: no cover - environment dependent
            raise ImportError("the text tokenizer needs `pip install sentencepiece`") from err
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f"no SentencePiece model at {model_file}")
        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.max_length = max_length
        self.add_bos = add_bos

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def bos_id(self) -> int | None:
        """BOS id if the model defines one and ``add_bos`` is on, else None."""
        bos = self.sp.bos_id()
        return bos if (self.add_bos and bos >= 0) else None

    def encode(self, text: str) -> list[int]:
        """Ids of one (already canonicalised) text, without BOS/EOS."""
        return list(self.sp.encode(text, out_type=int))

    def __call__(self, texts: str | Sequence[str], max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids int32 [B, L], paddings float32 [B, L])`` for a text or a list of texts."""
        return tokenize_texts(self.encode, texts, max_length or self.max_length, bos_id=self.bos_id)
