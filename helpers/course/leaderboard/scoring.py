"""Bits for the canonical text: every model, whatever its unit, must pay for every character.

A model's score is ``-log2 P(text)``, the number of bits it needs to encode the canonical
test string (:mod:`~helpers.course.leaderboard.text`); bits per character divide it by
``len(text)``. That is only a fair comparison if each model's probabilities sum to at most 1
over all strings, so nothing may be had for free:

- **Word models** (:class:`OpenVocabularyLM`): a word of the vocabulary costs
  ``-log2 P(w | h)``; any other word costs ``-log2 P(<unk> | h) - log2 P_spell(w)``, where
  :class:`Speller` is a character model of how rare words are spelled (a character n-gram
  model with interpolated Kneser-Ney, trained on the training words that became ``<unk>``:
  the words seen once, which Good-Turing reasoning makes the best sample of unseen ones).
  ``</s>`` is the newline. The same string could also be reached by spelling out a known
  word; that path is ignored, which can only lose probability (the score is an upper bound
  on the model's true bits).
- **Character models** (:func:`char_score`): a character of the vocabulary costs
  ``-log2 P(c | h)``; a character outside it costs ``-log2 P(unk | h)`` plus
  ``log2(U - K)`` bits, a uniform choice among the ``U - K`` Unicode code points
  (``U = 0x110000``) that are not among the ``K`` known characters. The speller's own
  unknown characters are priced the same way.

The first character of the text is predicted from a line start (``<s>`` for word models, a
newline for character models); after it, each model uses the context it can (the n-gram
models start again at every ``<s>``, the character models read across lines). Where a context
is cut (a window, a fresh state) depends only on positions, never on the characters to be
predicted, so the product of the predictions is a probability of the whole string.

:func:`causal_logprobs` (transformers, any model mapping ids (B, T) to logits (B, T, V)) and
:func:`recurrent_logprobs` (models returning ``(logits, state)``) give the log-probability
of each character of a long id sequence.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from helpers.course.leaderboard.text import CanonicalText
from helpers.course.training import evaluating
from helpers.data.vocab import Vocab
from helpers.ngrams.counts import BOS, EOS, UNK
from helpers.ngrams.model import NGramLM

__all__ = [
    "UNICODE_SIZE", "OpenVocabularyLM", "Score", "Speller", "causal_logprobs", "char_score", "encode_with_context",
    "ngram_logprobs", "ngram_parameters", "recurrent_logprobs", "unknown_char_bits",
]  # fmt: skip

UNICODE_SIZE = 0x110000  # code points U+0000 .. U+10FFFF


@dataclass(frozen=True)
class Score:
    """``bits = -log2 P(text)`` over ``chars`` characters; ``spelled`` counts the words
    (word models) or characters (character models) priced by the out-of-vocabulary fallback;
    ``unk_perplexity`` is a word model's week-1 perplexity, ``<unk>`` counted as a word."""

    bits: float
    chars: int
    spelled: int = 0
    unk_perplexity: float | None = None

    @property
    def bits_per_char(self) -> float:
        return self.bits / self.chars


def unknown_char_bits(n_known: int) -> float:
    """Bits of a uniform choice among the code points outside ``n_known`` known characters."""
    if not 0 <= n_known < UNICODE_SIZE:
        raise ValueError(f"n_known={n_known} must be between 0 and {UNICODE_SIZE - 1}")
    return math.log2(UNICODE_SIZE - n_known)


def ngram_parameters(lm: NGramLM) -> int:
    """Numbers an n-gram model stores, as an ARPA file would: one probability per counted
    n-gram (every order) and one interpolation weight per context longer than zero words."""
    table = lm.counts.table
    entries = sum(len(followers) for k in range(1, lm.order + 1) for followers in table[k].values())
    contexts = sum(len(table[k]) for k in range(2, lm.order + 1))
    return entries + contexts


