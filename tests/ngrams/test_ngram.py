"""Reference checks for helpers.ngrams and helpers.ngrams.smoothing.

Oracles:
- KenLM's ``lmplz`` (the reference implementation of interpolated modified Kneser-Ney):
  ``tests/ngrams/fixtures/lmplz_news600_order4.arpa.gz`` was made by
  ``lmplz -o 4 < lmplz_news600.txt`` (KenLM built from the kenlm 0.3.0 source on PyPI) from
  the first 600 sentences of the Lee news corpus, stored beside it. Our model must list the
  same n-grams with the same log10 probabilities and back-off weights.
- The ``kenlm`` Python package reading our ``to_arpa`` files must score held-out text as we do.
- NLTK's ``SimpleGoodTuringProbDist`` for Simple Good-Turing; the worked examples of the
  lecture ("the cat sat") and of Jurafsky & Martin (the fishing example) for counting.
- Invariants: every distribution sums to 1; perplexity ranks the smoothers as the literature
  does (Chen & Goodman 1998: Kneser-Ney best, add-one worst).
"""

from __future__ import annotations

import gzip
import math
import random
from pathlib import Path

import numpy as np
import pytest

from helpers.data import load_corpus, load_sentences, split_documents, split_sentences, tokenize
from helpers.ngrams import (
    BOS,
    EOS,
    UNK,
    NGramLM,
    component_probabilities,
    count_ngrams,
    fit_lambdas,
    good_turing_estimates,
    kneser_ney_discounts,
    simple_good_turing,
)

DATA = Path(__file__).parent / "fixtures"
TOY = [["the", "cat", "sat"], ["the", "cat", "ran"], ["the", "dog", "sat"]]
PROBABILISTIC = [
    ("mle", {}),
    ("laplace", {}),
    ("add-k", {"k": 0.1}),
    ("good-turing", {}),
    ("kneser-ney", {}),
    ("interpolated", {}),
]


@pytest.fixture(scope="module")
def news():
    """The Lee news corpus split by article: (train sentences, held-out sentences)."""
    parts = split_documents(load_corpus("news"), seed=0)

    def sentences(docs):
        return [t for d in docs for s in split_sentences(d) if (t := tokenize(s))]

    return sentences(parts.train), sentences(parts.test)


@pytest.fixture(scope="module")
def news_counts(news):
    return count_ngrams(news[0], order=4)


def random_contexts(model: NGramLM, n: int, seed: int) -> list[list[str]]:
    """Contexts seen in training, made-up ones, ones with unknown words, sentence starts."""
    rng = random.Random(seed)
    seen = [list(h) for k in range(2, model.order + 1) for h in model.counts.table[k]]
    words = model.vocab
    contexts = [[], [BOS], ["zzzunknownzzz"], [BOS, "zzzunknownzzz"]]
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5 and seen:
            contexts.append(rng.choice(seen))
        elif kind < 0.8:
            contexts.append([rng.choice(words) for _ in range(rng.randint(1, model.order))])
        else:
            contexts.append(
                [BOS, *(rng.choice(words) for _ in range(rng.randint(0, max(0, model.order - 2))))]
            )
    return contexts


# ---------------------------------------------------------------- worked examples
def test_cat_sat_bigram_table():
    """The lecture's corpus: counts and MLE bigram probabilities by hand."""
    lm = NGramLM(2, smoothing="mle").fit(TOY)
    table = lm.counts.table
    assert table[2][(BOS,)] == {"the": 3}
    assert table[2][("the",)] == {"cat": 2, "dog": 1}
    assert table[2][("cat",)] == {"sat": 1, "ran": 1}
    assert table[1][()] == {"the": 3, "cat": 2, "dog": 1, "sat": 2, "ran": 1, EOS: 3}
    assert lm.prob("cat", ["the"]) == pytest.approx(2 / 3)
    assert lm.prob("dog", "the") == pytest.approx(1 / 3)
    assert lm.prob("the", [BOS]) == 1.0
    assert lm.prob(EOS, ["sat"]) == 1.0
    # P(<s> the cat sat </s>) = 1 * 2/3 * 1/2 * 1
    assert math.exp(lm.sentence_logprob(["the", "cat", "sat"])) == pytest.approx(1 / 3)
    assert lm.perplexity([["the", "cat", "sat"]]) == pytest.approx((1 / 3) ** (-1 / 4))


