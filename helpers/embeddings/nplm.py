"""The neural probabilistic language model of Bengio, Ducharme, Vincent & Jauvin (2003, "A neural
probabilistic language model", JMLR 3, Sec. 2, Eq. 1): word vectors learned by predicting the
next word from a window of the previous ones.

For a context of n - 1 words w_{t-n+1} .. w_{t-1}, each word i is looked up in the shared table
C of word feature vectors (|V_in|, m) and the vectors are concatenated::

    x = (C(w_{t-n+1}), ..., C(w_{t-1}))                            # (n - 1) m numbers
    y = b + W x + U tanh(d + H x)                                  # one score per word, |V|
    P(w_t = i | context) = exp(y_i) / sum_j exp(y_j)

with the paper's names: H (h, (n-1) m) and d (h,) the hidden layer, U (|V|, h) and b (|V|,) the
output layer, W (|V|, (n-1) m) the optional "direct connections" (W = 0 without them).
:func:`nplm_scores` is that equation; :class:`NeuralLM` holds the parameters (``C``, ``H``, ``U``,
``W`` as ``nn.Embedding`` / ``nn.Linear`` whose biases are d and b).

What a next-word distribution ranges over follows week 1 (:mod:`helpers.ngrams`): the output
words are the n-gram model's ``outcomes`` (the training words seen ``min_count`` times,
``<unk>`` for all others, and ``</s>``); ``<s>`` is an input only, padding the start of every
sentence, so a model predicts exactly the tokens whose perplexity week 1 reports
(:func:`context_windows`).

Departures from the paper: the concatenation runs oldest word first (a permutation of H's
columns: the same family of models); training uses Adam (Kingma & Ba 2015) rather than SGD
with a decaying rate and weight decay. ``cutoffs`` replaces the full softmax by the adaptive
softmax of Grave, Joulin, Cisse, Grangier & Jegou (2017, ICML), PyTorch's
``nn.AdaptiveLogSoftmaxWithLoss``: the most frequent words and one entry per cluster of rarer
words share a softmax, and a rare word's probability is its cluster's times its share of the
cluster. It is still a distribution over every word (tested: it sums to 1), many times cheaper
to train on a CPU; its input is ``tanh(d + H x)``, with ``x`` appended when ``direct`` (the
same W x term). Left out: the paper's parallel training and its mixture with an n-gram model
(the notebook interpolates the two).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from helpers.course.training import History, evaluating, train_loop

__all__ = ["NeuralLM", "NeuralLMConfig", "by_frequency", "context_windows", "nplm_scores", "perplexity", "train_nplm"]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"  # as in helpers.ngrams


@dataclass(frozen=True)
class NeuralLMConfig:
    """Sizes of a :class:`NeuralLM`; the paper's symbols in the comments."""

    vocab_size: int  # |V|, the words predicted (inputs also have <s>: id vocab_size)
    context: int = 3  # n - 1 previous words (ours: a 4-gram window)
    embed_dim: int = 64  # m (ours)
    hidden: int = 128  # h (ours)
    direct: bool = False  # the direct connections W x
    cutoffs: tuple[int, ...] | None = None  # None: full softmax (the paper); else adaptive softmax
    div_value: float = 4.0  # adaptive softmax: each cluster's input is div_value times smaller (PyTorch's default)

    def __post_init__(self):
        for name in ("vocab_size", "context", "embed_dim", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if self.cutoffs is not None:
            cutoffs = list(self.cutoffs)
            if not cutoffs or cutoffs != sorted(set(cutoffs)) or not all(0 < c < self.vocab_size - 1 for c in cutoffs):
                raise ValueError(
                    f"cutoffs={self.cutoffs!r} must be one or more strictly increasing ids between 1 and "
                    f"vocab_size - 2 = {self.vocab_size - 2} (word ids sorted most frequent first), or None "
                    "for the full softmax"
                )
            width = self.hidden + (self.context * self.embed_dim if self.direct else 0)
            if width // self.div_value ** len(cutoffs) < 1:
                raise ValueError(
                    f"the last of {len(cutoffs)} clusters would get an input of width {width} // "
                    f"{self.div_value}**{len(cutoffs)} = 0: use fewer cutoffs, a smaller div_value or a larger hidden"
                )


def nplm_scores(x: torch.Tensor, H: nn.Linear, U: nn.Linear, W: nn.Linear | None = None) -> torch.Tensor:
    """Bengio et al.'s Eq. 1 before the softmax: ``y = b + W x + U tanh(d + H x)``, (B, |V|).

    ``x`` (B, (n-1) m) is the concatenated context vectors; ``H`` holds H and d, ``U`` holds U
    and b, ``W`` (no bias) the direct connections or None.
    """
    y = U(torch.tanh(H(x)))  # b + U tanh(d + H x)
    return y if W is None else y + W(x)


class NeuralLM(nn.Module):
    """Bengio et al.'s network: ``forward(contexts (B, n-1)) -> log P(. | context) (B, |V|)``.

    Context ids index the output words, plus ``<s>`` = ``vocab_size`` (see
    :func:`context_windows`). :meth:`nll` gives the per-token negative log-likelihood of
    targets, the cheap way with the adaptive softmax.

    >>> lm = NeuralLM(NeuralLMConfig(vocab_size=10, context=2, embed_dim=4, hidden=8))
    >>> round(lm(torch.tensor([[10, 3]])).exp().sum().item(), 6)  # a distribution over the 10 words
    1.0
    """

    def __init__(self, config: NeuralLMConfig):
        super().__init__()
        self.config = c = config
        n_in = c.context * c.embed_dim  # (n - 1) m
        self.C = nn.Embedding(c.vocab_size + 1, c.embed_dim)  # word features; the last row is <s>
        self.H = nn.Linear(n_in, c.hidden)  # weight H, bias d
        if c.cutoffs is None:
            self.U = nn.Linear(c.hidden, c.vocab_size)  # weight U, bias b
            self.W = nn.Linear(n_in, c.vocab_size, bias=False) if c.direct else None
            if self.W is not None:
                nn.init.zeros_(self.W.weight)  # start from the model without direct connections
        else:
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                c.hidden + (n_in if c.direct else 0), c.vocab_size, list(c.cutoffs), c.div_value, head_bias=True
            )

    def features(self, contexts: torch.Tensor) -> torch.Tensor:
        """x: the context words' feature vectors, concatenated, (B, (n-1) m)."""
        if contexts.ndim != 2 or contexts.shape[1] != self.config.context:
            raise ValueError(f"contexts must have shape (B, {self.config.context}), got {tuple(contexts.shape)}")
        B = contexts.shape[0]
        return self.C(contexts).view(B, -1)  # (B, n-1, m) -> (B, (n-1) m)

    def _adaptive_input(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.tanh(self.H(x))  # (B, h)
        return torch.cat([a, x], dim=1) if self.config.direct else a  # [a; x]: the head's weights hold U and W

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:
        x = self.features(contexts)
        if self.config.cutoffs is None:
            return F.log_softmax(nplm_scores(x, self.H, self.U, self.W), dim=-1)  # (B, |V|)
        return self.adaptive.log_prob(self._adaptive_input(x))  # (B, |V|)

    def nll(self, contexts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """-log P(target | context) for each row, (B,)."""
        if targets.shape != contexts.shape[:1]:
            raise ValueError(f"need one target per context: {tuple(targets.shape)} vs {tuple(contexts.shape)}")
        if self.config.cutoffs is None:
            return -self(contexts).gather(1, targets[:, None])[:, 0]
        return -self.adaptive(self._adaptive_input(self.features(contexts)), targets).output

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def by_frequency(words: Sequence[str], sentences: Sequence[Sequence[str]]) -> list[str]:
    """``words`` (an n-gram model's outcomes) sorted by how often they are predicted in
    ``sentences``, most frequent first (ties keep their order): ``<unk>`` counts every word not
    in ``words``, ``</s>`` every sentence. The adaptive softmax needs ids in this order.

    >>> by_frequency(["</s>", "<unk>", "a", "b"], [["b", "c", "b", "b"], ["x"]])
    ['b', '</s>', '<unk>', 'a']
    """
    known = set(words)
    counts = Counter(w if w in known else UNK for s in sentences for w in s)
    counts[EOS] += len(sentences)
    return sorted(words, key=lambda w: -counts[w])


def context_windows(sentences: Sequence[Sequence[str]], words: Sequence[str], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every prediction of an n-gram model of order ``n`` over ``sentences``, as tensors.

    ``words`` are the output words (``<unk>`` and ``</s>`` among them; ids are their positions);
    a word not in ``words`` becomes ``<unk>``, each sentence is padded on the left with n - 1
    ``<s>`` (id ``len(words)``) and ends with ``</s>``. Returns contexts (N, n-1) and targets
    (N,), N = number of words + number of sentences, the tokens week 1's perplexity counts.

    >>> X, y = context_windows([["a", "b"]], ["a", "<unk>", "</s>"], n=3)
    >>> X.tolist(), y.tolist()
    ([[3, 3], [3, 0], [0, 1]], [0, 1, 2])
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n={n!r} must be an integer >= 2 (one word of context or more)")
    index = {w: i for i, w in enumerate(words)}
    for special in (UNK, EOS):
        if special not in index:
            raise ValueError(f"the output words must include {special!r} (use an n-gram model's outcomes)")
    if BOS in index:
        raise ValueError("<s> is never predicted: leave it out of the output words")
    unk, eos, bos = index[UNK], index[EOS], len(words)
    contexts, targets = [], []
    for sentence in sentences:
        if isinstance(sentence, str):
            raise ValueError("each sentence must be a list of tokens, not a string: tokenize it first")
        ids = [bos] * (n - 1) + [index.get(w, unk) for w in sentence] + [eos]
        for t in range(n - 1, len(ids)):
            contexts.append(ids[t - n + 1 : t])
            targets.append(ids[t])
    if not targets:
        raise ValueError("no sentences: nothing to predict")
    return torch.tensor(contexts), torch.tensor(targets)


@torch.no_grad()
def perplexity(model: NeuralLM, contexts: torch.Tensor, targets: torch.Tensor, batch_size: int = 4096) -> float:
    """exp of the mean negative log-likelihood per predicted token (evaluation mode)."""
    with evaluating(model):
        device = next(model.parameters()).device
        total = 0.0
        for start in range(0, len(targets), batch_size):
            x, y = contexts[start : start + batch_size].to(device), targets[start : start + batch_size].to(device)
            total += model.nll(x, y).double().sum().item()
    return math.exp(total / len(targets))


def train_nplm(model: NeuralLM, contexts: torch.Tensor, targets: torch.Tensor, epochs: float = 3.0,
               batch_size: int = 512, lr: float = 3e-3, seed: int = 0, eval_fn=None, eval_every: int | None = None,
               progress: bool = True) -> History:  # fmt: skip
    """Adam on the mean negative log-likelihood of shuffled minibatches, the learning rate
    falling linearly to 0 over ``epochs`` passes (a fraction is allowed). Reproducible from ``seed``."""
    if not epochs > 0:
        raise ValueError(f"epochs={epochs!r} must be positive")
    N = len(targets)
    steps = max(1, int(epochs * N / batch_size))
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)

    def batches():
        while True:
            order = torch.randperm(N, generator=generator)
            for start in range(0, N - batch_size + 1, batch_size):  # full batches only
                rows = order[start : start + batch_size]
                yield contexts[rows].to(device), targets[rows].to(device)

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    return train_loop(model, batches(), lambda m, b: m.nll(*b).mean(), optimizer, steps, scheduler=scheduler,
                      eval_fn=eval_fn, eval_every=eval_every, progress=progress, desc="neural LM")  # fmt: skip
