"""Quantized layers and quantize_model: exact integer arithmetic, PyTorch's dynamic quantization
as the reference, stated error bounds, and the model-level API other weeks use."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.compression.layers import (
    PRESETS,
    QuantConfig,
    QuantizedEmbedding,
    QuantizedLinear,
    _int32_product,
    quantize_model,
)
from helpers.compression.measure import parameter_bytes
from helpers.transformer.gpt import GPT, GPTConfig


def _linear(n_in=96, n_out=40, seed=0):
    torch.manual_seed(seed)
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.mul_(torch.rand(n_out, 1) * 4)  # rows of different ranges
        layer.bias.normal_()
    return layer


def _bound(x, w, s_x, s_w):
    """Worst-case |x W^T - x_hat W_hat^T| with |x - x_hat| <= s_x / 2 and |W - W_hat| <= s_w / 2 entrywise."""
    s_w = s_w.reshape(1, -1)  # (1, out): one step per output row of W
    return x.abs().sum(1, keepdim=True) * s_w / 2 + (s_x / 2) * w.abs().sum(1) + s_x * s_w / 4 * w.shape[1]


def test_integer_products_are_exact():
    g = torch.Generator().manual_seed(0)
    for n, k, m in [(1, 64, 32), (5, 384, 1536), (33, 128, 8)]:
        a = torch.randint(-127, 128, (n, k), dtype=torch.int8, generator=g)
        b = torch.randint(-127, 128, (m, k), dtype=torch.int8, generator=g)
        assert _int32_product(a, b).dtype == torch.int32
        assert torch.equal(_int32_product(a, b).long(), a.long() @ b.long().T)


def test_weight_only_layer_uses_the_dequantized_weight():
    layer = _linear()
    x = torch.randn(7, 96)
    for kwargs in (dict(bits=8), dict(bits=8, per_channel=False), dict(bits=4, group_size=32), dict(bits=8, symmetric=False)):
        q = QuantizedLinear.from_linear(layer, **kwargs)
        w_hat = q.dequantized_weight()
        torch.testing.assert_close(q(x), F.linear(x, w_hat, layer.bias), rtol=1e-5, atol=1e-5)
        qt = QuantConfig(**kwargs).quantize_weight(layer.weight)
        torch.testing.assert_close(w_hat, qt.dequantize(), rtol=0, atol=0)
        error = (q(x) - layer(x)).abs()
        step = qt.scale.expand(40, 96 // qt.group_size, qt.group_size).reshape(40, 96) if qt.group_size else qt.scale.expand(40, 96)
        assert bool((error <= x.abs() @ (step / 2).T + 1e-4).all())  # |x (W - W_hat)^T| <= |x| s/2


def test_int8_x_int8_layer_within_its_bound_and_against_pytorch_dynamic_quantization():
    from torch.ao.quantization import quantize_dynamic

    layer = _linear(256, 64, seed=1)
    x = torch.randn(32, 256) * torch.rand(32, 1) * 3
    exact = layer(x).detach()
    ours = QuantizedLinear.from_linear(layer, bits=8, activations="int8")
    y = ours(x)
    s_x = x.abs().amax(1, keepdim=True) / 127  # per row, as the layer quantizes its input
    assert bool(((y - exact).abs() <= _bound(x, layer.weight.detach(), s_x, ours.scale.reshape(1, -1)) + 1e-4).all())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = quantize_dynamic(nn.Sequential(copy.deepcopy(layer)), {nn.Linear}, dtype=torch.qint8)
        y_torch = theirs(x)
        w_scale = theirs[0].weight().q_scale()  # per tensor, max|w| / 127.5
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    s_x_torch = (hi - lo) / 127  # per tensor, 7-bit range on x86 (fbgemm's reduce_range); 8-bit would be smaller
    assert bool(((y_torch - exact).abs() <= _bound(x, layer.weight.detach(), torch.tensor(s_x_torch), torch.full((1, 64), w_scale)) + 1e-4).all())
    rms = lambda e: float(e.pow(2).mean().sqrt())  # noqa: E731
    relative = rms(y - y_torch) / rms(exact)
    assert relative < 0.03, relative  # the two int8 layers agree to a few percent of the output's size
    assert rms(y - exact) < rms(y_torch - exact)  # per-row and per-channel scales are finer than one per tensor


def test_int8_x_int8_matches_its_integer_recipe():
    layer = _linear(64, 24, seed=2)
    q = QuantizedLinear.from_linear(layer, activations="int8")
    x = torch.randn(3, 5, 64)
    s_x = x.abs().amax(-1, keepdim=True) / 127
    q_x = torch.round(x / s_x).clamp(-127, 127)
    expected = (q_x @ q.qweight.double().T.float()) * s_x * q.scale.reshape(-1) + layer.bias
    torch.testing.assert_close(q(x), expected, rtol=1e-5, atol=1e-5)
    assert q(x).shape == (3, 5, 24)


def test_quantized_embedding_looks_up_dequantized_rows():
    torch.manual_seed(0)
    emb = nn.Embedding(50, 16, padding_idx=0)
    ids = torch.tensor([[0, 3, 49], [7, 7, 1]])
    for bits, group_size in ((8, None), (4, None), (4, 8)):
        q = QuantizedEmbedding.from_embedding(emb, bits, group_size)
        table = q.weight
        torch.testing.assert_close(q(ids), table[ids], rtol=0, atol=0)
        assert float((table - emb.weight.detach()).abs().max()) <= float(q.scale.max()) / 2 + 1e-6
        assert float(q(torch.tensor([0])).abs().max()) == 0.0  # the zero padding row stays zero


def _gpt(seed=0, **overrides):
    torch.manual_seed(seed)
    config = dict(vocab_size=40, block_size=16, n_layer=2, n_head=4, n_embd=64)
    return GPT(GPTConfig(**{**config, **overrides})).eval()


def test_quantize_model_by_name_leaves_the_original_alone():
    model = _gpt()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_model(model, 8, exclude=["head"])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    kinds = {name: type(m).__name__ for name, m in q.named_modules()}
    assert kinds["head"] == "Linear" and kinds["blocks.0.attn.q_proj"] == "QuantizedLinear" and kinds["blocks.1.ff.fc2"] == "QuantizedLinear"
    only_ff = quantize_model(model, 4, 32, targets=["blocks.*.ff.*"])
    assert type(only_ff.blocks[0].ff.fc1).__name__ == "QuantizedLinear" and type(only_ff.blocks[0].attn.q_proj) is nn.Linear
    with_emb = quantize_model(model, 8, embeddings=True)
    assert isinstance(with_emb.tok_emb, QuantizedEmbedding) and isinstance(with_emb.pos_emb.embedding, QuantizedEmbedding)


def test_presets_keep_the_model_close_and_shrink_it():
    model = _gpt(n_embd=128)
    x = torch.randint(0, 40, (3, 16))
    with torch.no_grad():
        reference = torch.log_softmax(model(x), -1)
        full = parameter_bytes(model)
        for name, kwargs in PRESETS.items():
            q = quantize_model(model, **kwargs)
            diff = float((torch.log_softmax(q(x), -1) - reference).abs().max())
            assert diff < (0.05 if kwargs["bits"] == 8 else 0.5), (name, diff)
            assert parameter_bytes(q) < full * (0.35 if kwargs["bits"] == 8 else 0.25), name


def test_quantize_model_errors_are_named():
    model = _gpt()
    with pytest.raises(ValueError, match="no nn.Linear"):
        quantize_model(model, targets=["nothing.*"])
    with pytest.raises(ValueError, match="does not divide"):
        quantize_model(model, 4, 128)
    with pytest.raises(ValueError, match="int8 x int8"):
        quantize_model(model, 4, 32, activations="int8")
    with pytest.raises(ValueError, match="bits"):
        quantize_model(model, 16)
    with pytest.raises(ValueError, match="activations"):
        quantize_model(model, activations="fp8")