def test_laplace_and_add_k_by_hand():
    # Outcomes: the cat dog sat ran <unk> </s>, so V = 7; c(the) = 3, c(the cat) = 2.
    laplace = NGramLM(2, smoothing="laplace").fit(TOY)
    assert len(laplace.outcomes) == 7
    assert laplace.prob("cat", ["the"]) == pytest.approx(3 / 10)
    assert laplace.prob("sat", ["the"]) == pytest.approx(1 / 10)
    # an unseen (<unk>) context: uniform
    assert laplace.prob("cat", ["never-seen"]) == pytest.approx((0 + 1) / (0 + 7))
    add_half = NGramLM(2, smoothing="add-k", k=0.5).fit(TOY)
    assert add_half.prob("cat", ["the"]) == pytest.approx(2.5 / 6.5)


def test_perplexity_with_unknown_words_by_hand():
    """Laplace bigram on the lecture's corpus (V = 7 outcomes) and one sentence with an
    unknown word: "the zebra sat" is scored as <s> the <unk> sat </s>."""
    lm = NGramLM(2, smoothing="laplace").fit(TOY)
    p_the, p_unk, p_sat, p_end = (3 + 1) / (3 + 7), (0 + 1) / (3 + 7), (0 + 1) / (0 + 7), (2 + 1) / (2 + 7)
    counted = lm.perplexity([["the", "zebra", "sat"]])
    assert counted == pytest.approx((p_the * p_unk * p_sat * p_end) ** (-1 / 4))
    assert (counted.oov, counted.tokens, counted.treatment) == (1, 4, "unk")
    skipped = lm.perplexity([["the", "zebra", "sat"]], oov="skip")  # <unk> is not a target
    assert skipped == pytest.approx((p_the * p_sat * p_end) ** (-1 / 3))  # but stays a context
    assert (skipped.oov, skipped.tokens, skipped.treatment) == (1, 3, "skip")
    assert skipped.cross_entropy == pytest.approx(math.log(skipped))
    assert skipped.bits == pytest.approx(math.log2(skipped))
    clean = lm.perplexity(TOY, oov="skip")
    assert clean == lm.perplexity(TOY) and clean.oov == 0
    with pytest.raises(ValueError, match="oov="):
        lm.perplexity(TOY, oov="ignore")
    with pytest.raises(ValueError, match="at least one sentence"):
        lm.perplexity([], oov="skip")


def test_stupid_backoff_scores_by_hand():
    lm = NGramLM(3, smoothing="stupid-backoff").fit(TOY)
    assert lm.prob("sat", [BOS, "the", "cat"]) == pytest.approx(1 / 2)  # c(the cat sat)/c(the cat)
    # two back-offs, down to c(ran) / N
    assert lm.prob("ran", ["the", "dog"]) == pytest.approx(0.4 * 0.4 * 1 / 12)
    assert lm.prob("sat", ["a", "dog"]) == pytest.approx(0.4 * 1)  # <unk> dog unseen, dog sat seen
    assert not lm.is_probability
    with pytest.raises(ValueError, match="not probabilities"):
        lm.perplexity(TOY)


def test_good_turing_fishing_example():
    """Jurafsky & Martin (2nd ed., 4.5.1): 10 carp, 3 perch, 2 whitefish, 1 trout, 1 salmon, 1 eel."""
    r_star = good_turing_estimates({1: 3, 2: 1, 3: 1, 10: 1})
    assert r_star[1] == pytest.approx(2 / 3)  # P(trout) = (2/3) / 18 = 0.037
    assert r_star[1] / 18 == pytest.approx(0.037, abs=5e-4)
    assert r_star[2] == pytest.approx(3 * 1 / 1)
    assert r_star[10] == 0.0  # no n_11: why Simple Good-Turing smooths the n_r


