"""Reference checks for helpers.scaling.tiled and helpers.scaling.memory.

Oracles: plain attention (the course's readable kernel of week 5, which writes the T x T
weights) and ``torch.nn.functional.scaled_dot_product_attention``: equal to 1e-10 in float64 and
1e-5 in float32, causal or not, with key-padding masks and ALiBi biases, for block sizes that do
and do not divide T; ``torch.softmax`` for the online softmax. Memory: :class:`TensorMemory`
checked against tensors of known size, then the tiled kernel's peak extra memory measured at
growing T (linear: it doubles when T doubles) against plain attention's (quadratic), and its
largest tensor (a block, never T x T).
"""

import doctest

import pytest
import torch
import torch.nn.functional as F

from helpers.scaling import memory, tiled
from helpers.scaling.memory import measure
from helpers.scaling.positions import alibi_bias, alibi_slopes
from helpers.scaling.tiled import online_softmax, tiled_attention
from helpers.transformer import causal_mask, scaled_dot_product_attention

TOL = {torch.float64: {"rtol": 0, "atol": 1e-10}, torch.float32: {"rtol": 1e-5, "atol": 1e-5}}


def test_docstring_examples():
    assert doctest.testmod(tiled).failed == 0
    assert doctest.testmod(memory).failed == 0


def qkv(shape_q, t_k, d_v, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    *lead, t_q, d = shape_q
    q = torch.randn(*lead, t_q, d, generator=g, dtype=dtype) * 2
    k = torch.randn(*lead, t_k, d, generator=g, dtype=dtype)
    v = torch.randn(*lead, t_k, d_v, generator=g, dtype=dtype)
    return q, k, v


def plain(q, k, v, causal=False, mask=None):
    allowed = None
    if causal:
        allowed = causal_mask(q.shape[-2], k.shape[-2])
    if mask is not None:
        allowed = mask if allowed is None else allowed & mask
    return scaled_dot_product_attention(q, k, v, allowed)[0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("blocks", [(1, 1), (3, 5), (7, 7), (16, 4), (64, 64), (100, 9)])
def test_tiled_equals_plain_attention(dtype, causal, blocks):
    block_q, block_k = blocks
    for seed, (shape_q, t_k, d_v) in enumerate([((2, 3, 37, 8), 37, 8), ((1, 50, 16), 50, 4), ((2, 2, 2, 13, 4), 13, 6)]):
        q, k, v = qkv(shape_q, t_k, d_v, dtype, seed)
        out = tiled_attention(q, k, v, causal=causal, block_q=block_q, block_k=block_k)
        torch.testing.assert_close(out, plain(q, k, v, causal), **TOL[dtype])
        if dtype == torch.float32:
            torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_tiled_with_fewer_queries_than_keys_as_with_a_cache(dtype):
    q, k, v = qkv((2, 2, 5, 8), 23, 8, dtype, 10)
    for causal in (False, True):
        for block_q, block_k in ((2, 3), (5, 23), (1, 8)):
            out = tiled_attention(q, k, v, causal=causal, block_q=block_q, block_k=block_k)
            torch.testing.assert_close(out, plain(q, k, v, causal), **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_tiled_with_key_padding_alibi_and_scale(dtype):
    q, k, v = qkv((3, 4, 19, 8), 19, 8, dtype, 11)
    lengths = torch.tensor([19, 11, 1])
    keep = torch.arange(19)[None, :] < lengths[:, None]  # (B, T_k)
    key_mask = keep[:, None, :]  # (B, 1, T_k): broadcast over heads
    mask = key_mask[:, :, None, :]  # (B, 1, 1, T_k) for the plain kernel
    for causal in (False, True):
        out = tiled_attention(q, k, v, causal=causal, key_mask=key_mask, block_q=4, block_k=6)
        torch.testing.assert_close(out, plain(q, k, v, causal, mask), **TOL[dtype])
    slopes = alibi_slopes(4).to(dtype)
    bias = alibi_bias(slopes, 19).masked_fill(~causal_mask(19), float("-inf"))  # (nh, T, T)
    out = tiled_attention(q, k, v, causal=True, alibi_slopes=slopes, block_q=5, block_k=3)
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v, bias)[0], **TOL[dtype])
    out = tiled_attention(q, k, v, scale=0.3, block_q=8, block_k=8)
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v, scale=0.3)[0], **TOL[dtype])


