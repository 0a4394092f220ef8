"""The course leaderboard: one canonical string, probabilities that sum to at most 1, scores
equal to the weeks' own measures, and committed numbers that the cheap entries reproduce."""

from __future__ import annotations

import itertools
import math
import re

import pandas as pd
import pytest
import torch
from torch import nn

from helpers.course.cli import main
from helpers.course.leaderboard import (
    UNICODE_SIZE,
    CanonicalText,
    Context,
    Entry,
    OpenVocabularyLM,
    Registry,
    Score,
    Speller,
    Trained,
    canonical_corpus,
    canonicalize,
    causal_logprobs,
    char_score,
    encode_with_context,
    leaderboard_table,
    load_entries,
    ngram_logprobs,
    parse,
    plot_leaderboard,
    read_committed,
    recurrent_logprobs,
    run_leaderboard,
    unknown_char_bits,
)
from helpers.course.leaderboard.board import readme_table
from helpers.data import Vocab, load_corpus, split_documents, split_sentences, tokenize
from helpers.ngrams import NGramLM
from helpers.rnn import CharLM, CharLMConfig, stream_loss
from helpers.transformer import GPT, GPTConfig, evaluate_loss

CHEAP = ["unigram", "kn3", "kn5", "char-bigram"]


@pytest.fixture(scope="module")
def corpus():
    return canonical_corpus()


@pytest.fixture(scope="module")
def cheap_models(corpus):
    """The cheap entries, trained once for the tests below (seconds each)."""
    registry = load_entries()
    return {key: registry[key].train(Context(corpus, seed=0)) for key in CHEAP}


# ------------------------------------------------------------------ the canonical text
def test_canonical_text_is_week_one_sentences_one_per_line(corpus):
    test_docs = split_documents(load_corpus("wikipedia"), seed=0).test
    week1 = [tokens for doc in test_docs for s in split_sentences(doc) if (tokens := tokenize(s))]  # week 1's sentences_of
    assert [list(s) for s in corpus.test.sentences] == week1
    text = corpus.test.text
    assert len(text) == corpus.test.n_chars == sum(len(w) + 1 for s in week1 for w in s)
    assert "  " not in text and "\n\n" not in text and text == text.lower()
    assert parse(text) == corpus.test
    assert corpus.test.n_tokens == corpus.test.n_words + corpus.test.n_sentences


def test_canonical_text_rejects_what_is_not_canonical():
    for bad in ("the cat", "the  cat\n", "the cat\n\nsat\n"):
        with pytest.raises(ValueError, match="canonical|empty"):
            parse(bad)
    with pytest.raises(ValueError, match="white space"):
        CanonicalText((("a b",),))
    with pytest.raises(ValueError, match="one string"):
        canonicalize("Not a list.")


# ------------------------------------------------------------------ word models: no free bits
TINY_TRAIN = [("a", "b"), ("a", "a", "b"), ("b",), ("ab", "a"), ("b", "a"), ("ba",), ("a", "bb"), ("b", "b", "a")]


def _sentence_strings(max_chars: int):
    """Every canonical one-sentence string over the letters a, b of at most ``max_chars``
    characters (the newline included), as tuples of words."""
    for n in range(1, max_chars):  # n characters before the newline
        for letters in itertools.product("ab ", repeat=n):
            line = "".join(letters)
            if not line.startswith(" ") and not line.endswith(" ") and "  " not in line:
                yield tuple(line.split(" "))


def _total_probability(model: OpenVocabularyLM, max_chars: int) -> float:
    return sum(2 ** -model.score(CanonicalText((s,))).bits for s in _sentence_strings(max_chars))


def _tiny_word_model(speller):
    lm = NGramLM(2, smoothing="kneser-ney", min_count=2, discounts=(0.5, 1.0, 1.5)).fit(TINY_TRAIN)
    assert set(lm.vocab) == {"a", "b", "<unk>"}  # ab, ba and bb were seen once
    return OpenVocabularyLM(ngram_logprobs(lm), lm.vocab, speller, lm)


def test_a_word_model_with_a_speller_sums_to_at_most_one_over_all_strings():
    speller = Speller(order=3).fit(["ab", "ba", "bb"])
    model = _tiny_word_model(speller)
    totals = [_total_probability(model, n) for n in (6, 8, 10)]
    assert totals[0] < totals[1] < totals[2] <= 1.0  # longer strings add mass, never past 1
    assert totals[2] > 0.6  # most of the mass is on strings of the letters it was trained on


class _FreeSpeller(Speller):
    """What a leaderboard must not do: score every unknown word as P(<unk> | h) alone."""

    def bits(self, word: str) -> float:
        return 0.0


def test_the_sum_check_catches_free_bits_from_unk():
    model = _tiny_word_model(_FreeSpeller().fit(["ab"]))
    assert _total_probability(model, 8) > 1.5


