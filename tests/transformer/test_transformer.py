"""Reference checks for helpers.transformer.

Oracles: torch.nn.functional.scaled_dot_product_attention, torch.nn.MultiheadAttention and
torch.nn.TransformerEncoderLayer given the same weights; the sinusoid formula of Vaswani et al.
2017 (section 3.5) written out with math.sin/math.cos, and its "relative position is a linear
map" property; invariants (causality, cache = full pass, fast path = readable path).
"""

import doctest
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import transformer
from helpers.transformer import (
    FeedForward,
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    causal_mask,
    scaled_dot_product_attention,
    sinusoidal_encoding,
)

TOL = {"rtol": 1e-5, "atol": 1e-6}  # float32, a few matmuls deep


def generator(seed):
    return torch.Generator().manual_seed(seed)


def random_mask(shape, seed):
    """A random boolean mask where every query may attend to at least one key (its diagonal)."""
    mask = torch.rand(shape, generator=generator(seed)) < 0.6
    return mask | torch.eye(shape[-2], shape[-1], dtype=torch.bool)


def test_docstring_examples():
    assert doctest.testmod(transformer).failed == 0


# ----------------------------------------------------------------------------- scaled dot product
@pytest.mark.parametrize("t_q,t_k", [(5, 5), (3, 7), (1, 6)])
def test_attention_equals_torch_without_and_with_masks(t_q, t_k):
    g = generator(0)
    q, k, v = torch.randn(2, 3, t_q, 8, generator=g), torch.randn(2, 3, t_k, 8, generator=g), torch.randn(2, 3, t_k, 4, generator=g)
    masks = [None, causal_mask(t_q, t_k), random_mask((2, 3, t_q, t_k), 1), torch.randn(t_q, t_k, generator=g)]
    for mask in masks:
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, t_q), **TOL)
        torch.testing.assert_close(weights @ v, out, **TOL)
        if mask is not None and mask.dtype == torch.bool:
            assert (weights[..., ~mask.expand_as(weights)] == 0).all()


def test_causal_attention_equals_torch_is_causal_and_custom_scale():
    g = generator(1)
    q, k, v = (torch.randn(4, 6, 16, generator=g) for _ in range(3))
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(6))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), **TOL)
    out, _ = scaled_dot_product_attention(q, k, v, scale=0.3)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3), **TOL)


def test_attention_weights_match_the_definition_and_gradients_match_torch():
    g = generator(2)
    q, k, v = (torch.randn(3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out, weights = scaled_dot_product_attention(q, k, v, causal_mask(5))
    # softmax(q k^T / sqrt(d_k)) row by row, written with plain Python numbers
    qn, kn = q.detach().numpy(), k.detach().numpy()
    for b in range(3):
        for i in range(5):
            scores = [float(qn[b, i] @ kn[b, j]) / 2.0 for j in range(i + 1)]
            z = sum(math.exp(s) for s in scores)
            expected = [math.exp(s) / z for s in scores] + [0.0] * (4 - i)
            np.testing.assert_allclose(weights[b, i].detach().numpy(), expected, rtol=1e-12, atol=1e-15)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    for ours, theirs in zip(grads, torch.autograd.grad(reference.square().sum(), (q, k, v)), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_fully_masked_row_gives_zeros_without_nans():
    q, k, v = torch.randn(1, 3, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(out[0, 1], torch.zeros(4)) and torch.equal(weights[0, 1], torch.zeros(3))
    assert torch.isfinite(out).all()
    if tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 5):  # torch's "safe softmax"
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)


def test_attention_rejects_bad_input():
    q = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="k must be"):
        scaled_dot_product_attention(q, torch.randn(2, 3, 5), torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="mask must be"):
        scaled_dot_product_attention(q, q, q, torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="t_q"):
        causal_mask(4, 2)


def test_causal_mask_with_cache_offset():
    mask = causal_mask(2, 5)  # queries are positions 3 and 4 of 5
    expected = [[j <= 3 + i for j in range(5)] for i in range(2)]
    assert mask.tolist() == expected
    assert torch.equal(causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril())


# ----------------------------------------------------------------------------- multi-head attention
def torch_mha_and_ours(d_model, n_heads, bias, seed):
    torch.manual_seed(seed)
    reference = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True)
    if bias:  # torch initialises the biases to zero: make them count
        with torch.no_grad():
            reference.in_proj_bias.normal_()
            reference.out_proj.bias.normal_()
    ours = MultiHeadAttention(d_model, n_heads, bias=bias)
    with torch.no_grad():  # the mapping written out here, independently of from_torch
        w_q, w_k, w_v = reference.in_proj_weight.chunk(3)
        ours.q_proj.weight.copy_(w_q)
        ours.k_proj.weight.copy_(w_k)
        ours.v_proj.weight.copy_(w_v)
        ours.out_proj.weight.copy_(reference.out_proj.weight)
        if bias:
            b_q, b_k, b_v = reference.in_proj_bias.chunk(3)
            ours.q_proj.bias.copy_(b_q)
            ours.k_proj.bias.copy_(b_k)
            ours.v_proj.bias.copy_(b_v)
            ours.out_proj.bias.copy_(reference.out_proj.bias)
    return reference.eval(), ours.eval()


