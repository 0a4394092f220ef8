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
  to the target are skipped; the learning rate falls linearly from ``alpha`` to ``min_alpha``
  (the defaults 0.025 and 0.0001 are gensim's; word2vec.c starts at 0.025 for skip-gram and 0.05
  for CBOW and stops at 0.0001 times the starting rate: its ``main`` and ``TrainModelThread``);
- CBOW averages the context input vectors and adds the full error to each of them.

Departures (for speed, no per-pair Python loop): the gradient for a batch of centre positions
is computed from the same parameters and applied at once with ``index_add_`` (sparse SGD, not
one pair at a time as in word2vec.c); the batch is kept small enough that no vector gets too
many summed updates at once (:func:`safe_batch_size`: larger batches can diverge); in
skip-gram the K negatives drawn for a centre position are shared by its context words
(word2vec.c draws new ones for each pair). ``workers > 1`` runs that many threads on parts of
each epoch, updating the shared vectors without locks like word2vec.c and gensim (Hogwild,
Recht, Re, Wright & Niu 2011, NIPS); with one worker (the default) a seed gives the same
vectors on every run.
Left out: hierarchical softmax, phrase detection, ``max_vocab_size`` pruning.
The objective and the update steps are in :mod:`helpers.embeddings.negative_sampling`: the clear version
:func:`negative_sampling_loss` (autograd) and the fast steps, tested equal to an SGD step on it.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers.course.training import History
from helpers.embeddings.negative_sampling import cbow_step_, negative_sampling_loss, skipgram_step_
from helpers.embeddings.sampling import (
    alias_sample,
    alias_table,
    build_vocab,
    keep_probabilities,
    noise_distribution,
    window_layout,
)
from helpers.embeddings.vectors import Embeddings

__all__ = ["Word2Vec", "Word2VecConfig", "cbow_step_", "negative_sampling_loss", "safe_batch_size", "skipgram_step_"]
# (the steps and the loss live in helpers.embeddings.negative_sampling; re-exported here for convenience)