def test_simple_good_turing_matches_nltk(news):
    from nltk.probability import FreqDist, SimpleGoodTuringProbDist

    words = [w for s in news[0] for w in s]
    freq = FreqDist(words)
    reference = SimpleGoodTuringProbDist(freq)
    n = {}
    for c in freq.values():
        n[c] = n.get(c, 0) + 1
    r_star = simple_good_turing(n)
    assert r_star is not None
    N, p0 = len(words), n[1] / len(words)
    seen_mass = sum(n[r] * r_star[r] for r in n)
    for word in random.Random(0).sample(sorted(freq), 300) + ["the", "of"]:
        ours = (1 - p0) * r_star[freq[word]] / seen_mass
        np.testing.assert_allclose(ours, reference.prob(word), rtol=1e-9)
    assert N == freq.N()


def test_kneser_ney_discounts_formula():
    # Chen & Goodman (1998) eq. 26 by hand: Y = 100 / (100 + 60) = 0.625
    d1, d2, d3 = kneser_ney_discounts({1: 100, 2: 30, 3: 15, 4: 10})
    assert d1 == pytest.approx(1 - 2 * 0.625 * 30 / 100)
    assert d2 == pytest.approx(2 - 3 * 0.625 * 15 / 30)
    assert d3 == pytest.approx(3 - 4 * 0.625 * 10 / 15)
    assert kneser_ney_discounts({1: 10, 2: 0, 3: 4}) is None  # as KenLM: cannot estimate


def test_interpolation_by_hand_and_em_on_held_out_text(news):
    """Jelinek-Mercer on the lecture's corpus: 0.2 / V + 0.3 P(w) + 0.5 P(w | v); EM weights
    raise the held-out likelihood at every step and beat equal weights."""
    lm = NGramLM(2, smoothing="interpolated", lambdas=(0.2, 0.3, 0.5)).fit(TOY)
    assert lm.prob("cat", ["the"]) == pytest.approx(0.2 / 7 + 0.3 * 2 / 12 + 0.5 * 2 / 3)
    assert lm.prob("dog", ["zebra"]) == pytest.approx(0.2 / 7 + 0.3 * 1 / 12 + 0.5 * 1 / 12)  # unseen context
    counts = count_ngrams(news[0], order=3)
    held_out = news[1][: len(news[1]) // 2]
    lambdas, history = fit_lambdas(counts, held_out)
    assert len(lambdas) == 4 and sum(lambdas) == pytest.approx(1.0) and min(lambdas) > 0
    assert all(b >= a - 1e-12 for a, b in zip(history, history[1:], strict=False)) and len(history) > 3
    P = component_probabilities(counts, held_out)
    assert float(np.mean(np.log(P @ np.array(lambdas)))) >= history[-1] - 1e-12
    tuned = NGramLM(3, smoothing="interpolated", lambdas=lambdas).fit(counts)
    equal = NGramLM(3, smoothing="interpolated").fit(counts)
    assert tuned.perplexity(held_out) == pytest.approx(math.exp(-float(np.mean(np.log(P @ np.array(lambdas))))))
    rest = news[1][len(news[1]) // 2 :]
    assert tuned.perplexity(rest) < equal.perplexity(rest)
    with pytest.raises(ValueError, match="lambdas"):
        NGramLM(2, smoothing="interpolated", lambdas=(0.5, 0.6))
    with pytest.raises(ValueError, match="3 weights"):
        NGramLM(2, smoothing="interpolated", lambdas=(0.5, 0.5)).fit(TOY)


# ---------------------------------------------------------------- KenLM
def read_arpa(lines) -> dict[str, tuple[float, float]]:
    entries, order = {}, 0
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:].split("-")[0])
        elif order and line and not line.startswith("\\"):
            parts = line.split("\t")
            entries[parts[1]] = (float(parts[0]), float(parts[2]) if len(parts) > 2 else 0.0)
    return entries


