"""The classical baseline a pre-trained model must beat: TF-IDF features + logistic regression.

Each text becomes a sparse vector of word and word-pair (1- and 2-gram) counts weighted by
inverse document frequency, ``tfidf(t, d) = tf(t, d) * (ln((1 + n) / (1 + df(t))) + 1)``,
L2-normalised (scikit-learn's ``TfidfVectorizer`` with ``sublinear_tf``: ``1 + ln tf``), and
a multinomial logistic regression with L2 regularisation reads it (Jurafsky & Martin,
"Speech and Language Processing", 3rd ed. draft, chapters 5 and 14). It knows only which words
occur, nothing about what they mean: a word never seen in training contributes nothing.
Everything is scikit-learn's; this module fixes the settings and the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["tfidf_baseline"]


def tfidf_baseline(texts: Sequence[str], labels: Sequence[int], C: float = 10.0, ngram_range=(1, 2), seed: int = 0):
    """A fitted scikit-learn ``Pipeline`` (TF-IDF, then logistic regression): use
    ``.predict(texts)`` and ``.score(texts, labels)`` (accuracy).

    ``C`` is the inverse regularisation strength (10: little regularisation, which suits a few
    hundred short texts; tune it on validation data for other tasks).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if isinstance(texts, str) or len(texts) != len(labels) or len(texts) == 0:
        raise ValueError(f"need a list of texts and one label per text; got {type(texts).__name__} of {len(texts)} and {len(labels)} labels")
    if len(set(labels)) < 2:
        raise ValueError(f"need at least two different labels to classify, got {sorted(set(labels))}")
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=ngram_range, sublinear_tf=True, min_df=1),
        LogisticRegression(C=C, max_iter=2000, random_state=seed),
    )
    return pipeline.fit(list(texts), list(labels))
