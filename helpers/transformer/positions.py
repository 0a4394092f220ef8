"""Where a token is: sinusoidal positional encodings (Vaswani et al. 2017, section 3.5) and
learned position embeddings (GPT, Radford et al. 2018), both added to the token embeddings."""

from __future__ import annotations

import torch
from torch import nn

from helpers.transformer.checks import tracing

__all__ = ["LearnedPositionalEncoding", "SinusoidalPositionalEncoding", "sinusoidal_encoding"]


def sinusoidal_encoding(positions: int | torch.Tensor, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """Vaswani et al. 2017, section 3.5: PE(pos, 2i) = sin(pos / base^(2i/d_model)),
    PE(pos, 2i+1) = cos(pos / base^(2i/d_model)).

    ``positions`` is a count n (positions 0..n-1) or a 1-D tensor of positions. Returns
    (len(positions), d_model) in float32.

    >>> sinusoidal_encoding(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model={d_model} must be even and at least 2 (sines and cosines come in pairs)")
    if isinstance(positions, int):
        positions = torch.arange(positions)
    if positions.ndim != 1:
        raise ValueError(f"positions must be an int or a 1-D tensor, got shape {tuple(positions.shape)}")
    pos = positions.to(torch.float64)[:, None]  # (T, 1); float64 keeps large positions exact
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=pos.device)  # (d_model / 2,)
    angle = pos / base ** (two_i / d_model)  # (T, d_model / 2)
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1)  # (T, d_model / 2, 2): sin, cos interleaved
    return pe.reshape(len(positions), d_model).to(torch.float32)  # (T, d_model)


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoidal encodings (no parameters): ``forward(positions)`` -> (T, d_model).

    Defined for any position, so it can be asked about positions never trained on.
    """

    def __init__(self, d_model: int, base: float = 10000.0):
        super().__init__()
        sinusoidal_encoding(1, d_model)  # validate d_model now
        self.d_model, self.base = d_model, base

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return sinusoidal_encoding(positions, self.d_model, self.base)


class LearnedPositionalEncoding(nn.Module):
    """One trained vector per position 0..max_len-1 (GPT, Radford et al. 2018; GPT-2):
    ``forward(positions)`` -> (T, d_model). Positions >= max_len have no vector."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        if not tracing() and len(positions) and int(positions.max()) >= self.max_len:
            raise ValueError(
                f"position {int(positions.max())} is beyond the {self.max_len} learned positions: "
                "shorten the input or use sinusoidal positions"
            )
        return self.embedding(positions)
