"""Reference checks for helpers.scaling.layers and helpers.scaling.attention.

Oracles: ``torch.nn.RMSNorm`` and ``transformers``' ``LlamaRMSNorm``; ``LlamaMLP`` (SwiGLU);
Zhang & Sennrich's equation written out; ``torch.nn.functional.scaled_dot_product_attention``
with ``enable_gqa``; the course's multi-head attention of week 5 when n_kv_head = n_head;
invariants (cache = full pass, every implementation equal, the cache shrinks by n_head / n_kv_head).
"""

import doctest

import pytest
import torch
import torch.nn.functional as F

from helpers.scaling import layers
from helpers.scaling.attention import GroupedQueryAttention, grouped_attention, repeat_kv
from helpers.scaling.layers import RMSNorm, SwiGLU
from helpers.transformer import MultiHeadAttention

TOL = {"rtol": 1e-5, "atol": 1e-6}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_docstring_examples():
    assert doctest.testmod(layers).failed == 0


def test_rmsnorm_equals_torch_llama_and_the_equation():
    x = torch.randn(4, 7, 32, generator=gen(0)) * 3
    ours = RMSNorm(32, eps=1e-6)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5, generator=gen(1))
    reference = torch.nn.RMSNorm(32, eps=1e-6)
    reference.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x), reference(x), **TOL)
    g = ours.weight.detach()
    torch.testing.assert_close(ours(x), x / torch.sqrt((x**2).mean(-1, keepdim=True) + 1e-6) * g, **TOL)
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    hf = LlamaRMSNorm(32, eps=1e-6)
    hf.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x), hf(x), **TOL)
    half = x.to(torch.bfloat16)
    torch.testing.assert_close(ours(half), hf(half), rtol=0, atol=0)  # both normalise in float32
    del transformers
    with pytest.raises(ValueError, match="eps"):
        RMSNorm(4, eps=0)


def test_swiglu_equals_llama_mlp():
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import LlamaMLP

    torch.manual_seed(0)
    ours = SwiGLU(24, 40)
    hf = LlamaMLP(transformers.LlamaConfig(hidden_size=24, intermediate_size=40, num_attention_heads=2, hidden_act="silu"))
    hf.load_state_dict(ours.state_dict())  # the same names: gate_proj, up_proj, down_proj
    x = torch.randn(2, 5, 24, generator=gen(2))
    torch.testing.assert_close(ours(x), hf(x), **TOL)
    W, V, W2 = ours.gate_proj.weight, ours.up_proj.weight, ours.down_proj.weight
    swish = lambda z: z * torch.sigmoid(z)  # noqa: E731 - Shazeer 2020, equation 6
    torch.testing.assert_close(ours(x), (swish(x @ W.T) * (x @ V.T)) @ W2.T, **TOL)


# ----------------------------------------------------------------------------- grouped-query attention
@pytest.mark.parametrize("n_head,n_kv", [(4, 4), (4, 2), (4, 1), (6, 3)])
def test_grouped_attention_equals_torch_enable_gqa(n_head, n_kv):
    q = torch.randn(2, n_head, 9, 8, generator=gen(3))
    k = torch.randn(2, n_kv, 9, 8, generator=gen(4))
    v = torch.randn(2, n_kv, 9, 8, generator=gen(5))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    for implementation in ("plain", "tiled", "fast"):
        out, weights = grouped_attention(q, k, v, causal=True, implementation=implementation, block_size=4)
        torch.testing.assert_close(out, expected, **TOL)
        assert (weights is not None) == (implementation == "plain")
    # query head h reads key/value head h // (n_head / n_kv)
    rep = repeat_kv(k, n_head // n_kv)
    for h in range(n_head):
        assert torch.equal(rep[:, h], k[:, h // (n_head // n_kv)])


def test_with_as_many_kv_heads_as_query_heads_it_is_multi_head_attention():
    torch.manual_seed(6)
    gqa = GroupedQueryAttention(16, 4, 4, position="none").eval()
    mha = MultiHeadAttention(16, 4, bias=False).eval()
    with torch.no_grad():
        for a, b in (("q_proj", "q_proj"), ("k_proj", "k_proj"), ("v_proj", "v_proj"), ("o_proj", "out_proj")):
            getattr(mha, b).weight.copy_(getattr(gqa, a).weight)
    x = torch.randn(3, 10, 16, generator=gen(7))
    torch.testing.assert_close(gqa(x).output, mha(x, causal=True), **TOL)


@pytest.mark.parametrize("position", ["rope", "alibi", "none"])
@pytest.mark.parametrize("implementation", ["plain", "tiled", "fast"])
def test_cached_attention_equals_the_full_pass_and_the_cache_shrinks(position, implementation):
    torch.manual_seed(8)
    attn = GroupedQueryAttention(32, 8, 2, position=position, implementation=implementation, block_size=3).eval()
    x = torch.randn(2, 12, 32, generator=gen(9))
    full = attn(x)
    first = attn(x[:, :5])
    rest = attn(x[:, 5:], past_kv=first.kv)
    torch.testing.assert_close(torch.cat([first.output, rest.output], 1), full.output, **TOL)
    k, v = full.kv
    assert k.shape == v.shape == (2, 2, 12, 4)  # 2 key/value heads of 4: a quarter of 8 heads' cache
    plain = GroupedQueryAttention(32, 8, 2, position=position).eval()
    plain.load_state_dict(attn.state_dict())
    torch.testing.assert_close(plain(x).output, full.output, **TOL)


def test_attention_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n_kv_head"):
        GroupedQueryAttention(16, 4, 3)
    with pytest.raises(ValueError, match="multiple"):
        GroupedQueryAttention(18, 4)
    with pytest.raises(ValueError, match="implementation"):
        GroupedQueryAttention(16, 4, implementation="flash")
    with pytest.raises(ValueError, match="cannot be shared"):
        grouped_attention(torch.zeros(1, 4, 2, 8), torch.zeros(1, 3, 2, 8), torch.zeros(1, 3, 2, 8))
