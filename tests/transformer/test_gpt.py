"""Reference checks for helpers.transformer.gpt.

Oracles: Hugging Face ``GPT2LMHeadModel`` given the same weights (logits, parameter count, and
greedy generation with its own KV cache); invariants (causality, cached generation = uncached generation, fast
path = readable path, a constant model's loss is log V, a tiny model learns a periodic text).
Sampling itself is checked in tests/decoding/ (the decoding library GPT.generate uses).
"""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.transformer import GPT, GPTConfig, evaluate_loss, lm_loss


def hugging_face():
    """The reference library (dev extra); only the tests that compare with it skip without it."""
    return pytest.importorskip("transformers")

TOL = {"rtol": 1e-5, "atol": 1e-5}


def tiny(**overrides) -> GPT:
    config = dict(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16)
    config.update(overrides)
    torch.manual_seed(0)
    return GPT(GPTConfig(**config)).eval()


def ids(B, T, vocab=13, seed=0):
    return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- Hugging Face GPT-2
def as_hf_gpt2(model: GPT):
    """A Hugging Face GPT-2 holding our weights (skips the test without transformers)."""
    hugging_face()
    from helpers.transformer import to_huggingface

    return to_huggingface(model)


def perturb_norms(model: GPT) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(std=0.1)


@pytest.mark.parametrize("fast", [False, True])
def test_logits_equal_hugging_face_gpt2(fast):
    model = tiny(fast=fast, n_layer=3, n_embd=24, n_head=4)
    perturb_norms(model)
    hf = as_hf_gpt2(model)
    x = ids(3, 16, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(x).logits, **TOL)
        torch.testing.assert_close(model(x[:, :5]), hf(x[:, :5]).logits, **TOL)
    assert model.num_parameters() == hf.num_parameters()


def test_greedy_generation_equals_hugging_face_generate():
    model = tiny(n_layer=2, n_embd=32, block_size=32)
    perturb_norms(model)
    with torch.no_grad():  # sharper logits, so that no two candidates are within rounding error
        model.tok_emb.weight.mul_(8)
    hf = as_hf_gpt2(model)
    prompt = ids(2, 4, seed=2)
    ours = model.generate(prompt, 20, temperature=0)
    theirs = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=20, do_sample=False,
                         min_new_tokens=20, use_cache=True)  # fmt: skip
    assert torch.equal(ours, theirs)


# ----------------------------------------------------------------------------- model invariants
@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal", "none"])
@pytest.mark.parametrize("norm_first", [True, False])
def test_logits_shape_and_causality(pos_encoding, norm_first):
    model = tiny(pos_encoding=pos_encoding, norm_first=norm_first)
    x = ids(2, 10)
    logits = model(x)
    assert logits.shape == (2, 10, 13)
    changed = x.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 13
    later = model(changed)
    torch.testing.assert_close(later[:, :6], logits[:, :6], rtol=0, atol=1e-6)  # the past cannot see the future
    assert not torch.allclose(later[:, 6:], logits[:, 6:])


def test_without_positions_the_model_ignores_order():
    """One layer, no position encoding: the last position's output is the same for any order of
    the earlier tokens (attention is a weighted sum over a set); with positions it is not. (With
    more layers the causal mask itself leaks order: Haviv et al. 2022.)"""
    x = ids(1, 12, seed=3)
    shuffled = torch.cat([x[:, :-1][:, torch.randperm(11, generator=torch.Generator().manual_seed(4))], x[:, -1:]], 1)
    bag = tiny(pos_encoding="none", n_layer=1)
    torch.testing.assert_close(bag(shuffled)[:, -1], bag(x)[:, -1], **TOL)
    ordered = tiny(pos_encoding="learned", n_layer=1)
    assert not torch.allclose(ordered(shuffled)[:, -1], ordered(x)[:, -1], atol=1e-4)


@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal", "none"])
def test_fast_model_equals_readable_model(pos_encoding):
    readable = tiny(pos_encoding=pos_encoding, dropout=0.1)
    fast = GPT(GPTConfig(**{**vars(readable.config), "fast": True})).eval()
    fast.load_state_dict(readable.state_dict())
    x = ids(2, 16, seed=5)
    torch.testing.assert_close(fast(x), readable(x), **TOL)
    (g_fast,) = torch.autograd.grad(lm_loss(fast, (x, x)), fast.blocks[0].attn.q_proj.weight)
    (g_read,) = torch.autograd.grad(lm_loss(readable, (x, x)), readable.blocks[0].attn.q_proj.weight)
    torch.testing.assert_close(g_fast, g_read, **TOL)


def test_cached_run_equals_full_run():
    model = tiny()
    x = ids(2, 12, seed=6)
    full = model.run(x)
    first = model.run(x[:, :7])
    rest = model.run(x[:, 7:], past_kv=first.kv)
    torch.testing.assert_close(torch.cat([first.logits, rest.logits], 1), full.logits, **TOL)
    with pytest.raises(ValueError, match="exceed block_size"):
        model.run(ids(2, 10), past_kv=first.kv)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"pos_encoding": "sinusoidal"}, {"pos_encoding": "none"}, {"norm_first": False}, {"fast": True},
     {"tie_weights": False, "bias": False}],
)  # fmt: skip
def test_generation_with_cache_equals_without(overrides):
    model = tiny(**overrides)
    prompt = ids(3, 5, seed=7)
    for kwargs in ({"temperature": 1.0}, {"temperature": 0.7, "top_k": 4}, {"temperature": 0}):
        # 30 new tokens from 5: the context outgrows block_size=16 and the window slides
        cached = model.generate(prompt, 30, use_cache=True, generator=torch.Generator().manual_seed(8), **kwargs)
        plain = model.generate(prompt, 30, use_cache=False, generator=torch.Generator().manual_seed(8), **kwargs)
        assert cached.shape == (3, 35)
        assert torch.equal(cached, plain)
        assert torch.equal(cached[:, :5], prompt)


