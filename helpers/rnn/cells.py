"""Recurrent cells written from their equations, laid out exactly as PyTorch's.

Implemented (notation of the PyTorch documentation, which the tests check against):

- The simple recurrent network (Elman 1990, "Finding structure in time", Cognitive Science
  14(2)), one step :func:`rnn_cell`::

      h_t = phi(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),      phi = tanh or relu

- The LSTM (Hochreiter & Schmidhuber 1997, Neural Computation 9(8)) with the forget gate of
  Gers, Schmidhuber & Cummins (2000, Neural Computation 12(10)), one step :func:`lstm_cell`::

      [i; f; g; o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh     (gate order i, f, g, o)
      i, f, o = sigmoid(.),  g = tanh(.)
      c_t = f * c_{t-1} + i * g
      h_t = o * tanh(c_t)

- The gated recurrent unit (Cho, van Merrienboer, Gulcehre, Bahdanau, Bougares, Schwenk &
  Bengio 2014, "Learning phrase representations using RNN encoder-decoder for statistical
  machine translation", EMNLP, Sec. 2.3, Eqs. 5-8), one step :func:`gru_cell`::

      [r; z; n]-parts of x_t W_ih^T + b_ih and of h_{t-1} W_hh^T + b_hh   (gate order r, z, n)
      r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)        reset gate
      z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)        update gate
      n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))     candidate state
      h_t = (1 - z) * n + z * h_{t-1}

  Departure from the paper, as in PyTorch and cuDNN: the reset gate multiplies the product
  ``h W_hn^T + b_hn``; Cho et al.'s Eq. 8 resets the state before the product, U (r * h).
  The two agree when r = 1 and differ otherwise; the form here is what ``torch.nn.GRUCell``
  computes, so that state dicts load both ways.

- :class:`RNNCell` / :class:`LSTMCell` / :class:`GRUCell`: parameters named and shaped as in
  ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` (``weight_ih`` (G*H, I), ``weight_hh``
  (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,), G = 1, 4 or 3) and initialised the same way
  (uniform in +-1/sqrt(H)), so a state dict from the torch module loads unchanged and gives
  the same outputs and gradients.

The sequence layers built from these cells are in :mod:`helpers.rnn.layers`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "detach_state",
    "gru_cell",
    "gru_gates",
    "lstm_cell",
    "lstm_gates",
    "rnn_cell",
    "set_forget_bias",
]

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


# ---------------------------------------------------------------- the math: pure functions


def _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """x W_ih^T + b_ih + h W_hh^T + b_hh, the pre-activation every cell starts from."""
    z = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih
    if bias_hh is not None:
        z = z + bias_hh
    return z


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One step of the simple RNN: ``h_t = phi(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    ``x`` (B, I), ``h`` (B, H) -> (B, H).

    >>> w_ih, w_hh = torch.ones(1, 1), torch.full((1, 1), 0.5)
    >>> rnn_cell(torch.tensor([[1.0]]), torch.tensor([[2.0]]), w_ih, w_hh)  # tanh(1 + 0.5 * 2)
    tensor([[0.9640]])
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity={nonlinearity!r}: choose 'tanh' or 'relu'")
    return NONLINEARITIES[nonlinearity](_affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh))


def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The four LSTM gates ``(i, f, g, o)`` after their nonlinearities, each (B, H)."""
    z = _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh)  # (B, 4H), rows in order i, f, g, o
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
    return torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step: ``state = (h, c)`` -> ``(h_t, c_t)``, each (B, H).

    ``c_t = f * c_{t-1} + i * g`` is the memory; ``h_t = o * tanh(c_t)`` is what the cell shows.
    """
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c = f * c + i * g
    return o * torch.tanh(c), c


def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The GRU's reset gate ``r``, update gate ``z`` and candidate state ``n``, each (B, H).

    The input and hidden products are kept apart because the reset gate multiplies only the
    hidden one: ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``.
    """
    a = x @ weight_ih.T  # (B, 3H), columns in order r, z, n
    b = h @ weight_hh.T  # (B, 3H)
    if bias_ih is not None:
        a = a + bias_ih
    if bias_hh is not None:
        b = b + bias_hh
    a_r, a_z, a_n = a.chunk(3, dim=-1)
    b_r, b_z, b_n = b.chunk(3, dim=-1)
    r = torch.sigmoid(a_r + b_r)
    z = torch.sigmoid(a_z + b_z)
    return r, z, torch.tanh(a_n + r * b_n)


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One GRU step: ``h_t = (1 - z) * n + z * h_{t-1}``; ``x`` (B, I), ``h`` (B, H) -> (B, H).

    With every weight zero, r = z = 1/2 and n = 0, so the state halves at each step:

    >>> H = 2
    >>> gru_cell(torch.zeros(1, 1), torch.ones(1, H), torch.zeros(3 * H, 1), torch.zeros(3 * H, H))
    tensor([[0.5000, 0.5000]])
    """
    r, z, n = gru_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return (1 - z) * n + z * h


def detach_state(state):
    """A hidden state (a tensor or a tuple of tensors) cut from the graph that made it."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


