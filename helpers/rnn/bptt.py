"""Training recurrent networks through time: gradient clipping, truncated BPTT, and a tool that
makes vanishing gradients visible.

- Backpropagation through time (Rumelhart, Hinton & Williams 1986, Nature 323; Werbos 1990,
  Proc. IEEE 78(10)) is ordinary backpropagation on the network unrolled over the sequence. The
  gradient that reaches the state ``k`` steps back is a product of ``k`` Jacobians::

      dL_T/dh_{T-k} = dL_T/dh_T * prod_{j=0}^{k-1} dh_{T-j}/dh_{T-j-1}

  and for the simple RNN each factor is ``diag(1 - h^2) W_hh``: when its norm stays below 1
  the product shrinks exponentially (Bengio, Simard & Frasconi 1994, IEEE Trans. Neural
  Networks 5(2); Hochreiter 1991). :func:`state_gradient_norms` measures it, step by step.
- Gradient clipping by global norm (Pascanu, Mikolov & Bengio 2013, ICML, Algorithm 1):
  if ``||g|| > max_norm`` then ``g <- g * max_norm / ||g||``. :func:`clip_grad_norm` does
  what ``torch.nn.utils.clip_grad_norm_`` does (the tests check it), written out.
- Truncated BPTT (Williams & Peng 1990, Neural Computation 2(4)): the text is cut into
  ``batch_size`` parallel streams read in consecutive chunks of ``bptt`` steps
  (:func:`stream_batches`); the hidden state is carried from one chunk to the next but cut from
  the graph (:class:`TruncatedBPTT`), so the forward pass sees the whole past while gradients
  flow back at most ``bptt`` steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch.nn import functional as F

from helpers.rnn.cells import detach_state

__all__ = ["TruncatedBPTT", "clip_grad_norm", "state_gradient_norms", "stream_batches"]


def clip_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale the gradients of ``parameters`` in place so that their global 2-norm is at most
    ``max_norm``; return the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``).

    ``||g|| = sqrt(sum_p ||g_p||^2)``; the scale is ``min(1, max_norm / (||g|| + 1e-6))``.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm={max_norm!r} must be a positive number")
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # the 1e-6 is torch's, against 0/0
    for g in grads:
        g.detach().mul_(scale.to(g.device, g.dtype))
    return total


def stream_batches(
    ids: torch.Tensor, batch_size: int, bptt: int, epochs: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
    """Consecutive chunks of ``batch_size`` parallel streams: ``(x, y, start)``.

    ``ids`` (N,) is cut into ``batch_size`` streams of ``n = (N - 1) // batch_size`` ids; chunk
    ``j`` is ``x = streams[:, j*bptt : (j+1)*bptt]`` (B, <= bptt) and ``y`` the same shifted by
    one. ``start`` is True on the first chunk of each pass, when the carried state must be
    reset. ``epochs=None`` repeats forever (for ``train_loop``).

    >>> [(x.tolist(), y.tolist(), s) for x, y, s in stream_batches(torch.arange(9), 2, 3, epochs=1)]
    [([[0, 1, 2], [4, 5, 6]], [[1, 2, 3], [5, 6, 7]], True), ([[3], [7]], [[4], [8]], False)]
    """
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    if batch_size < 1 or bptt < 1:
        raise ValueError(f"batch_size={batch_size} and bptt={bptt} must be positive")
    n = (len(ids) - 1) // batch_size
    if n < 1:
        raise ValueError(f"{len(ids)} ids are too few for batch_size={batch_size}: need at least {batch_size + 1}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs={epochs} must be positive, or None for endless batches")
    inputs = ids[: n * batch_size].view(batch_size, n)  # (B, n): stream b = ids[b*n : (b+1)*n]
    targets = ids[1 : n * batch_size + 1].view(batch_size, n)  # (B, n): each shifted by one
    epoch = 0
    while epochs is None or epoch < epochs:
        for start in range(0, n, bptt):
            yield inputs[:, start : start + bptt], targets[:, start : start + bptt], start == 0
        epoch += 1


class TruncatedBPTT:
    """A ``loss_fn`` for :func:`helpers.course.train_loop` that carries the hidden state.

    Each call runs ``model(x, state) -> (logits (B, T, V), state)`` on the next chunk of
    :func:`stream_batches`, starting from the previous chunk's final state cut from its graph
    (zeros at the start of a pass), and returns the mean cross-entropy in nats per token.
    """

    def __init__(self):
        self.state = None

    def __call__(self, model, batch) -> torch.Tensor:
        x, y, start = batch
        state = None if start else detach_state(self.state)  # truncation: no gradient beyond here
        logits, self.state = model(x, state)
        B, T, V = logits.shape
        return F.cross_entropy(logits.reshape(B * T, V), y.reshape(B * T))


def state_gradient_norms(
    cell: Callable,
    x: torch.Tensor,
    hx=None,
    loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    wrt: str = "h",
) -> torch.Tensor:
    """How strongly the loss at the last step depends on each earlier state.

    Runs ``cell`` (an RNN, GRU or LSTM cell, ours or torch's) over ``x`` (B, T, I) from ``hx``
    (zeros if None), computes ``L = loss_fn(h_T)`` (default ``h_T.sum()``; it must add up the
    examples' losses, not mix them) and returns ``norms`` (T + 1,) with
    ``norms[k] = mean_b ||dL/ds_{T-k}[b]||``: entry 0 is the last state, entry T the initial
    one. ``s`` is ``h``, or the LSTM memory ``c`` with ``wrt="c"``.
    """
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, T, I), got {tuple(x.shape)}")
    if wrt not in ("h", "c"):
        raise ValueError(f"wrt={wrt!r}: choose 'h' (hidden state) or 'c' (LSTM memory)")
    B, T, _ = x.shape
    H = cell.hidden_size
    is_lstm = cell.weight_hh.shape[0] == 4 * H
    if wrt == "c" and not is_lstm:
        raise ValueError("wrt='c' needs an LSTM cell: a simple RNN has no memory cell")
    if hx is None:
        hx = (x.new_zeros(B, H), x.new_zeros(B, H)) if is_lstm else x.new_zeros(B, H)
    # the initial state becomes a leaf of the graph so that its gradient (k = T) exists
    state = tuple(s.detach().requires_grad_() for s in hx) if is_lstm else hx.detach().requires_grad_()
    pick = (lambda s: s[1] if wrt == "c" else s[0]) if is_lstm else (lambda s: s)
    tracked = [pick(state)]
    for t in range(T):
        state = cell(x[:, t], state)
        tracked.append(pick(state))
    h_T = state[0] if is_lstm else state
    loss = h_T.sum() if loss_fn is None else loss_fn(h_T)
    if loss.ndim != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    grads = torch.autograd.grad(loss, tracked, allow_unused=True)
    zero = x.new_zeros(()).cpu()  # a state the loss does not depend on (say, dead relu units)
    norms = [zero if g is None else g.norm(dim=-1).mean().detach().cpu() for g in grads]
    return torch.stack(norms[::-1])  # (T + 1,): index k is the distance back from step T
