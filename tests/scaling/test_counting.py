"""Reference checks for helpers.scaling.counting.

Oracles: the parameters of real models (the course's GPT and modern decoder; Hugging Face's
GPT-2, Llama and Mixtral built on the meta device, so billions of parameters cost no memory);
``torch.utils.flop_counter.FlopCounterMode`` counting the FLOPs of an actual forward and backward
pass; the bytes of the tensors AdamW and the KV cache actually hold; Kaplan et al. 2020's formulas
written out (N = 12 n_layer d_model^2, C_forward = 2N + 2 n_layer n_ctx d_attn).
"""

import doctest

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers.scaling import counting
from helpers.scaling.counting import (
    TransformerShape,
    count_parameters,
    flops_per_token,
    kv_cache_bytes,
    shape_of,
    training_memory,
)
from helpers.scaling.decoder import ModernConfig, ModernDecoder
from helpers.scaling.published import GPT2, GPT3, GPT3_REPORTED, LLAMA2
from helpers.transformer import GPT, GPTConfig, lm_loss


def test_docstring_examples():
    assert doctest.testmod(counting).failed == 0


GPT_CONFIGS = [
    dict(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16),
    dict(vocab_size=50, block_size=32, n_layer=3, n_head=4, n_embd=24, d_ff=40, pos_encoding="sinusoidal"),
    dict(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8, bias=False, tie_weights=False, pos_encoding="none"),
    dict(vocab_size=9, block_size=8, n_layer=2, n_head=2, n_embd=8, norm_first=False),
]
MODERN_CONFIGS = [
    dict(vocab_size=13, block_size=16, n_layer=2, n_head=4, n_embd=16),
    dict(vocab_size=21, block_size=16, n_layer=3, n_head=4, n_kv_head=2, n_embd=32, d_ff=40, tie_weights=True),
    dict(vocab_size=11, block_size=8, n_layer=2, n_head=4, n_kv_head=1, n_embd=16, position="learned"),
    dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_kv_head=1, n_embd=16, n_experts=4, top_k=2),
]


