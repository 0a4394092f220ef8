"""Week 2: meaning as vectors. The neural language model of Bengio et al. (2003), word2vec
(skip-gram and CBOW with negative sampling), word vectors and their evaluation, and semantic
search over documents.

:mod:`~helpers.embeddings.nplm` learns word vectors by predicting the next word.
:mod:`~helpers.embeddings.sampling` (vocabulary, subsampling, noise words, windows) and
:mod:`~helpers.embeddings.negative_sampling` (the objective and its sparse steps) feed
:mod:`~helpers.embeddings.word2vec` (the trainer), which gives
:class:`~helpers.embeddings.vectors.Embeddings`, evaluated in
:mod:`~helpers.embeddings.evaluation` and searched in :mod:`~helpers.embeddings.search`.
"""

from helpers.embeddings.evaluation import (
    AnalogyResult,
    SimilarityResult,
    evaluate_analogies,
    evaluate_similarity,
    spearman,
)
from helpers.embeddings.negative_sampling import cbow_step_, negative_sampling_loss, skipgram_step_
from helpers.embeddings.nplm import (
    NeuralLM,
    NeuralLMConfig,
    by_frequency,
    context_windows,
    nplm_scores,
    perplexity,
    train_nplm,
)
from helpers.embeddings.sampling import (
    alias_sample,
    alias_table,
    build_vocab,
    keep_probabilities,
    noise_distribution,
    window_layout,
)
from helpers.embeddings.search import DocumentIndex, average_vector, first_component, sif_weights
from helpers.embeddings.vectors import Embeddings, analogy_scores, unit_rows
from helpers.embeddings.word2vec import Word2Vec, Word2VecConfig, safe_batch_size

__all__ = [
    "AnalogyResult", "DocumentIndex", "Embeddings", "NeuralLM", "NeuralLMConfig", "SimilarityResult", "Word2Vec",
    "Word2VecConfig", "alias_sample", "alias_table", "analogy_scores", "average_vector", "build_vocab",
    "by_frequency", "cbow_step_", "context_windows", "evaluate_analogies", "evaluate_similarity",
    "first_component", "keep_probabilities", "negative_sampling_loss", "noise_distribution", "nplm_scores",
    "perplexity", "safe_batch_size", "sif_weights", "skipgram_step_", "spearman", "train_nplm", "unit_rows",
    "window_layout",
]  # fmt: skip