def test_the_speller_prices_unknown_characters_by_code_point():
    speller = Speller(order=2).fit(["ab", "ba"])
    assert speller.bits("ζ") == speller.bits("ж") > speller.bits("a") + unknown_char_bits(2) - 8
    # one-character words are some of its strings: their probabilities, over every code point, sum below 1
    one_char = 2 ** -speller.bits("a") + 2 ** -speller.bits("b") + (UNICODE_SIZE - 2) * 2 ** -speller.bits("ζ")
    assert 0.05 < one_char < 1
    assert math.isclose(unknown_char_bits(2), math.log2(UNICODE_SIZE - 2))


def test_kneser_ney_entry_equals_week_one_perplexity(corpus, cheap_models):
    trained = cheap_models["kn3"]
    model, lm = trained.model, trained.model.word_model
    vocab = set(lm.vocab)
    # held-out sentences without an unknown word: the open-vocabulary score is week 1's number
    known = CanonicalText(tuple(s for s in corpus.validation.sentences if all(w in vocab for w in s)))
    assert known.n_sentences > 300
    score = model.score(known)
    assert score.spelled == 0
    assert math.isclose(2 ** (score.bits / known.n_tokens), lm.perplexity(known.sentences), rel_tol=1e-9)
    # the test text has unknown words: the <unk> perplexity is still week 1's, and the spelling costs come on top
    test_score = model.score(corpus.test)
    assert math.isclose(test_score.unk_perplexity, lm.perplexity(corpus.test.sentences), rel_tol=1e-9)
    unk_bits = corpus.test.n_tokens * math.log2(test_score.unk_perplexity)
    spelled = [w for s in corpus.test.sentences for w in s if w not in vocab]
    assert test_score.spelled == len(spelled) > 0
    assert math.isclose(test_score.bits, unk_bits + sum(model.speller.bits(w) for w in spelled), rel_tol=1e-9)


# ------------------------------------------------------------------ character models
class _Uniform(nn.Module):
    """Equal logits for every id; a recurrent version returns a (dummy) state too."""

    def __init__(self, V: int, recurrent: bool = False):
        super().__init__()
        self.V, self.recurrent, self.dummy = V, recurrent, nn.Parameter(torch.zeros(1))

    def forward(self, ids, state=None):
        logits = torch.zeros(*ids.shape, self.V) + 0 * self.dummy
        return (logits, state) if self.recurrent else logits


def test_a_uniform_character_model_scores_log2_of_its_alphabet():
    text = "the cat sat\non the mat\n"
    vocab = Vocab.from_text(text)  # 10 characters + the unknown symbol
    ids = encode_with_context(vocab, text)
    for model in (_Uniform(len(vocab)), _Uniform(len(vocab), recurrent=True)):
        logprobs = causal_logprobs(model, ids, block_size=8) if not model.recurrent else recurrent_logprobs(model, ids, streams=3)
        score = char_score(logprobs, ids[1:], vocab)
        assert score.chars == len(text) and score.spelled == 0
        assert math.isclose(score.bits_per_char, math.log2(len(vocab)), rel_tol=1e-6)
    # a character outside the vocabulary pays for its code point as well
    ids = encode_with_context(vocab, "the zoo\n")
    score = char_score(causal_logprobs(_Uniform(len(vocab)), ids, 8), ids[1:], vocab)
    n_known = len(vocab) - 1
    assert score.spelled == 1  # z (the second o is known)
    assert math.isclose(score.bits, 8 * math.log2(len(vocab)) + math.log2(UNICODE_SIZE - n_known), rel_tol=1e-6)


def test_a_character_distribution_with_the_fallback_sums_to_one():
    vocab = Vocab.from_text("abcab c\n")
    logp = torch.log_softmax(torch.randn(len(vocab), generator=torch.Generator().manual_seed(0), dtype=torch.float64), dim=0)
    known = [t for t in vocab.tokens if t != vocab.unk]
    total = sum(2 ** -char_score(logp[[vocab.index[c]]], vocab.encode(c), vocab).bits for c in known)
    unknown = char_score(logp[[vocab.unk_id]], vocab.encode("q"), vocab).bits  # any code point outside
    total += (UNICODE_SIZE - len(known)) * 2**-unknown
    assert math.isclose(total, 1.0, rel_tol=1e-9)


def _tiny_gpt(T=8, V=7):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=2, n_head=2, n_embd=16)).eval()


