"""WEAT against wefe (effect sizes), scipy's permutation test (exact p-values) and the word sets."""

import itertools

import numpy as np
import pytest
from scipy import stats

from helpers.audit.weat import (
    WORD_SETS,
    association,
    weat,
    weat_effect_size,
    weat_p_value,
    weat_statistic,
    weat_words,
)
from helpers.embeddings.vectors import Embeddings


def random_sets(seed, n_x=6, n_y=6, n_a=5, n_b=7, dim=20, shift=0.0):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n_a, dim)), rng.normal(size=(n_b, dim))
    X = rng.normal(size=(n_x, dim)) + shift * A.mean(0)
    Y = rng.normal(size=(n_y, dim)) + shift * B.mean(0)
    return X, Y, A, B


def wefe_effect_size(X, Y, A, B):
    wefe = pytest.importorskip(
        "wefe", reason="the oracle: pip install --no-deps wefe==1.0.1 (see .ci/run)"
    )
    from gensim.models import KeyedVectors
    from wefe.metrics import WEAT
    from wefe.query import Query
    from wefe.word_embedding_model import WordEmbeddingModel

    sets = {"x": X, "y": Y, "a": A, "b": B}
    words = [f"{k}{i}" for k, m in sets.items() for i in range(len(m))]
    kv = KeyedVectors(vector_size=X.shape[1])
    kv.add_vectors(words, np.concatenate(list(sets.values())).astype(np.float64))
    model = WordEmbeddingModel(kv, "random")
    query = Query(
        [[f"x{i}" for i in range(len(X))], [f"y{i}" for i in range(len(Y))]],
        [[f"a{i}" for i in range(len(A))], [f"b{i}" for i in range(len(B))]],
    )
    assert wefe.__version__  # the package imported, not a stub
    return WEAT().run_query(query, model, return_effect_size=True)["result"]


@pytest.mark.parametrize("seed,shift", [(0, 0.0), (1, 1.0), (2, -0.5), (3, 2.0)])
def test_effect_size_equals_wefe(seed, shift):
    X, Y, A, B = random_sets(seed, shift=shift)
    np.testing.assert_allclose(
        weat_effect_size(X, Y, A, B), wefe_effect_size(X, Y, A, B), rtol=1e-5, atol=1e-6
    )


def test_effect_size_equals_wefe_unequal_target_sizes():
    X, Y, A, B = random_sets(5, n_x=4, n_y=7, shift=0.7)
    np.testing.assert_allclose(
        weat_effect_size(X, Y, A, B), wefe_effect_size(X, Y, A, B), rtol=1e-5, atol=1e-6
    )


def test_association_and_statistic_by_hand():
    # the paper's formulas written out with loops, on a worked example
    X, Y, A, B = random_sets(7, n_x=3, n_y=3, n_a=2, n_b=2, dim=4)

    def cos(u, v):
        return u @ v / np.linalg.norm(u) / np.linalg.norm(v)

    def s(w):
        return np.mean([cos(w, a) for a in A]) - np.mean([cos(w, b) for b in B])

    np.testing.assert_allclose(association(X, A, B), [s(x) for x in X], rtol=1e-12)
    np.testing.assert_allclose(
        weat_statistic(X, Y, A, B), sum(map(s, X)) - sum(map(s, Y)), rtol=1e-12
    )


@pytest.mark.parametrize("seed,n_x,n_y", [(0, 5, 5), (1, 4, 6), (2, 6, 6)])
def test_exact_p_value_equals_scipy_permutation_test(seed, n_x, n_y):
    X, Y, A, B = random_sets(seed, n_x=n_x, n_y=n_y, shift=0.3)
    s_x, s_y = association(X, A, B), association(Y, A, B)
    # scipy enumerates all partitions when n_resamples exceeds their number; statistic: sum X - sum Y
    ref = stats.permutation_test(
        (s_x, s_y),
        lambda a, b, axis: a.sum(axis) - b.sum(axis),
        permutation_type="independent",
        alternative="greater",
        n_resamples=10**6,
        vectorized=True,
    )
    p, exact, n = weat_p_value(X, Y, A, B)
    assert exact and n == len(list(itertools.combinations(range(n_x + n_y), n_x)))
    np.testing.assert_allclose(p, ref.pvalue, rtol=1e-12)


