"""Word2vec: skip-gram and CBOW with negative sampling, trained in vectorised batches.

Implements the two architectures of Mikolov, Chen, Corrado & Dean (2013a, "Efficient estimation
of word representations in vector space", ICLR workshop, Sec. 3: CBOW and skip-gram) with the
training method of Mikolov, Sutskever, Chen, Corrado & Dean (2013b, "Distributed
representations of words and phrases and their compositionality", NIPS): negative sampling
(their Eq. 4), the noise distribution U(w)^(3/4)/Z (Sec. 2.2) and the subsampling of frequent
words (Sec. 2.3). For a centre word w_I with input vector v and an observed output word w_O
with output vector u_O, negative sampling maximises

    log sigma(u_O . v) + sum_{k=1..K} log sigma(-u_k . v),    w_k ~ P_n(w) = U(w)^(3/4) / Z.

Where the papers are silent this follows the reference C code (word2vec.c), as gensim does:
- a word w of corpus frequency f(w) is kept with probability (sqrt(f/t) + 1) t / f (word2vec.c;
  the paper's discard probability 1 - sqrt(t/f) is nearly the same for f >> t), t = ``sample``;
- the dynamic window: for each centre a window b is drawn uniformly from 1..``window``, which
  weights near words more (2013a, Sec. 3.2); discarded words are removed before windows are cut;
- in skip-gram the input vector of each context word predicts the centre word; negatives equal
  to the target are skipped; the learning rate falls linearly from ``alpha`` to ``min_alpha``;
- CBOW averages the context input vectors and adds the full error to each of them.

Departures (for speed, no per-pair Python loop): the gradient for a batch of centre positions
is computed from the same parameters and applied at once with ``index_add_`` (sparse SGD, not
one pair at a time as in word2vec.c's Hogwild threads); in skip-gram the K negatives drawn for
a centre position are shared by its context words (word2vec.c draws new ones for each pair).
Left out: hierarchical softmax, phrase detection, ``max_vocab_size`` pruning.
The clear version of the objective is :func:`negative_sampling_loss` (autograd); the fast
updates :func:`skipgram_step_` and :func:`cbow_step_` are tested equal to an SGD step on it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from helpers.embeddings import Embeddings
from helpers.training import History

__all__ = [
    "Word2Vec",
    "Word2VecConfig",
    "build_vocab",
    "cbow_step_",
    "keep_probabilities",
    "negative_sampling_loss",
    "noise_distribution",
    "skipgram_step_",
]


@dataclass(frozen=True)
class Word2VecConfig:
    """Hyperparameters; defaults are gensim's (which follow word2vec.c) unless noted."""

    dim: int = 100  # gensim vector_size
    window: int = 5  # gensim, word2vec.c
    negative: int = 5  # gensim; 5-20 for small data, 2-5 for large (Mikolov et al. 2013b, Sec. 2.2)
    min_count: int = 5  # gensim, word2vec.c
    sg: bool = True  # skip-gram (True) or CBOW (False)
    epochs: int = 5  # gensim, word2vec.c (-iter 5)
    sample: float = 1e-3  # gensim, word2vec.c; 1e-5 in Mikolov et al. 2013b for billions of words
    alpha: float = 0.025  # gensim; word2vec.c uses 0.05 for CBOW
    min_alpha: float = 1e-4  # gensim
    ns_exponent: float = 0.75  # Mikolov et al. 2013b, Sec. 2.2
    batch_size: int = 1024  # centre positions per update (ours: see the module docstring)
    seed: int = 0

    def __post_init__(self):
        for name in ("dim", "window", "negative", "min_count", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if not 0 <= self.sample < 1:
            raise ValueError(f"sample={self.sample!r} must be in [0, 1): 0 switches subsampling off")
        if not 0 < self.min_alpha <= self.alpha:
            raise ValueError(f"need 0 < min_alpha <= alpha, got alpha={self.alpha}, min_alpha={self.min_alpha}")


def build_vocab(sentences: Sequence[Sequence[str]], min_count: int = 5) -> tuple[list[str], list[int]]:
    """Words seen at least ``min_count`` times, most frequent first (ties: first seen first).

    >>> build_vocab([["a", "b", "a"], ["c", "a", "b"]], min_count=2)
    (['a', 'b'], [3, 2])
    """
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise ValueError("sentences must be a list of sentences, each a list of word tokens")
    counts: Counter = Counter()
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str) or not isinstance(sentence, Sequence):
            raise ValueError(
                f"sentence {i} is a {type(sentence).__name__}, not a list of tokens: "
                "split text into words first (helpers.text.tokenize)"
            )
        counts.update(sentence)
    if not counts:
        raise ValueError("the corpus is empty: pass at least one sentence with words in it")
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: -counts[w])
    if not kept:
        best = max(counts.values())
        raise ValueError(f"no word occurs min_count={min_count} times (the most frequent occurs {best}): lower min_count")
    return kept, [counts[w] for w in kept]


