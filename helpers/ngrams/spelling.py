"""A "Did you mean?" spelling corrector: edit-distance candidates ranked by a noisy channel.

The typist meant a word ``c`` and the keyboard let through ``x``; we pick the ``c`` that makes
``x`` most probable (Kernighan, Church & Gale 1990, COLING, "A spelling correction program
based on a noisy channel model"):

.. math::  \\hat c = \\arg\\max_c P(c)\\, P(x \\mid c).

- **Candidates**: the word as typed, and every lexicon word within Damerau-Levenshtein
  distance 2 (Norvig's essay, 2007), found with a deletion index in the style of SymSpell
  (:class:`helpers.ngrams.edits.DeleteIndex`).
- **Channel** ``P(x | c)``: ``alpha`` when ``x = c``; else ``(1 - alpha) Q(x | c)``, where ``Q``
  is the substring-rewrite model of Brill & Moore (2000) learned from real typos
  (:class:`helpers.ngrams.channel.EditChannel`), by default from the **training half** of
  codespell's misspellings (:func:`helpers.data.misspelling_split`, split by correction word),
  never from the test half. A first pass ranks the candidates by prior and edit distance;
  the learned channel rescores the ``shortlist`` best. ``channel="frequency-list"`` is the
  earlier model: one rate per class of edit (a dropped double letter, a swapped pair ...)
  learned from the frequency list itself (:func:`helpers.ngrams.edits.learn_edit_rates`).
  Commonly confused real words (their/there, then/than) are ``confusion_rate`` apart
  (confusion sets as in Golding & Roth 1999, Machine Learning 34).
- **Prior** ``P(c)``: word frequencies (the ``wordfreq`` package, Speer 2022), mixed with a
  corpus by :meth:`SpellingCorrector.fit`. A string in no list may still be a new word: it
  gets ``novel_weight`` (the share of new words in running text, measured on a corpus) times
  its probability under a character trigram model of the new words of that corpus
  (Kneser-Ney over letters; judging unknown strings by their character n-grams goes back to
  Morris & Cherry 1975, IEEE Trans. Professional Communication).
- **Context** (:meth:`SpellingCorrector.correct_sentence`): a word n-gram model replaces the
  prior, so that "there dog" can become "their dog" (Mays, Damerau & Mercer 1991, Information
  Processing & Management 27(5), who allow at most one real-word error per sentence).

Left out: phonetic candidates, word splits ("alot" -> "a lot"), keyboard adjacency (the
learned channel sees which letters are confused, adjacent keys included).
The test half of codespell's misspellings never builds or tunes it.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from helpers.ngrams.channel import EditChannel
from helpers.ngrams.edits import (
    EDIT_CLASSES,
    DeleteIndex,
    damerau_levenshtein,
    edit_class,
    learn_edit_rates,
)
from helpers.ngrams.model import NGramLM

__all__ = [
    "CONFUSION_SETS",
    "SpellingConfig",
    "SpellingCorrector",
    "char_model",
    "default_channel",
]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # lexicon words: letters, one apostrophe at most
# Commonly confused real words (homophones and near-homophones): our own short list.
CONFUSION_SETS = (
    ("their", "there", "they're"), ("your", "you're"), ("its", "it's"), ("to", "too", "two"),
    ("then", "than"), ("lose", "loose"), ("affect", "effect"), ("accept", "except"),
    ("whose", "who's"), ("were", "where"), ("piece", "peace"), ("quiet", "quite"),
    ("weather", "whether"), ("principal", "principle"), ("hear", "here"), ("know", "no"),
)  # fmt: skip


def char_model(words: Iterable[str], order: int = 3) -> NGramLM:
    """A character n-gram model (interpolated Kneser-Ney) of how words are spelled: each word
    is a "sentence" of letters between ``<s>`` and ``</s>``.

    With only 26 letters the unigram counts-of-counts are often too few to estimate the
    Kneser-Ney discounts of that level; the fallback discounts are then used without a warning.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="too few 1-grams")
        return NGramLM(order, smoothing="kneser-ney").fit([list(w) for w in words])


