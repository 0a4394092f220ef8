"""Reference checks for helpers.scaling.decoder and helpers.scaling.export.

Oracles: ``transformers``' ``LlamaForCausalLM`` and, with experts, ``MixtralForCausalLM`` built
from small configs with our weights copied (logits to 1e-5, router logits, the auxiliary loss,
greedy generation with their own KV cache); invariants (a cached run equals the full run,
generation with the cache equals generation without, the three attention implementations agree,
causality, and a tiny model learns a periodic text).
"""

import pytest
import torch

from helpers.scaling.decoder import ModernConfig, ModernDecoder
from helpers.scaling.moe import load_balancing_loss
from helpers.transformer import lm_loss

TOL = {"rtol": 1e-5, "atol": 1e-5}


def tiny(**overrides) -> ModernDecoder:
    config = dict(vocab_size=23, block_size=24, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)
    config.update(overrides)
    torch.manual_seed(0)
    model = ModernDecoder(ModernConfig(**config)).eval()
    with torch.no_grad():  # gains away from 1, so that a misplaced norm would show
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def ids(B, T, vocab=23, seed=0):
    return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def as_hf(model):
    pytest.importorskip("transformers")
    from helpers.scaling.export import to_huggingface

    return to_huggingface(model)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"n_kv_head": 1}, {"n_kv_head": 4}, {"tie_weights": True}, {"rope_base": 500000.0, "d_ff": 40}, {"attention": "tiled"}],
)
def test_logits_equal_hugging_face_llama(overrides):
    model = tiny(**overrides)
    hf = as_hf(model)
    assert type(hf).__name__ == "LlamaForCausalLM"
    assert sum(p.numel() for p in hf.parameters()) == model.num_parameters()
    x = ids(3, 24, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(x).logits, **TOL)


@pytest.mark.parametrize("n_experts,top_k", [(4, 2), (3, 1)])
def test_logits_router_logits_and_aux_loss_equal_hugging_face_mixtral(n_experts, top_k):
    model = tiny(n_experts=n_experts, top_k=top_k)
    hf = as_hf(model)
    assert type(hf).__name__ == "MixtralForCausalLM"
    x = ids(2, 17, seed=2)
    with torch.no_grad():
        ours = model.run(x)
        theirs = hf(x, output_router_logits=True)
    torch.testing.assert_close(ours.logits, theirs.logits, **TOL)
    assert len(ours.router_logits) == len(theirs.router_logits) == 2
    for a, b in zip(ours.router_logits, theirs.router_logits, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(load_balancing_loss(ours.router_logits, n_experts, top_k), theirs.aux_loss, **TOL)


@pytest.mark.parametrize("overrides", [{}, {"n_experts": 4}])
def test_greedy_generation_equals_hugging_face_generate(overrides):
    model = tiny(**overrides)
    hf = as_hf(model)
    prompt = ids(2, 4, seed=3)
    expected = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=15, do_sample=False)
    assert torch.equal(model.generate(prompt, 15, temperature=0), expected)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"position": "alibi"}, {"position": "learned"}, {"position": "sinusoidal"}, {"position": "none"},
     {"n_experts": 4}, {"attention": "tiled", "block": 5}, {"attention": "fast"}, {"n_kv_head": 1}],
)  # fmt: skip
def test_cache_equals_full_run_and_cached_generation_equals_uncached(overrides):
    model = tiny(**overrides)
    x = ids(2, 20, seed=4)
    full = model.run(x)
    first = model.run(x[:, :9])
    rest = model.run(x[:, 9:], first.cache)
    torch.testing.assert_close(torch.cat([first.logits, rest.logits], 1), full.logits, **TOL)
    assert [k.shape for k, _ in full.cache] == [(2, model.config.n_kv_head, 20, 8)] * 2
    prompt = ids(3, 5, seed=5)
    for kwargs in ({"temperature": 1.0}, {"temperature": 0.7, "top_k": 5}, {"temperature": 0}):
        # 40 new tokens from 5: the window of 24 fills and slides
        cached = model.generate(prompt, 40, use_cache=True, generator=torch.Generator().manual_seed(6), **kwargs)
        plain = model.generate(prompt, 40, use_cache=False, generator=torch.Generator().manual_seed(6), **kwargs)
        assert cached.shape == (3, 45) and torch.equal(cached, plain)


@pytest.mark.parametrize("position", ["rope", "alibi", "sinusoidal"])
def test_implementations_agree_and_the_model_is_causal(position):
    plain = tiny(position=position)
    x = ids(2, 24, seed=7)
    expected = plain(x)
    for implementation in ("tiled", "fast"):
        other = tiny(position=position, attention=implementation)
        other.load_state_dict(plain.state_dict())
        torch.testing.assert_close(other(x), expected, **TOL)
    changed = x.clone()
    changed[:, 15] = (changed[:, 15] + 1) % 23
    later = plain(changed)
    torch.testing.assert_close(later[:, :15], expected[:, :15], rtol=0, atol=1e-6)
    assert not torch.allclose(later[:, 15:], expected[:, 15:])
    longer = ids(1, 60, seed=8)  # relative positions: no limit on the length
    assert plain(longer).shape == (1, 60, 23)


def test_attention_weights_on_request():
    model = tiny(attention="fast")
    out = model.run(ids(1, 6), need_weights=True)
    assert [w.shape for w in out.weights] == [(1, 4, 6, 6)] * 2
    torch.testing.assert_close(out.weights[0].sum(-1), torch.ones(1, 4, 6), **TOL)


def test_a_tiny_modern_decoder_learns_a_periodic_text():
    torch.manual_seed(12)
    text = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 1, 4] * 40)
    model = ModernDecoder(ModernConfig(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=32, n_experts=2, top_k=1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(13)
    for _ in range(150):
        starts = torch.randint(0, len(text) - 17, (16,), generator=g)
        window = text[starts[:, None] + torch.arange(17)]
        loss = lm_loss(model, (window[:, :-1], window[:, 1:]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3
    assert model.generate(text[None, :5], 16, temperature=0)[0].tolist() == text[:21].tolist()


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="n_kv_head"):
        ModernConfig(vocab_size=10, n_embd=16, n_head=4, n_kv_head=3)
    with pytest.raises(ValueError, match="position"):
        ModernConfig(vocab_size=10, position="relative")
    with pytest.raises(ValueError, match="even head size"):
        ModernConfig(vocab_size=10, n_embd=12, n_head=4)
    with pytest.raises(ValueError, match="top_k"):
        ModernConfig(vocab_size=10, n_experts=2, top_k=3)
    model = tiny()
    with pytest.raises(ValueError, match=r"\[0, 23\)"):
        model(torch.tensor([[1, 23]]))
    with pytest.raises(ValueError, match="LongTensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="cache"):
        model.run(ids(1, 2), cache=[])
    with pytest.raises(ValueError, match="beyond"):
        tiny(position="learned")(ids(1, 25))
    with pytest.raises(ValueError, match="rotary"):
        as_hf(tiny(position="alibi"))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(ids(1, 2), 3, temperature=-1)