def test_kneser_ney_equals_kenlm_lmplz():
    """Every n-gram, probability and back-off weight of lmplz's model, to ARPA precision."""
    with gzip.open(DATA / "lmplz_news600.txt.gz", "rt", encoding="utf-8") as f:
        sentences = [line.split() for line in f]
    with gzip.open(DATA / "lmplz_news600_order4.arpa.gz", "rt", encoding="utf-8") as f:
        reference = read_arpa(f)
    model = NGramLM(4, smoothing="kneser-ney").fit(sentences)
    probs, backoffs = model.estimator.backoff_form()
    ours = {}
    for k in range(1, 5):
        for h, followers in probs[k].items():
            for w, p in followers.items():
                gram = (*h, w)
                ours[" ".join(gram)] = (
                    math.log10(p) if p > 0 else -99.0,
                    math.log10(backoffs[k + 1].get(gram, 1.0)) if k < 4 else 0.0,
                )
    assert set(ours) == set(reference)
    for gram, (logp, logb) in reference.items():
        if gram != BOS:  # lmplz writes log P(<s>) = 0, a placeholder that is never used
            assert ours[gram][0] == pytest.approx(logp, abs=2e-6), gram
        assert ours[gram][1] == pytest.approx(logb, abs=2e-6), gram


@pytest.mark.parametrize("smoothing", ["kneser-ney", "good-turing"])
@pytest.mark.parametrize("order", [2, 3, 4])  # KenLM's loader needs a bigram model at least
def test_to_arpa_loads_in_kenlm_with_the_same_scores(tmp_path, news, news_counts, smoothing, order):
    """kenlm reads our ARPA file and gives the same log10 P for every token of held-out text.
    Tolerance 1e-5: KenLM stores float32 and the file holds 7 decimals."""
    kenlm = pytest.importorskip("kenlm")
    model = NGramLM(order, smoothing=smoothing).fit(news_counts)
    reference = kenlm.Model(str(model.to_arpa(tmp_path / "model.arpa")))
    test_sentences = news[1]
    n = 0
    for sentence in test_sentences:
        theirs = [
            score for score, _, _ in reference.full_scores(" ".join(sentence), bos=True, eos=True)
        ]
        padded = [BOS, *sentence, EOS]
        ours = [model.logprob(padded[i], padded[:i]) / math.log(10) for i in range(1, len(padded))]
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
        n += len(ours)
    assert n > 5000
    ppl = 10 ** (-sum(reference.score(" ".join(s)) for s in test_sentences) / n)
    assert model.perplexity(test_sentences) == pytest.approx(ppl, rel=1e-5)


def test_perplexity_excluding_oovs_equals_kenlm(tmp_path, news, news_counts):
    """oov="skip" is KenLM's "perplexity excluding OOVs": the same log10 scores summed over the
    tokens kenlm does not flag as OOV (news has OOV tokens: words unseen in training)."""
    kenlm = pytest.importorskip("kenlm")
    model = NGramLM(3).fit(news_counts)
    reference = kenlm.Model(str(model.to_arpa(tmp_path / "model.arpa")))
    total, n, oov = 0.0, 0, 0
    for sentence in news[1]:
        for score, _, is_oov in reference.full_scores(" ".join(sentence), bos=True, eos=True):
            oov += is_oov
            if not is_oov:
                total, n = total + score, n + 1
    skipped = model.perplexity(news[1], oov="skip")
    assert oov > 100 and skipped.oov == oov and skipped.tokens == n
    assert skipped == pytest.approx(10 ** (-total / n), rel=1e-5)
    assert model.perplexity(news[1]).tokens == n + oov


def test_to_arpa_refuses_models_without_backoff_form(tmp_path):
    with pytest.raises(ValueError, match="back-off form"):
        NGramLM(2, smoothing="laplace").fit(TOY).to_arpa(tmp_path / "x.arpa")


# ---------------------------------------------------------------- invariants
@pytest.mark.parametrize("smoothing,options", PROBABILISTIC)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_distribution_sums_to_one(news_counts, smoothing, options, order):
    model = NGramLM(order, smoothing=smoothing, **options).fit(news_counts)
    for context in random_contexts(model, 150, seed=order):
        p = model.distribution(context)
        assert p.shape == (len(model.vocab) + 1,)
        assert (p >= 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-9), context
    if smoothing != "mle":  # MLE gives 0 to unseen events; everything else must not
        assert model.distribution(["zzz", "yyy", "xxx"]).min() > 0


