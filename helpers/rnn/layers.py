"""Recurrent sequence layers: the cells of :mod:`helpers.rnn.cells` unrolled over time.

- :class:`RNN` / :class:`LSTM` / :class:`GRU`: batch-first sequence layers, stacked
  ``num_layers`` deep, with the parameter names of ``torch.nn.RNN`` / ``LSTM`` / ``GRU``
  (``weight_ih_l0``, ...). The clear version loops over time in Python; ``fast=True`` hands the same parameters to PyTorch's fused
  kernel (tested equal; on a GPU in float32, cuDNN may use TF32 products, which differ from
  the loop's by about 1e-3). :meth:`LSTM.trace` also returns every gate at every step, for plots.

Left out: bidirectional layers, ``proj_size`` (LSTM projections), packed sequences. The layers
are always batch-first: input (B, T, I), or (T, I) for a single unbatched sequence.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from helpers.rnn.cells import (
    NONLINEARITIES,
    GRUCell,
    LSTMCell,
    RNNCell,
    check_sizes,
    gru_cell,
    init_uniform,
    lstm_cell,
    lstm_gates,
    rnn_cell,
)

__all__ = ["GRU", "LSTM", "RNN"]

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # rows of weight_ih per hidden unit


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
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if batch_first is not True:
            raise ValueError(f"batch_first={batch_first!r}: these layers are batch-first only; "
                             "pass input (B, T, I), or transpose time-first input with x.transpose(0, 1)")  # fmt: skip
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity={nonlinearity!r}: choose 'tanh' or 'relu'")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.dropout, self.fast = nonlinearity, bias, dropout, fast
        G, kw = GATES[self.mode], {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            size_in = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(G * hidden_size, size_in, **kw)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(G * hidden_size, hidden_size, **kw)))
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(G * hidden_size, **kw)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(G * hidden_size, **kw)))
        init_uniform(self, hidden_size)
        # The fused kernel runs on a parameter-free twin (meta device) of the torch module; it is
        # kept out of the registered submodules so that state_dict() and .to() ignore it.
        twin = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[self.mode]
        extra = {"nonlinearity": nonlinearity} if self.mode == "RNN" else {}
        self.__dict__["_twin"] = twin(input_size, hidden_size, num_layers, bias=bias, batch_first=True,
                                      dropout=dropout, device="meta", **extra)  # fmt: skip

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"nonlinearity={self.nonlinearity!r}, dropout={self.dropout}, fast={self.fast}")  # fmt: skip

    def cell(self, layer: int = 0) -> RNNCell:
        """A cell (:class:`RNNCell`, :class:`LSTMCell` or :class:`GRUCell`) sharing one layer's parameters,
        for stepping through time by hand (say, to measure gradients per step)."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer={layer} must be in [0, {self.num_layers})")
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer)
        if self.mode == "LSTM":
            cell = LSTMCell(w_ih.shape[1], self.hidden_size, self.bias, device="meta")
        elif self.mode == "GRU":
            cell = GRUCell(w_ih.shape[1], self.hidden_size, self.bias, device="meta")
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
                raise ValueError("hx must be a tensor h_0 for an RNN or a GRU and a tuple (h_0, c_0) for an LSTM")
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
        if self.mode == "GRU":
            return gru_cell(x, state, *weights)
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


class GRU(RNN):
    """A batch-first stack of GRU layers, parameters named as ``torch.nn.GRU`` (gates r, z, n).

    ``forward(x (B, T, I), hx (L, B, H) or None) -> (output (B, T, H), h_n (L, B, H))``.
    """

    mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, fast: bool = False, device=None, dtype=None):  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, "tanh", bias, batch_first, dropout, fast, device, dtype)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"dropout={self.dropout}, fast={self.fast}")  # fmt: skip
