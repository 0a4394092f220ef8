"""The course in one table: every language model of the course on the same held-out text.

Each model is trained by the course's own code on the same training text, with a fixed seed,
and scored on the same held-out Wikipedia text in **bits per character**: ``-log2 P(text)``
divided by the number of characters, a unit that does not depend on how a model cuts the text
into tokens. ``nextword leaderboard [--upto weekNN]`` prints the table; the notebooks of weeks
1, 3 and 5 end with it.

**One string for every model** (:mod:`~helpers.course.leaderboard.text`). Word models see
lower-case words without punctuation; a character model could read raw text. To compare them,
both must predict the same characters, so every model trains on and is scored on the
*canonical* text: the course's sentence splitter and tokenizer applied to the Wikipedia
sample, tokens joined by single spaces, one sentence per line, documents split by article as
in weeks 1, 3 and 5 (``seed=0``). The test part has 204,571 characters: 33,789 words in 1,616
sentences (``CanonicalText.n_chars`` etc. compute them; the CSV records them).

**No free bits** (:mod:`~helpers.course.leaderboard.scoring`). A word model's ``</s>`` is the
newline; a word outside its vocabulary costs ``P(<unk> | h)`` times the probability of its
spelling under a character model of the once-seen training words (:class:`Speller`), so a
word model gives a proper distribution over strings (the tests sum it over every string of a
tiny alphabet). A character model's unknown symbol pays ``log2`` of the number of Unicode code
points it stands for. Every model predicts every character, the first one from a line start.

**Units.** Bits per character is the headline. *Word perplexity* is ``2 ** (bits / tokens)``
with tokens = words + sentence ends (week 1's count, 35,405 in the test text): the same text
and the same denominator for every model, so it is comparable across models too, and for a
word model it equals week 1's ``NGramLM.perplexity`` when the text has no unknown word. *The
perplexity with ``<unk>`` as a word* is the number week 1 prints; it ignores the cost of
spelling unknown words, so it is shown for word models and is not comparable across
vocabularies.

**Reproducible, within a budget.** Cheap entries (the n-gram models, the character bigram)
retrain on every run in seconds, and a test checks them against the committed
``leaderboard.csv``; the neural ones are cached in ``helpers.data.cache_dir()/leaderboard``
(key, version, seed, a fingerprint of the training text and one of the course's source code
name the file, so changed code retrains), and a slow test retrains them and checks the
committed rows too. The full run from an empty cache takes minutes (``benchmarks/README.md``
records the measured time and the machine); notebooks show the committed table and recompute
one cheap entry live.

**Where the code lives.** The canonical text, the scoring, the registry and the board are
here, in the course tooling; the entries of weeks 1-5 are in
:mod:`~helpers.course.leaderboard.entries`, each built from its week's tested kernels and
recipe. The week packages never import the leaderboard (it imports them), so there is no
circle. A later week adds an :class:`Entry` with :func:`register` (see
:mod:`~helpers.course.leaderboard.registry`).

Published milestones (perplexities on PTB or WikiText from the papers) are cited beside the
table, never in it: other text, other vocabularies.
"""

from helpers.course.leaderboard.board import (
    COLUMNS,
    COMMITTED_CSV,
    ENTRY_MODULES,
    leaderboard_table,
    load_entries,
    plot_leaderboard,
    read_committed,
    run_leaderboard,
    write_committed,
)
from helpers.course.leaderboard.registry import (
    REGISTRY,
    Context,
    Entry,
    Registry,
    Trained,
    register,
)
from helpers.course.leaderboard.scoring import (
    UNICODE_SIZE,
    OpenVocabularyLM,
    Score,
    Speller,
    causal_logprobs,
    char_score,
    encode_with_context,
    ngram_logprobs,
    ngram_parameters,
    recurrent_logprobs,
    unknown_char_bits,
)
from helpers.course.leaderboard.text import CanonicalText, canonical_corpus, canonicalize, parse

__all__ = [
    "COLUMNS", "COMMITTED_CSV", "ENTRY_MODULES", "REGISTRY", "UNICODE_SIZE", "CanonicalText", "Context", "Entry",
    "OpenVocabularyLM", "Registry", "Score", "Speller", "Trained", "canonical_corpus", "canonicalize",
    "causal_logprobs", "char_score", "encode_with_context", "leaderboard_table", "load_entries", "ngram_logprobs",
    "ngram_parameters", "parse", "plot_leaderboard", "read_committed", "recurrent_logprobs", "register",
    "run_leaderboard", "unknown_char_bits", "write_committed",
]  # fmt: skip