def keep_probabilities(counts: torch.Tensor, sample: float) -> torch.Tensor:
    """Probability of keeping each occurrence of a word: min(1, (sqrt(f/t) + 1) t/f), f its
    count, t = sample x total count (word2vec.c; gensim). ``sample=0`` keeps everything."""
    counts = counts.double()
    if sample == 0:
        return torch.ones_like(counts)
    t = sample * counts.sum()
    return ((counts / t).sqrt() + 1).mul(t / counts).clamp(max=1.0)


def noise_distribution(counts: torch.Tensor, exponent: float = 0.75) -> torch.Tensor:
    """P_n(w) = count(w)^exponent / Z (Mikolov et al. 2013b, Sec. 2.2)."""
    weights = counts.double() ** exponent
    return weights / weights.sum()


def negative_sampling_loss(v: torch.Tensor, u_pos: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    """Mean negative-sampling loss, -[log s(u_O.v) + sum_k log s(-u_k.v)] (Mikolov et al. 2013b, Eq. 4).

    ``v``: input vectors (B, d); ``u_pos``: output vectors of the observed words (B, d);
    ``u_neg``: output vectors of K noise words per row (B, K, d). The clear version: autograd
    gives the gradients that :func:`skipgram_step_` computes by hand.
    """
    pos = torch.einsum("bd,bd->b", v, u_pos)  # (B,)
    neg = torch.einsum("bkd,bd->bk", u_neg, v)  # (B, K)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(dim=1)).mean()


def skipgram_step_(W_in, W_out, context, context_mask, targets, target_mask, lr: float) -> tuple[float, int]:
    """One sparse SGD step of skip-gram with negative sampling, in place on ``W_in``/``W_out``.

    For B centre positions: ``context`` (B, C) the ids of the context words (input vectors v),
    ``targets`` (B, 1+K) the centre word then K noise words (output vectors u); the masks say
    which entries take part. Every (context, target) pair adds lr * (label - s(u.v)) times u to
    v and times v to u, label 1 for the centre word, 0 for noise: the gradient of the summed
    loss of :func:`negative_sampling_loss`. Returns (summed loss, number of pairs).
    """
    B, C = context.shape
    d = W_in.shape[1]
    v = W_in.index_select(0, context.reshape(-1)).view(B, C, d)  # (B, C, d)
    u = W_out.index_select(0, targets.reshape(-1)).view(B, -1, d)  # (B, 1+K, d)
    logits = torch.bmm(v, u.transpose(1, 2))  # (B, C, 1+K)
    mask = context_mask.unsqueeze(2) & target_mask.unsqueeze(1)  # (B, C, 1+K)
    sign = torch.full_like(logits[0, 0], -1.0)
    sign[0] = 1.0  # +u.v for the observed word, -u.v for the noise words
    loss = -(F.logsigmoid(logits * sign) * mask).sum().item()
    # g = lr * (label - sigma(u.v)): the step along the gradient of log sigma(+-u.v)
    g = torch.sigmoid(logits).neg_()
    g[..., 0] += 1.0
    g.mul_(mask).mul_(lr)
    W_in.index_add_(0, context.reshape(-1), torch.bmm(g, u).view(B * C, d))
    W_out.index_add_(0, targets.reshape(-1), torch.bmm(g.transpose(1, 2), v).view(-1, d))
    return loss, int(context_mask.sum())


def cbow_step_(W_in, W_out, context, context_mask, targets, target_mask, lr: float) -> tuple[float, int]:
    """One sparse SGD step of CBOW with negative sampling, in place on ``W_in``/``W_out``.

    h is the mean of the input vectors of the (masked) context words; the centre word and K
    noise words in ``targets`` (B, 1+K) are predicted from h. The error lr * sum_k (label_k -
    s(u_k.h)) u_k is added in full to every context vector (word2vec.c, gensim cbow_mean=1).
    Returns (summed loss, number of centre positions with at least one context word).
    """
    B, C = context.shape
    d = W_in.shape[1]
    n = context_mask.sum(dim=1, keepdim=True)  # (B, 1)
    weights = (context_mask / n.clamp(min=1)).unsqueeze(1)  # (B, 1, C)
    v = W_in.index_select(0, context.reshape(-1)).view(B, C, d)  # (B, C, d)
    h = torch.bmm(weights.to(v.dtype), v)  # (B, 1, d)
    u = W_out.index_select(0, targets.reshape(-1)).view(B, -1, d)  # (B, 1+K, d)
    logits = torch.bmm(h, u.transpose(1, 2))  # (B, 1, 1+K)
    mask = (target_mask & (n > 0)).unsqueeze(1)  # (B, 1, 1+K)
    sign = torch.full_like(logits[0, 0], -1.0)
    sign[0] = 1.0
    loss = -(F.logsigmoid(logits * sign) * mask).sum().item()
    g = torch.sigmoid(logits).neg_()
    g[..., 0] += 1.0
    g.mul_(mask).mul_(lr)
    error = torch.bmm(g, u)  # (B, 1, d)
    W_in.index_add_(0, context.reshape(-1), (error * context_mask.unsqueeze(2)).view(B * C, d))
    W_out.index_add_(0, targets.reshape(-1), torch.bmm(g.transpose(1, 2), h).view(-1, d))
    return loss, int((n > 0).sum())


class Word2Vec(Embeddings):
    """Skip-gram (``sg=True``) or CBOW word vectors with negative sampling.

    >>> model = Word2Vec(dim=50, epochs=5, min_count=1).fit([["the", "cat", "sat"]] * 50)
    >>> model.vector("cat").shape
    (50,)

    After :meth:`fit`: ``words`` (most frequent first), ``counts``, ``vectors`` (the input
    vectors, a NumPy array aligned with ``words``), ``history`` (mean loss per batch), and the
    queries of :class:`helpers.embeddings.Embeddings` (``most_similar``, ``analogy`` ...).
    """

    def __init__(self, dim=100, window=5, negative=5, min_count=5, sg=True, epochs=5, seed=0, **kwargs):
        self.config = Word2VecConfig(
            dim=dim, window=window, negative=negative, min_count=min_count, sg=sg, epochs=epochs, seed=seed, **kwargs
        )
        self.W_in: torch.Tensor | None = None
        self.W_out: torch.Tensor | None = None
        self.history = History()

    def __repr__(self) -> str:
        trained = f"{len(self._words)} words" if self.W_in is not None else "not trained"
        return f"Word2Vec({', '.join(f'{k}={v}' for k, v in asdict(self.config).items())}; {trained})"

    @property
    def words(self) -> list[str]:
        self._check_trained()
        return list(self._words)

    @property
    def vectors(self) -> np.ndarray:
        self._check_trained()
        return self.W_in.detach().cpu().numpy().copy()

    def _check_trained(self):
        if self.W_in is None:
            raise ValueError("this Word2Vec is not trained yet: call fit(sentences) first")

    def fit(self, sentences: Sequence[Sequence[str]], progress: bool = True, device=None) -> Word2Vec:
        """Train on ``sentences`` (lists of tokens) from a fresh start; returns ``self``.

        ``device`` ("cpu", "cuda", a torch.device) is where the parameters live (default CPU).
        """
        cfg = self.config
        words, counts = build_vocab(sentences, cfg.min_count)
        self._set_vocab(words, counts)
        device = torch.device(device or "cpu")
        gen = torch.Generator().manual_seed(cfg.seed)
        V, d = len(words), cfg.dim
        # word2vec.c: input vectors uniform in [-0.5/d, 0.5/d), output vectors zero
        self.W_in = ((torch.rand(V, d, generator=gen) - 0.5) / d).to(device)
        self.W_out = torch.zeros(V, d, device=device)
        ids, sentence_of, raw_position, n_raw = self._encode(sentences)
        keep_p = keep_probabilities(torch.tensor(counts), cfg.sample).float()
        noise = noise_distribution(torch.tensor(counts), cfg.ns_exponent).float()
        step = skipgram_step_ if cfg.sg else cbow_step_
        total = cfg.epochs * n_raw
        self.history = History()
        bar = tqdm(total=cfg.epochs, desc="word2vec", disable=not progress, unit="epoch")
        for epoch in range(cfg.epochs):
            # word2vec.c: subsample, then cut the windows over the words that are left
            kept = torch.rand(len(ids), generator=gen) < keep_p[ids]
            tokens, sentence, raw = ids[kept], sentence_of[kept], raw_position[kept]
            N = len(tokens)
            b = torch.randint(1, cfg.window + 1, (N,), generator=gen)  # dynamic window
            negatives = torch.multinomial(noise, N * cfg.negative, replacement=True, generator=gen).view(N, -1)
            loss_sum, pairs = 0.0, 0
            for start in range(0, N, cfg.batch_size):
                stop = min(start + cfg.batch_size, N)
                lr = max(cfg.min_alpha, cfg.alpha - (cfg.alpha - cfg.min_alpha) * (epoch * n_raw + int(raw[start])) / total)
                for width in range(1, cfg.window + 1):  # one call per window size: no padding
                    centres = start + torch.nonzero(b[start:stop] == width).squeeze(1)
                    if len(centres) == 0:
                        continue
                    context, mask = _windows(centres, width, tokens, sentence)
                    targets = torch.cat([tokens[centres, None], negatives[centres]], dim=1)  # (B, 1+K)
                    target_mask = torch.ones_like(targets, dtype=torch.bool)
                    target_mask[:, 1:] = targets[:, 1:] != targets[:, :1]  # skip noise = centre
                    dev = [t.to(device) for t in (context, mask, targets, target_mask)]
                    batch_loss, batch_pairs = step(self.W_in, self.W_out, *dev, lr)
                    loss_sum, pairs = loss_sum + batch_loss, pairs + batch_pairs
                if pairs:
                    self.history.steps.append(len(self.history.steps) + 1)
                    self.history.loss.append(loss_sum / pairs)
                    loss_sum, pairs = 0.0, 0
            bar.update(1)
            if self.history.loss:
                bar.set_postfix(loss=f"{self.history.loss[-1]:.3f}")
        bar.close()
        return self

    def _set_vocab(self, words: list[str], counts: list[int]) -> None:
        self._words = list(words)
        self.counts = list(counts)
        self._index = {w: i for i, w in enumerate(self._words)}

    def _encode(self, sentences):
        """Flat ids of the in-vocabulary tokens, their sentence number, their position in the
        raw token stream (for the learning-rate schedule) and the raw token count."""
        ids, sentence_of, raw_position, n_raw = [], [], [], 0
        index = self._index
        for s, sentence in enumerate(sentences):
            for offset, word in enumerate(sentence):
                i = index.get(word)
                if i is not None:
                    ids.append(i)
                    sentence_of.append(s)
                    raw_position.append(n_raw + offset)
            n_raw += len(sentence)
        return torch.tensor(ids), torch.tensor(sentence_of), torch.tensor(raw_position), n_raw

    def save(self, path) -> None:
        """Save vocabulary, counts, both weight matrices and the configuration (``.npz``)."""
        self._check_trained()
        np.savez(
            Path(path),
            words=np.array(self._words, dtype=str),
            counts=np.array(self.counts, dtype=np.int64),
            W_in=self.W_in.cpu().numpy(),
            W_out=self.W_out.cpu().numpy(),
            config=json.dumps(asdict(self.config)),
        )

    @classmethod
    def load(cls, path) -> Word2Vec:
        """Load a model written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            model = cls(**json.loads(str(data["config"])))
            model._set_vocab([str(w) for w in data["words"]], data["counts"].tolist())
            model.W_in, model.W_out = torch.from_numpy(data["W_in"]), torch.from_numpy(data["W_out"])
        return model


def _windows(centres: torch.Tensor, width: int, tokens: torch.Tensor, sentence: torch.Tensor):
    """Context ids (B, 2*width) around each centre position, and which are inside its sentence."""
    offsets = torch.cat([torch.arange(-width, 0), torch.arange(1, width + 1)])  # (2w,)
    positions = centres.unsqueeze(1) + offsets  # (B, 2w)
    inside = (positions >= 0) & (positions < len(tokens))
    positions = positions.clamp(0, len(tokens) - 1)
    mask = inside & (sentence[positions] == sentence[centres].unsqueeze(1))
    return tokens[positions], mask


def _check_finite(x: float, name: str) -> float:  # pragma: no cover - kept for clarity of errors
    if not math.isfinite(x):
        raise ValueError(f"{name} became {x}: lower alpha")
    return x