@dataclass(frozen=True)
class Word2VecConfig:
    """Hyperparameters; defaults are gensim's (which mostly follow word2vec.c) unless noted."""

    dim: int = 100  # gensim vector_size
    window: int = 5  # gensim, word2vec.c
    negative: int = 5  # gensim; 5-20 for small data, 2-5 for large (Mikolov et al. 2013b, Sec. 2.2)
    min_count: int = 5  # gensim, word2vec.c
    sg: bool = True  # skip-gram (True) or CBOW (False)
    epochs: int = 5  # gensim, word2vec.c (-iter 5)
    sample: float = 1e-3  # gensim, word2vec.c; 1e-5 in Mikolov et al. 2013b for billions of words
    alpha: float = 0.025  # gensim; word2vec.c: 0.025 for skip-gram, 0.05 for CBOW
    min_alpha: float = 1e-4  # gensim; word2vec.c: alpha * 1e-4 (2.5e-6 for skip-gram)
    ns_exponent: float = 0.75  # Mikolov et al. 2013b, Sec. 2.2
    batch_size: int = 1024  # most centre positions per update (ours; see safe_batch_size)
    max_repeats: float = 256.0  # most expected updates of one vector per batch (ours; see safe_batch_size)
    workers: int = 1  # threads updating the vectors at once (gensim's workers); > 1 is not reproducible
    seed: int = 0

    def __post_init__(self):
        for name in ("dim", "window", "negative", "min_count", "epochs", "batch_size", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if not self.max_repeats > 0:
            raise ValueError(f"max_repeats={self.max_repeats!r} must be positive")
        if not 0 <= self.sample < 1:
            raise ValueError(f"sample={self.sample!r} must be in [0, 1): 0 switches subsampling off")
        if not 0 < self.min_alpha <= self.alpha:
            raise ValueError(f"need 0 < min_alpha <= alpha, got alpha={self.alpha}, min_alpha={self.min_alpha}")


def safe_batch_size(config: Word2VecConfig, counts: torch.Tensor) -> int:
    """The batch size to train with: ``config.batch_size``, made smaller when needed so that no
    vector is expected to receive more than ``max_repeats * 0.025 / alpha`` updates per batch.

    A batch's updates are computed from the same parameters and summed, so a vector that gets
    m gradient terms in a batch takes m steps without seeing their effect, where sequential SGD
    would; for large m (a small vocabulary, frequent words) this overshoots and training
    diverges. Per centre position, a word w of frequency f(w) after subsampling is expected as
    a context c f(w) times (c = window + 1 context words on average), each time with 1 + K
    terms; its output vector gets f(w) + K P_n(w) terms, times c in skip-gram (one per context
    word). The limit 256 (at alpha = 0.025) is our calibration on the test corpora.
    """
    counts = counts.double()
    kept = counts * keep_probabilities(counts, config.sample)
    f = kept / kept.sum()
    c, K = config.window + 1, config.negative
    as_target = (f + K * noise_distribution(counts, config.ns_exponent)) * (c if config.sg else 1)
    per_centre = float(torch.maximum(c * f * (1 + K), as_target).max())
    limit = config.max_repeats * 0.025 / config.alpha / per_centre
    return max(1, min(config.batch_size, int(limit)))


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
        self._set_vocab([], [])

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
        noise = alias_table(noise_distribution(torch.tensor(counts), cfg.ns_exponent))
        step = skipgram_step_ if cfg.sg else cbow_step_
        self.batch_size = safe_batch_size(cfg, torch.tensor(counts))
        self.history = History()
        bar = tqdm(total=cfg.epochs, desc="word2vec", disable=not progress, unit="epoch")
        with _one_intra_op_thread():
            for epoch in range(cfg.epochs):
                # word2vec.c: subsample, then cut the windows over the words that are left
                kept = torch.rand(len(ids), generator=gen) < keep_p[ids]
                tokens, sentence, raw = ids[kept], sentence_of[kept], raw_position[kept]
                N = len(tokens)
                if N > 0:  # a tiny corpus can lose every word to subsampling in one pass
                    b = torch.randint(1, cfg.window + 1, (N,), generator=gen)  # dynamic window
                    negatives = alias_sample(*noise, N * cfg.negative, generator=gen).view(N, cfg.negative)
                    layout = [t.to(device) for t in window_layout(tokens, sentence, b, negatives, cfg.window)]
                    self._train_epoch(step, layout, raw, epoch, n_raw)
                bar.update(1)
                if self.history.loss:
                    bar.set_postfix(loss=f"{self.history.loss[-1]:.3f}")
        bar.close()
        return self

    def _train_epoch(self, step, layout, raw: torch.Tensor, epoch: int, n_raw: int) -> None:
        """One pass over an epoch's kept tokens in batches, by ``workers`` threads at once."""
        cfg, B = self.config, self.batch_size
        stream, window_mask, targets, target_mask = layout
        N = len(raw)
        starts = list(range(0, N, B))
        # batch i covers the raw corpus words [edges[i], edges[i + 1]): the learning rate falls
        # with the words processed so far by any worker, as in word2vec.c and gensim
        edges = [0] + raw[starts[1:]].tolist() + [n_raw]
        lock, failed = threading.Lock(), threading.Event()
        done = [0]

        def work(batches):
            for i in batches:
                if failed.is_set():
                    return
                with lock:
                    seen, done[0] = done[0], done[0] + edges[i + 1] - edges[i]
                lr = cfg.alpha - (cfg.alpha - cfg.min_alpha) * (epoch * n_raw + seen) / (cfg.epochs * n_raw)
                start, stop = starts[i], min(starts[i] + B, N)
                loss, pairs = step(
                    self.W_in, self.W_out, stream[start : stop + 2 * cfg.window], window_mask[start:stop],
                    targets[start:stop], target_mask[start:stop], max(cfg.min_alpha, lr),
                )  # fmt: skip
                if not math.isfinite(loss):
                    failed.set()
                    raise ValueError(
                        f"training diverged in epoch {epoch + 1} (the loss is {loss}): lower alpha "
                        f"(now {cfg.alpha}) or max_repeats (now {cfg.max_repeats})"
                    )
                if pairs:
                    with lock:
                        self.history.steps.append(len(self.history.steps) + 1)
                        self.history.loss.append(loss / pairs)

        if cfg.workers == 1:
            work(range(len(starts)))
            return
        # Hogwild (Recht et al. 2011): threads update the shared vectors without locks; PyTorch
        # releases Python's GIL inside its operations, so the threads run at the same time
        size = -(-len(starts) // cfg.workers)
        parts = [range(k * size, min((k + 1) * size, len(starts))) for k in range(cfg.workers)]
        with ThreadPoolExecutor(cfg.workers) as pool:
            for future in [pool.submit(work, part) for part in parts]:
                future.result()

    def _set_vocab(self, words: list[str], counts: list[int]) -> None:
        self._words = list(words)
        self.counts = list(counts)
        self._index = {w: i for i, w in enumerate(self._words)}

    def _encode(self, sentences):
        """Flat ids of the in-vocabulary tokens, their sentence number, their position in the
        raw token stream (for the learning-rate schedule) and the raw token count."""
        index = self._index
        ids = np.array([index.get(w, -1) for sentence in sentences for w in sentence], dtype=np.int64)
        sentence_of = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
        known = np.flatnonzero(ids >= 0)
        return (
            torch.from_numpy(ids[known]), torch.from_numpy(sentence_of[known]), torch.from_numpy(known), len(ids)
        )  # fmt: skip

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


@contextlib.contextmanager
def _one_intra_op_thread():
    """Run PyTorch's CPU operations on one thread, then restore the setting. The batches are
    small: at 2 threads PyTorch's synchronisation costs more than it saves (about the same speed
    on an idle machine, many times slower on a busy one); use ``workers`` to use more cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
