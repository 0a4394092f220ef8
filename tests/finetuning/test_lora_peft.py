"""Our LoRA against the ``peft`` library on the same base model and the same initial A and B:
outputs before training, after several optimiser steps on the same data, and after merging.

Bases: the course's GPT exported to ``transformers`` (GPT-2's fused ``Conv1D`` projections), the
course's GPT itself (``nn.Linear``; peft's custom-model path) and week 6's pre-trained MiniLM.
"""

import copy

import pytest
import torch
from torch import nn

peft = pytest.importorskip("peft")
pytest.importorskip("transformers")

from helpers.finetuning.lora import LoRALinear, inject_lora, lora_layers, merge_lora, unmerge_lora  # noqa: E402
from helpers.transformer import GPT, GPTConfig, to_huggingface  # noqa: E402

TOL = {"atol": 1e-5, "rtol": 1e-4}


def peft_layers(model):
    """peft's LoRA layers by the name of the module they wrap in the base model."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, peft.tuners.lora.LoraLayer) and "default" in getattr(
            module, "lora_A", {}
        ):
            out[name.removeprefix("base_model.model.")] = module
    return out


def copy_adapter(ours, theirs, randomise_b: bool, seed: int = 0):
    """Give peft's layers our A; with ``randomise_b`` give both a random non-zero B (the same)."""
    g = torch.Generator().manual_seed(seed)
    mine, peft_ = lora_layers(ours), peft_layers(theirs)
    assert sorted(mine) == sorted(peft_), (sorted(mine)[:3], sorted(peft_)[:3])
    with torch.no_grad():
        for name, layer in mine.items():
            if randomise_b:
                layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * 0.05)
            peft_[name].lora_A["default"].weight.copy_(layer.lora_A)
            peft_[name].lora_B["default"].weight.copy_(layer.lora_B)
    return mine, peft_


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=37, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()


def make_pair(
    base, targets, r=4, alpha=8.0, dropout=0.0, rslora=False, fan_in_fan_out=False, seed=1
):
    ours = inject_lora(
        copy.deepcopy(base), targets, r=r, alpha=alpha, dropout=dropout, rslora=rslora, seed=seed
    )
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets),
                             fan_in_fan_out=fan_in_fan_out, use_rslora=rslora, bias="none")  # fmt: skip
    theirs = peft.get_peft_model(copy.deepcopy(base), config)
    return ours, theirs


def hf_logits(model, ids):
    return model(input_ids=ids).logits


def train_both(ours, theirs, forward, batches, lr=1e-2, seed=0):
    opt_a = torch.optim.AdamW([p for p in ours.parameters() if p.requires_grad], lr=lr)
    opt_b = torch.optim.AdamW([p for p in theirs.parameters() if p.requires_grad], lr=lr)
    for x, y in batches:
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            torch.manual_seed(seed)  # the same dropout masks (drawn in the same order) in both
            logits = forward(model, x)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()


def lm_batches(n, vocab, B=4, T=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, vocab, (n, B, T + 1), generator=g)
    return [(d[:, :-1], d[:, 1:]) for d in data]


# ----------------------------------------------------------------------------- GPT-2 (Conv1D)
@pytest.mark.parametrize(
    "targets,rslora", [(["c_attn"], False), (["c_attn", "c_proj", "c_fc"], True)]
)
def test_gpt2_export_equals_peft_before_during_after(targets, rslora):
    base = to_huggingface(tiny_gpt())
    ours, theirs = make_pair(base, targets, r=4, alpha=8.0, rslora=rslora, fan_in_fan_out=True)
    assert all(layer.fan_in_fan_out for layer in lora_layers(ours).values())
    ids = torch.randint(0, 37, (3, 14), generator=torch.Generator().manual_seed(5))
    # B = 0: both are the base model, exactly
    torch.testing.assert_close(hf_logits(ours, ids), hf_logits(base, ids), atol=0, rtol=0)
    copy_adapter(ours, theirs, randomise_b=True)
    before = hf_logits(ours, ids)
    assert (before - hf_logits(base, ids)).abs().max() > 1e-3  # the adapter changes the output
    torch.testing.assert_close(before, hf_logits(theirs, ids), **TOL)
    ours.train(), theirs.train()
    train_both(ours, theirs, hf_logits, lm_batches(5, 37))
    ours.eval(), theirs.eval()
    after = hf_logits(ours, ids)
    assert (after - before).abs().max() > 1e-3  # training moved it
    torch.testing.assert_close(after, hf_logits(theirs, ids), **TOL)
    for name, layer in peft_layers(theirs).items():  # the same adapter weights, not just outputs
        torch.testing.assert_close(
            lora_layers(ours)[name].lora_A, layer.lora_A["default"].weight, **TOL
        )
        torch.testing.assert_close(
            lora_layers(ours)[name].lora_B, layer.lora_B["default"].weight, **TOL
        )
    merged_ours = merge_lora(copy.deepcopy(ours), unload=True)
    merged_theirs = copy.deepcopy(theirs).merge_and_unload()
    assert not lora_layers(merged_ours)
    torch.testing.assert_close(hf_logits(merged_ours, ids), after, **TOL)  # merged == unmerged
    torch.testing.assert_close(hf_logits(merged_ours, ids), hf_logits(merged_theirs, ids), **TOL)
    sd_ours, sd_theirs = merged_ours.state_dict(), merged_theirs.state_dict()
    assert sorted(sd_ours) == sorted(sd_theirs)  # unloading gives back the plain architecture
    for key in sd_ours:
        torch.testing.assert_close(sd_ours[key], sd_theirs[key], **TOL)


