"""The negative-sampling objective and the sparse SGD steps that minimise it.

Negative sampling (Mikolov, Sutskever, Chen, Corrado & Dean 2013, "Distributed representations
of words and phrases and their compositionality", NIPS, Eq. 4) replaces the softmax over the
vocabulary by K + 1 logistic questions: for an input vector v, the output vector u_O of a word
really observed and the output vectors u_k of K noise words,

    loss = -log sigma(u_O . v) - sum_{k=1..K} log sigma(-u_k . v).

:func:`negative_sampling_loss` is the clear version (PyTorch autograd differentiates it).
:func:`skipgram_step_` and :func:`cbow_step_` are the fast versions used for training: one SGD
step on a stretch of the corpus, the gradient written out by hand,

    d loss / d v = (sigma(u_O.v) - 1) u_O + sum_k sigma(u_k.v) u_k,
    d loss / d u_O = (sigma(u_O.v) - 1) v,     d loss / d u_k = sigma(u_k.v) v,

and added to the rows a batch touches with ``index_add_``. Each input vector of the stretch is
gathered once and its windows are views into it (``unfold``). They follow word2vec.c: in
skip-gram the vector of each context word predicts the centre word; CBOW predicts it from the
mean of the context vectors and adds the full error to each of them. Tested equal to an SGD
step through autograd (tests/test_word2vec.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cbow_step_", "negative_sampling_loss", "skipgram_step_"]


def negative_sampling_loss(v: torch.Tensor, u_pos: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    """Mean negative-sampling loss, -[log s(u_O.v) + sum_k log s(-u_k.v)] (Mikolov et al. 2013b, Eq. 4).

    ``v``: input vectors (B, d); ``u_pos``: output vectors of the observed words (B, d);
    ``u_neg``: output vectors of K noise words per row (B, K, d). The clear version: autograd
    gives the gradients that :func:`skipgram_step_` computes by hand.
    """
    pos = torch.einsum("bd,bd->b", v, u_pos)  # (B,)
    neg = torch.einsum("bkd,bd->bk", u_neg, v)  # (B, K)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(dim=1)).mean()


def skipgram_step_(W_in, W_out, tokens, window_mask, targets, target_mask, lr: float) -> tuple[float, int]:
    """One sparse SGD step of skip-gram with negative sampling, in place on ``W_in``/``W_out``.

    A stretch of the corpus: ``tokens`` (P + 2W,) word ids, whose middle P positions are the
    centres; ``window_mask`` (P, 2W+1) says which positions p + o (o = -W..W) are context words
    of centre p (dynamic window, same sentence, never o = 0); ``targets`` (P, 1+K) holds each
    centre word then K noise words, ``target_mask`` which of them take part. Every (context,
    target) pair adds lr * (label - sigma(u.v)) times u to the context's input vector v and
    times v to the target's output vector u (label 1 for the centre word, 0 for noise): minus
    lr times the gradient of the summed :func:`negative_sampling_loss`.
    Returns (summed loss, number of context-centre pairs).
    """
    P, S = window_mask.shape  # S = 2W + 1 window slots
    d = W_in.shape[1]
    v_all = W_in.index_select(0, tokens)  # (P + S - 1, d): each position's input vector, once
    v = v_all.unfold(0, S, 1).transpose(1, 2)  # (P, S, d) view: v[p, o] = v_all[p + o]
    u = W_out.index_select(0, targets.reshape(-1)).view(P, -1, d)  # (P, 1+K, d)
    logits = torch.bmm(v, u.transpose(1, 2))  # (P, S, 1+K)
    mask = window_mask.unsqueeze(2) & target_mask.unsqueeze(1)  # (P, S, 1+K)
    sign = torch.full_like(logits[0, 0], -1.0)
    sign[0] = 1.0  # +u.v for the centre word, -u.v for the noise words
    loss = -(F.logsigmoid(logits * sign) * mask).sum().item()
    # g = lr * (label - sigma(u.v)): the step along the gradient of log sigma(+-u.v)
    g = torch.sigmoid(logits).neg_()
    g[..., 0] += 1.0
    g.mul_(mask).mul_(lr)
    grad_v = torch.bmm(g, u)  # (P, S, d)
    grad_all = torch.zeros_like(v_all)
    for o in range(S):  # fold the windows back onto the positions they came from
        grad_all[o : o + P] += grad_v[:, o]
    W_in.index_add_(0, tokens, grad_all)
    W_out.index_add_(0, targets.reshape(-1), torch.bmm(g.transpose(1, 2), v).view(-1, d))
    return loss, int(window_mask.sum())


def cbow_step_(W_in, W_out, tokens, window_mask, targets, target_mask, lr: float) -> tuple[float, int]:
    """One sparse SGD step of CBOW with negative sampling, in place on ``W_in``/``W_out``.

    Arguments as in :func:`skipgram_step_`. h is the mean of the input vectors of centre p's
    context words; the centre word and the K noise words are predicted from h. The error
    lr * sum_k (label_k - sigma(u_k.h)) u_k is added in full to every context vector
    (word2vec.c, gensim's cbow_mean=1); a centre without context words takes no step.
    Returns (summed loss, number of centres with at least one context word).
    """
    P, S = window_mask.shape
    d = W_in.shape[1]
    n = window_mask.sum(dim=1, keepdim=True)  # (P, 1) context words per centre
    weights = window_mask.to(W_in.dtype) / n.clamp(min=1)  # (P, S)
    v_all = W_in.index_select(0, tokens)  # (P + S - 1, d)
    v = v_all.unfold(0, S, 1).transpose(1, 2)  # (P, S, d) view: v[p, o] = v_all[p + o]
    h = torch.bmm(weights.unsqueeze(1), v)  # (P, 1, d): mean of the context vectors
    u = W_out.index_select(0, targets.reshape(-1)).view(P, -1, d)  # (P, 1+K, d)
    logits = torch.bmm(h, u.transpose(1, 2))  # (P, 1, 1+K)
    mask = (target_mask & (n > 0)).unsqueeze(1)  # (P, 1, 1+K)
    sign = torch.full_like(logits[0, 0], -1.0)
    sign[0] = 1.0
    loss = -(F.logsigmoid(logits * sign) * mask).sum().item()
    g = torch.sigmoid(logits).neg_()
    g[..., 0] += 1.0
    g.mul_(mask).mul_(lr)
    error = torch.bmm(g, u).squeeze(1)  # (P, d)
    grad_all = torch.zeros_like(v_all)
    context = window_mask.to(W_in.dtype)
    for o in range(S):  # every context word of centre p receives p's error
        grad_all[o : o + P].addcmul_(context[:, o : o + 1], error)
    W_in.index_add_(0, tokens, grad_all)
    W_out.index_add_(0, targets.reshape(-1), torch.bmm(g.transpose(1, 2), h).view(-1, d))
    return loss, int((n > 0).sum())