# ---------------------------------------------------------------- parameters


def init_uniform(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's initialisation of every recurrent parameter: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def check_sizes(**sizes) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")


def set_forget_bias(module: nn.Module, value: float = 1.0) -> nn.Module:
    """Start a gated cell with its memory kept: in every LSTM (or LSTMCell) inside ``module`` the
    forget-gate part of ``bias_ih`` becomes ``value`` and that of ``bias_hh`` zero, so ``f``
    starts near ``sigmoid(value)``; in every GRU (or GRUCell) the same is done to the update
    gate ``z``, which plays that part (``z = 1`` keeps the state unchanged). Simple RNNs inside
    ``module`` are left alone.

    Gers et al. (2000) and Jozefowicz, Zaremba & Sutskever (2015, ICML) recommend a forget bias
    of 1. Works on this module's cells and layers and on torch's; returns the module.
    """
    found = False
    with torch.no_grad():
        for sub in module.modules():
            H = getattr(sub, "hidden_size", None)
            for name, p in sub.named_parameters(recurse=False):
                # rows H..2H are the forget gate f of an LSTM (i, f, g, o), the update gate z of a GRU (r, z, n)
                if isinstance(H, int) and name.startswith(("bias_ih", "bias_hh")) and p.shape[0] in (3 * H, 4 * H):
                    p[H : 2 * H] = value if name.startswith("bias_ih") else 0.0
                    found = True
    if not found:
        raise ValueError("set_forget_bias needs an LSTM or GRU (layer or cell) with biases (bias=True)")
    return module


class RNNCell(nn.Module):
    """One simple-RNN step with parameters laid out as ``torch.nn.RNNCell``.

    ``forward(input (B, I) or (I,), hx (B, H) or None) -> h (B, H)``; ``hx=None`` means zeros.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):  # fmt: skip
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity={nonlinearity!r}: choose 'tanh' or 'relu'")
        self.input_size, self.hidden_size, self.bias, self.nonlinearity = input_size, hidden_size, bias, nonlinearity
        G, kw = self.gates, {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size, **kw))
        self.bias_ih = nn.Parameter(torch.empty(G * hidden_size, **kw)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(G * hidden_size, **kw)) if bias else None
        init_uniform(self, hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, nonlinearity={self.nonlinearity!r}"

    def _batch(self, input, hx):
        """Check shapes; add a batch axis to unbatched input. Returns input, hx, batched."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must have shape (B, {self.input_size}) or ({self.input_size},), got {tuple(input.shape)}"
            )
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)  # (B, I)
        states = [] if hx is None else ([hx] if isinstance(hx, torch.Tensor) else list(hx))
        out = []
        for s in states:
            want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
            if tuple(s.shape) != want:
                raise ValueError(f"hidden state must have shape {want}, got {tuple(s.shape)}")
            out.append(s if batched else s.unsqueeze(0))
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            out = [zeros] * (2 if self.gates == 4 else 1)
        return x, out, batched

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        if hx is not None and not isinstance(hx, torch.Tensor):
            raise ValueError("hx of an RNNCell must be a tensor (B, H) or None")
        x, (h,), batched = self._batch(input, hx)
        h = rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class GRUCell(RNNCell):
    """One GRU step with parameters laid out as ``torch.nn.GRUCell`` (gates r, z, n).

    ``forward(input (B, I) or (I,), hx (B, H) or None) -> h (B, H)``; ``hx=None`` means zeros.
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, "tanh", device, dtype)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        if hx is not None and not isinstance(hx, torch.Tensor):
            raise ValueError("hx of a GRUCell must be a tensor (B, H) or None")
        x, (h,), batched = self._batch(input, hx)
        h = gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCell):
    """One LSTM step with parameters laid out as ``torch.nn.LSTMCell`` (gates i, f, g, o).

    ``forward(input (B, I), hx=(h, c) or None) -> (h, c)``, each (B, H).
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, "tanh", device, dtype)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"

    def forward(self, input, hx=None):
        if hx is not None and (isinstance(hx, torch.Tensor) or len(hx) != 2):
            raise ValueError("hx must be a tuple (h, c) of two tensors, or None")
        x, (h, c), batched = self._batch(input, hx)
        h, c = lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