@pytest.mark.parametrize("smoothing,options", PROBABILISTIC + [("stupid-backoff", {})])
def test_prob_agrees_with_distribution(news_counts, smoothing, options):
    """The one-word lookup (clear) and the whole-vocabulary array (fast) agree exactly."""
    model = NGramLM(3, smoothing=smoothing, **options).fit(news_counts)
    outcomes = model.outcomes
    for context in random_contexts(model, 8, seed=1):
        looped = np.array([model.prob(w, context) for w in outcomes])
        np.testing.assert_allclose(model.distribution(context), looped, rtol=1e-12, atol=1e-15)
        if smoothing != "stupid-backoff":
            assert looped.sum() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("smoothing", ["laplace", "good-turing", "kneser-ney"])
def test_sums_to_one_on_a_tiny_corpus(smoothing):
    """Toy data break the count-of-count estimates; the fallbacks must still normalise."""
    with pytest.warns(UserWarning) if smoothing == "kneser-ney" else _no_warning():
        model = NGramLM(3, smoothing=smoothing).fit(TOY)
    for context in ([], [BOS], ["the"], [BOS, "the"], ["the", "cat"], ["cat", "dog"], ["x", "y"]):
        assert model.distribution(context).sum() == pytest.approx(1.0, abs=1e-12)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_perplexity_ranks_the_smoothers_on_wikipedia():
    """Held-out Wikipedia (split by article): Kneser-Ney < Good-Turing < Laplace, orders 2-4.
    Rare words (seen once) become <unk>, so every model has the same closed vocabulary."""
    parts = split_documents(load_corpus("wikipedia"), seed=0)

    def sentences(docs):
        return [t for d in docs for s in split_sentences(d) if (t := tokenize(s))]

    counts = count_ngrams(sentences(parts.train), order=4, min_count=2)
    held_out = sentences(parts.validation)
    for order in (2, 3, 4):
        ppl = {
            s: NGramLM(order, smoothing=s).fit(counts).perplexity(held_out)
            for s in ("kneser-ney", "good-turing", "laplace")
        }
        assert ppl["kneser-ney"] < ppl["good-turing"] < ppl["laplace"], (order, ppl)
        assert math.isfinite(ppl["kneser-ney"])
    mle = NGramLM(2, smoothing="mle").fit(counts)
    assert mle.perplexity(held_out) == math.inf  # held-out text has unseen bigrams


# ---------------------------------------------------------------- behaviour
def test_unknown_words_map_to_unk():
    lm = NGramLM(2, smoothing="laplace", min_count=2).fit(TOY)
    assert UNK in lm.vocab and "dog" not in lm.vocab and "ran" not in lm.vocab  # seen once
    assert lm.counts.table[2][("the",)] == {"cat": 2, UNK: 1}
    assert lm.prob("zebra", ["the"]) == lm.prob(UNK, ["the"]) == lm.prob("dog", ["the"])
    assert lm.prob("sat", ["zebra"]) == lm.prob("sat", [UNK])


def test_counts_match_nltk_ngrams(news):
    from collections import Counter

    from nltk.util import ngrams

    sentences = news[0][:300]
    counts = count_ngrams(sentences, order=3)
    for k in (1, 2, 3):
        expected = Counter(g for s in sentences for g in ngrams([BOS, *s, EOS], k) if g != (BOS,))
        ours = Counter(
            {(*h, w): c for h, followers in counts.table[k].items() for w, c in followers.items()}
        )
        assert ours == expected


def test_fit_from_counts_equals_fit_from_sentences(news):
    counts = count_ngrams(news[0], order=4)
    a = NGramLM(3).fit(counts)
    b = NGramLM(3).fit(news[0])
    for context in random_contexts(b, 20, seed=3):
        np.testing.assert_array_equal(a.distribution(context), b.distribution(context))


def test_context_handling():
    lm = NGramLM(3, smoothing="mle").fit(TOY)
    # Only the last two words count, and nothing before a <s>.
    assert lm.prob("sat", ["dog", "the", "cat"]) == lm.prob("sat", ["the", "cat"])
    assert lm.prob("cat", ["sat", BOS, "the"]) == lm.prob("cat", [BOS, "the"])
    assert lm.prob("cat", "the") == lm.prob("cat", ["the"])
    with pytest.raises(ValueError, match="never predicted"):
        lm.prob(BOS, ["the"])