def test_queries_that_see_no_key_get_zeros_and_gradients_flow():
    q, k, v = qkv((1, 4, 4), 6, 3, torch.float64, 12)
    out = tiled_attention(q, k, v, key_mask=torch.zeros(6, dtype=torch.bool), block_q=2, block_k=2)
    assert torch.equal(out, torch.zeros(1, 4, 3, dtype=torch.float64))
    q, k, v = (t.requires_grad_() for t in qkv((2, 9, 4), 9, 4, torch.float64, 13))
    (g_tiled,) = torch.autograd.grad(tiled_attention(q, k, v, causal=True, block_q=4, block_k=2).sum(), q)
    (g_plain,) = torch.autograd.grad(plain(q, k, v, True).sum(), q)
    torch.testing.assert_close(g_tiled, g_plain, **TOL[torch.float64])


def test_online_softmax_equals_softmax():
    x = torch.randn(5, 37, generator=torch.Generator().manual_seed(14), dtype=torch.float64) * 30
    for block in (1, 4, 37, 100):
        torch.testing.assert_close(online_softmax(x, block), torch.softmax(x, -1), rtol=0, atol=1e-14)
    x32 = torch.tensor([[1e4, -1e4, 0.0, 88.0]])  # large scores overflow a naive exp
    torch.testing.assert_close(online_softmax(x32, 2), torch.softmax(x32, -1))


def test_bad_input_raises_value_error():
    q, k, v = qkv((1, 4, 8), 4, 8, torch.float32, 15)
    for kwargs, match in [({"block_q": 0}, "block_q"), ({"block_k": 2.5}, "block_k"),
                          ({"key_mask": torch.ones(3, dtype=torch.bool)}, "key_mask"),
                          ({"alibi_slopes": torch.ones(3)}, "alibi_slopes")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            tiled_attention(q, k, v, **kwargs)
    with pytest.raises(ValueError, match="same leading"):
        tiled_attention(q, k[None], v)
    with pytest.raises(ValueError, match="T_q <= T_k"):
        tiled_attention(q, k[..., :2, :], v[..., :2, :], causal=True)


# ----------------------------------------------------------------------------- memory
def test_tensor_memory_counts_known_allocations():
    x = torch.ones(1000)  # created outside: not counted

    def work():
        a = x * 2  # 4,000 bytes
        b = a.view(10, 100)  # a view: no new memory
        c = b.sum(0)  # 400 bytes; a and b still alive
        del a, b
        d = torch.empty(2000)  # 8,000 bytes, after a was freed
        return c, d

    (c, d), report = measure(work)
    assert report.peak_bytes == 400 + 8000  # a (4,000) was freed before d came
    assert report.largest_numel == 2000 and report.largest_shape == (2000,)
    assert "aten.mul" in report.ops and "aten.sum" in report.ops
    _, report = measure(lambda: x.add_(1))  # in place: no new memory
    assert report.peak_bytes == 0


def peak_extra(fn, T, d=16, heads=2):
    q, k, v = qkv((heads, T, d), T, d, torch.float32, 16)
    _, report = measure(fn, q, k, v)
    return report


@pytest.mark.parametrize("causal", [False, True])
def test_tiled_memory_is_linear_in_t_and_plain_is_quadratic(causal):
    Ts = [512, 1024, 2048]
    tiled_reports = [peak_extra(lambda q, k, v: tiled_attention(q, k, v, causal=causal, block_q=64, block_k=64), T) for T in Ts]
    plain_reports = [peak_extra(lambda q, k, v: plain(q, k, v, causal), T) for T in Ts]
    for T, report in zip(Ts, tiled_reports, strict=True):
        assert report.largest_numel < T * T / 8, f"tiled attention made a tensor of {report.largest_shape} at T={T}"
    for T, report in zip(Ts, plain_reports, strict=True):
        assert report.largest_numel >= 2 * T * T  # the (heads, T, T) weights
    for small, big in zip(tiled_reports, tiled_reports[1:], strict=False):
        assert 1.5 < big.peak_bytes / small.peak_bytes < 2.5  # doubling T doubles the memory
    for small, big in zip(plain_reports, plain_reports[1:], strict=False):
        assert big.peak_bytes / small.peak_bytes > 3.5  # and quadruples it for plain attention
    assert tiled_reports[-1].peak_bytes < plain_reports[-1].peak_bytes / 20
