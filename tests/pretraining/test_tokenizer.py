"""Reference checks for helpers.pretraining.tokenizer.

Oracles: transformers' pure-Python ``BertTokenizer`` (a separate WordPiece implementation) on
real Wikipedia sentences, its truncation and padding; the SHA-256 of bert-base-uncased's
vocab.txt and the ids every BERT user knows ([CLS] 101, [SEP] 102, [MASK] 103); invariants
of the sub-vocabulary (round trip, specials first).
"""

import doctest
import hashlib

import pytest
import torch

from helpers.data import load_corpus, split_sentences
from helpers.pretraining import minilm_path, tokenizer
from helpers.pretraining.tokenizer import (
    BERT_UNCASED_VOCAB_SHA256,
    SubVocabulary,
    WordPieceTokenizer,
    pad_batch,
)

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ours():
    return WordPieceTokenizer.from_minilm()


@pytest.fixture(scope="module")
def reference():
    slow = getattr(transformers, "BertTokenizerLegacy", transformers.BertTokenizer)  # pure Python in transformers >= 5
    return slow(vocab_file=str(minilm_path() / "vocab.txt"), do_lower_case=True)


@pytest.fixture(scope="module")
def sentences():
    docs = load_corpus("wikipedia")
    picked = [s for doc in docs[::7] for s in split_sentences(doc)[:25]]
    return picked + ["Crème brûlée in Zürich — naïve?", "数学 and 日本語", "e-mail: a@b.c; 3.14159 ≈ π", "", "   "]


def test_docstring_examples():
    assert doctest.testmod(tokenizer).failed == 0


def test_the_vocabulary_is_bert_base_uncased(ours):
    digest = hashlib.sha256((minilm_path() / "vocab.txt").read_bytes()).hexdigest()
    assert digest == BERT_UNCASED_VOCAB_SHA256
    assert (ours.pad_id, ours.unk_id, ours.cls_id, ours.sep_id, ours.mask_id) == (0, 100, 101, 102, 103)
    assert ours.token_to_id("the") == 1996 and len(ours) == 30522


def test_ids_equal_the_python_bert_tokenizer(ours, reference, sentences):
    got = ours.encode_batch(sentences)
    expected = [reference(s)["input_ids"] for s in sentences]
    mismatches = [(s, g, e) for s, g, e in zip(sentences, got, expected, strict=True) if g != e]
    assert not mismatches, mismatches[:2]
    assert len(sentences) > 300


def test_truncation_and_padding_equal_transformers(ours, reference, sentences):
    texts = sentences[:40]
    for max_length in (8, 32):
        expected = reference(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        batch = ours(texts, max_length=max_length)
        assert torch.equal(batch.ids, expected["input_ids"])
        assert torch.equal(batch.attention_mask, expected["attention_mask"])
        assert all(ids[-1] == ours.sep_id for ids in ours.encode_batch(texts, max_length))


def test_decode_and_tokens(ours):
    text = "the cat sat on the mat."
    assert ours.decode(ours.encode(text)) == text
    assert ours.tokens("Hello") == ["[CLS]", "hello", "[SEP]"]
    assert ours.decode(torch.tensor(ours.encode("Aardwolf"))) == "aardwolf"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        ours.token_to_id("no-such-token-here")
    with pytest.raises(ValueError, match="list of texts"):
        ours.encode_batch("one string")
    with pytest.raises(ValueError, match="max_length"):
        ours.encode("text", max_length=1)


def test_pad_batch():
    batch = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert batch.ids.tolist() == [[5, 6, 7], [8, 0, 0]] and batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert pad_batch([[1, 2, 3, 4]], max_length=2).ids.tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="at least one"):
        pad_batch([])


def test_sub_vocabulary_round_trip(ours, sentences):
    stream = torch.tensor([i for ids in ours.encode_batch(sentences) for i in ids])
    sub = SubVocabulary(stream, ours.special_ids, ours.unk_id, min_count=2, vocab_size=len(ours))
    assert sub.decode(torch.arange(5)).tolist() == list(ours.special_ids)
    counts = torch.bincount(stream, minlength=len(ours))
    frequent = counts >= 2
    back = sub.decode(sub.encode(stream))
    kept = frequent[stream] | torch.isin(stream, torch.tensor(ours.special_ids))
    assert torch.equal(back[kept], stream[kept])
    assert (back[~kept] == ours.unk_id).all()
    assert len(sub) == int(frequent.sum()) + sum(1 for i in ours.special_ids if not frequent[i])
    with pytest.raises(ValueError, match="beyond"):
        sub.encode(torch.tensor([len(ours)]))
