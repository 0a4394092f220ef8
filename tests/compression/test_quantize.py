"""Quantize / dequantize: PyTorch's own quantizer as the oracle, and the error bound by property."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.compression.quantize import dequantize, pack_int4, qrange, quantize, unpack_int4


def _torch_observer(kind, x, **kwargs):
    from torch.ao.quantization import observer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated, still the reference
        obs = getattr(observer, kind)(**kwargs)
        obs(x)
        return obs.calculate_qparams()


@pytest.mark.parametrize("seed", range(5))
def test_per_channel_symmetric_equals_torch(seed):
    """Configured to PyTorch's convention, scales and integers equal quantize_per_channel's."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(24, 37, generator=g) * torch.rand(24, 1, generator=g) * 3  # rows of different ranges
    w[3] = 0.0  # an all-zero row: the scale is clamped to eps, as torch does
    scale, zero = _torch_observer("PerChannelMinMaxObserver", w, ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = torch.quantize_per_channel(w, scale, zero, 0, torch.qint8)
    ours = quantize(w, 8, axis=0, convention="torch")
    torch.testing.assert_close(ours.scale.reshape(-1), scale.float(), rtol=0, atol=0)
    assert torch.equal(ours.values(), reference.int_repr())
    torch.testing.assert_close(ours.dequantize(), reference.dequantize(), rtol=0, atol=1e-7)


def test_per_tensor_asymmetric_equals_torch():
    g = torch.Generator().manual_seed(3)
    for x in (torch.randn(50, 9, generator=g) + 1.5, torch.rand(40, generator=g) * 4, -torch.rand(7, 3, generator=g)):
        scale, zero = _torch_observer("MinMaxObserver", x, dtype=torch.qint8, qscheme=torch.per_tensor_affine)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = torch.quantize_per_tensor(x, float(scale), int(zero), torch.qint8)
        ours = quantize(x, 8, symmetric=False)
        torch.testing.assert_close(ours.scale.reshape(()), scale.reshape(()).float(), rtol=0, atol=0)
        assert int(ours.zero_point) == int(zero)
        assert torch.equal(ours.values(), reference.int_repr())


def test_textbook_convention_is_the_default_and_symmetric():
    w = torch.tensor([[-2.0, 1.0, 0.5], [0.1, -0.1, 0.05]])
    q = quantize(w, axis=0)
    torch.testing.assert_close(q.scale.reshape(-1), torch.tensor([2.0 / 127, 0.1 / 127]))
    assert q.values()[0, 0] == -127 and q.values()[1, 0] == 127  # max|w| maps to +-127 exactly
    assert torch.equal(quantize(-w, axis=0).values(), -q.values())  # q(-x) = -q(x)
    assert qrange(8) == (-127, 127) and qrange(8, convention="torch") == (-128, 127) and qrange(4, symmetric=False) == (-8, 7)


def test_zero_is_exact_in_every_scheme():
    x = torch.tensor([[0.0, 0.3, 1.7, 2.2], [0.0, -5.0, 0.1, 0.2]])
    for kwargs in (dict(), dict(symmetric=False), dict(axis=0, symmetric=False), dict(group_size=2, bits=4)):
        assert float(quantize(x, **kwargs).dequantize()[:, 0].abs().max()) == 0.0, kwargs


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6), groups=st.integers(1, 4), group_size=st.sampled_from([2, 4, 8]),
    bits=st.sampled_from([2, 3, 4, 8]), symmetric=st.booleans(), granularity=st.sampled_from(["tensor", "channel", "group"]),
    convention=st.sampled_from(["textbook", "torch"]), seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3),
)  # fmt: skip
def test_error_is_at_most_half_a_step(rows, groups, group_size, bits, symmetric, granularity, convention, seed, scale):
    """|x - dequant(quant(x))| <= s / 2 for every entry: a quantizer's range always covers its tensor."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, groups * group_size, generator=g) * scale
    x[0, 0] = 0.0
    kwargs = dict(bits=bits, symmetric=symmetric, convention=convention)
    if granularity == "channel":
        kwargs["axis"] = 0
    elif granularity == "group":
        kwargs["group_size"] = group_size
    q = quantize(x, **kwargs)
    q_min, q_max = qrange(bits, symmetric, convention)
    values = q.values()
    assert int(values.min()) >= q_min and int(values.max()) <= q_max
    step = q.scale.expand(*x.shape[:-1], groups, group_size).reshape(x.shape) if granularity == "group" else q.scale.expand_as(x)
    error = (x - dequantize(q)).abs()
    assert bool((error <= step / 2 * (1 + 1e-5) + 1e-6 * x.abs()).all()), float((error / step).max())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-8, 7), min_size=2, max_size=64).filter(lambda v: len(v) % 2 == 0))
def test_int4_packing_round_trips(values):
    q = torch.tensor(values, dtype=torch.int8)
    packed = pack_int4(q)
    assert packed.dtype == torch.uint8 and packed.numel() == q.numel() // 2
    assert torch.equal(unpack_int4(packed), q)


def test_int4_storage_and_layout():
    assert torch.equal(pack_int4(torch.tensor([1, -1], dtype=torch.int8)), torch.tensor([0xF1], dtype=torch.uint8))
    w = torch.randn(8, 64, generator=torch.Generator().manual_seed(0))
    q = quantize(w, 4, group_size=32)
    assert q.packed and q.data.numel() == 8 * 64 // 2
    assert q.nbytes == 8 * 32 + 8 * 2 * 4  # packed integers + one float32 scale per group
    assert q.bits_per_value == pytest.approx(4 + 32 / 32)  # 4 bits + a 32-bit scale per 32 values
    assert int(q.values().abs().max()) <= 7


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from([4, 8]))
def test_group_scales_never_exceed_their_channel_scale(seed, bits):
    """A group's range lies inside its row's: every group-wise step is at most the per-channel one."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(4, 64, generator=g)
    w[:, 5] *= 20  # an outlier column
    per_channel = quantize(w, bits, axis=0)  # scale (4, 1)
    grouped = quantize(w, bits, group_size=16)  # scale (4, 4, 1)
    assert bool((grouped.scale.squeeze(-1) <= per_channel.scale * (1 + 1e-6)).all())
    assert bool((grouped.scale.squeeze(-1) < per_channel.scale).any())  # the outlier's group is not the only one


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bits=1), "bits"), (dict(bits=16), "bits"), (dict(axis=0, group_size=2), "not both"),
        (dict(group_size=3), "divides"), (dict(axis=5), "out of range"), (dict(convention="tf"), "convention"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quantize(torch.randn(4, 8), **kwargs)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="floating-point"):
        quantize(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        pack_int4(torch.tensor([9, 0], dtype=torch.int8))
    with pytest.raises(ValueError, match="even"):
        pack_int4(torch.zeros(3, dtype=torch.int8))
    with pytest.raises(ValueError, match="QuantizedTensor"):
        dequantize(torch.ones(2))
