"""The Word Embedding Association Test (WEAT; Caliskan, Bryson & Narayanan 2017, *Science* 356).

Two sets of **target** words ``X`` and ``Y`` (flowers, insects) and two sets of **attribute**
words ``A`` and ``B`` (pleasant, unpleasant). The association of a word ``w`` with the
attributes is its mean cosine with ``A`` minus its mean cosine with ``B``:

    s(w, A, B) = mean_{a in A} cos(w, a) - mean_{b in B} cos(w, b)

The test statistic and the effect size (the paper's supplement, "Methods"):

    s(X, Y, A, B) = sum_{x in X} s(x, A, B) - sum_{y in Y} s(y, A, B)

    d = (mean_{x in X} s(x, A, B) - mean_{y in Y} s(y, A, B)) / std_{w in X u Y} s(w, A, B)

``std`` is the **population** standard deviation (``ddof=0``), as in the ``wefe`` package; the
paper writes "std-dev" without saying which (with ``ddof=1`` every ``d`` shrinks by a factor
``sqrt((n - 1) / n)``). The one-sided p-value is the share of equal-size partitions
``(X_i, Y_i)`` of ``X u Y`` whose statistic is at least the observed one:

    p = Pr_i[ s(X_i, Y_i, A, B) >= s(X, Y, A, B) ]

It is **exact** (every one of the ``C(|X|+|Y|, |X|)`` partitions) when there are at most
``max_exact`` of them, otherwise estimated from ``n_samples`` random partitions drawn with a
seeded ``generator``; the observed partition is counted in both, so ``p > 0`` (Phipson & Smyth
2010). Caliskan et al. use ``>`` where we use ``>=``; the two differ only on ties. Note that
``wefe`` 1.0.1 draws its "permutations" with replacement and with ``>``, so its p-value is an
estimate of a slightly different number: compare effect sizes with it, not p-values.

:data:`WORD_SETS` holds the paper's word lists for the tests the course runs (WEAT 1, 2, 6, 7
and 8 in the paper's numbering, lower-cased; the paper takes them from the implicit association
tests of Greenwald et al. 1998 and Nosek et al. 2002). Words missing from a vocabulary are dropped by
:func:`weat_words` and reported, as the paper does for its GloVe and word2vec runs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "WORD_SETS",
    "WEATResult",
    "WEATTest",
    "association",
    "weat",
    "weat_effect_size",
    "weat_p_value",
    "weat_statistic",
    "weat_words",
]


@dataclass(frozen=True)
class WEATTest:
    """One test of the paper: two target sets, two attribute sets and their names."""

    name: str
    X: tuple[str, ...]
    Y: tuple[str, ...]
    A: tuple[str, ...]
    B: tuple[str, ...]
    names: tuple[str, str, str, str]  # what X, Y, A and B stand for


_PLEASANT = (
    "caress freedom health love peace cheer friend heaven loyal pleasure diamond gentle honest lucky rainbow "
    "diploma gift honor miracle sunrise family happy laughter paradise vacation"
).split()
_UNPLEASANT = (
    "abuse crash filth murder sickness accident death grief poison stink assault disaster hatred pollute "
    "tragedy divorce jail poverty ugly cancer kill rotten vomit agony prison"
).split()

WORD_SETS: dict[str, WEATTest] = {
    "flowers-insects": WEATTest(
        "WEAT 1: flowers vs insects, pleasant vs unpleasant",
        tuple(
            "aster clover hyacinth marigold poppy azalea crocus iris orchid rose bluebell daffodil lilac pansy "
            "tulip buttercup daisy lily peony violet carnation gladiola magnolia petunia zinnia".split()
        ),
        tuple(
            "ant caterpillar flea locust spider bedbug centipede fly maggot tarantula bee cockroach gnat mosquito "
            "termite beetle cricket hornet moth wasp blackfly dragonfly horsefly roach weevil".split()
        ),
        tuple(_PLEASANT),
        tuple(_UNPLEASANT),
        ("flowers", "insects", "pleasant", "unpleasant"),
    ),
    "instruments-weapons": WEATTest(
        "WEAT 2: instruments vs weapons, pleasant vs unpleasant",
        tuple(
            "bagpipe cello guitar lute trombone banjo clarinet harmonica mandolin trumpet bassoon drum harp oboe "
            "tuba bell fiddle harpsichord piano viola bongo flute horn saxophone violin".split()
        ),
        tuple(
            "arrow club gun missile spear axe dagger harpoon pistol sword blade dynamite hatchet rifle tank bomb "
            "firearm knife shotgun teargas cannon grenade mace slingshot whip".split()
        ),
        tuple(_PLEASANT),
        tuple(_UNPLEASANT),
        ("instruments", "weapons", "pleasant", "unpleasant"),
    ),
    "career-family": WEATTest(
        "WEAT 6: male vs female names, career vs family",
        tuple("john paul mike kevin steve greg jeff bill".split()),
        tuple("amy joan lisa sarah diana kate ann donna".split()),
        tuple(
            "executive management professional corporation salary office business career".split()
        ),
        tuple("home parents children family cousins marriage wedding relatives".split()),
        ("male names", "female names", "career", "family"),
    ),
    "maths-arts": WEATTest(
        "WEAT 7: maths vs arts, male vs female terms",
        tuple("math algebra geometry calculus equations computation numbers addition".split()),
        tuple("poetry art dance literature novel symphony drama sculpture".split()),
        tuple("male man boy brother he him his son".split()),
        tuple("female woman girl sister she her hers daughter".split()),
        ("maths", "arts", "male terms", "female terms"),
    ),
    "science-arts": WEATTest(
        "WEAT 8: science vs arts, male vs female terms",
        tuple("science technology physics chemistry einstein nasa experiment astronomy".split()),
        tuple("poetry art shakespeare dance literature novel symphony drama".split()),
        tuple("brother father uncle grandfather son he his him".split()),
        tuple("sister mother aunt grandmother daughter she hers her".split()),
        ("science", "arts", "male terms", "female terms"),
    ),
}


@dataclass(frozen=True)
class WEATResult:
    """Effect size ``d``, statistic ``s``, one-sided p-value and how it was computed."""

    effect_size: float
    statistic: float
    p_value: float
    exact: bool
    n_partitions: int  # partitions enumerated (exact) or sampled, the observed one included

    def __str__(self) -> str:
        how = "exact" if self.exact else f"{self.n_partitions:,} sampled partitions"
        return f"d = {self.effect_size:+.3f}, s = {self.statistic:+.4f}, p = {self.p_value:.4g} ({how})"


def _matrix(vectors, name: str) -> np.ndarray:
    m = np.asarray(vectors, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D array of vectors (n, dim), got shape {m.shape}"
        )
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} holds NaN or infinite values")
    norms = np.linalg.norm(m, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            f"{name} holds a zero vector (row {int(np.argmin(norms))}): its cosine is undefined"
        )
    return m / norms[:, None]


def _check_dims(*matrices: np.ndarray) -> None:
    dims = {m.shape[1] for m in matrices}
    if len(dims) != 1:
        raise ValueError(f"all vectors must have the same dimension, got {sorted(dims)}")


def association(W, A, B) -> np.ndarray:
    """s(w, A, B) for every row ``w`` of ``W`` (n, dim): mean cosine with A minus mean cosine with B.

    >>> association([[1.0, 0.0]], A=[[2.0, 0.0]], B=[[0.0, 3.0]]).round(3).tolist()
    [1.0]
    """
    W, A, B = _matrix(W, "W"), _matrix(A, "A"), _matrix(B, "B")
    _check_dims(W, A, B)
    return (W @ A.T).mean(axis=1) - (W @ B.T).mean(axis=1)  # (n,)


def _associations(X, Y, A, B) -> tuple[np.ndarray, int]:
    X, Y = _matrix(X, "X"), _matrix(Y, "Y")
    _check_dims(X, Y)
    return association(np.concatenate([X, Y]), A, B), len(X)


def weat_statistic(X, Y, A, B) -> float:
    """s(X, Y, A, B) = sum_x s(x, A, B) - sum_y s(y, A, B)."""
    s, n_x = _associations(X, Y, A, B)
    return float(s[:n_x].sum() - s[n_x:].sum())


def weat_effect_size(X, Y, A, B) -> float:
    """Caliskan et al.'s d: difference of mean associations over their population std-dev."""
    s, n_x = _associations(X, Y, A, B)
    spread = s.std()  # ddof=0, as wefe
    if spread == 0:
        raise ValueError("every target word has the same association: the effect size is undefined")
    return float((s[:n_x].mean() - s[n_x:].mean()) / spread)


