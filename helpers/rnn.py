"""Recurrent cells and layers written from their equations, laid out exactly as PyTorch's.

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

- :class:`RNNCell` / :class:`LSTMCell`: parameters named and shaped as in ``torch.nn.RNNCell``
  / ``torch.nn.LSTMCell`` (``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``,
  ``bias_hh`` (G*H,), G = 1 or 4) and initialised the same way (uniform in +-1/sqrt(H)), so a
  state dict from the torch module loads unchanged and gives the same outputs and gradients.
- :class:`RNN` / :class:`LSTM`: batch-first sequence layers, stacked ``num_layers`` deep, with
  the parameter names of ``torch.nn.RNN`` / ``torch.nn.LSTM`` (``weight_ih_l0``, ...). The clear
  version loops over time in Python; ``fast=True`` hands the same parameters to PyTorch's fused
  kernel (tested equal; on a GPU in float32, cuDNN may use TF32 products, which differ from
  the loop's by about 1e-3). :meth:`LSTM.trace` also returns every gate at every step, for plots.

Left out: bidirectional layers, ``proj_size`` (LSTM projections), packed sequences. The layers
are always batch-first: input (B, T, I), or (T, I) for a single unbatched sequence.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LSTM",
    "RNN",
    "LSTMCell",
    "RNNCell",
    "detach_state",
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


def detach_state(state):
    """A hidden state (a tensor or a tuple of tensors) cut from the graph that made it."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


# ---------------------------------------------------------------- parameters


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's initialisation of every recurrent parameter: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def _check_sizes(**sizes) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")


def set_forget_bias(module: nn.Module, value: float = 1.0) -> nn.Module:
    """Start an LSTM with its forget gates open: the forget-gate part of ``bias_ih`` becomes
    ``value`` and that of ``bias_hh`` zero, so ``f`` starts near ``sigmoid(value)``.

    Gers et al. (2000) and Jozefowicz, Zaremba & Sutskever (2015, ICML) recommend a forget bias
    of 1. Works on this module's LSTM/LSTMCell and on torch's; returns the module.
    """
    found = False
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.split(".")[-1].startswith(("bias_ih", "bias_hh")) and p.shape[0] % 4 == 0:
                H = p.shape[0] // 4
                p[H : 2 * H] = value if "bias_ih" in name else 0.0
                found = True
    if not found:
        raise ValueError("set_forget_bias needs an LSTM or LSTMCell with biases (bias=True)")
    return module