class Speller:
    """P(spelling | <unk>): a character n-gram model of words, each word a "sentence" of
    characters ending in ``</s>``. ``order=6`` was chosen on the validation text (the bits per
    out-of-vocabulary word fall from 34.4 at order 2 to 26.6 at order 6 and 26.3 at order 7).

    >>> sp = Speller(order=2).fit(["ab", "ba", "abba"])
    >>> round(sp.bits("ab"), 3) < round(sp.bits("zz"), 3)
    True
    """

    def __init__(self, order: int = 6):
        self.order = order
        self.lm: NGramLM | None = None

    def fit(self, words: Iterable[str]) -> Speller:
        words = [list(w) for w in words]
        if not words:
            raise ValueError("the speller needs at least one word to learn spellings from")
        with warnings.catch_warnings():
            # a few dozen characters give too few counts-of-counts at the lowest orders; the
            # fallback discounts are fine for a model of spellings
            warnings.filterwarnings("ignore", message="too few")
            self.lm = NGramLM(self.order, smoothing="kneser-ney").fit(words)
        self._known = set(self.lm.vocab) - {UNK}
        self._unknown_bits = unknown_char_bits(len(self._known))
        return self

    def bits(self, word: str) -> float:
        """``-log2 P_spell(word)``: each character given the previous ones, then the end."""
        if self.lm is None:
            raise ValueError("fit the speller first: Speller().fit(words)")
        unknown = sum(c not in self._known for c in word)
        return -self.lm.sentence_logprob(list(word)) / math.log(2) + unknown * self._unknown_bits

    def num_parameters(self) -> int:
        return ngram_parameters(self.lm)


def ngram_logprobs(lm: NGramLM) -> Callable[[list[list[str]]], list[list[float]]]:
    """For :class:`OpenVocabularyLM`: natural-log P of each word and of ``</s>``, per sentence,
    as :meth:`NGramLM.perplexity` computes them."""

    def logprobs(sentences):
        keep = lm.order - 1
        out = []
        for sentence in sentences:
            seq = [BOS, *sentence, EOS]
            out.append([lm.logprob(seq[i], seq[max(0, i - keep) : i]) for i in range(1, len(seq))])
        return out

    return logprobs


class OpenVocabularyLM:
    """A word model made into a distribution over strings (see the module docstring).

    ``logprobs(sentences)`` gets sentences whose out-of-vocabulary words are already
    ``<unk>`` and returns, per sentence, the natural-log probability of each word and of the
    final ``</s>``; ``vocab`` are the words it predicts directly; ``speller`` spells the rest.
    ``word_model`` is kept for inspection (e.g. the :class:`NGramLM` behind ``logprobs``).
    """

    def __init__(
        self,
        logprobs: Callable[[list[list[str]]], Sequence[Sequence[float]]],
        vocab: Collection[str],
        speller: Speller,
        word_model: object = None,
    ):
        self.logprobs, self.vocab, self.speller = logprobs, frozenset(vocab) - {UNK, BOS, EOS}, speller
        self.word_model = word_model

    def score(self, text: CanonicalText) -> Score:
        mapped = [[w if w in self.vocab else UNK for w in s] for s in text.sentences]
        logprobs = self.logprobs(mapped)
        nats, count = 0.0, 0
        for sentence, values in zip(mapped, logprobs, strict=True):
            if len(values) != len(sentence) + 1:
                raise ValueError(f"logprobs gave {len(values)} values for a sentence of {len(sentence)} words: give one per word and one for </s>")
            nats += sum(values)
            count += len(values)
        spelled = [w for s in text.sentences for w in s if w not in self.vocab]
        bits = -nats / math.log(2) + sum(self.speller.bits(w) for w in spelled)
        return Score(bits, text.n_chars, len(spelled), math.exp(-nats / count))


def encode_with_context(vocab: Vocab, text: str) -> torch.Tensor:
    """Ids of ``"\\n" + text``: the newline is the context of the first character (a line
    start, as ``<s>`` is for word models) and is not itself scored."""
    if "\n" not in vocab.index:
        raise ValueError("the character vocabulary has no newline: build it from canonical text")
    return vocab.encode("\n" + text)