def weat_p_value(
    X,
    Y,
    A,
    B,
    max_exact: int = 100_000,
    n_samples: int = 10_000,
    generator: np.random.Generator | None = None,
) -> tuple[float, bool, int]:
    """One-sided permutation p-value of s(X, Y, A, B); returns ``(p, exact, n_partitions)``.

    Exact when ``C(|X| + |Y|, |X|) <= max_exact``; otherwise ``n_samples`` random partitions from
    ``generator`` (required then, so that the number is reproducible) plus the observed one.
    """
    if not isinstance(max_exact, int) or max_exact < 1:
        raise ValueError(f"max_exact={max_exact!r} must be a positive integer")
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples={n_samples!r} must be a positive integer")
    s, n_x = _associations(X, Y, A, B)
    n = len(s)
    total = s.sum()
    observed = 2 * s[:n_x].sum() - total  # sum over X minus sum over Y
    tolerance = 1e-12 * max(1.0, float(np.abs(s).sum()))  # ties up to rounding count as ties
    n_partitions = math.comb(n, n_x)
    if n_partitions <= max_exact:
        # every subset of size |X| is an X_i; its complement is Y_i
        sums = np.array([s[list(c)].sum() for c in itertools.combinations(range(n), n_x)])
        stats = 2 * sums - total
        return float(np.mean(stats >= observed - tolerance)), True, n_partitions
    if generator is None:
        raise ValueError(
            f"{n_partitions:,} partitions exceed max_exact={max_exact:,}: pass generator=np.random.default_rng(seed) "
            "to sample them, or raise max_exact"
        )
    order = np.argsort(generator.random((n_samples, n)), axis=1)[
        :, :n_x
    ]  # (n_samples, |X|) random subsets
    stats = 2 * s[order].sum(axis=1) - total
    hits = int(np.sum(stats >= observed - tolerance)) + 1  # the observed partition itself
    return hits / (n_samples + 1), False, n_samples + 1


