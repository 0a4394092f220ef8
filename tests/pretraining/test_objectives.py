"""Checks of helpers.pretraining.objectives.

Oracles: the cross-entropy of the full logits (torch's ``ignore_index``), which the
masked-position shortcut must equal; ``transformers``' ``BertForMaskedLM`` loss (in
test_bert.py); invariants: windows framed as [CLS] ... [SEP] and taken in order, evaluation
deterministic for a seed, a short pre-training run learning a rule that needs context.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.pretraining import objectives
from helpers.pretraining.bert import BertConfig, BertForMaskedLM
from helpers.pretraining.masking import mask_tokens
from helpers.pretraining.objectives import (
    MLMBatch,
    causal_lm_loss,
    evaluate_mlm_loss,
    mlm_batches,
    mlm_loss,
    mlm_windows,
    visibility,
)
from helpers.transformer import lm_loss

SPECIAL = dict(mask_id=4, special_ids=[0, 1, 2, 3, 4])


def tiny(V=45, seed=0, **kw):
    torch.manual_seed(seed)
    return BertForMaskedLM(BertConfig(vocab_size=V, n_embd=32, n_layer=2, n_head=2, max_position=40, dropout=0.0, **kw))


def test_masked_position_loss_equals_full_logits_cross_entropy():
    model = tiny().eval()
    ids = torch.randint(5, 45, (6, 20))
    inputs, labels = mask_tokens(ids, vocab_size=45, p=0.3, generator=torch.Generator().manual_seed(0), **SPECIAL)
    full = F.cross_entropy(model(inputs).reshape(-1, 45), labels.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(mlm_loss(model, MLMBatch(inputs, labels)), full, rtol=1e-5, atol=1e-6)
    nothing = torch.full_like(labels, -100)
    assert mlm_loss(model, MLMBatch(inputs, nothing)).item() == 0.0


def test_windows_are_framed_and_in_order():
    stream = torch.arange(10, 30)
    w = mlm_windows(stream, 7, cls_id=2, sep_id=3)
    assert w.shape == (4, 7)
    assert (w[:, 0] == 2).all() and (w[:, -1] == 3).all()
    assert torch.equal(w[:, 1:-1].flatten(), stream[:20])
    assert mlm_windows(stream, 7, 2, 3, stride=1).shape == (16, 7)
    with pytest.raises(ValueError, match="fewer than one window"):
        mlm_windows(torch.arange(3), 7, 2, 3)


def test_batches_are_masked_afresh_and_evaluation_is_deterministic():
    windows = mlm_windows(torch.randint(5, 45, (2000,)), 12, 2, 3)
    batches = mlm_batches(windows, 8, vocab_size=45, generator=torch.Generator().manual_seed(0), **SPECIAL)
    a, b = next(batches), next(batches)
    assert a.inputs.shape == (8, 12) and not torch.equal(a.labels, b.labels)
    model = tiny()
    first = evaluate_mlm_loss(model, windows[:50], vocab_size=45, seed=3, **SPECIAL)
    assert first == evaluate_mlm_loss(model, windows[:50], vocab_size=45, seed=3, **SPECIAL)
    assert model.training, "evaluation restores the training mode"
    assert abs(first - math.log(45)) < 0.5, "an untrained model is close to uniform"


def test_a_short_pre_training_run_learns_to_use_context():
    """Each token is the previous one plus 1 (mod 40): the unigram distribution is uniform, so
    only a model that reads its neighbours can get below ln 40."""
    g = torch.Generator().manual_seed(0)
    windows = 5 + (torch.randint(0, 40, (1000, 1), generator=g) + torch.arange(20)) % 40
    windows = torch.cat([torch.full((1000, 1), 2), windows, torch.full((1000, 1), 3)], dim=1)
    model = tiny()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batches = mlm_batches(windows, 32, vocab_size=45, p=0.15, generator=g, **SPECIAL)
    for _ in range(400):
        loss = mlm_loss(model, next(batches))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    held_out = evaluate_mlm_loss(model, windows[:200], vocab_size=45, seed=1, **SPECIAL)
    assert held_out < 0.5 * math.log(40), held_out


def test_visibility_and_the_causal_objective():
    assert torch.equal(visibility(4, "causal"), torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]).bool())
    assert visibility(4, "mlm").sum() == 12 and not visibility(4, "mlm").diagonal().any()
    with pytest.raises(ValueError, match="objective"):
        visibility(3, "both")
    assert causal_lm_loss is lm_loss
    assert "causal_lm_loss" in objectives.__all__