@pytest.mark.parametrize("d_model,n_heads,bias", [(16, 1, True), (16, 4, True), (24, 8, False), (12, 3, True)])
def test_multihead_equals_torch_multihead(d_model, n_heads, bias):
    reference, ours = torch_mha_and_ours(d_model, n_heads, bias, seed=d_model + n_heads)
    B, T = 3, 7
    x = torch.randn(B, T, d_model, generator=generator(3))
    per_head = random_mask((B, n_heads, T, T), 4)
    keep = torch.ones(B, T, dtype=torch.bool)
    keep[0, 5:] = False  # padding at the end of the first sequence
    keep[2, 6:] = False
    cases = [  # (our mask, our causal flag, torch keyword arguments); torch's masks are True = blocked
        (None, False, {}),
        (None, True, {"attn_mask": ~causal_mask(T), "is_causal": True}),
        (causal_mask(T), False, {"attn_mask": ~causal_mask(T)}),
        (per_head, False, {"attn_mask": ~per_head.reshape(B * n_heads, T, T)}),
        (per_head, True, {"attn_mask": ~(per_head & causal_mask(T)).reshape(B * n_heads, T, T)}),
        (keep[:, None, :] | torch.eye(T, dtype=torch.bool), False,
         {"attn_mask": ~torch.eye(T, dtype=torch.bool).expand(B * n_heads, T, T) & ~keep.repeat_interleave(n_heads, 0)[:, None, :]}),
    ]  # fmt: skip
    for mask, causal, kwargs in cases:
        expected, expected_weights = reference(x, x, x, average_attn_weights=False, **kwargs)
        result = ours.attend(x, mask=mask, causal=causal)
        torch.testing.assert_close(result.output, expected, **TOL)
        torch.testing.assert_close(result.weights, expected_weights, **TOL)
        torch.testing.assert_close(ours(x, mask=mask, causal=causal), expected, **TOL)
    # a key-padding mask alone (padded queries still see the real tokens)
    expected, _ = reference(x, x, x, key_padding_mask=~keep)
    torch.testing.assert_close(ours(x, mask=keep[:, None, :]), expected, **TOL)


def test_multihead_gradients_equal_torch_and_from_torch_copies():
    reference, ours = torch_mha_and_ours(16, 4, True, seed=5)
    x = torch.randn(2, 6, 16, generator=generator(6), requires_grad=True)
    (g_ref,) = torch.autograd.grad(reference(x, x, x, attn_mask=~causal_mask(6), need_weights=False)[0].sin().sum(), x)
    (g_ours,) = torch.autograd.grad(ours(x, causal=True).sin().sum(), x)
    torch.testing.assert_close(g_ours, g_ref, **TOL)
    copied = MultiHeadAttention.from_torch(reference)
    torch.testing.assert_close(copied(x, causal=True), ours(x, causal=True), rtol=0, atol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_fast_path_equals_readable_path(causal):
    torch.manual_seed(7)
    readable = MultiHeadAttention(32, 4).eval()
    fast = MultiHeadAttention(32, 4, fast=True).eval()
    fast.load_state_dict(readable.state_dict())
    x = torch.randn(2, 9, 32)
    for mask in (None, random_mask((2, 9, 9), 8)):
        torch.testing.assert_close(fast(x, mask, causal), readable(x, mask, causal), **TOL)
        assert fast.attend(x, mask, causal).weights is None
        assert fast.attend(x, mask, causal, need_weights=True).weights is not None
    # with a cache: one new query against 9 cached positions
    past = readable.attend(x, causal=True).kv
    new = torch.randn(2, 1, 32)
    torch.testing.assert_close(fast.attend(new, causal=causal, past_kv=past).output,
                               readable.attend(new, causal=causal, past_kv=past).output, **TOL)  # fmt: skip


def test_cache_gives_the_same_as_one_pass():
    torch.manual_seed(8)
    attn = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 10, 16)
    full = attn.attend(x, causal=True)
    first = attn.attend(x[:, :6], causal=True)
    second = attn.attend(x[:, 6:9], causal=True, past_kv=first.kv)  # three new positions at once
    third = attn.attend(x[:, 9:], causal=True, past_kv=second.kv)  # then one
    torch.testing.assert_close(torch.cat([first.output, second.output, third.output], 1), full.output, **TOL)
    torch.testing.assert_close(third.kv[0], full.kv[0], **TOL)
    torch.testing.assert_close(second.weights, full.weights[:, :, 6:9, :9], **TOL)


