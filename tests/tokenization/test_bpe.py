"""Training: the incremental trainer equals the naive one and Hugging Face's BPE trainer.

Oracles:
- the naive trainer (recount every pair after every merge), on random corpora (hypothesis and
  seeded) and on real ones (news, Wikipedia, Python source);
- Hugging Face ``tokenizers``' ``BpeTrainer`` with its byte-level pre-tokenizer (GPT-2's
  pattern): the same merges in the same order, once our ids are laid out like its alphabet
  (it sorts the 256 byte symbols by GPT-2's byte-to-Unicode characters and breaks ties by the
  smallest pair of its ids, as we do by ours);
- worked examples: Sennrich et al. (2016)'s low/lower/newest/widest toy corpus.
"""

from __future__ import annotations

import json
import random
import warnings
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.data import load_corpus
from helpers.tokenization import (
    GPT2_PATTERN,
    best_pair,
    chunk_counts,
    encode_chunk,
    merge,
    pair_counts,
    split_text,
    train,
    train_fast,
    train_naive,
)


def as_chunks(texts, pattern=GPT2_PATTERN):
    return Counter({tuple(c): n for c, n in chunk_counts(texts, pattern).items()})


def test_sennrich_worked_example():
    # Sennrich et al. 2016, figure 1: {low: 5, lower: 2, newest: 6, widest: 3}; the first merges
    # are (e, s), (es, t), then (est, </w>) in the paper, whose end-of-word marker we replace
    # by the chunk boundary, so the third merge is (l, o).
    chunks = {tuple(w.encode()): n for w, n in {"low": 5, "lower": 2, "newest": 6, "widest": 3}.items()}
    merges = train_naive(chunks, 3)
    assert merges[:2] == [(ord("e"), ord("s")), (256, ord("t"))]
    assert merges[2] == (ord("l"), ord("o"))
    assert train_fast(chunks, 3) == merges


def test_pair_counts_and_merge_by_hand():
    assert pair_counts({(1, 1, 1): 3}) == Counter({(1, 1): 6})  # overlapping windows count
    assert merge((1, 1, 1), (1, 1), 9) == (9, 1)
    assert merge((), (1, 2), 9) == ()
    assert best_pair({(5, 5): 3, (2, 7): 3, (2, 6): 3}) == (2, 6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 4), min_size=1, max_size=9), st.integers(1, 5)), max_size=25),
       st.integers(0, 30))  # fmt: skip
def test_fast_equals_naive_on_random_corpora(words, n_merges):
    chunks: Counter = Counter()
    for ids, n in words:
        chunks[tuple(ids)] += n
    assert train_fast(chunks, n_merges) == train_naive(chunks, n_merges)


@pytest.mark.parametrize("seed", range(3))
def test_fast_equals_naive_on_random_text(seed):
    rng = random.Random(seed)
    alphabet = "ab c\n1é🙂"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(80)]
    chunks = as_chunks(texts, "gpt4")
    assert train_fast(chunks, 150) == train_naive(chunks, 150)


@pytest.mark.parametrize("corpus", ["news", "wikipedia", "python"])
def test_fast_equals_naive_on_real_text(corpus, python_source):
    texts = python_source[:3] if corpus == "python" else load_corpus(corpus)[:6]
    chunks = as_chunks(texts, "gpt4")
    assert train_fast(chunks, 100) == train_naive(chunks, 100)


def _hf_byte_order():
    """The id Hugging Face's byte-level BPE gives each byte: its alphabet is sorted by the
    characters of GPT-2's byte-to-Unicode table (printable bytes stand for themselves, the
    others for the code points 256 and up, in byte order)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    others = [b for b in range(256) if b not in printable]
    char = {b: b for b in printable} | {b: 256 + i for i, b in enumerate(others)}
    return {b: rank for rank, b in enumerate(sorted(range(256), key=char.get))}, char


@pytest.mark.parametrize("corpus, n_merges", [("news", 1500), ("wikipedia", 800)])
def test_equal_to_huggingface_bpe_trainer(corpus, n_merges):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = load_corpus(corpus)[:40]
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=256 + n_merges, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)  # fmt: skip
    hf.train_from_iterator(texts, trainer)
    model = json.loads(hf.to_str())["model"]
    vocab = model["vocab"]
    hf_merges = [(vocab[a], vocab[b]) for a, b in model["merges"]]
    assert len(hf_merges) == n_merges

    order, char = _hf_byte_order()
    assert all(vocab[chr(char[b])] == order[b] for b in range(256))
    # Same pre-tokenization (HF's byte-level regex is GPT-2's pattern).
    byte_of = {chr(c): b for b, c in char.items()}
    for text in texts[:10]:
        theirs = [bytes(byte_of[ch] for ch in piece) for piece, _ in hf.pre_tokenizer.pre_tokenize_str(text)]
        assert theirs == [piece.encode() for piece in split_text(text, GPT2_PATTERN)]
    chunks = Counter({tuple(order[b] for b in c): n for c, n in chunk_counts(texts, GPT2_PATTERN).items()})
    assert train_fast(chunks, n_merges) == hf_merges


def test_train_api_round_trip_and_errors():
    text = " ".join(load_corpus("news")[:20])
    tok = train(text, 400, special_tokens=["<|endoftext|>"])
    assert len(tok.merges) == 144 and tok.special_tokens == {"<|endoftext|>": 400} and tok.n_vocab == 401
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(text)) < 0.7 * len(text.encode())  # 144 merges already save a third
    for bad in (255, 300.0, True, "1000"):
        with pytest.raises(ValueError, match="vocab_size"):
            train(text, bad)
    with pytest.raises(ValueError, match="str"):
        train([b"bytes"], 300)
    with pytest.raises(ValueError, match="special token ids"):
        train(text, 300, special_tokens={"<|x|>": 10})


def test_special_tokens_are_never_learned():
    text = "<|endoftext|>ab" * 50
    with pytest.warns(UserWarning, match="ran out of pairs"):
        tok = train(text, 300, special_tokens=["<|endoftext|>"])
    learned = {tok.vocab[i] for i in tok.vocab if i >= 256}
    assert learned == {b"ab"}  # "<|" would be the most frequent pair if it were not cut out


def test_running_out_of_pairs_warns_and_keeps_the_merges():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tok = train("abab", 1000)
    assert len(tok.merges) == 2 and any("ran out of pairs" in str(w.message) for w in caught)
    assert tok.encode("abab") == [257]


def test_naive_flag_gives_the_same_tokenizer():
    texts = load_corpus("news")[:10]
    assert train(texts, 350, naive=True).merges == train(texts, 350).merges


def test_encode_chunk_replays_training():
    # Encoding a training chunk with the learned merges gives what training made of it.
    texts = load_corpus("news")[:30]
    chunks = as_chunks(texts, "gpt4")
    merges = train_fast(chunks, 300)
    ranks = {p: 256 + k for k, p in enumerate(merges)}
    state = dict(chunks)
    for k, pair in enumerate(merges):
        state = {merge(ids, pair, 256 + k): n for ids, n in state.items()}
    for original, final in zip(chunks, state, strict=True):
        assert tuple(encode_chunk(original, ranks)) == final