@dataclass(frozen=True)
class SpellingConfig:
    """The corrector's assumptions, with their sources. None is fitted to the test half of the
    misspellings; "chosen on the training half" means: estimated on one quarter of
    codespell's misspellings (by the SHA-1 of the correction) and compared on another.

    - ``alpha``: P(a word is typed as meant). Human error rates run from 1-2% of words
      (careful retyping) to 10-15% (web queries): Jurafsky & Martin, *Speech and Language
      Processing*, 3rd ed. draft, Appendix B. 0.95 chosen on the training half (0.99 and 0.9
      were within a point).
    - ``max_distance``: most misspellings are one edit (Damerau 1964); Norvig looks at two.
    - ``channel``: ``"learned"`` (Brill & Moore rules from the training half of codespell's
      misspellings) or ``"frequency-list"`` (seven edit classes learned from wordfreq alone).
    - ``shortlist``: how many candidates, ranked by prior and edit distance, the learned
      channel rescores (10 lost 0.3 points of top-1 on the training half against all).
    - ``rare_frequency``, ``rare_weight``: listed forms rarer than ``rare_frequency`` are
      trusted ``rare_weight`` times less (frequency lists include typos). The earlier default
      0.01 cost 5 points of top-1 on the training half with the learned channel; 1 turns it off.
    - ``novel_weight``: P(an intended word is in no list). ``None`` measures it on a corpus
      (the Wikipedia sample by default) as the share of its lower-case words missing from the
      lexicon; 0 is the classic assumption that every unknown string is an error.
    - ``confusion_rate``: P(typing one word of a confusion set for another), assumed 1e-3.
    - ``real_word_weight``: the learned channel's probability of a typo that makes a listed
      word at least ``rare_frequency`` frequent is multiplied by this (ours). codespell, the
      channel's training data, leaves most such typos out (they would flag correct words), so
      without it "ant" would become "and"; context (:meth:`SpellingCorrector.correct_sentence`)
      is the way to catch real-word errors.
    - ``min_frequency``: the lexicon keeps wordfreq words at least this frequent.
    """

    alpha: float = 0.95
    max_distance: int = 2
    channel: str = "learned"
    shortlist: int = 10
    rare_frequency: float = 1e-6
    rare_weight: float = 1.0
    novel_weight: float | None = None
    confusion_rate: float = 1e-3
    real_word_weight: float = 0.01
    min_frequency: float = 3e-8


@functools.lru_cache(maxsize=1)
def default_channel() -> EditChannel:
    """The learned channel of the shipped corrector: Brill & Moore rules estimated on the
    training half of codespell's misspellings only (computed once per process)."""
    from helpers.data.evaluation import misspelling_split

    return EditChannel.fit(misspelling_split("train"))