def char_score(logprobs: torch.Tensor, targets: torch.Tensor, vocab: Vocab) -> Score:
    """Score from ``logprobs[t] = ln P(targets[t] | ...)`` of a character model over ``vocab``;
    targets that are the unknown id pay for their code point too (see the module docstring)."""
    if logprobs.shape != targets.shape or logprobs.ndim != 1:
        raise ValueError(f"logprobs {tuple(logprobs.shape)} and targets {tuple(targets.shape)} must be 1-D of the same length")
    n_known = sum(t != vocab.unk and t not in vocab.specials for t in vocab.tokens)
    unknown = 0 if vocab.unk_id is None else int((targets == vocab.unk_id).sum())
    bits = -logprobs.double().sum().item() / math.log(2) + unknown * unknown_char_bits(n_known)
    return Score(bits, len(targets), unknown)


def _logits(output) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


@torch.no_grad()
def causal_logprobs(model: nn.Module, ids: torch.Tensor, block_size: int, stride: int | None = None, batch_size: int = 64) -> torch.Tensor:
    """``ln P(ids[t] | ids[a_t : t])`` for t = 1 .. len(ids) - 1, with a sliding window.

    The first window predicts ids 1 .. block_size; each next one moves by ``stride``
    (default ``block_size // 2``) and scores only its last ``stride`` targets, so every
    target is scored once, with at least ``block_size - stride`` ids of context.
    """
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 ids, got shape {tuple(ids.shape)}")
    T, N = block_size, len(ids) - 1
    S = stride or max(1, T // 2)
    if not 1 <= S <= T:
        raise ValueError(f"stride={stride} must be between 1 and block_size={block_size}")
    ends, done = [], [0]  # window w predicts targets a+1 .. b and keeps those after done[w]
    while done[-1] < N:
        ends.append(min(done[-1] + (T if not ends else S), N))
        done.append(ends[-1])
    b = torch.tensor(ends)
    a = (b - T).clamp(min=0)
    out = torch.full((N,), math.nan)  # a target left unscored would show as NaN
    with evaluating(model):
        device = next(model.parameters()).device
        for length in sorted(set((b - a).tolist())):  # at most two lengths: T, and a short first window
            for chunk in (b - a == length).nonzero()[:, 0].split(batch_size):
                offsets = torch.arange(length)
                x = ids[a[chunk, None] + offsets]  # (n, L) inputs
                y = ids[a[chunk, None] + offsets + 1]  # (n, L) targets
                logp = F.log_softmax(_logits(model(x.to(device))).float(), dim=-1)  # (n, L, V)
                logp = logp.gather(-1, y.to(device)[..., None])[..., 0].cpu()  # (n, L)
                keep = a[chunk, None] + offsets >= torch.tensor(done)[chunk, None]  # target index - 1 >= done
                out[(a[chunk, None] + offsets)[keep]] = logp[keep]
    return out


@torch.no_grad()
def recurrent_logprobs(model: nn.Module, ids: torch.Tensor, streams: int = 16, chunk: int = 256) -> torch.Tensor:
    """``ln P(ids[t] | ids[s_t : t])`` for t = 1 .. len(ids) - 1 under a recurrent model
    (``model(x, state) -> (logits, state)``): the text is read as ``streams`` consecutive
    pieces in parallel, each from a fresh state, in chunks of ``chunk`` steps."""
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 ids, got shape {tuple(ids.shape)}")
    N = len(ids) - 1
    B = min(streams, N)
    n = -(-N // B)  # steps per stream (the last one is padded at its end)
    pad = torch.zeros(n * B - N, dtype=ids.dtype)
    x = torch.cat([ids[:-1], pad]).view(B, n)  # (B, n): stream b reads ids[b n : (b + 1) n]
    y = torch.cat([ids[1:], pad]).view(B, n)  # (B, n): and predicts the next id of each
    with evaluating(model):
        device = next(model.parameters()).device
        state, pieces = None, []
        for j in range(0, n, chunk):
            logits, state = model(x[:, j : j + chunk].to(device), state)  # (B, c, V)
            logp = F.log_softmax(logits.float(), dim=-1).gather(-1, y[:, j : j + chunk, None].to(device))
            pieces.append(logp[..., 0].cpu())  # (B, c)
    return torch.cat(pieces, dim=1).reshape(-1)[:N]  # padding sits after the last real target
