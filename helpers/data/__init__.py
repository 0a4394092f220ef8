"""Everything the course reads or generates, offline: corpora, evaluation sets, text utilities,
one vocabulary class, character data, optional downloads, and the synthetic tasks.

- :mod:`~helpers.data.corpora`: the Wikipedia sample and the news corpus, document splits, word frequencies;
- :mod:`~helpers.data.evaluation`: analogies, word similarity, misspellings, polarity;
- :mod:`~helpers.data.text`: the word tokenizer and the sentence splitter;
- :mod:`~helpers.data.vocab`: :class:`Vocab`, tokens (characters or words) <-> ids;
- :mod:`~helpers.data.chars`: character-level training windows and baselines;
- :mod:`~helpers.data.dates` (with :mod:`~helpers.data.date_formats`): week 4's date task;
- :mod:`~helpers.data.recall`: week 3's recall task and dialogues;
- :mod:`~helpers.data.samples`: Python source files and word lists of two dozen languages;
- :mod:`~helpers.data.download`: bigger data for users with internet, checksummed.
"""

from helpers.data.chars import baseline_losses, char_corpus, random_windows
from helpers.data.corpora import (
    CORPORA,
    Splits,
    cache_dir,
    load_corpus,
    load_sentences,
    split_documents,
    word_frequencies,
)
from helpers.data.dates import (
    DateBatch,
    DatePair,
    DateSplits,
    batches,
    encode_pairs,
    generate_dates,
    load_dates,
    source_vocab,
    split_of,
    target_vocab,
)
from helpers.data.evaluation import (
    load_analogies,
    load_misspellings,
    load_polarity,
    load_word_similarity,
    misspelling_split,
    top_k_accuracy,
)
from helpers.data.recall import NAMES, Dialogues, RecallTask, row_batches
from helpers.data.samples import LANGUAGES, python_source, word_list
from helpers.data.text import split_sentences, tokenize
from helpers.data.vocab import SEQ2SEQ_SPECIALS, Vocab

__all__ = [
    "CORPORA", "LANGUAGES", "NAMES", "SEQ2SEQ_SPECIALS", "DateBatch", "DatePair", "DateSplits", "Dialogues", "RecallTask",
    "Splits", "Vocab", "baseline_losses", "batches", "cache_dir", "char_corpus", "encode_pairs",
    "generate_dates", "load_analogies", "load_corpus", "load_dates", "load_misspellings", "load_polarity",
    "load_sentences", "load_word_similarity", "misspelling_split", "python_source", "random_windows", "row_batches",
    "source_vocab", "split_documents", "split_of", "split_sentences", "target_vocab", "tokenize",
    "top_k_accuracy", "word_frequencies", "word_list",
]  # fmt: skip