def numel(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("overrides", GPT_CONFIGS)
def test_parameters_equal_the_course_gpt(overrides):
    model = GPT(GPTConfig(**overrides))
    n = count_parameters(model.config)
    assert n.total == numel(model)
    assert n.non_embedding == model.num_parameters(include_embeddings=False)
    # Kaplan's N: the blocks' weight matrices only
    matrices = sum(p.numel() for name, p in model.blocks.named_parameters() if p.ndim == 2)
    assert n.kaplan == matrices


@pytest.mark.parametrize("overrides", MODERN_CONFIGS)
def test_parameters_equal_the_modern_decoder(overrides):
    model = ModernDecoder(ModernConfig(**overrides))
    n = count_parameters(model.config)
    assert n.total == numel(model) == count_parameters(model).total
    assert n.non_embedding == model.num_parameters(include_embeddings=False)


def test_kaplan_n_is_twelve_n_layer_d_model_squared():
    for shape in list(GPT2.values()) + list(GPT3.values())[:-2]:
        assert count_parameters(shape).kaplan == 12 * shape.n_layer * shape.d_model**2
    s = TransformerShape(vocab_size=10, n_ctx=8, n_layer=3, d_model=16, n_head=2, d_attn=8, d_ff=40)
    assert count_parameters(s).kaplan == 2 * 16 * 3 * (2 * 8 + 40)  # 2 d_model n_layer (2 d_attn + d_ff)


def hf_numel(build):
    with torch.device("meta"):
        return numel(build())


@pytest.mark.parametrize("size", ["small", "medium", "XL"])
def test_gpt2_shapes_equal_hugging_face_gpt2(size):
    transformers = pytest.importorskip("transformers")
    s = GPT2[size]
    config = transformers.GPT2Config(vocab_size=s.vocab_size, n_positions=s.n_ctx, n_embd=s.d_model, n_layer=s.n_layer, n_head=s.n_head)
    assert count_parameters(s).total == hf_numel(lambda: transformers.GPT2LMHeadModel(config))


def test_gpt3_counts_match_the_reported_sizes():
    for name, shape in GPT3.items():
        assert count_parameters(shape).total == pytest.approx(GPT3_REPORTED[name], rel=0.04), name


@pytest.mark.parametrize("size", ["7B", "70B"])
def test_llama2_shapes_equal_hugging_face_llama(size):
    transformers = pytest.importorskip("transformers")
    s = LLAMA2[size]
    config = transformers.LlamaConfig(
        vocab_size=s.vocab_size, hidden_size=s.d_model, intermediate_size=s.d_ff, num_hidden_layers=s.n_layer,
        num_attention_heads=s.n_head, num_key_value_heads=s.n_kv_head,
    )  # fmt: skip
    assert count_parameters(s).total == hf_numel(lambda: transformers.LlamaForCausalLM(config))


def test_moe_shape_equals_hugging_face_mixtral():
    transformers = pytest.importorskip("transformers")
    s = TransformerShape(
        vocab_size=32000, n_ctx=4096, n_layer=4, d_model=512, n_head=8, n_kv_head=2, d_ff=1792, ffn="swiglu",
        n_experts=8, top_k=2, bias=False, norm="rmsnorm", learned_positions=False, tie_embeddings=False,
    )  # fmt: skip
    config = transformers.MixtralConfig(
        vocab_size=32000, hidden_size=512, intermediate_size=1792, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2,
    )  # fmt: skip
    assert count_parameters(s).total == hf_numel(lambda: transformers.MixtralForCausalLM(config))


# ----------------------------------------------------------------------------- FLOPs
def counted_flops(model, idx, backward):
    """(forward, backward) FLOPs of ``model`` on ``idx`` as FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as forward:
        loss = lm_loss(model, (idx, idx))
    if not backward:
        return forward.get_total_flops(), None
    with FlopCounterMode(display=False) as back:
        loss.backward()
    return forward.get_total_flops(), back.get_total_flops()


@pytest.mark.parametrize("overrides", GPT_CONFIGS[:3])
def test_flops_equal_flop_counter_on_the_course_gpt(overrides):
    model = GPT(GPTConfig(**overrides)).train()  # readable attention: the whole T x T matrix is computed
    B, T = 3, model.config.block_size
    idx = torch.randint(0, model.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(0))
    forward, backward = counted_flops(model, idx, backward=True)
    f = flops_per_token(model.config)
    assert forward == B * T * f.forward
    assert backward == B * T * f.backward
    # Kaplan's C_forward: 2N + 2 n_layer n_ctx d_attn; the exact count adds the de-embedding and the second product
    s = shape_of(model.config)
    assert f.kaplan_forward == 2 * count_parameters(s).kaplan + 2 * s.n_layer * T * s.d_attn
    assert f.forward - f.kaplan_forward == 2 * s.d_model * s.vocab_size + 2 * s.n_layer * T * s.d_attn


@pytest.mark.parametrize("overrides", MODERN_CONFIGS)
def test_flops_equal_flop_counter_on_the_modern_decoder(overrides):
    model = ModernDecoder(ModernConfig(**overrides))
    B, T = 2, 8
    idx = torch.randint(0, model.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(1))
    forward, backward = counted_flops(model, idx, backward=True)
    f = flops_per_token(model.config, context=T)
    assert forward == B * T * f.forward  # with experts: each token through exactly top_k of them
    assert backward == B * T * f.backward


def test_moe_flops_grow_with_top_k_not_with_experts():
    base = dict(vocab_size=10, n_ctx=8, n_layer=2, d_model=16, n_head=2, ffn="swiglu", bias=False, norm="rmsnorm")
    dense = flops_per_token(TransformerShape(**base))
    eight = TransformerShape(**base, n_experts=8, top_k=2)
    sixteen = TransformerShape(**base, n_experts=16, top_k=2)
    router = 2 * 2 * 16 * 8  # 2 FLOPs x n_layer x d_model x n_experts
    assert flops_per_token(eight).projections - dense.projections == 2 * 2 * (3 * 16 * 64) + router
    assert flops_per_token(sixteen).projections - flops_per_token(eight).projections == router  # only the router grows
    assert count_parameters(sixteen).feed_forward > 1.9 * count_parameters(eight).feed_forward


def test_six_n_d_for_gpt3():
    f = flops_per_token(GPT3["175B"])
    assert f.kaplan_train == 6 * f.n_active
    assert f.n_active == 12 * 96 * 12288**2
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs to train GPT-3 175B on 300B tokens
    assert f.kaplan_train * 300e9 == pytest.approx(3.14e23, rel=0.01)


# ----------------------------------------------------------------------------- memory
def test_training_memory_equals_adamw_tensors():
    model = GPT(GPTConfig(**GPT_CONFIGS[1]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    idx = torch.randint(0, 50, (2, 32))
    lm_loss(model, (idx, idx)).backward()
    optimizer.step()
    params = list(model.parameters())
    moments = sum(t.nbytes for p in params for key, t in optimizer.state[p].items() if key in ("exp_avg", "exp_avg_sq"))
    expected = training_memory(count_parameters(model.config))
    assert expected.weights == sum(p.nbytes for p in params)
    assert expected.gradients == sum(p.grad.nbytes for p in params)
    assert expected.optimizer == moments
    assert training_memory(model.config).total == 16 * numel(model)
    assert training_memory(1000, precision="mixed").total == 16_000  # ZeRO's 2 + 2 + 12 bytes
    assert training_memory(1000, optimizer="sgd").total == 8_000


def test_kv_cache_bytes_equal_the_cached_tensors():
    gpt = GPT(GPTConfig(**GPT_CONFIGS[0])).eval()
    kv = gpt.run(torch.randint(0, 13, (3, 11))).kv
    assert sum(k.nbytes + v.nbytes for k, v in kv) == kv_cache_bytes(gpt.config, tokens=11, batch=3)
    for overrides in MODERN_CONFIGS:
        model = ModernDecoder(ModernConfig(**overrides)).eval()
        cache = model.run(torch.randint(0, 7, (2, 5))).cache
        assert sum(k.nbytes + v.nbytes for k, v in cache) == kv_cache_bytes(model.config, tokens=5, batch=2)
    full = ModernConfig(**{**MODERN_CONFIGS[1], "n_kv_head": 4})
    assert kv_cache_bytes(full, 100) == 2 * kv_cache_bytes(ModernConfig(**MODERN_CONFIGS[1]), 100)  # 4 vs 2 heads
    assert kv_cache_bytes(full, 7, bytes_per_value=2) == 2 * 3 * 32 * 7 * 2


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="n_kv_head"):
        TransformerShape(vocab_size=10, n_ctx=8, n_layer=1, d_model=16, n_head=4, n_kv_head=3)
    with pytest.raises(ValueError, match="ffn"):
        TransformerShape(vocab_size=10, n_ctx=8, n_layer=1, d_model=16, n_head=4, ffn="relu")
    with pytest.raises(ValueError, match="n_layer"):
        TransformerShape(vocab_size=10, n_ctx=8, n_layer=0, d_model=16, n_head=4)
    with pytest.raises(ValueError, match="cannot count"):
        count_parameters({"n_layer": 2})
    with pytest.raises(ValueError, match="context"):
        flops_per_token(GPT2["small"], context=0)
    with pytest.raises(ValueError, match="precision"):
        training_memory(10, precision="fp8")
    with pytest.raises(ValueError, match="tokens"):
        kv_cache_bytes(GPT2["small"], tokens=-1)
