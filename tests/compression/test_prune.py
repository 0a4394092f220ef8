"""Pruning: masks equal torch.nn.utils.prune's, stay applied while fine-tuning, and structured
pruning removes neurons and heads exactly."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from helpers.compression.prune import (
    apply_masks,
    ffn_masks,
    head_importance,
    head_masks,
    magnitude_masks,
    remove_masks,
    shrink_ffn,
    sparsity_report,
)
from helpers.data.chars import random_windows
from helpers.transformer.gpt import GPT, GPTConfig, lm_loss


def _gpt(seed=0):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=4, n_embd=32))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()  # continuous values: no ties between magnitudes, non-zero biases
    return model


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.75, 1.0])
def test_per_layer_masks_equal_torch_l1_unstructured(sparsity):
    model = _gpt()
    ours = magnitude_masks(model, sparsity, scope="layer", exclude=["head"])
    reference = copy.deepcopy(model)
    for name, module in reference.named_modules():
        if isinstance(module, nn.Linear) and name != "head":
            prune.l1_unstructured(module, "weight", amount=sparsity)
            assert torch.equal(ours[name], module.weight_mask.bool()), name


@pytest.mark.parametrize("sparsity", [0.2, 0.6, 0.9])
def test_global_masks_equal_torch_global_unstructured(sparsity):
    model = _gpt(1)
    ours = magnitude_masks(model, sparsity, scope="global", exclude=["head"])
    reference = copy.deepcopy(model)
    modules = [(name, m) for name, m in reference.named_modules() if isinstance(m, nn.Linear) and name != "head"]
    prune.global_unstructured([(m, "weight") for _, m in modules], pruning_method=prune.L1Unstructured, amount=sparsity)
    for name, m in modules:
        assert torch.equal(ours[name], m.weight_mask.bool()), name
    per_layer = {name: 1 - float(mask.float().mean()) for name, mask in ours.items()}
    assert max(per_layer.values()) - min(per_layer.values()) > 0.01  # one threshold: layers differ


def test_ffn_masks_equal_torch_ln_structured():
    model = _gpt(2)
    ours = ffn_masks(model, 0.4)
    for i, block in enumerate(copy.deepcopy(model).blocks):
        prune.ln_structured(block.ff.fc1, "weight", amount=0.4, n=2, dim=0)
        assert torch.equal(ours[f"blocks.{i}.ff.fc1"], block.ff.fc1.weight_mask.bool())
        rows = ours[f"blocks.{i}.ff.fc1"][:, 0]
        assert torch.equal(ours[f"blocks.{i}.ff.fc1.bias"], rows)
        assert torch.equal(ours[f"blocks.{i}.ff.fc2"], rows[None, :].expand(32, -1))
        assert int((~rows).sum()) == round(0.4 * 128)


def test_masks_stay_applied_while_fine_tuning():
    model = _gpt(3)
    masks = {**magnitude_masks(model, 0.5, scope="layer", exclude=["head", "*.ff.*"]), **ffn_masks(model, 0.25)}
    apply_masks(model, masks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    batches = random_windows(torch.randint(0, 30, (2000,)), 16, 8, torch.Generator().manual_seed(0))
    for _ in range(5):
        loss = lm_loss(model, next(batches))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    modules = dict(model.named_modules())
    for key, mask in masks.items():
        tensor = modules[key[:-5]].bias if key.endswith(".bias") else modules[key].weight
        assert bool((tensor[~mask] == 0).all()), key  # pruned entries are still exactly zero
        assert bool((tensor[mask] != 0).all()), key
    report = {row.name: row for row in sparsity_report(model)}
    assert report["blocks.0.attn.q_proj"].sparsity == pytest.approx(0.5)
    assert report["blocks.1.ff.fc1"].sparsity == pytest.approx(0.25)
    assert report["head"].sparsity == 0.0
    total = report["total"]
    assert total.zeros == sum(r.zeros for name, r in report.items() if name != "total")
    remove_masks(model)
    assert not any(hasattr(m, "parametrizations") for m in model.modules())
    assert model.blocks[0].attn.q_proj.weight.eq(0).float().mean().item() == pytest.approx(0.5)


def test_shrink_ffn_keeps_the_outputs_and_removes_neurons():
    model = _gpt(4).eval()
    apply_masks(model, ffn_masks(model, 0.5))
    x = torch.randint(0, 30, (2, 16))
    with torch.no_grad():
        masked = model(x)
        shrink_ffn(model)
        shrunk = model(x)
    torch.testing.assert_close(shrunk, masked, rtol=1e-5, atol=1e-5)
    assert model.blocks[0].ff.fc1.out_features == 64 and model.blocks[1].ff.fc2.in_features == 64
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in _gpt(4).parameters())


def test_head_masks_remove_exactly_one_head():
    """A masked head contributes nothing: the same output as zeroing that head's values."""
    model = _gpt(5).eval()
    attn = model.blocks[0].attn
    x = torch.randn(2, 7, 32)
    masked = apply_masks(copy.deepcopy(attn), {"out_proj": head_masks(model, {"blocks.0.attn": [2]})["blocks.0.attn.out_proj"]})
    zero_values = copy.deepcopy(attn)
    with torch.no_grad():
        zero_values.v_proj.weight[16:24] = 0  # head 2 of 4, d_k = 8
        zero_values.v_proj.bias[16:24] = 0
        torch.testing.assert_close(masked(x, causal=True), zero_values(x, causal=True), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="heads 0..3"):
        head_masks(model, {"blocks.0.attn": [4]})
    with pytest.raises(ValueError, match="not a multi-head attention"):
        head_masks(model, {"blocks.0.ff": [0]})


def test_head_importance_is_the_gradient_of_a_head_gate():
    """Michel et al. 2019: I_h = |dL/dxi_h| for a gate on the head's output, computed here with explicit gates."""
    model = _gpt(6)
    ids = torch.randint(0, 30, (3000,))
    batch = next(random_windows(ids, 16, 4, torch.Generator().manual_seed(1)))
    ours = head_importance(model, iter([batch]), lm_loss, steps=1)
    gated = copy.deepcopy(model)
    gates = {}
    for i, block in enumerate(gated.blocks):
        gate = torch.ones(4, requires_grad=True)
        gates[f"blocks.{i}.attn"] = gate
        original = block.attn.out_proj

        def forward(y, original=original, gate=gate):
            B, T, C = y.shape
            return original(y * gate.repeat_interleave(8))  # scale each head's d_k inputs of W^O

        block.attn.out_proj = type("Gated", (nn.Module,), {"forward": lambda self, y, f=forward: f(y)})()
    gated.eval()
    lm_loss(gated, batch).backward()
    for name, gate in gates.items():
        torch.testing.assert_close(ours[name], gate.grad.abs(), rtol=1e-4, atol=1e-7)
    assert all(p.grad is None for p in model.parameters())  # the model is left as it was


def test_bad_arguments_are_named():
    model = _gpt()
    with pytest.raises(ValueError, match="sparsity"):
        magnitude_masks(model, 1.5)
    with pytest.raises(ValueError, match="scope"):
        magnitude_masks(model, 0.5, scope="row")
    with pytest.raises(ValueError, match="no nn.Linear"):
        magnitude_masks(model, 0.5, targets=["nope"])
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"head": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="names no module"):
        apply_masks(model, {"blocks.9.ff.fc1": torch.ones(1, dtype=torch.bool)})
