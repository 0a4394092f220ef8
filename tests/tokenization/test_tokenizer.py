"""The tokenizer object: round trips, special tokens, save/load, truncation, clear errors.

Invariants: ``decode(encode(x)) == x`` for any string (hypothesis) and any pattern; a saved and
loaded tokenizer encodes identically; the first ``k`` merges of a big training run are what a
training run to ``256 + k`` tokens learns; a bad file or bad argument gets a ``ValueError``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.data import load_corpus
from helpers.tokenization import Tokenizer, load, train

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def trained():
    return {pattern: train(load_corpus("news")[:100], 1000, pattern=pattern, special_tokens=["<|endoftext|>", "<|pad|>"])
            for pattern in ("gpt2", "gpt4")}  # fmt: skip


@SETTINGS
@given(st.text(max_size=300))
def test_round_trip_any_string(trained, text):
    for tok in trained.values():
        assert tok.decode(tok.encode(text, disallowed_special=())) == text


@SETTINGS
@given(st.lists(st.sampled_from(["<|endoftext|>", "<|pad|>", "a b", "🙂", " \n", "the cat"]), max_size=12))
def test_round_trip_with_special_tokens(trained, pieces):
    tok = trained["gpt4"]
    text = "".join(pieces)
    ids = tok.encode(text, allowed_special="all")
    assert tok.decode(ids) == text
    assert ids.count(tok.special_tokens["<|endoftext|>"]) == text.count("<|endoftext|>")


def test_special_token_rules(trained):
    tok = trained["gpt4"]
    eot = tok.special_tokens["<|endoftext|>"]
    assert tok.special_tokens == {"<|endoftext|>": 1000, "<|pad|>": 1001}
    with pytest.raises(ValueError, match="allowed_special"):
        tok.encode("hi <|endoftext|>")
    assert tok.encode("hi <|endoftext|>", allowed_special={"<|endoftext|>"})[-1] == eot
    plain = tok.encode("hi <|endoftext|>", disallowed_special=())
    assert eot not in plain and tok.decode(plain) == "hi <|endoftext|>"
    with pytest.raises(ValueError, match="<\\|pad\\|>"):
        tok.encode("<|pad|>", allowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError, match="str"):
        tok.encode(b"bytes")


def test_save_and_load(trained, tmp_path):
    text = " ".join(load_corpus("news")[100:120])
    for pattern, tok in trained.items():
        path = tok.save(tmp_path / f"{pattern}.json")
        again = load(path)
        assert again.merges == tok.merges and again.pattern == tok.pattern
        assert again.special_tokens == tok.special_tokens and again.byte_ids == tok.byte_ids
        assert again.encode(text) == tok.encode(text)
    assert not list(tmp_path.glob("*.tmp"))


def test_load_gives_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no tokenizer file"):
        load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a tokenizer file"):
        load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"model": "x"}))
    with pytest.raises(ValueError, match="not a tokenizer file"):
        load(tmp_path / "other.json")
    (tmp_path / "future.json").write_text(json.dumps({"format": "nextword-bpe", "version": 99}))
    with pytest.raises(ValueError, match="version"):
        load(tmp_path / "future.json")


def test_truncated_equals_training_to_a_smaller_vocabulary(trained):
    texts = load_corpus("news")[:100]
    small = train(texts, 500, pattern="gpt4")
    cut = trained["gpt4"].truncated(500)
    assert cut.merges == small.merges
    doc = load_corpus("news")[150]
    assert cut.encode(doc) == small.encode(doc)
    with pytest.raises(ValueError, match="vocab_size"):
        trained["gpt4"].truncated(5000)


def test_compression_improves_with_vocabulary(trained):
    held_out = " ".join(load_corpus("news")[200:])
    lengths = [len(trained["gpt4"].truncated(v).encode(held_out)) for v in (256, 300, 500, 1000)]
    assert lengths[0] == len(held_out.encode()) and lengths == sorted(lengths, reverse=True)


def test_bad_construction_and_decoding():
    with pytest.raises(ValueError, match="no earlier merge"):
        Tokenizer({(256, 97): 257})
    with pytest.raises(ValueError, match="already exists"):
        Tokenizer({(97, 98): 98})
    with pytest.raises(ValueError, match="already ordinary"):
        Tokenizer({}, special_tokens={"<|x|>": 5})
    with pytest.raises(ValueError, match="256 distinct"):
        Tokenizer({}, byte_ids=[0] * 256)
    with pytest.raises(ValueError, match="cache_size"):
        Tokenizer({}, cache_size=-1)
    tok = Tokenizer({(104, 105): 256})
    assert tok.decode([256, 33]) == "hi!" and tok.pieces("hi!") == [(256, "hi"), (33, "!")]
    with pytest.raises(ValueError, match="token id 999"):
        tok.decode([999])
    assert tok.decode([0xE2]) == "\ufffd"  # half a character: replaced, as in tiktoken
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xE2], errors="strict")


def test_whole_token_lookup_changes_nothing(trained):
    texts = load_corpus("news")[200:230]
    plain = Tokenizer(trained["gpt4"].merges, "gpt4", cache_size=0, whole_tokens="off")
    assert plain._whole == {}
    assert len(trained["gpt4"]._whole) == len(trained["gpt4"].vocab)  # every trained token passes the check
    for text in texts:
        assert trained["gpt4"].encode_ordinary(text) == plain.encode_ordinary(text)
    with pytest.raises(ValueError, match="whole_tokens"):
        Tokenizer({}, whole_tokens="sometimes")


def test_whole_token_lookup_skips_tokens_merges_cannot_reach():
    # A hand-made table: 'bc' is merged before 'ab', so 'abc' (made from 'ab' + 'c') is never
    # produced by encoding; a blind lookup of 'abc' would differ from the merges.
    tok = Tokenizer({(98, 99): 256, (97, 98): 257, (257, 99): 258})
    assert b"abc" not in tok._whole and tok.encode("abc") == [97, 256]
    trusting = Tokenizer(tok.merges, whole_tokens="trust")
    assert trusting.encode("abc") == [258]  # what "trust" would get wrong: hence "verify"
