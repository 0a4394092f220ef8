"""Checks of helpers.pretraining.finetune.

Invariants: frozen parameters do not move during fine-tuning and trainable ones do; the
trainable count equals the sum over the modules that were left unfrozen, written out here;
each parameter group gets the learning rate the layer-wise rule gives it (checked against the
optimiser's own state), no weight decay on biases and layer norms; the warm-up/decay schedule
follows the formula; a classifier learns a rule from labelled examples; predictions
keep the order of the inputs.
"""

import doctest

import pytest
import torch

from helpers.pretraining import finetune
from helpers.pretraining.bert import BertConfig, BertEncoder
from helpers.pretraining.finetune import (
    SequenceClassifier,
    accuracy,
    classification_batches,
    count_parameters,
    fine_tune,
    freeze_layers,
    parameter_groups,
    predict,
)

CONFIG = BertConfig(vocab_size=30, n_embd=32, n_layer=3, n_head=2, max_position=16, dropout=0.0)


def classifier(seed=0, pooling="mean"):
    torch.manual_seed(seed)
    return SequenceClassifier(BertEncoder(CONFIG), n_classes=2, pooling=pooling)


def rule_data(n, seed):
    """Label 1 when token 5 occurs in the text (which is padded to different lengths)."""
    g = torch.Generator().manual_seed(seed)
    ids, labels = [], []
    for i in range(n):
        length = int(torch.randint(4, 12, (1,), generator=g))
        seq = torch.randint(8, 30, (length,), generator=g).tolist()
        label = i % 2
        if label:
            seq[int(torch.randint(0, length, (1,), generator=g))] = 5
        ids.append([2, *seq, 3])
        labels.append(label)
    return ids, labels


def test_docstring_examples():
    assert doctest.testmod(finetune).failed == 0


def numel(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("k", [None, 0, 1, 3])
def test_freeze_layers_and_the_trainable_count(k):
    model = classifier()
    enc = model.encoder
    freeze_layers(model, k)
    embeddings = numel(enc.tok_emb) + numel(enc.pos_emb) + numel(enc.seg_emb) + numel(enc.emb_norm)
    frozen = 0 if k is None else embeddings + sum(numel(b) for b in enc.blocks[:k])
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - frozen
    assert count_parameters(model) == numel(enc) + numel(model.head)
    for i, block in enumerate(enc.blocks):
        assert all(p.requires_grad == (k is None or i >= k) for p in block.parameters())
    assert all(p.requires_grad for p in enc.pooler.parameters()) and all(p.requires_grad for p in model.head.parameters())

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ids, labels = rule_data(32, seed=1)
    fine_tune(model, ids, labels, epochs=1, batch_size=8, lr=1e-3, freeze=k, progress=False)
    for name, p in model.named_parameters():
        moved = not torch.equal(p, before[name])
        if not p.requires_grad:
            assert not moved, f"{name} is frozen but changed"
        elif "pooler" not in name:  # mean pooling: the pooler gets no gradient
            assert moved, f"{name} is trainable but did not change"


def test_freeze_rejects_bad_values_and_unfreezes_again():
    model = classifier()
    with pytest.raises(ValueError, match="freeze_layers=4"):
        freeze_layers(model, 4)
    with pytest.raises(ValueError, match="freeze_layers=-1"):
        freeze_layers(model, -1)
    freeze_layers(model, 3)
    freeze_layers(model, None)
    assert count_parameters(model, trainable_only=True) == count_parameters(model)
    with pytest.raises(ValueError, match="BertEncoder"):
        freeze_layers(torch.nn.Linear(2, 2), 1)


def test_parameter_groups_follow_the_layer_rule():
    model = freeze_layers(classifier(), 1)
    lr, head_lr, xi = 1e-3, 5e-3, 0.5
    groups = parameter_groups(model, lr, head_lr=head_lr, layer_decay=xi, weight_decay=0.1)
    optimizer = torch.optim.AdamW(groups)
    rate = {id(p): (g["lr"], g["weight_decay"]) for g in optimizer.param_groups for p in g["params"]}
    enc = model.encoder
    expected = {}
    for i, block in enumerate(enc.blocks):  # top block (i = 2) at lr, the one below at lr * xi
        for name, p in block.named_parameters():
            expected[id(p)] = lr * xi ** (len(enc.blocks) - 1 - i), name
    for name, p in [*enc.pooler.named_parameters(), *model.head.named_parameters()]:
        expected[id(p)] = head_lr, name
    frozen = {id(p) for p in enc.blocks[0].parameters()} | {id(p) for p in enc.tok_emb.parameters()}
    assert set(rate) == set(expected) - frozen, "exactly the trainable parameters"
    for pid, (lr_p, decay) in rate.items():
        want, name = expected[pid]
        assert lr_p == pytest.approx(want)
        assert decay == (0.0 if name.endswith("bias") or "norm" in name else 0.1), name
    with pytest.raises(ValueError, match="no trainable"):
        for p in model.parameters():
            p.requires_grad_(False)
        parameter_groups(model, lr)
    with pytest.raises(ValueError, match="layer_decay"):
        parameter_groups(classifier(), lr, layer_decay=1.5)


def test_embeddings_sit_below_the_lowest_block():
    model = classifier()
    groups = parameter_groups(model, 1.0, layer_decay=0.5, weight_decay=0.0)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert lr_of[id(model.encoder.tok_emb.weight)] == 0.5**3  # three blocks above it
    assert lr_of[id(model.encoder.blocks[0].attn.q_proj.weight)] == 0.5**2


def test_warmup_and_linear_decay(monkeypatch):
    seen = []
    original = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    ids, labels = rule_data(40, seed=2)
    fine_tune(classifier(), ids, labels, epochs=2, batch_size=8, lr=1e-3, warmup=0.2, progress=False)
    steps, warm = 10, 2
    expected = [1e-3 * min((s + 1) / warm, (steps - s) / (steps - warm)) for s in range(steps)]
    assert seen == pytest.approx(expected)


def test_fine_tuning_learns_the_rule():
    ids, labels = rule_data(256, seed=3)
    test_ids, test_labels = rule_data(128, seed=4)
    model = classifier(seed=1)
    before = accuracy(predict(model, test_ids), test_labels)
    fine_tune(model, ids, labels, epochs=6, batch_size=16, lr=2e-3, warmup=0.1, seed=0, progress=False)
    after = accuracy(predict(model, test_ids), test_labels)
    assert after > 0.9 and before < 0.7, (before, after)


def test_batches_cover_each_example_once_per_epoch_and_predict_keeps_order():
    ids = [[2, i + 5, 3] for i in range(10)]
    labels = list(range(10))
    batches = classification_batches(ids, labels, batch_size=4, generator=torch.Generator().manual_seed(0))
    first_epoch = [y for _ in range(3) for y in next(batches).labels.tolist()]
    assert sorted(first_epoch) == labels
    once = list(classification_batches(ids, labels, batch_size=4, shuffle=False))
    assert [b.labels.tolist() for b in once] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    model = classifier(pooling="cls").eval()
    mixed = [[2, 9, 9, 9, 3], [2, 5, 3], [2, 6, 7, 8, 9, 10, 3]]
    with torch.no_grad():
        one_by_one = torch.cat([model(torch.tensor([x])).argmax(-1) for x in mixed])
    assert torch.equal(predict(model, mixed, batch_size=2), one_by_one)
    with pytest.raises(ValueError, match="as many labels"):
        next(classification_batches(ids, labels[:3]))
    with pytest.raises(ValueError, match="must match"):
        accuracy(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifier(BertEncoder(CONFIG), 2, pooling="max")
