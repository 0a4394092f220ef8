"""Reference checks for helpers.scaling.moe.

Oracles: ``transformers``' ``MixtralSparseMoeBlock`` given the same weights (outputs, router
logits, the chosen experts and their weights) and its ``load_balancing_loss_func``; the Switch
Transformer loss for top-1 routing written out (Fedus et al. 2022, equations 4-6); invariants
(the loss is top_k for a uniform router, the load sums to 1, a token costs top_k experts).
"""

import pytest
import torch

from helpers.scaling.moe import MoEFeedForward, expert_load, load_balancing_loss, route

TOL = {"rtol": 1e-5, "atol": 1e-6}


def mixtral_block(ours: MoEFeedForward, d_model: int, d_ff: int):
    transformers = pytest.importorskip("transformers")
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    config = transformers.MixtralConfig(
        hidden_size=d_model, intermediate_size=d_ff, num_local_experts=ours.n_experts, num_experts_per_tok=ours.top_k,
        num_attention_heads=2, num_key_value_heads=2, router_jitter_noise=0.0,
    )  # fmt: skip
    hf = MixtralSparseMoeBlock(config).eval()
    with torch.no_grad():
        hf.gate.weight.copy_(ours.router.weight)
        hf.experts.gate_up_proj.copy_(torch.stack([torch.cat([e.gate_proj.weight, e.up_proj.weight]) for e in ours.experts]))
        hf.experts.down_proj.copy_(torch.stack([e.down_proj.weight for e in ours.experts]))
    return hf


@pytest.mark.parametrize("n_experts,top_k", [(8, 2), (4, 1), (4, 4), (6, 3)])
def test_moe_equals_mixtral_sparse_moe_block(n_experts, top_k):
    torch.manual_seed(n_experts + top_k)
    ours = MoEFeedForward(16, 24, n_experts, top_k).eval()
    hf = mixtral_block(ours, 16, 24)
    x = torch.randn(3, 11, 16)
    result = ours(x)
    with torch.no_grad():
        torch.testing.assert_close(result.output, hf(x), **TOL)
        hf_logits, hf_weights, hf_experts = hf.gate(x.view(-1, 16))
    torch.testing.assert_close(result.router_logits, hf_logits, **TOL)
    weights, experts = route(result.router_logits, top_k)
    assert torch.equal(experts, hf_experts)
    torch.testing.assert_close(weights, hf_weights, **TOL)
    torch.testing.assert_close(weights.sum(-1), torch.ones(33), **TOL)
    torch.testing.assert_close(result.load, torch.bincount(hf_experts.flatten(), minlength=n_experts) / (33 * top_k))
    torch.testing.assert_close(result.load.sum(), torch.tensor(1.0))


def test_load_balancing_loss_equals_mixtral():
    pytest.importorskip("transformers")
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    g = torch.Generator().manual_seed(0)
    layers = tuple(torch.randn(40, 8, generator=g) * s for s in (0.5, 2.0, 5.0))
    for top_k in (1, 2):
        expected = load_balancing_loss_func(layers, 8, top_k)
        torch.testing.assert_close(load_balancing_loss(layers, 8, top_k), expected, **TOL)
        torch.testing.assert_close(load_balancing_loss(layers[0], 8, top_k), load_balancing_loss_func(layers[:1], 8, top_k), **TOL)


def test_switch_loss_for_top_1_and_its_minimum():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(100, 4, generator=g)
    p = torch.softmax(logits, -1)
    f = torch.stack([(p.argmax(-1) == e).float().mean() for e in range(4)])  # share of tokens sent to e
    P = p.mean(0)  # mean router probability of e
    torch.testing.assert_close(load_balancing_loss(logits, 4, 1), 4 * (f * P).sum(), **TOL)  # Fedus et al., eq. 4
    torch.testing.assert_close(load_balancing_loss(torch.zeros(12, 4), 4, 2), torch.tensor(2.0))  # uniform: top_k
    collapsed = torch.zeros(12, 4)
    collapsed[:, 0] = 10.0  # every token to expert 0
    assert load_balancing_loss(collapsed, 4, 1) > 3.9  # close to n_experts: the most unbalanced
    assert torch.equal(expert_load(torch.tensor([[0, 1], [0, 3]]), 4), torch.tensor([0.5, 0.25, 0.0, 0.25]))


def test_each_token_uses_top_k_experts_and_gradients_reach_the_router():
    torch.manual_seed(2)
    moe = MoEFeedForward(8, 16, n_experts=4, top_k=2)
    x = torch.randn(2, 5, 8)
    out = moe(x)
    out.output.sum().backward()
    assert moe.router.weight.grad is not None and moe.router.weight.grad.abs().sum() > 0
    used = [e for e in moe.experts if e.gate_proj.weight.grad is not None]
    assert 2 <= len(used) <= 4
    # changing one token changes only that token's output (routing is per token)
    changed = x.clone()
    changed[0, 3] += 1.0
    with torch.no_grad():
        delta = (moe(changed).output - moe(x).output).abs().sum(-1)
    assert delta[0, 3] > 0 and delta.sum() == delta[0, 3]


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="top_k"):
        MoEFeedForward(8, 16, n_experts=2, top_k=3)
    with pytest.raises(ValueError, match="n_experts"):
        load_balancing_loss(torch.zeros(5, 3), n_experts=4, top_k=1)
