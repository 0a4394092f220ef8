"""Week 1: counting. N-gram language models, their smoothers, and a "Did you mean?" corrector.

Layered so that nothing imports in a circle: :mod:`~helpers.ngrams.counts` (the count
tables) <- the smoothers (:mod:`~helpers.ngrams.estimator`, :mod:`~helpers.ngrams.good_turing`,
:mod:`~helpers.ngrams.kneser_ney`, chosen by name in :mod:`~helpers.ngrams.smoothing`) <- the
model (:mod:`~helpers.ngrams.model`, with :mod:`~helpers.ngrams.arpa` export) <- the
spelling corrector (:mod:`~helpers.ngrams.edits`, the learned :mod:`~helpers.ngrams.channel`,
:mod:`~helpers.ngrams.spelling`).
"""

from helpers.ngrams.arpa import write_arpa
from helpers.ngrams.channel import EditChannel, align, error_regions
from helpers.ngrams.counts import BOS, EOS, UNK, NGramCounts, count_ngrams
from helpers.ngrams.edits import (
    EDIT_CLASSES,
    DeleteIndex,
    damerau_levenshtein,
    edit_class,
    edits1,
    edits2,
    learn_edit_rates,
)
from helpers.ngrams.estimator import SmoothingOptions
from helpers.ngrams.good_turing import good_turing_estimates, simple_good_turing
from helpers.ngrams.interpolation import component_probabilities, fit_lambdas
from helpers.ngrams.kneser_ney import KneserNey, kneser_ney_discounts
from helpers.ngrams.model import NGramLM, Perplexity
from helpers.ngrams.smoothing import SMOOTHERS, make_estimator
from helpers.ngrams.spelling import CONFUSION_SETS, SpellingConfig, SpellingCorrector, char_model

__all__ = [
    "BOS", "CONFUSION_SETS", "EDIT_CLASSES", "EOS", "SMOOTHERS", "UNK", "DeleteIndex", "EditChannel", "KneserNey",
    "NGramCounts", "NGramLM", "Perplexity", "SmoothingOptions", "SpellingConfig", "SpellingCorrector", "char_model",
    "align", "component_probabilities", "count_ngrams", "damerau_levenshtein", "edit_class", "edits1", "edits2", "error_regions",
    "fit_lambdas", "good_turing_estimates",
    "kneser_ney_discounts", "learn_edit_rates", "make_estimator", "simple_good_turing", "write_arpa",
]  # fmt: skip
