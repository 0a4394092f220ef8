"""Uniform quantization of tensors: symmetric or asymmetric, per tensor, per channel or per group,
8 bits or 4 bits (two 4-bit values packed in each byte).

A real number x is stored as a small integer q and recovered by an affine map (Jacob et al.
2018, "Quantization and training of neural networks for efficient integer-arithmetic-only
inference", CVPR, section 2.1, equation 1):

    q = clamp(round(x / s) + z, q_min, q_max)          x_hat = s (q - z)

with a real **scale** s > 0 and an integer **zero point** z. Within the range the error is at
most half a step, |x - x_hat| <= s / 2 (the tests check it by property).

- **symmetric**: z = 0, s = max|x| / q_max. Two conventions:
  ``"textbook"`` (the default): q in [-(2^(b-1) - 1), 2^(b-1) - 1], s = max|x| / 127 for int8, so
  that -x and x get opposite integers (the absmax quantization of Dettmers et al. 2022,
  "LLM.int8()", NeurIPS, section 3.1); ``"torch"``: the convention of PyTorch's observers
  (``PerChannelMinMaxObserver`` with ``torch.per_channel_symmetric`` and ``torch.qint8``):
  s = max|x| / ((q_max - q_min) / 2) = max|x| / 127.5 and q in [-128, 127]. With it our integers
  and scales equal ``torch.quantize_per_channel``'s (tested).
- **asymmetric** (affine): s = (max - min) / (q_max - q_min) and z = q_min - round(min / s),
  where min <= 0 <= max are widened to include 0, so that 0.0 is represented exactly (zero
  padding stays zero: Jacob et al. 2018, section 2.1). Equal to ``MinMaxObserver`` with
  ``torch.per_tensor_affine`` (tested).
- **granularity**: one (s, z) for the whole tensor (``axis=None``); one per slice along ``axis``
  (per channel: ``axis=0`` gives one per output row of a ``nn.Linear`` weight); or one per
  ``group_size`` consecutive entries of the last dimension (group-wise, as GPTQ uses for int4:
  Frantar et al. 2023, "GPTQ", ICLR, section 5).
- **int4**: integers in [-8, 7] (textbook: [-7, 7]) packed two per byte, the first of each pair
  in the low nibble (:func:`pack_int4`).

Rounding is half to even, on x times the reciprocal of the scale, as PyTorch's kernels compute it.
Left out: non-uniform codes (NF4, Dettmers et al. 2023), stochastic rounding, learned scales,
and calibration on data (GPTQ's error-compensating updates): every scale here comes from the
tensor's own min and max.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["CONVENTIONS", "QuantizedTensor", "dequantize", "pack_int4", "qrange", "quantize", "unpack_int4"]

CONVENTIONS = ("textbook", "torch")
_EPS = torch.finfo(torch.float32).eps  # smallest scale, as torch's observers clamp it


def qrange(bits: int, symmetric: bool = True, convention: str = "textbook") -> tuple[int, int]:
    """The integers a ``bits``-bit code may use: (q_min, q_max).

    >>> qrange(8), qrange(8, convention="torch"), qrange(8, symmetric=False), qrange(4)
    ((-127, 127), (-128, 127), (-128, 127), (-7, 7))
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 8:
        raise ValueError(f"bits={bits!r} must be an integer from 2 to 8")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention={convention!r} must be one of {CONVENTIONS}")
    q_max = 2 ** (bits - 1) - 1
    q_min = -q_max if symmetric and convention == "textbook" else -(2 ** (bits - 1))
    return q_min, q_max