class SpellingCorrector:
    """Noisy-channel spelling correction; works out of the box with wordfreq's frequencies
    and a channel learned from the training half of codespell's misspellings.

    >>> sc = SpellingCorrector()
    >>> sc.correct("speling"), sc.correct("Teh")
    ('spelling', 'The')
    """

    def __init__(
        self,
        frequencies: Mapping[str, float] | None = None,
        config: SpellingConfig | None = None,
        channel: EditChannel | None = None,
    ):
        self.config = cfg = config or SpellingConfig()
        if not 0 < cfg.alpha < 1:
            raise ValueError(f"alpha={cfg.alpha!r} must be strictly between 0 and 1")
        if cfg.max_distance not in (1, 2):
            raise ValueError(f"max_distance={cfg.max_distance!r} must be 1 or 2")
        if cfg.novel_weight is not None and not 0 <= cfg.novel_weight < 1:
            raise ValueError(
                f"novel_weight={cfg.novel_weight!r} must be in [0, 1), or None to measure it"
            )
        if cfg.channel not in ("learned", "frequency-list"):
            raise ValueError(f"channel={cfg.channel!r} must be 'learned' or 'frequency-list'")
        if not isinstance(cfg.shortlist, int) or cfg.shortlist < 1:
            raise ValueError(f"shortlist={cfg.shortlist!r} must be a positive integer")
        if not 0 < cfg.real_word_weight <= 1:
            raise ValueError(f"real_word_weight={cfg.real_word_weight!r} must be in (0, 1]")
        if not 0 < cfg.rare_weight <= 1:
            raise ValueError(f"rare_weight={cfg.rare_weight!r} must be in (0, 1]; 1 turns it off")
        if frequencies is None:
            from wordfreq import get_frequency_dict

            frequencies = get_frequency_dict("en")
        words = {
            w: float(f)
            for w, f in frequencies.items()
            if f >= cfg.min_frequency and _WORD.fullmatch(w)
        }
        if not words or any(not math.isfinite(f) for f in words.values()):
            raise ValueError(
                "frequencies must map lower-case words to positive numbers, e.g. {'the': 0.05}"
            )
        total = sum(words.values())
        self.channel: EditChannel | None = None
        self.edit_rates: dict[str, float] | None = None
        if cfg.channel == "learned":
            self.channel = channel if channel is not None else default_channel()
        else:
            try:
                self.edit_rates = learn_edit_rates({w: f / total for w, f in words.items()})
            except ValueError:  # a short list has no typos to learn from: every edit equally likely
                mean_length = sum(map(len, words)) / len(words)
                self.edit_rates = dict.fromkeys(
                    EDIT_CLASSES, (1 - cfg.alpha) / (53 * mean_length + 25)
                )
        self._set_prior(
            {
                w: f / total * (cfg.rare_weight if f / total < cfg.rare_frequency else 1.0)
                for w, f in words.items()
            }
        )
        self.language_model: NGramLM | None = None
        self._unk = None  # (model, its vocabulary, log mass of what it calls <unk>), on first use
        from helpers.data.corpora import load_sentences

        self._set_novel_model(load_sentences("wikipedia"))

    def _set_prior(self, prior: dict[str, float]) -> None:
        self.prior = prior
        self._index = DeleteIndex(sorted(prior))
        self._confusable = {w: set(s) - {w} for s in CONFUSION_SETS for w in s}

    def _set_novel_model(self, sentences: Iterable[Sequence[str]]) -> None:
        """Learn what new words look like from the words of a corpus missing from the lexicon:
        their share of the running words (``novel_weight``) and a character trigram model of
        their spellings (each spelling once)."""
        words = [w for s in sentences for w in s if _WORD.fullmatch(w)]
        novel = [w for w in words if w not in self.prior]
        measured = len(novel) / max(len(words), 1)
        self.novel_weight = (
            measured if self.config.novel_weight is None else self.config.novel_weight
        )
        self.chars = char_model(sorted(set(novel)) or sorted(self.prior)[:1000])

    def fit(
        self, sentences: Iterable[Sequence[str]], corpus_weight: float = 0.5, order: int = 3
    ) -> SpellingCorrector:
        """Adapt to a corpus (lists of lower-case tokens): learn its new words (see
        ``novel_weight``), mix its word frequencies into the prior with ``corpus_weight``, and
        fit a word n-gram model (Kneser-Ney, rare words as ``<unk>``) for
        :meth:`correct_sentence`. Returns ``self``."""
        sentences = [list(s) for s in sentences]
        counts = Counter(w for s in sentences for w in s if _WORD.fullmatch(w))
        if not counts:
            raise ValueError("fit needs sentences of lower-case word tokens; got no word")
        if not 0 <= corpus_weight <= 1:
            raise ValueError(f"corpus_weight={corpus_weight!r} must be between 0 and 1")
        self._set_novel_model(sentences)
        n = sum(counts.values())
        merged = {w: (1 - corpus_weight) * p for w, p in self.prior.items()}
        for w, c in counts.items():
            merged[w] = merged.get(w, 0.0) + corpus_weight * c / n
        self._set_prior(merged)
        self.language_model = NGramLM(order, smoothing="kneser-ney", min_count=2).fit(sentences)
        return self

    # ---------------------------------------------------------------- the noisy channel
    def channel_logprob(self, x: str, c: str) -> float:
        """log P(x | c): typing ``x`` when meaning ``c``."""
        if x == c:
            return math.log(self.config.alpha)
        if c in self._confusable.get(x, ()):
            return math.log(self.config.confusion_rate)
        if self.channel is not None:
            logp = math.log(1 - self.config.alpha) + self.channel.logprob(x, c)
            if self.prior.get(x, 0.0) >= self.config.rare_frequency:  # x is a real word too
                logp += math.log(self.config.real_word_weight)
            return logp
        d = damerau_levenshtein(x, c)
        if d == 1:
            return math.log(self.edit_rates[edit_class(c, x)])
        mean = sum(self.edit_rates.values()) / len(self.edit_rates)
        return d * math.log(mean)

    def prior_logprob(self, c: str) -> float:
        """log P(c) = log[(1 - novel_weight) P_lexicon(c) + novel_weight P_chars(c)]: a listed
        word's (discounted) frequency, or for a string in no list the probability of a new
        word spelled so, under the character model (``-inf`` if ``novel_weight`` is 0)."""
        if c in self.prior:
            return math.log((1 - self.novel_weight) * self.prior[c])
        if self.novel_weight == 0:
            return -math.inf
        return math.log(self.novel_weight) + self.chars.sentence_logprob(list(c))

    def _options(self, x: str, max_distance: int) -> dict[str, int]:
        """The candidates for ``x`` with their edit distance: itself, listed words within
        ``max_distance``, its confusables."""
        found = self._index.near(x, max_distance)
        found[x] = 0
        for c in self._confusable.get(x, ()):
            found.setdefault(c, 1)
        return found

    def _scores(self, x: str, k: int) -> dict[str, float]:
        """log P(c) + log P(x | c) for the candidates of ``x``. With the learned channel, a
        first pass (prior and edit distance) keeps the ``max(k, shortlist)`` best to rescore."""
        options = self._options(x, self.config.max_distance)
        if self.channel is not None and len(options) > max(k, self.config.shortlist):
            guess = math.log(1 - self.config.alpha) + self.channel.typical_logprob
            first = {
                c: self.prior_logprob(c) + (math.log(self.config.alpha) if d == 0 else d * guess)
                for c, d in options.items()
            }
            kept = sorted(first, key=lambda c: (-first[c], c))[: max(k, self.config.shortlist)]
            options = {c: options[c] for c in kept}
        scores = {c: self.prior_logprob(c) + self.channel_logprob(x, c) for c in options}
        return {c: s for c, s in scores.items() if s > -math.inf}

    def candidates(self, word: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` best corrections of ``word`` with their posterior probability among the
        candidates scored, best first (the word as typed is one of them unless ruled out)."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer")
        x = self._normalise(word)
        if x is None:
            return [(word, 1.0)]
        scores = self._scores(x, k)
        if not scores:  # an unknown string, no candidate, and new words ruled out: keep it
            return [(word, 1.0)]
        top = max(scores.values())
        z = sum(math.exp(s - top) for s in scores.values())
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [(_match_case(c, word), math.exp(s - top) / z) for c, s in ranked]

    def correct(self, word: str) -> str:
        """The most probable intended word (case follows the input: "Teh" -> "The")."""
        return self.candidates(word, 1)[0][0]

    @staticmethod
    def _normalise(word: str) -> str | None:
        if not isinstance(word, str):
            raise ValueError(f"expected a word (str), got {type(word).__name__}")
        lowered = word.lower()
        return lowered if _WORD.fullmatch(lowered) else None  # numbers, "x86", "e-mail": left alone

    # ---------------------------------------------------------------- in context
    def rank_in_context(
        self, words: Sequence[str], i: int, options: Iterable[str]
    ) -> list[tuple[str, float]]:
        """Which of ``options`` fits position ``i`` of the sentence ``words`` best, by the word
        n-gram model alone (a forced choice: every option equally likely a priori).
        Returns ``(option, probability)`` best first; the probabilities sum to 1."""
        if self.language_model is None:
            raise ValueError("rank_in_context needs a language model: call .fit(sentences) first")
        words = list(words)
        if not 0 <= i < len(words):
            raise ValueError(f"position i={i} is outside the sentence of {len(words)} words")
        options = sorted(set(options))
        if not options:
            raise ValueError("options is empty: give the words to choose between")
        scores = {c: self._sentence_logprob(words[:i] + [c] + words[i + 1 :]) for c in options}
        top = max(scores.values())
        z = sum(math.exp(s - top) for s in scores.values())
        return sorted(
            ((c, math.exp(s - top) / z) for c, s in scores.items()),
            key=lambda item: (-item[1], item[0]),
        )

    def _sentence_logprob(self, sentence: list[str]) -> float:
        """log P(sentence) under the word n-gram model, where a word it does not know has
        P_LM(<unk> | h) P(w | <unk>), the second factor from the prior (class-based back-off)."""
        lm = self.language_model
        if self._unk is None or self._unk[0] is not lm:
            known = set(lm.vocab)
            mass = (1 - self.novel_weight) * sum(p for w, p in self.prior.items() if w not in known)
            self._unk = (lm, known, math.log(mass + self.novel_weight))
        _, known, log_unk_mass = self._unk
        total = lm.sentence_logprob(sentence)
        for w in sentence:
            if w not in known:
                total += self.prior_logprob(w) - log_unk_mass
        return total

    def correct_sentence(self, text: str) -> str:
        """Correct the words of ``text`` using their neighbours; returns lower-case words
        joined by spaces.

        Without a language model (:meth:`fit` not called) each word is corrected on its own.
        With one, each unknown word takes the candidate that maximises channel times sentence
        probability; then at most one known word per sentence is replaced by a word one edit
        away or from its confusion set, if that makes the whole more probable (Mays et al. 1991).
        """
        if not isinstance(text, str):
            raise ValueError(f"correct_sentence expects a str, got {type(text).__name__}")
        from helpers.data.text import tokenize

        words = tokenize(text)
        if self.language_model is None:
            return " ".join(self.correct(w).lower() for w in words)
        score = self._sentence_logprob
        for i, w in enumerate(words):  # non-words first, each in the context of the others
            if self._normalise(w) is None or w in self.prior:
                continue
            options = {
                c: self.channel_logprob(w, c) for c in self._options(w, self.config.max_distance)
            }
            words[i] = max(
                sorted(options), key=lambda c: options[c] + score(words[:i] + [c] + words[i + 1 :])
            )
        log_alpha = math.log(self.config.alpha)
        best, best_score = list(words), score(words) + len(words) * log_alpha
        for i, w in enumerate(words):  # then at most one real-word error
            if w not in self.prior:
                continue
            for c in sorted(set(self._options(w, 1)) - {w}):
                if c in self.prior:
                    changed = words[:i] + [c] + words[i + 1 :]
                    s = score(changed) + self.channel_logprob(w, c) + (len(words) - 1) * log_alpha
                    if s > best_score:
                        best, best_score = changed, s
        return " ".join(best)


def _match_case(word: str, like: str) -> str:
    if like[:1].isupper() and like[1:].islower():
        return word[:1].upper() + word[1:]
    return word.upper() if like.isupper() and len(like) > 1 else word