def test_dropout_path_equals_peft_in_training_mode():
    base = to_huggingface(tiny_gpt(2))
    ours, theirs = make_pair(
        base, ["c_attn", "c_fc"], r=2, alpha=4.0, dropout=0.3, fan_in_fan_out=True
    )
    copy_adapter(ours, theirs, randomise_b=True, seed=3)
    ours.train(), theirs.train()
    ids = torch.randint(0, 37, (2, 10), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    a = hf_logits(ours, ids)
    torch.manual_seed(7)
    b = hf_logits(theirs, ids)
    torch.testing.assert_close(a, b, **TOL)
    torch.manual_seed(8)
    assert (hf_logits(ours, ids) - a).abs().max() > 1e-4  # dropout is really on


# ----------------------------------------------------------------------------- the course GPT (nn.Linear)
def test_course_gpt_equals_peft_custom_model():
    base = tiny_gpt(1)
    ours, theirs = make_pair(base, ["q_proj", "v_proj", "fc1"], r=3, alpha=6.0)
    copy_adapter(ours, theirs, randomise_b=True, seed=2)
    ids = torch.randint(0, 37, (2, 16), generator=torch.Generator().manual_seed(2))
    forward = lambda m, x: m(x)  # noqa: E731
    torch.testing.assert_close(ours(ids), theirs(ids), **TOL)
    ours.train(), theirs.train()
    train_both(ours, theirs, forward, lm_batches(4, 37, T=16, seed=4))
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(ids), theirs(ids), **TOL)
    before_merge = ours(ids)
    merge_lora(ours)
    torch.testing.assert_close(ours(ids), before_merge, **TOL)
    unmerge_lora(ours)
    torch.testing.assert_close(ours(ids), before_merge, **TOL)
    torch.testing.assert_close(
        merge_lora(ours, unload=True)(ids), theirs.merge_and_unload()(ids), **TOL
    )


# ----------------------------------------------------------------------------- week 6's MiniLM
@pytest.fixture(scope="module")
def minilm():
    from helpers.pretraining import load_minilm

    encoder, tokenizer = load_minilm()
    return encoder.eval(), tokenizer


def test_minilm_equals_peft(minilm):
    encoder, tokenizer = minilm
    ours, theirs = make_pair(encoder, ["q_proj", "v_proj"], r=4, alpha=16.0)
    copy_adapter(ours, theirs, randomise_b=True, seed=4)
    texts = ["the cat sat on the mat", "low-rank adaptation of a sentence encoder"]
    ids, mask = tokenizer(texts)  # padded: the mask matters
    hidden = lambda m: m(ids, mask)  # noqa: E731
    torch.testing.assert_close(hidden(ours), hidden(theirs), **TOL)
    assert (hidden(ours) - hidden(encoder)).abs().max() > 1e-3
    # a few steps pulling the mean-pooled vectors towards a fixed target
    target = torch.randn(2, encoder.config.n_embd, generator=torch.Generator().manual_seed(0))
    opts = [
        torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=5e-3)
        for m in (ours, theirs)
    ]
    for _ in range(3):
        for model, opt in zip((ours, theirs), opts, strict=True):
            loss = (model(ids, mask).mean(1) - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    torch.testing.assert_close(hidden(ours), hidden(theirs), **TOL)
    merged = merge_lora(copy.deepcopy(ours), unload=True)
    torch.testing.assert_close(hidden(merged), hidden(theirs.merge_and_unload()), **TOL)


# ----------------------------------------------------------------------------- target matching
NAMES = ["transformer.h.0.attn.c_attn", "transformer.h.10.attn.c_proj", "transformer.h.1.mlp.c_proj",
         "blocks.0.attn.q_proj", "blocks.3.attn.qq_proj", "encoder.q_proj", "q_proj", "head", "xc_attn"]  # fmt: skip
TARGETS = [
    ["c_attn"],
    ["c_proj"],
    ["q_proj", "head"],
    ["attn.c_proj"],
    r".*\.0\..*",
    r".*attn\.c_(attn|proj)",
    "q_proj",
]


@pytest.mark.parametrize("targets", TARGETS, ids=str)
def test_target_matching_follows_peft(targets):
    from peft.tuners.tuners_utils import check_target_module_exists

    from helpers.finetuning.lora import matches_target

    config = peft.LoraConfig(target_modules=targets)
    for name in NAMES:
        assert matches_target(name, targets) == bool(check_target_module_exists(config, name)), name


def test_layer_is_lora_linear():
    model = inject_lora(tiny_gpt(), ["q_proj"], r=2)
    assert isinstance(model.blocks[0].attn.q_proj, LoRALinear)
    assert not isinstance(model.blocks[0].attn.k_proj, LoRALinear)