def weat(
    X,
    Y,
    A,
    B,
    max_exact: int = 100_000,
    n_samples: int = 10_000,
    generator: np.random.Generator | None = None,
) -> WEATResult:
    """The whole test on four arrays of vectors: effect size, statistic and p-value."""
    p, exact, n_partitions = weat_p_value(X, Y, A, B, max_exact, n_samples, generator)
    return WEATResult(
        weat_effect_size(X, Y, A, B), weat_statistic(X, Y, A, B), p, exact, n_partitions
    )


def weat_words(
    embeddings, test: WEATTest, min_words: int = 2
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """The vectors of a test's four sets in ``embeddings`` (anything with ``in`` and ``.vector(word)``,
    e.g. :class:`helpers.embeddings.Embeddings`), and the words that were missing, per set.

    Raises ``ValueError`` when a set keeps fewer than ``min_words`` words. X and Y are cut to the
    same size (the first words of each that are present), as the paper's tests have equal sizes.
    """
    found: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for key, words in zip("XYAB", (test.X, test.Y, test.A, test.B), strict=True):
        found[key] = [w for w in words if w in embeddings]
        missing[key] = [w for w in words if w not in embeddings]
        if len(found[key]) < min_words:
            raise ValueError(
                f"{test.name}: only {len(found[key])} of the {len(words)} words of {key} are in the vocabulary "
                f"(missing: {missing[key][:8]}...); use larger embeddings or lower min_words={min_words}"
            )
    n = min(len(found["X"]), len(found["Y"]))
    for key in "XY":
        missing[key] += found[key][n:]
        found[key] = found[key][:n]
    vectors = {
        key: np.stack([np.asarray(embeddings.vector(w), dtype=np.float64) for w in ws])
        for key, ws in found.items()
    }
    return vectors, missing
