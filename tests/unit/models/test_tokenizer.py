"""Text canonicalisation and tokenisation against the official behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vpbehavior.models import Tokenizer, canonicalize_text, tokenize_texts
from vpbehavior.testing.fixtures import find_shared_dir

FIX = (find_shared_dir() or Path("no-shared-dir")) / "fixtures" / "videoprism_parity" / "tokenizer_io.json"
pytestmark = pytest.mark.skipif(not FIX.is_file(), reason="tokenizer fixture not available")


@pytest.fixture(scope="module")
def ref():
    return json.loads(FIX.read_text())


def test_canonicalization_matches_official(ref):
    assert [canonicalize_text(t) for t in ref["texts"]] == ref["canonicalized"]


def test_padding_truncation_and_bos_logic(ref):
    """A fake piece encoder that returns the reference pieces (no BOS) of each text.

    The SentencePiece test model itself is not shipped, so this checks our BOS,
    truncation and padding rules on top of the reference ids, not the piece split.
    """
    no_bos = ref["no_bos"]
    pieces = {}
    for text, ids, pads in zip(ref["canonicalized"], no_bos["ids"], no_bos["paddings"], strict=True):
        pieces[text] = [i for i, p in zip(ids, pads, strict=True) if p == 0.0]
    seen = []

    def encode(text):
        seen.append(text)
        return pieces[text]

    ids, pads = tokenize_texts(encode, ref["texts"], max_length=12, bos_id=1)
    assert seen == ref["canonicalized"]
    np.testing.assert_array_equal(ids, ref["default"]["ids"])
    np.testing.assert_array_equal(pads, ref["default"]["paddings"])
    assert ids.dtype == np.int32 and pads.dtype == np.float32
    ids, pads = tokenize_texts(encode, ref["texts"], max_length=12, bos_id=None)
    np.testing.assert_array_equal(ids, no_bos["ids"])
    np.testing.assert_array_equal(pads, no_bos["paddings"])


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    pytest.importorskip("sentencepiece")
    from vpbehavior.testing.tokenizer import train_sentencepiece

    words = "a mouse grooming its face then walking fly courtship chasing rearing video of"
    lines = [" ".join(np.random.default_rng(i).permutation(words.split())) + "." for i in range(200)]
    return train_sentencepiece(lines, tmp_path_factory.mktemp("spm"), vocab_size=30)


def test_sentencepiece_tokenizer_end_to_end(spm_model):
    tok = Tokenizer(spm_model, max_length=32)
    assert tok.bos_id == 1 and tok.vocab_size == 30
    ids, pads = tok(["A mouse, grooming!", "fly " * 40])
    assert ids.shape == (2, 32) and pads.shape == (2, 32)
    assert ids[0, 0] == 1 and ids[1, 0] == 1
    n = int((pads[0] == 0).sum())
    assert n < 32
    assert tok.sp.decode(ids[0, 1:n].tolist()) == "a mouse grooming."
    assert (ids[0, n:] == 0).all() and (pads[0, n:] == 1).all()
    assert (pads[1] == 0).all()  # truncated, no end token added
    assert 2 not in ids[1].tolist()
    no_bos = Tokenizer(spm_model, max_length=32, add_bos=False)
    ids2, _ = no_bos("A mouse, grooming!")
    assert ids2[0, : n - 1].tolist() == ids[0, 1:n].tolist()


def test_tokenizer_missing_model_file(tmp_path):
    pytest.importorskip("sentencepiece")
    with pytest.raises(FileNotFoundError):
        Tokenizer(tmp_path / "nope.model")