def test_sliding_window_gives_each_target_its_window_of_context():
    T, model = 8, _tiny_gpt()
    ids = torch.randint(0, 7, (30,), generator=torch.Generator().manual_seed(1))
    full = causal_logprobs(model, ids, T, stride=1)  # every target with as much context as fits
    with torch.no_grad():
        expected = torch.stack([
            torch.log_softmax(model(ids[max(0, t - T) : t][None])[0, -1], dim=-1)[ids[t]] for t in range(1, len(ids))
        ])  # fmt: skip
    torch.testing.assert_close(full, expected, atol=1e-5, rtol=1e-5)
    for stride in (2, 3, 5, 8):
        out = causal_logprobs(model, ids, T, stride=stride, batch_size=2)
        assert out.shape == (29,) and not out.isnan().any()
    # windows side by side (stride = block size) are week 5's evaluate_loss
    ids = ids[: 3 * T + 1]
    torch.testing.assert_close(-causal_logprobs(model, ids, T, stride=T).mean().item(), evaluate_loss(model, ids, T), atol=1e-6, rtol=1e-6)


def test_recurrent_scoring_is_one_pass_and_matches_week_three_stream_loss():
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size=6, hidden_size=12, embed_dim=4)).eval()
    ids = torch.randint(0, 6, (41,), generator=torch.Generator().manual_seed(2))
    chunked = recurrent_logprobs(model, ids, streams=1, chunk=7)
    with torch.no_grad():
        one_pass = torch.log_softmax(model(ids[None, :-1])[0][0], dim=-1).gather(-1, ids[1:, None])[:, 0]
    torch.testing.assert_close(chunked, one_pass, atol=1e-5, rtol=1e-5)
    # 4 streams over 40 targets: the course's stream_loss reads the text the same way
    torch.testing.assert_close(-recurrent_logprobs(model, ids, streams=4, chunk=5).mean().item(),
                               stream_loss(model, ids, batch_size=4, bptt=5), atol=1e-6, rtol=1e-6)  # fmt: skip
    assert recurrent_logprobs(model, ids[:12], streams=5).shape == (11,)  # a padded last stream


# ------------------------------------------------------------------ registry, cache, committed table
class _UniformChars:
    def __init__(self, vocab):
        self.vocab = vocab

    def score(self, text):
        ids = encode_with_context(self.vocab, text.text)
        return char_score(torch.full((len(ids) - 1,), -math.log(len(self.vocab))), ids[1:], self.vocab)


def test_registry_runs_caches_and_loads_dependencies(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTWORD_CACHE", str(tmp_path))
    calls = []

    def train(ctx):
        calls.append(ctx.seed)
        return Trained(_UniformChars(Vocab.from_text(ctx.train.text, min_count=20)), 0.0, 0)

    def variant(ctx):
        base = ctx.trained("toy")
        return Trained(base.model, 0.0, base.parameters)

    registry = Registry()
    registry.add(Entry("toy", week=1, name="uniform characters", unit="character", train=train, cached=True))
    registry.add(Entry("toy-variant", week=11, name="the same, as a variant", unit="character", train=variant))
    first = run_leaderboard(registry=registry)
    second = run_leaderboard(registry=registry, upto="week02")
    assert calls == [0]  # trained once, then loaded from the cache
    assert list(first.key) == ["toy", "toy-variant"] and list(second.key) == ["toy"]
    assert first.bits_per_char[0] == first.bits_per_char[1] == second.bits_per_char[0]
    assert len(list((tmp_path / "leaderboard").glob("toy-v1-seed0-*.pt"))) == 1
    run_leaderboard(registry=registry, keys=["toy"], retrain=True)
    assert calls == [0, 0]
    # other course code (a changed model or recipe) never reuses the cached model
    import helpers.course.leaderboard.board as board

    assert re.fullmatch(r"[0-9a-f]{12}", board.code_fingerprint())
    monkeypatch.setattr(board, "code_fingerprint", lambda: "0" * 12)
    run_leaderboard(registry=registry, keys=["toy"])
    assert calls == [0, 0, 0]
    run_leaderboard(registry=registry, keys=["toy"])
    assert calls == [0, 0, 0]
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Entry("toy", week=1, name="again", unit="character", train=train))
    with pytest.raises(ValueError, match="no leaderboard entry 'nope'"):
        run_leaderboard(registry=registry, keys=["nope"])


def test_an_entry_must_score_every_character():
    registry = Registry()
    short = Trained(type("Short", (), {"score": lambda self, text: Score(1.0, text.n_chars - 1)})(), 0.0, 0)
    registry.add(Entry("short", week=1, name="skips one", unit="word", train=lambda ctx: short))
    with pytest.raises(ValueError, match="every character must be predicted"):
        run_leaderboard(registry=registry)
    for bad in ({"key": "Bad Key"}, {"week": 13}, {"unit": "byte"}):
        with pytest.raises(ValueError):
            Entry(**{"key": "ok", "week": 1, "name": "x", "unit": "word", "train": None, **bad})


@pytest.fixture(scope="module")
def committed():
    return read_committed()