def test_multihead_dropout_only_in_training():
    torch.manual_seed(9)
    attn = MultiHeadAttention(16, 4, dropout=0.5)
    x = torch.randn(2, 5, 16)
    attn.train()
    assert not torch.allclose(attn(x), attn(x))
    attn.eval()
    torch.testing.assert_close(attn(x), attn(x), rtol=0, atol=0)


def test_multihead_rejects_bad_input():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        MultiHeadAttention(10, 3)
    attn = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        attn(torch.randn(4, 8))
    with pytest.raises(ValueError, match="boolean"):
        attn(torch.randn(1, 3, 8), mask=torch.ones(3, 3))
    with pytest.raises(ValueError, match="mask must be"):
        attn(torch.randn(1, 3, 8), mask=torch.ones(4, 4, dtype=torch.bool))


# ----------------------------------------------------------------------------- positions
def test_sinusoidal_encoding_equals_the_formula():
    d_model = 10
    pe = sinusoidal_encoding(50, d_model)
    for pos in range(50):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    torch.testing.assert_close(sinusoidal_encoding(torch.tensor([3, 7, 49]), d_model), pe[[3, 7, 49]])
    torch.testing.assert_close(SinusoidalPositionalEncoding(d_model)(torch.arange(50)), pe)


def test_sinusoidal_offsets_are_linear_maps():
    """Vaswani et al. 2017, 3.5: PE(pos + k) is a linear function of PE(pos), a rotation of each
    (sin, cos) pair by an angle that depends on k only."""
    d_model, k = 16, 5
    pe = sinusoidal_encoding(40, d_model).double()
    for i in range(d_model // 2):
        w_k = k / 10000 ** (2 * i / d_model)
        # [sin(a + b), cos(a + b)] = [sin a, cos a] @ [[cos b, -sin b], [sin b, cos b]]
        rotation = torch.tensor([[math.cos(w_k), -math.sin(w_k)], [math.sin(w_k), math.cos(w_k)]], dtype=torch.float64)
        pair = pe[:, 2 * i : 2 * i + 2]  # (sin, cos) at every position
        torch.testing.assert_close(pair[:-k] @ rotation, pair[k:], rtol=0, atol=1e-6)


def test_positional_encodings_reject_bad_input():
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(4, 7)
    learned = LearnedPositionalEncoding(8, 4)
    assert learned(torch.arange(8)).shape == (8, 4)
    with pytest.raises(ValueError, match="beyond the 8 learned positions"):
        learned(torch.arange(9))


# ----------------------------------------------------------------------------- the block
def copy_into_torch_layer(ours: TransformerBlock, layer: nn.TransformerEncoderLayer) -> None:
    with torch.no_grad():
        attn = ours.attn
        layer.self_attn.in_proj_weight.copy_(torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]))
        layer.self_attn.out_proj.weight.copy_(attn.out_proj.weight)
        layer.self_attn.out_proj.bias.copy_(attn.out_proj.bias)
        for theirs, mine in ((layer.linear1, ours.ff.fc1), (layer.linear2, ours.ff.fc2), (layer.norm1, ours.norm1), (layer.norm2, ours.norm2)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("fast", [False, True])
def test_block_equals_torch_encoder_layer(norm_first, fast):
    torch.manual_seed(10)
    ours = TransformerBlock(24, 4, d_ff=40, norm_first=norm_first, fast=fast)
    with torch.no_grad():  # non-trivial layer norm parameters
        for norm in (ours.norm1, ours.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    layer = nn.TransformerEncoderLayer(24, 4, 40, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first)
    copy_into_torch_layer(ours, layer)
    x = torch.randn(3, 8, 24, requires_grad=True)
    for mask, causal, kwargs in [(None, False, {}), (None, True, {"src_mask": ~causal_mask(8), "is_causal": True})]:
        expected = layer(x, **kwargs)
        got = ours(x, mask=mask, causal=causal)
        torch.testing.assert_close(got, expected, **TOL)
        (g_ref,) = torch.autograd.grad(expected.sum(), x)
        (g_ours,) = torch.autograd.grad(got.sum(), x)
        torch.testing.assert_close(g_ours, g_ref, **TOL)
    # eval mode uses torch's fused "fast path" in the encoder layer: still equal
    layer.eval(), ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x, causal=True), layer(x, src_mask=~causal_mask(8), is_causal=True), **TOL)


def test_block_cache_equals_full_pass_and_feed_forward_shape():
    torch.manual_seed(11)
    for norm_first in (True, False):
        block = TransformerBlock(16, 2, norm_first=norm_first).eval()
        x = torch.randn(2, 7, 16)
        full = block.run(x, causal=True)
        head = block.run(x[:, :4], causal=True)
        tail = block.run(x[:, 4:], causal=True, past_kv=head.kv)
        torch.testing.assert_close(torch.cat([head.output, tail.output], 1), full.output, **TOL)
    assert FeedForward(16, 64)(torch.randn(2, 3, 16)).shape == (2, 3, 16)