def test_sampled_p_value_is_close_to_exact_and_reproducible():
    X, Y, A, B = random_sets(3, n_x=7, n_y=7, shift=0.2)
    exact, is_exact, _ = weat_p_value(X, Y, A, B)
    assert is_exact
    sampled, is_exact, n = weat_p_value(
        X, Y, A, B, max_exact=10, n_samples=20_000, generator=np.random.default_rng(1)
    )
    assert not is_exact and n == 20_001
    assert abs(sampled - exact) < 4 * np.sqrt(exact * (1 - exact) / 20_000) + 1e-4
    again, _, _ = weat_p_value(
        X, Y, A, B, max_exact=10, n_samples=20_000, generator=np.random.default_rng(1)
    )
    assert again == sampled


def test_p_value_extremes():
    # X all on A's side, Y all on B's: the observed partition is the most extreme of all C(8, 4) = 70
    rng = np.random.default_rng(0)
    A, B = np.eye(6)[:2] + 0.01 * rng.normal(size=(2, 6)), np.eye(6)[2:4]
    X = np.eye(6)[[0] * 4] + 0.1 * rng.normal(size=(4, 6))
    Y = np.eye(6)[[2] * 4] + 0.1 * rng.normal(size=(4, 6))
    result = weat(X, Y, A, B)
    assert result.p_value == pytest.approx(1 / 70) and result.effect_size > 1.5
    assert weat(Y, X, A, B).p_value == pytest.approx(
        1.0
    )  # the other side: every partition is at least as large
    assert weat(Y, X, A, B).effect_size == pytest.approx(-result.effect_size)


def test_invariances():
    X, Y, A, B = random_sets(4, shift=0.5)
    d = weat_effect_size(X, Y, A, B)
    assert weat_effect_size(3 * X, Y, 0.5 * A, B) == pytest.approx(d)  # cosines ignore lengths
    assert weat_effect_size(X, Y, B, A) == pytest.approx(-d)  # swapping attributes flips the sign
    assert weat_effect_size(X[::-1], Y, A, B) == pytest.approx(
        d
    )  # order within a set is irrelevant


@pytest.mark.parametrize(
    "bad,match",
    [
        (dict(X=np.zeros((3, 4))), "zero vector"),
        (dict(X=np.ones(4)), "2-D"),
        (dict(A=np.ones((2, 5))), "same dimension"),
        (dict(X=np.full((3, 4), np.nan)), "NaN"),
    ],
)
def test_bad_vectors(bad, match):
    sets = dict(zip("XYAB", random_sets(0, dim=4), strict=False))
    sets.update(bad)
    with pytest.raises(ValueError, match=match):
        weat(**sets)


def test_many_partitions_need_a_generator():
    X, Y, A, B = random_sets(0, n_x=12, n_y=12)
    with pytest.raises(ValueError, match="generator"):
        weat_p_value(X, Y, A, B)
    with pytest.raises(ValueError, match="n_samples"):
        weat_p_value(X, Y, A, B, n_samples=0, generator=np.random.default_rng(0))


def test_word_sets_and_lookup():
    for key, test in WORD_SETS.items():
        assert len(test.X) == len(test.Y) and len(set(test.X)) == len(test.X), key
        assert not set(test.X) & set(test.Y) and not set(test.A) & set(test.B), key
    assert (
        len(WORD_SETS["flowers-insects"].X) == 25 and len(WORD_SETS["career-family"].A) == 8
    )  # the paper's sizes
    test = WORD_SETS["career-family"]
    words = [*test.X[:5], *test.Y[:7], *test.A, *test.B]
    emb = Embeddings(words, np.random.default_rng(0).normal(size=(len(words), 8)))
    vectors, missing = weat_words(emb, test)
    assert vectors["X"].shape == vectors["Y"].shape == (5, 8)  # X and Y cut to the same size
    assert missing["X"] == list(test.X[5:]) and sorted(missing["Y"]) == sorted(
        test.Y[5:]
    )  # donna missing, 2 cut
    with pytest.raises(ValueError, match="only 0"):
        weat_words(emb, WORD_SETS["flowers-insects"])