class RNNCell(nn.Module):
    """One simple-RNN step with parameters laid out as ``torch.nn.RNNCell``.

    ``forward(input (B, I) or (I,), hx (B, H) or None) -> h (B, H)``; ``hx=None`` means zeros.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):  # fmt: skip
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity={nonlinearity!r}: choose 'tanh' or 'relu'")
        self.input_size, self.hidden_size, self.bias, self.nonlinearity = input_size, hidden_size, bias, nonlinearity
        G, kw = self.gates, {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size, **kw))
        self.bias_ih = nn.Parameter(torch.empty(G * hidden_size, **kw)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(G * hidden_size, **kw)) if bias else None
        _init_uniform(self, hidden_size)

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


# ---------------------------------------------------------------- sequence layers


class RNN(nn.Module):
    """A batch-first stack of simple-RNN layers, parameters named as ``torch.nn.RNN``.

    ``forward(x (B, T, I), hx (L, B, H) or None) -> (output (B, T, H), h_n (L, B, H))``:
    ``output`` holds the top layer's state at every step, ``h_n`` every layer's last state.
    ``fast=True`` runs PyTorch's fused kernel on the same parameters (same numbers, faster).
    ``batch_first`` exists only so that torch's keyword arguments work; it must be True.
    """

    mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0, fast: bool = False,
                 device=None, dtype=None):  # fmt: skip
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if batch_first is not True:
            raise ValueError(f"batch_first={batch_first!r}: these layers are batch-first only; "
                             "pass input (B, T, I), or transpose time-first input with x.transpose(0, 1)")  # fmt: skip
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity={nonlinearity!r}: choose 'tanh' or 'relu'")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.dropout, self.fast = nonlinearity, bias, dropout, fast
        G, kw = (4 if self.mode == "LSTM" else 1), {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            size_in = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(G * hidden_size, size_in, **kw)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(G * hidden_size, hidden_size, **kw)))
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(G * hidden_size, **kw)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(G * hidden_size, **kw)))
        _init_uniform(self, hidden_size)
        # The fused kernel runs on a parameter-free twin (meta device) of the torch module; it is
        # kept out of the registered submodules so that state_dict() and .to() ignore it.
        twin = nn.LSTM if self.mode == "LSTM" else nn.RNN
        extra = {} if self.mode == "LSTM" else {"nonlinearity": nonlinearity}
        self.__dict__["_twin"] = twin(input_size, hidden_size, num_layers, bias=bias, batch_first=True,
                                      dropout=dropout, device="meta", **extra)  # fmt: skip

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"nonlinearity={self.nonlinearity!r}, dropout={self.dropout}, fast={self.fast}")  # fmt: skip

    def cell(self, layer: int = 0) -> RNNCell:
        """A cell (:class:`RNNCell` or :class:`LSTMCell`) that shares the parameters of one layer,
        for stepping through time by hand (say, to measure gradients per step)."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer={layer} must be in [0, {self.num_layers})")
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer)
        if self.mode == "LSTM":
            cell = LSTMCell(w_ih.shape[1], self.hidden_size, self.bias, device="meta")
        else:
            cell = RNNCell(w_ih.shape[1], self.hidden_size, self.bias, self.nonlinearity, device="meta")
        cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh = w_ih, w_hh, b_ih, b_hh
        return cell

    def layer_weights(self, layer: int) -> tuple:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer (biases None without bias)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(getattr(self, f"{n}_l{layer}", None) for n in names)

    def _prepare(self, x, hx):
        """Check shapes, add a batch axis to unbatched input; zeros for a missing state."""
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"input must have shape (B, T, {self.input_size}) or (T, {self.input_size}), "
                             f"got {tuple(x.shape)}")  # fmt: skip
        if x.shape[-2] == 0:
            raise ValueError("input has no time steps (T = 0)")
        batched = x.ndim == 3
        x = x if batched else x.unsqueeze(0)  # (B, T, I)
        B, L, H = x.shape[0], self.num_layers, self.hidden_size
        n_states = 2 if self.mode == "LSTM" else 1
        if hx is None:
            states = [x.new_zeros(L, B, H) for _ in range(n_states)]
        else:
            states = [hx] if isinstance(hx, torch.Tensor) else list(hx)
            if len(states) != n_states:
                raise ValueError("hx must be a tensor h_0 for an RNN and a tuple (h_0, c_0) for an LSTM")
            want = (L, B, H) if batched else (L, H)
            for s in states:
                if tuple(s.shape) != want:
                    raise ValueError(f"hidden state must have shape {want} (layers, batch, hidden), got {tuple(s.shape)}")
            states = [s if batched else s.unsqueeze(1) for s in states]  # (L, B, H)
        return x, states, batched

    def _step(self, x, state, layer):
        weights = self.layer_weights(layer)
        if self.mode == "LSTM":
            return lstm_cell(x, state, *weights)
        return rnn_cell(x, state, *weights, nonlinearity=self.nonlinearity)

    def _loop(self, x, states):
        """The clear version: every layer over every step. Returns output, final states."""
        B, T, _ = x.shape
        finals = []
        for layer in range(self.num_layers):
            state = tuple(s[layer] for s in states) if self.mode == "LSTM" else states[0][layer]
            outputs = []
            for t in range(T):
                state = self._step(x[:, t], state, layer)
                outputs.append(state[0] if self.mode == "LSTM" else state)
            x = torch.stack(outputs, dim=1)  # (B, T, H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)  # between layers, as torch does
            finals.append(state)
        if self.mode == "LSTM":
            return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))  # (L, B, H)
        return x, torch.stack(finals)  # (L, B, H)

    def forward(self, x, hx=None):
        x, states, batched = self._prepare(x, hx)
        if self.fast:
            twin = self._twin.train(self.training)
            state = tuple(states) if self.mode == "LSTM" else states[0]
            output, final = torch.func.functional_call(twin, dict(self.named_parameters()), (x, state))
        else:
            output, final = self._loop(x, states)
        if not batched:
            output = output.squeeze(0)
            final = tuple(s.squeeze(1) for s in final) if self.mode == "LSTM" else final.squeeze(1)
        return output, final


class LSTM(RNN):
    """A batch-first stack of LSTM layers, parameters named as ``torch.nn.LSTM``.

    ``forward(x (B, T, I), hx=(h_0, c_0) or None) -> (output (B, T, H), (h_n, c_n))``.
    """

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, fast: bool = False, device=None, dtype=None):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, "tanh", bias, batch_first, dropout, fast, device, dtype)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"dropout={self.dropout}, fast={self.fast}")  # fmt: skip

    @torch.no_grad()
    def trace(self, x, hx=None) -> dict[str, torch.Tensor]:
        """Every gate and state at every step, for plots: a dict with keys ``i, f, g, o, c, h``,
        each (L, B, T, H) (no batch axis for unbatched input). No dropout, no gradients."""
        x, states, batched = self._prepare(x, hx)
        B, T, _ = x.shape
        names = ("i", "f", "g", "o", "c", "h")
        record = {k: [] for k in names}
        for layer in range(self.num_layers):
            h, c = states[0][layer], states[1][layer]
            steps = {k: [] for k in names}
            for t in range(T):
                i, f, g, o = lstm_gates(x[:, t], h, *self.layer_weights(layer))
                c = f * c + i * g
                h = o * torch.tanh(c)
                for k, v in zip(names, (i, f, g, o, c, h), strict=True):
                    steps[k].append(v)
            for k in names:
                record[k].append(torch.stack(steps[k], dim=1))  # (B, T, H)
            x = record["h"][-1]
        out = {k: torch.stack(v) for k, v in record.items()}  # (L, B, T, H)
        return out if batched else {k: v.squeeze(1) for k, v in out.items()}