def test_generation_is_reproducible_and_restores_training_mode():
    model = tiny(dropout=0.2).train()
    prompt = ids(1, 3)
    a = model.generate(prompt, 10, generator=torch.Generator().manual_seed(1))
    b = model.generate(prompt, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and model.training
    assert model.generate(prompt, 0).shape == (1, 3)


def test_attention_maps_are_causal_distributions():
    model = tiny(fast=True)
    maps = model.attention_maps(ids(2, 9))
    assert maps.shape == (2, 2, 2, 9, 9)  # (n_layer, B, n_head, T, T)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 2, 2, 9), **TOL)
    assert (maps.triu(diagonal=1) == 0).all()


# ----------------------------------------------------------------------------- errors
def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPTConfig(vocab_size=10, n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="pos_encoding"):
        GPTConfig(vocab_size=10, pos_encoding="rotary")
    with pytest.raises(ValueError, match="vocab_size"):
        GPTConfig(vocab_size=0)
    model = tiny()
    with pytest.raises(ValueError, match=r"\[0, 13\)"):
        model(torch.tensor([[1, 13]]))
    with pytest.raises(ValueError, match="LongTensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="block_size"):
        model(ids(1, 17))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(ids(1, 2), 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(ids(1, 2), 3, top_k=0)
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(ids(1, 0), 3)


# ----------------------------------------------------------------------------- loss and training
class Constant(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.dummy = vocab, torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.zeros(*x.shape, self.vocab) + 0 * self.dummy


def test_evaluate_loss_equals_cross_entropy_over_windows():
    assert evaluate_loss(Constant(7), torch.arange(50) % 7, block_size=8) == pytest.approx(math.log(7))
    model = tiny()
    data = ids(1, 100, seed=11)[0]
    logits = model(data[:96].view(6, 16))  # six consecutive windows of 16
    expected = F.cross_entropy(logits.reshape(-1, 13), data[1:97].view(6, 16).reshape(-1)).item()
    assert evaluate_loss(model, data, block_size=16, batch_size=4) == pytest.approx(expected, rel=1e-6)
    assert evaluate_loss(model, data, block_size=16, max_tokens=32) == pytest.approx(
        F.cross_entropy(logits[:2].reshape(-1, 13), data[1:33].view(2, 16).reshape(-1)).item(), rel=1e-6
    )


def test_a_tiny_gpt_learns_a_periodic_text():
    torch.manual_seed(12)
    text = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 1, 4] * 40)
    model = GPT(GPTConfig(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(13)
    for _ in range(150):
        starts = torch.randint(0, len(text) - 17, (16,), generator=g)
        window = text[starts[:, None] + torch.arange(17)]
        loss = lm_loss(model, (window[:, :-1], window[:, 1:]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # after the first 3 characters of a window the next one is determined: near-zero loss
    assert evaluate_loss(model, text, block_size=16) < 0.3
    continuation = model.generate(text[None, :5], 16, temperature=0)
    assert continuation[0].tolist() == text[:21].tolist()


# ----------------------------------------------------------------------------- your own attention
class TorchCausalAttention(torch.nn.Module):
    """Causal self-attention made of torch.nn.MultiheadAttention: a stand-in for a student's module."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.out_proj = self.mha.out_proj

    def forward(self, x):
        T = x.shape[1]
        blocked = torch.ones(T, T, dtype=torch.bool).triu(1)
        return self.mha(x, x, x, attn_mask=blocked, need_weights=False)[0]


def test_gpt_with_a_custom_attention_module_equals_the_built_in_one():
    ours = tiny(n_embd=24, n_head=4)
    torch.manual_seed(1)
    custom = GPT(ours.config, attention=TorchCausalAttention).eval()
    state = {k: v for k, v in ours.state_dict().items() if ".attn." not in k}
    custom.load_state_dict(state, strict=False)
    with torch.no_grad():
        for mine, theirs in zip(ours.blocks, custom.blocks, strict=True):
            a = mine.attn
            theirs.attn.mha.in_proj_weight.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
            theirs.attn.mha.in_proj_bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
            theirs.attn.out_proj.weight.copy_(a.out_proj.weight)
            theirs.attn.out_proj.bias.copy_(a.out_proj.bias)
    x = ids(2, 16, seed=14)
    torch.testing.assert_close(custom(x), ours(x), **TOL)
    g = torch.Generator().manual_seed(2)
    expected = ours.generate(x[:, :3], 8, generator=g)
    assert torch.equal(custom.generate(x[:, :3], 8, use_cache=False, generator=torch.Generator().manual_seed(2)), expected)
    with pytest.raises(ValueError, match="use_cache=False"):
        custom.generate(x[:, :3], 8)
    with pytest.raises(ValueError, match="custom"):
        custom.attention_maps(x)
