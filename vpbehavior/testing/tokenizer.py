"""A small SentencePiece model trained on the fly, with the ids the LvT tokenizer expects, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def train_sentencepiece(
    lines: Iterable[str], folder: str | Path, vocab_size: int, model_type: str = "unigram", **options
) -> Path:
    """Train ``<folder>/m.model`` on ``lines`` (unk 0, BOS 1, EOS 2, no pad, as the released LvT tokenizer)."""
    import sentencepiece as spm

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "m"), vocab_size=vocab_size, model_type=model_type,
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, minloglevel=2, **options,
    )  # fmt: skip
    return folder / "m.model"