def test_committed_table_has_every_registered_entry(committed):
    registry = load_entries()
    assert list(committed.key) == [e.key for e in registry], "rerun: nextword leaderboard --retrain --write"
    assert {"unigram", "kn3", "kn5", "char-lstm", "char-gpt"} <= set(committed.key)
    assert (committed.test_chars == canonical_corpus().test.n_chars).all()
    assert list(read_committed("week03").key) == [e.key for e in registry.select(upto=3)]


def test_cheap_entries_reproduce_the_committed_table(committed, cheap_models, corpus):
    registry = load_entries()
    saved = committed.set_index("key")
    for key, trained in cheap_models.items():
        score = registry[key].score_text(trained.model, corpus.test)
        assert trained.parameters == saved.parameters[key], key
        assert score.spelled == saved.outside_vocabulary[key], key
        assert abs(score.bits_per_char - saved.bits_per_char[key]) < 2e-6, key
        assert math.isclose(2 ** (score.bits / corpus.test.n_tokens), saved.word_perplexity[key], rel_tol=1e-5), key
        if score.unk_perplexity is not None:
            assert math.isclose(score.unk_perplexity, saved.unk_perplexity[key], rel_tol=1e-5), key


@pytest.mark.slow
def test_trained_entries_reproduce_the_committed_table(committed):
    """The neural rows are what today's code trains (seeded, one thread, no cache): a change to
    a week's model or training that moves its score must come with `nextword leaderboard
    --retrain --write`. (The week 3 and 5 rows once stayed stale by 0.001 and 0.05 bits per
    character because only the cheap entries were checked.) The tolerance, a unit of the
    table's last digit, leaves room for another CPU's floating-point rounding."""
    keys = ["bengio", "char-lstm", "char-gpt"]
    fresh = run_leaderboard(keys=keys, retrain=True, cache=False).set_index("key")
    saved = committed.set_index("key")
    for key in keys:
        assert fresh.parameters[key] == saved.parameters[key], key
        drift = abs(fresh.bits_per_char[key] - saved.bits_per_char[key])
        assert drift < 1e-3, f"{key}: {fresh.bits_per_char[key]:.6f} bits/char now, {saved.bits_per_char[key]:.6f} committed"


def test_benchmarks_readme_shows_the_committed_table(committed):
    assert readme_table() == leaderboard_table(committed, markdown=True)


def test_plot_has_one_point_per_model(committed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_leaderboard(committed)
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(committed)
    assert ax.get_xscale() == "log" and "bits per character" in ax.get_ylabel()
    plt.close(ax.figure)


def _label_boxes(ax):
    """The rendered boxes of the labels' text (without their leader lines) and of the legend."""
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    return [Text.get_window_extent(t, renderer) for t in ax.texts], ax.get_legend().get_window_extent(renderer)


@pytest.mark.parametrize("board", ["committed", "crowded"])
def test_plot_labels_overlap_neither_each_other_nor_the_legend(board, committed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    results = committed
    if board == "crowded":  # twelve models, several of them close together
        rng = np.random.default_rng(7)
        results = pd.DataFrame({
            "week": np.arange(12) % 6 + 1, "model": [f"model number {i} of the course" for i in range(12)],
            "unit": ["word", "character", "subword"] * 4, "parameters": (10 ** rng.uniform(3.5, 6.5, 12)).astype(int),
            "bits_per_char": rng.uniform(1.8, 3.2, 12), "test_chars": 204_571})  # fmt: skip
    ax = plot_leaderboard(results)
    ax.figure.draw_without_rendering()
    labels, legend = _label_boxes(ax)
    inside = ax.get_window_extent(ax.figure.canvas.get_renderer())
    assert sorted(t.get_text() for t in ax.texts) == sorted(results.model)
    for i, a in enumerate(labels):
        assert not a.overlaps(legend), ax.texts[i].get_text()
        assert inside.x0 <= a.x0 and a.x1 <= inside.x1 and inside.y0 <= a.y0 and a.y1 <= inside.y1, ax.texts[i].get_text()
        for j in range(i):
            assert not a.overlaps(labels[j]), (ax.texts[i].get_text(), ax.texts[j].get_text())
    plt.close(ax.figure)


def test_cli_prints_the_committed_table_and_refuses_a_partial_write(capsys):
    assert main(["leaderboard", "--committed", "--upto", "week01"]) == 0
    out = capsys.readouterr().out
    assert "Kneser-Ney 5-gram" in out and "character LSTM" not in out and "bits per char" in out
    assert main(["leaderboard", "--upto", "week01", "--write"]) == 2
    assert "--retrain --write" in capsys.readouterr().err
    assert main(["leaderboard", "--only", "nope"]) == 2
    assert "no leaderboard entry 'nope'" in capsys.readouterr().err
    assert main(["leaderboard", "--upto", "weekly"]) == 2
