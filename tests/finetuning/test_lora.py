"""Invariants of the LoRA layer, injection and adapter files (the peft oracle is in test_lora_peft.py)."""

import copy
import math

import pytest
import torch
from torch import nn

from helpers.finetuning import (
    LoRALinear,
    inject_lora,
    load_adapter,
    lora_layers,
    mark_only_lora_trainable,
    merge_lora,
    save_adapter,
    trainable_parameters,
    unmerge_lora,
)
from helpers.transformer import GPT, GPTConfig


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=29, block_size=12, n_layer=2, n_head=2, n_embd=24))


def test_forward_is_the_equation():
    torch.manual_seed(0)
    base = nn.Linear(7, 5)
    layer = LoRALinear(copy.deepcopy(base), r=3, alpha=6.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 2, 7)
    expected = x @ base.weight.T + base.bias + (6.0 / 3) * x @ layer.lora_A.T @ layer.lora_B.T
    torch.testing.assert_close(layer(x), expected)
    rs = LoRALinear(copy.deepcopy(base), r=4, alpha=2.0, rslora=True)
    assert rs.scaling == pytest.approx(2.0 / math.sqrt(4))


def test_initialisation_zero_b_and_kaiming_a():
    layer = LoRALinear(nn.Linear(400, 30), r=64, generator=torch.Generator().manual_seed(0))
    assert torch.count_nonzero(layer.lora_B) == 0
    bound = 1 / math.sqrt(
        400
    )  # kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as nn.Linear
    assert layer.lora_A.abs().max() <= bound
    assert layer.lora_A.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    x = torch.randn(3, 400)
    torch.testing.assert_close(layer(x), layer.base(x), atol=0, rtol=0)


def test_merge_unmerge_round_trip_and_errors():
    layer = LoRALinear(nn.Linear(6, 4), r=2, alpha=3.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    w0, x = layer.base.weight.clone(), torch.randn(5, 6)
    y = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), y)
    torch.testing.assert_close(layer.base.weight, w0 + 1.5 * layer.lora_B @ layer.lora_A)
    with pytest.raises(ValueError, match="already merged"):
        layer.merge()
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, w0)
    with pytest.raises(ValueError, match="not merged"):
        layer.unmerge()


@pytest.mark.parametrize("kwargs", [{"r": 0}, {"r": 2.5}, {"alpha": 0}, {"dropout": 1.0}])
def test_bad_hyper_parameters(kwargs):
    with pytest.raises(ValueError):
        LoRALinear(nn.Linear(3, 3), **kwargs)


def test_inject_errors_name_the_problem():
    with pytest.raises(ValueError, match="matches no layer.*q_proj"):
        inject_lora(tiny_gpt(), ["query"])
    with pytest.raises(ValueError, match="cannot wrap.*LayerNorm"):
        inject_lora(tiny_gpt(), ["norm1"])
    with pytest.raises(ValueError, match="regular expression"):
        inject_lora(tiny_gpt(), "blocks.(")
    with pytest.raises(ValueError, match="non-empty list"):
        inject_lora(tiny_gpt(), [])
    with pytest.raises(ValueError, match="LoRA wraps"):
        LoRALinear(nn.Embedding(3, 3))
    model = inject_lora(tiny_gpt(), ["q_proj"])
    with pytest.raises(ValueError, match="already has LoRA"):
        inject_lora(model, ["v_proj"])
    with pytest.raises(ValueError, match="no LoRA layers"):
        merge_lora(tiny_gpt())
    with pytest.raises(ValueError, match="has 5 features.*expects 24"):
        model.blocks[0].attn.q_proj(torch.randn(2, 5))


def test_same_seed_same_adapter_and_counts():
    a = inject_lora(tiny_gpt(), ["q_proj", "v_proj"], r=4, seed=3)
    b = inject_lora(tiny_gpt(), ["q_proj", "v_proj"], r=4, seed=3)
    c = inject_lora(tiny_gpt(), ["q_proj", "v_proj"], r=4, seed=4)
    for name, layer in lora_layers(a).items():
        torch.testing.assert_close(layer.lora_A, lora_layers(b)[name].lora_A, atol=0, rtol=0)
        assert not torch.equal(layer.lora_A, lora_layers(c)[name].lora_A)
    count = trainable_parameters(a)
    assert count.trainable == 2 * 2 * (4 * 24 + 24 * 4)  # 2 layers x (q, v) x (A + B)
    assert count.total == tiny_gpt().num_parameters() + count.trainable  # the tied head counts once
    assert {n.rsplit(".", 1)[-1] for n, p in a.named_parameters() if p.requires_grad} == {
        "lora_A",
        "lora_B",
    }


def test_training_leaves_the_base_unchanged():
    model = inject_lora(tiny_gpt(), r".*attn\.(q|v)_proj|.*ff\.fc1", r=2, dropout=0.1)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1
    )
    data = torch.randint(0, 29, (4, 13), generator=torch.Generator().manual_seed(0))
    for _ in range(5):
        logits = model(data[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 29), data[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
            assert p.grad is None, name
    assert any(torch.count_nonzero(layer.lora_B) for layer in lora_layers(model).values())


def test_mark_only_lora_trainable_refreezes():
    model = inject_lora(tiny_gpt(), ["q_proj"])
    model.tok_emb.weight.requires_grad_(True)
    mark_only_lora_trainable(model)
    assert not model.tok_emb.weight.requires_grad


def test_adapter_file_holds_only_the_adapter(tmp_path):
    model = inject_lora(
        tiny_gpt(), ["q_proj", "v_proj", "fc2"], r=3, alpha=5.0, rslora=True, seed=2
    )
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.normal_()
    path = save_adapter(model, tmp_path / "adapter.safetensors")
    n_adapter = trainable_parameters(model).trainable
    size = path.stat().st_size
    assert 4 * n_adapter <= size <= 4 * n_adapter + 4096  # float32 tensors and a small header
    assert size < 4 * trainable_parameters(model).total / 5
    fresh = tiny_gpt()  # the same base, no LoRA yet: load_adapter injects it
    load_adapter(fresh, path)
    x = torch.randint(0, 29, (2, 12))
    torch.testing.assert_close(fresh(x), model(x), atol=0, rtol=0)
    assert (
        lora_layers(fresh)["blocks.0.attn.q_proj"].config
        == lora_layers(model)["blocks.0.attn.q_proj"].config
    )


def test_adapter_errors(tmp_path):
    model = inject_lora(tiny_gpt(), ["q_proj"])
    path = save_adapter(model, tmp_path / "a.safetensors")
    with pytest.raises(ValueError, match="does not fit"):
        load_adapter(inject_lora(tiny_gpt(), ["v_proj"]), path)
    with pytest.raises(ValueError, match="no adapter file"):
        load_adapter(tiny_gpt(), tmp_path / "missing.safetensors")
    wider = GPT(GPTConfig(vocab_size=29, block_size=12, n_layer=2, n_head=2, n_embd=32))
    with pytest.raises(ValueError, match="shape"):
        load_adapter(wider, path)
    merge_lora(model)
    with pytest.raises(ValueError, match="before merging"):
        save_adapter(model, tmp_path / "b.safetensors")
    unmerge_lora(model)
    save_adapter(model, tmp_path / "b.safetensors")
