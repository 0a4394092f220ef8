"""The leaderboard entries of weeks 1-5, each trained by its week's own kernels and recipe.

Every entry trains on the canonical training text (:mod:`~helpers.course.leaderboard.text`)
and nothing else; no choice below was tuned on the test text.

- Week 1: the word unigram (MLE) and interpolated modified Kneser-Ney 3- and 5-grams
  (:class:`helpers.ngrams.NGramLM`), with week 1's vocabulary rule: words seen once become
  ``<unk>``. Each spells its out-of-vocabulary words with a :class:`Speller` trained on those
  same once-seen training words. Cheap: retrained on every run (seconds).
- Week 2: Bengio et al. (2003)'s neural language model (:class:`helpers.embeddings.NeuralLM`:
  3 previous words, 64-d vectors, 128 tanh units, the adaptive softmax; the week 2 notebook's
  recipe: Adam 3e-3 falling linearly to 0 over 3 passes, batches of 512) over week 1's vocabulary
  (words seen once are ``<unk>``, spelled by the same speller as the n-gram models).
- Week 3: the character bigram of weeks 3 and 5 (add-one counts,
  :func:`helpers.data.baseline_losses`) and week 3's character LSTM (:class:`helpers.rnn.CharLM`,
  256 units, its notebook's recipe: Adam 3e-3, clipping at 1, truncated BPTT over 64
  characters in 32 streams).
- Week 5: week 5's mini-GPT (:class:`helpers.transformer.GPT`, 2 layers, 4 heads, width 64,
  context 64; its notebook's recipe: AdamW 1e-2 with a 30-step warm-up and a cosine decay,
  clipping at 1, batches of 32 random windows).

Both neural models read the same number of training characters (``STEPS`` x 32 x 64, about
1.8 passes over the 2.25M training characters), more than the notebooks (800 and 600
steps) can afford in a lecture; both use the character vocabulary rule of weeks 3 and 5
(characters seen fewer than 20 times share one unknown symbol).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from helpers.course.leaderboard.registry import Context, Entry, Stopwatch, Trained, register
from helpers.course.leaderboard.scoring import (
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
from helpers.course.leaderboard.text import CanonicalText
from helpers.course.training import train_loop, warmup_cosine
from helpers.data.chars import baseline_losses, random_windows
from helpers.data.vocab import Vocab
from helpers.embeddings.nplm import (
    NeuralLM,
    NeuralLMConfig,
    by_frequency,
    context_windows,
    train_nplm,
)
from helpers.ngrams.model import NGramLM
from helpers.rnn.bptt import TruncatedBPTT, stream_batches
from helpers.rnn.charlm import CharLM, CharLMConfig
from helpers.transformer.gpt import GPT, GPTConfig, lm_loss

__all__ = ["CharModel", "char_vocab", "train_bengio", "train_char_gpt", "train_char_lstm", "train_ngram", "word_speller"]

MIN_COUNT = 2  # week 1: words seen once become <unk>
CHAR_MIN_COUNT = 20  # weeks 3 and 5: rarer characters share the unknown symbol
STEPS, BATCH, BLOCK = 2000, 32, 64  # both neural models: 2000 x 32 x 64 = 4.1M training characters


# ------------------------------------------------------------------ week 1: counting
def word_speller(train: CanonicalText, vocab: set[str]) -> Speller:
    """The speller of out-of-vocabulary words: every training occurrence of a word outside
    ``vocab`` (the once-seen words) is one spelling to learn from."""
    return Speller().fit(w for s in train.sentences for w in s if w not in vocab)


def train_ngram(ctx: Context, order: int, smoothing: str) -> Trained:
    with Stopwatch() as clock, warnings.catch_warnings():
        # with min_count=2 no unigram is seen once: Kneser-Ney's order-1 discounts fall back to
        # fixed ones (week 1 says the same)
        warnings.filterwarnings("ignore", message="too few 1-grams")
        lm = NGramLM(order, smoothing=smoothing, min_count=MIN_COUNT).fit(ctx.train.sentences)
        vocab = set(lm.vocab)
        speller = word_speller(ctx.train, vocab)
    model = OpenVocabularyLM(ngram_logprobs(lm), vocab, speller, lm)
    return Trained(model, clock.wall, ngram_parameters(lm) + speller.num_parameters(), clock.cpu)


SPELLER = "out-of-vocabulary words spelled by a character 6-gram (Kneser-Ney) of the once-seen training words"
register(Entry("unigram", week=1, name="word unigram (MLE)", unit="word",
               train=lambda ctx: train_ngram(ctx, 1, "mle"), recipe=f"counts; words seen once -> <unk>; {SPELLER}"))
register(Entry("kn3", week=1, name="Kneser-Ney 3-gram", unit="word",
               train=lambda ctx: train_ngram(ctx, 3, "kneser-ney"), recipe="interpolated modified Kneser-Ney; <unk> and speller as the unigram"))
register(Entry("kn5", week=1, name="Kneser-Ney 5-gram", unit="word",
               train=lambda ctx: train_ngram(ctx, 5, "kneser-ney"), recipe="interpolated modified Kneser-Ney; <unk> and speller as the unigram"))  # fmt: skip


# ------------------------------------------------------------------ week 2: the first neural LM
BENGIO_CONTEXT = 3  # previous words: a 4-gram window, as in the week 2 notebook


@dataclass
class NPLMLogprobs:
    """For :class:`OpenVocabularyLM`: natural-log P of each word and of ``</s>``, per sentence
    (a class rather than a closure, so the trained entry can be cached with ``torch.save``)."""

    model: NeuralLM
    words: list[str]

    @torch.no_grad()
    def __call__(self, sentences: list[list[str]]) -> list[list[float]]:
        if not sentences:
            return []
        self.model.eval()
        contexts, targets = context_windows(sentences, self.words, BENGIO_CONTEXT + 1)
        nll = torch.cat([self.model.nll(contexts[i : i + 4096], targets[i : i + 4096]) for i in range(0, len(targets), 4096)])
        values, start = [], 0
        for sentence in sentences:
            values.append((-nll[start : start + len(sentence) + 1]).double().tolist())
            start += len(sentence) + 1
        return values


def train_bengio(ctx: Context, epochs: float = 3.0, progress: bool = True) -> Trained:
    """Week 2, section 3: ``NeuralLM`` over week 1's vocabulary, the notebook's recipe."""
    with Stopwatch() as clock, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="too few 1-grams")
        sentences = ctx.train.sentences
        counts = NGramLM(1, smoothing="mle", min_count=MIN_COUNT).fit(sentences)
        words = by_frequency(counts.outcomes, sentences)  # the adaptive softmax wants frequent words first
        contexts, targets = context_windows(sentences, words, BENGIO_CONTEXT + 1)
        torch.manual_seed(ctx.seed)
        model = NeuralLM(NeuralLMConfig(len(words), context=BENGIO_CONTEXT, embed_dim=64, hidden=128, cutoffs=(2000, 6000)))
        train_nplm(model, contexts, targets, epochs=epochs, batch_size=512, lr=3e-3, seed=ctx.seed, progress=progress)
        model.eval()
        vocab = set(words)
        speller = word_speller(ctx.train, vocab)
    lm = OpenVocabularyLM(NPLMLogprobs(model, words), vocab, speller, model)
    return Trained(lm, clock.wall, model.num_parameters() + speller.num_parameters(), clock.cpu)


register(Entry("bengio", week=2, name="Bengio et al. 2003 neural LM", unit="word", train=train_bengio, cached=True,
               recipe="3 previous words, 64-d vectors, 128 tanh units, adaptive softmax; Adam 3e-3 -> 0 over 3 passes x 512; <unk> and speller as the unigram"))  # fmt: skip


# ------------------------------------------------------------------ weeks 3 and 5: characters
def char_vocab(train: CanonicalText) -> Vocab:
    return Vocab.from_text(train.text, min_count=CHAR_MIN_COUNT)


@dataclass
class CharModel:
    """A trained character model, its vocabulary, and how it reads a long text: ``"recurrent"``
    (state carried across chunks) or ``"causal"`` (sliding windows of ``block_size``)."""

    model: torch.nn.Module
    vocab: Vocab
    reads: str
    block_size: int = BLOCK

    def score(self, text: CanonicalText) -> Score:
        ids = encode_with_context(self.vocab, text.text)
        if self.reads == "recurrent":
            logprobs = recurrent_logprobs(self.model, ids)
        else:
            logprobs = causal_logprobs(self.model, ids, self.block_size, stride=self.block_size // 2)
        return char_score(logprobs, ids[1:], self.vocab)


@dataclass
class CharBigram:
    """Add-one character bigram counts (:func:`helpers.data.baseline_losses`)."""

    vocab: Vocab
    train_ids: torch.Tensor

    def score(self, text: CanonicalText) -> Score:
        ids = encode_with_context(self.vocab, text.text)
        nats = baseline_losses(self.train_ids, ids, len(self.vocab))["bigram"] * (len(ids) - 1)  # mean over ids[1:]
        unknown = int((ids[1:] == self.vocab.unk_id).sum())
        n_known = len(self.vocab) - 1
        return Score(nats / math.log(2) + unknown * unknown_char_bits(n_known), len(ids) - 1, unknown)


def train_char_bigram(ctx: Context) -> Trained:
    with Stopwatch() as clock:  # the counting itself happens when it scores: a bincount
        vocab = char_vocab(ctx.train)
        train_ids = encode_with_context(vocab, ctx.train.text)
    return Trained(CharBigram(vocab, train_ids), clock.wall, len(vocab) ** 2, clock.cpu)


def train_char_lstm(ctx: Context, steps: int = STEPS, progress: bool = True) -> Trained:
    """Week 3, section 7: ``CharLM`` with 256 LSTM units on 32 streams, truncated BPTT over 64."""
    with Stopwatch() as clock:
        vocab = char_vocab(ctx.train)
        ids = vocab.encode(ctx.train.text)
        torch.manual_seed(ctx.seed)
        model = CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=256, embed_dim=32, cell="lstm", fast=True))
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        train_loop(model, stream_batches(ids, batch_size=BATCH, bptt=BLOCK), TruncatedBPTT(), optimizer,
                   steps=steps, grad_clip=1.0, progress=progress, desc="character LSTM")  # fmt: skip
    return Trained(CharModel(model, vocab, "recurrent"), clock.wall, model.num_parameters(), clock.cpu)


def train_char_gpt(ctx: Context, steps: int = STEPS, progress: bool = True) -> Trained:
    """Week 5, section 6: the mini-GPT and its recipe."""
    with Stopwatch() as clock:
        vocab = char_vocab(ctx.train)
        ids = vocab.encode(ctx.train.text)
        torch.manual_seed(ctx.seed)
        model = GPT(GPTConfig(vocab_size=len(vocab), block_size=BLOCK, n_layer=2, n_head=4, n_embd=64, fast=True))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.01)
        batches = random_windows(ids, BLOCK, BATCH, torch.Generator().manual_seed(ctx.seed))
        train_loop(model, batches, lm_loss, optimizer, steps=steps, scheduler=warmup_cosine(optimizer, steps),
                   grad_clip=1.0, progress=progress, desc="character mini-GPT")  # fmt: skip
    return Trained(CharModel(model, vocab, "causal", BLOCK), clock.wall, model.num_parameters(), clock.cpu)


register(Entry("char-bigram", week=3, name="character bigram (add-one)", unit="character",
               train=train_char_bigram, recipe="counts of character pairs, add-one (the baseline of weeks 3 and 5)"))
register(Entry("char-lstm", week=3, name="character LSTM (week 3)", unit="character", train=train_char_lstm, cached=True,
               recipe=f"CharLM, 256 units; Adam 3e-3, clip 1, truncated BPTT 64 x 32 streams; {STEPS:,} steps"))
register(Entry("char-gpt", week=5, name="character mini-GPT (week 5)", unit="character", train=train_char_gpt, cached=True,
               recipe=f"GPT, 2 layers x 4 heads, width 64, context 64; AdamW 1e-2, warm-up + cosine, clip 1; {STEPS:,} steps x 32 windows"))  # fmt: skip