def test_next_words_are_the_top_of_the_distribution(news_counts):
    lm = NGramLM(3).fit(news_counts)
    best = lm.next_words(["in", "the"], k=5)
    p = lm.distribution(["in", "the"])
    top = sorted(
        ((w, q) for w, q in zip(lm.outcomes, p, strict=True) if w != UNK),
        key=lambda x: (-x[1], x[0]),
    )[:5]
    assert [w for w, _ in best] == [w for w, _ in top]
    np.testing.assert_allclose([q for _, q in best], [q for _, q in top])
    assert all(a[1] >= b[1] for a, b in zip(best, best[1:], strict=False))
    assert len(lm.next_words("the", k=3, exclude=())) == 3


def test_generate_is_reproducible_and_follows_the_model():
    lm = NGramLM(2, smoothing="mle").fit(TOY)
    allowed = {("the", a, b) for a in ("cat", "dog") for b in ("sat", "ran")}
    samples = [tuple(lm.generate(rng=seed)) for seed in range(50)]
    assert set(samples) <= allowed  # MLE never leaves the training bigrams
    assert [tuple(lm.generate(rng=seed)) for seed in range(50)] == samples
    rng = np.random.default_rng(0)
    first = [lm.generate(["the"], max_len=1, rng=rng)[0] for _ in range(3000)]
    share = first.count("cat") / len(first)
    assert abs(share - 2 / 3) < 4 * math.sqrt(2 / 9 / 3000)  # within 4 standard errors
    assert len(NGramLM(2, smoothing="laplace").fit(TOY).generate(max_len=4, rng=1)) <= 4


def test_generate_without_unk():
    lm = NGramLM(2, smoothing="laplace").fit(TOY)
    for seed in range(20):
        assert UNK not in lm.generate(max_len=20, rng=seed, allow_unk=False)


# ---------------------------------------------------------------- errors
def test_clear_errors():
    with pytest.raises(ValueError, match="order"):
        NGramLM(0)
    with pytest.raises(ValueError, match="order"):
        NGramLM(2.5)
    with pytest.raises(ValueError, match="unknown smoothing"):
        NGramLM(2, smoothing="witten-bell")
    with pytest.raises(ValueError, match="does not apply"):
        NGramLM(2, smoothing="laplace", k=2)
    with pytest.raises(ValueError, match="k="):
        NGramLM(2, smoothing="add-k", k=0)
    with pytest.raises(ValueError, match="discounts"):
        NGramLM(2, discounts=(1.5, 1, 1))
    with pytest.raises(ValueError, match="min_count"):
        NGramLM(2, min_count=0)
    with pytest.raises(ValueError, match="empty corpus"):
        NGramLM(2).fit([])
    with pytest.raises(ValueError, match="empty corpus"):
        NGramLM(2).fit([[], []])
    with pytest.raises(ValueError, match="tokenize"):
        NGramLM(2).fit(["the cat sat"])
    with pytest.raises(ValueError, match="marker"):
        NGramLM(2).fit([["<s>", "the"]])
    unfitted = NGramLM(2)
    for call in (
        lambda: unfitted.prob("a"),
        lambda: unfitted.perplexity(TOY),
        lambda: unfitted.next_words(),
    ):
        with pytest.raises(ValueError, match="not been fitted"):
            call()
    with pytest.raises(ValueError, match="k="):
        NGramLM(2, smoothing="laplace").fit(TOY).next_words("the", k=0)
    with pytest.raises(ValueError, match="order 2"):
        NGramLM(3).fit(count_ngrams(TOY, 2))


def test_wikipedia_sentences_fit(tmp_path):
    """The loader's sentences work directly (smoke test on a slice)."""
    sentences = load_sentences("wikipedia")[:500]
    lm = NGramLM(3).fit(sentences)
    assert lm.perplexity(sentences) < 100  # training text is easy
    assert len(lm.next_words([BOS], k=3)) == 3