@dataclass(frozen=True)
class QuantizedTensor:
    """Integers, scales and zero points of a quantized tensor, and how to read them back.

    ``data`` holds int8 integers of the tensor's ``shape``, or (``packed``) uint8 bytes with two
    4-bit integers each. ``scale`` and ``zero_point`` broadcast against the integers as grouped
    by ``group_size`` (shape (..., n_groups, 1)) or as they are (per tensor or per channel).
    """

    data: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor | None
    bits: int
    shape: torch.Size
    axis: int | None = None
    group_size: int | None = None
    packed: bool = False

    def values(self) -> torch.Tensor:
        """The integers q as int8, in the tensor's shape."""
        q = unpack_int4(self.data) if self.packed else self.data
        return q.reshape(self.shape)

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """x_hat = s (q - z), in the tensor's shape."""
        q = self.values().to(torch.float32)
        if self.group_size is not None:
            q = q.reshape(*self.shape[:-1], self.shape[-1] // self.group_size, self.group_size)  # (..., n_groups, g)
        if self.zero_point is not None:
            q = q - self.zero_point.to(torch.float32)
        return (q * self.scale).reshape(self.shape).to(dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of storage: the integers plus the scales and zero points."""
        extra = 0 if self.zero_point is None else self.zero_point.numel() * self.zero_point.element_size()
        return self.data.numel() * self.data.element_size() + self.scale.numel() * self.scale.element_size() + extra

    @property
    def bits_per_value(self) -> float:
        """Storage bits per entry of the tensor, scales and zero points included."""
        return 8 * self.nbytes / max(1, self.shape.numel())


def quantize(
    x: torch.Tensor,
    bits: int = 8,
    *,
    symmetric: bool = True,
    axis: int | None = None,
    group_size: int | None = None,
    convention: str = "textbook",
    pack: bool | None = None,
) -> QuantizedTensor:
    """Quantize ``x`` to ``bits``-bit integers (see the module docstring for the formulas).

    ``axis``: one scale per index along that dimension (per channel); ``group_size``: one scale
    per that many consecutive entries of the last dimension; neither: one scale for the tensor.
    ``pack`` (default: for 4 bits or fewer) stores two integers per byte.

    >>> w = torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.5]])
    >>> qw = quantize(w, axis=0)
    >>> qw.values()
    tensor([[  64, -127,   32],
            [ 127,    0,  -32]], dtype=torch.int8)
    >>> (w - qw.dequantize()).abs().max() <= qw.scale.max() / 2
    tensor(True)
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got {type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    if x.ndim == 0 or x.numel() == 0:
        raise ValueError(f"x must have at least one dimension and one entry, got shape {tuple(x.shape)}")
    q_min, q_max = qrange(bits, symmetric, convention)
    if axis is not None and group_size is not None:
        raise ValueError("pass axis (per channel) or group_size (group-wise), not both")
    if axis is not None and not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis} is out of range for a tensor of {x.ndim} dimensions")
    if group_size is not None and (not isinstance(group_size, int) or group_size < 1 or x.shape[-1] % group_size):
        raise ValueError(
            f"group_size={group_size!r} must be a positive integer that divides the last dimension ({x.shape[-1]})"
        )
    pack = bits <= 4 if pack is None else pack
    if pack and (bits > 4 or x.numel() % 2):
        raise ValueError(f"packing needs bits <= 4 and an even number of entries; got bits={bits}, {x.numel()} entries")
    xf = x.detach().to(torch.float32)
    if group_size is not None:
        xf = xf.reshape(*x.shape[:-1], x.shape[-1] // group_size, group_size)  # (..., n_groups, g)
        dims = (-1,)
    elif axis is not None:
        axis = axis % x.ndim
        dims = tuple(d for d in range(x.ndim) if d != axis)
    else:
        dims = tuple(range(x.ndim))
    if symmetric:
        amax = xf.abs().amax(dim=dims, keepdim=True) if dims else xf.abs()
        steps = q_max if convention == "textbook" else (q_max - q_min) / 2  # 127 or 127.5 for int8
        scale = (amax / steps).clamp(min=_EPS)
        zero_point = None
        q = torch.round(xf * (1.0 / scale))
    else:
        lo = (xf.amin(dim=dims, keepdim=True) if dims else xf).clamp(max=0.0)  # the range always holds 0
        hi = (xf.amax(dim=dims, keepdim=True) if dims else xf).clamp(min=0.0)
        scale = ((hi - lo) / (q_max - q_min)).clamp(min=_EPS)
        zero_point = (q_min - torch.round(lo / scale)).clamp(q_min, q_max).to(torch.int32)
        q = torch.round(xf * (1.0 / scale)) + zero_point
    q = q.clamp(q_min, q_max).to(torch.int8).reshape(x.shape)
    data = pack_int4(q.reshape(-1)) if pack else q
    return QuantizedTensor(data, scale, zero_point, bits, x.shape, axis, group_size, pack)


def dequantize(qx: QuantizedTensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """x_hat = s (q - z): the tensor that ``qx`` stands for."""
    if not isinstance(qx, QuantizedTensor):
        raise ValueError(f"dequantize takes a QuantizedTensor (from quantize), got {type(qx).__name__}")
    return qx.dequantize(dtype)


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """Two 4-bit integers (int8 values in [-8, 7]) per uint8 byte, along the last dimension:
    entry 2i in the low nibble, entry 2i + 1 in the high one (two's complement nibbles).

    >>> pack_int4(torch.tensor([1, -1, 7, -8], dtype=torch.int8))
    tensor([241, 135], dtype=torch.uint8)
    """
    if q.dtype != torch.int8 or q.ndim == 0 or q.shape[-1] % 2:
        raise ValueError(f"pack_int4 needs an int8 tensor with an even last dimension, got {q.dtype} of shape {tuple(q.shape)}")
    if q.numel() and (int(q.min()) < -8 or int(q.max()) > 7):
        raise ValueError(f"4-bit integers lie in [-8, 7], got [{int(q.min())}, {int(q.max())}]")
    nibbles = q.to(torch.uint8) & 0x0F  # two's complement: -1 -> 0b1111
    return nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`pack_int4`: int8 values in [-8, 7], twice as many along the last dimension."""
    if packed.dtype != torch.uint8:
        raise ValueError(f"unpack_int4 needs uint8 bytes, got {packed.dtype}")
    # Integer division rather than shifts on uint8: the same nibbles, and a graph that ONNX
    # (whose BitShift is typed differently from PyTorch's) exports and ONNX Runtime accepts.
    p = packed.to(torch.int32)
    high = torch.div(p, 16, rounding_mode="floor")
    low = p - 16 * high
    pairs = torch.stack([low, high], dim=-1)  # (..., n, 2)
    pairs = torch.where(pairs >= 8, pairs - 16, pairs)  # sign-extend the nibbles
    return pairs.to(torch.int8).reshape(*packed.shape[:-1], 2 * packed.shape[-1])
