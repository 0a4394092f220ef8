"""Memorisation: extraction and losses on a model that has memorised one text, the AUC equals sklearn's."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from helpers.audit.memorisation import (
    extractable,
    membership_auc,
    memorisation_test,
    sequence_losses,
    windows_of,
)
from helpers.transformer import GPT, GPTConfig


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    member, other = (
        rng.normal(1.0, 1.0, 30).round(1),
        rng.normal(1.4, 1.0, 25).round(1),
    )  # rounding makes ties
    labels = np.r_[np.ones(30), np.zeros(25)]
    np.testing.assert_allclose(
        membership_auc(member, other), roc_auc_score(labels, -np.r_[member, other]), rtol=1e-12
    )


def test_auc_errors():
    with pytest.raises(ValueError, match="non-empty"):
        membership_auc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        membership_auc([np.nan], [1.0])


class Lookup(torch.nn.Module):
    """A 'model' that has memorised one text perfectly: its logits put all mass on the next id
    (context = the previous id, so the text must have no repeated id with two successors)."""

    def __init__(self, text, vocab_size):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab_size, block_size=32)
        table = torch.full((vocab_size, vocab_size), -10.0)
        table[text[:-1], text[1:]] = 10.0
        self.table = torch.nn.Parameter(table)

    def forward(self, idx):
        return self.table[idx]  # (B, T, V)


def test_memorised_text_is_extracted_and_heldout_is_not():
    V = 40
    text = torch.randperm(
        V, generator=torch.Generator().manual_seed(0)
    )  # each id once: a perfect lookup exists
    heldout = torch.randperm(V, generator=torch.Generator().manual_seed(1))
    model = Lookup(text, V)
    g = torch.Generator().manual_seed(0)
    train_w, held_w = windows_of(text, 12, 10, g), windows_of(heldout, 12, 10, g)
    assert extractable(model, train_w, 4, 8).all()
    assert extractable(model, held_w, 4, 8).float().mean() < 0.5
    r = memorisation_test(model, train_w, held_w, 4, 8)
    assert (
        r.train_extractable == 1.0
        and r.auc > 0.9
        and r.train_perplexity < 1.01 < r.heldout_perplexity
    )


def test_sequence_losses_equal_cross_entropy_of_suffix():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=9, block_size=16, n_layer=1, n_head=1, n_embd=8)).eval()
    w = torch.randint(0, 9, (3, 10))
    got = sequence_losses(model, w, 4, 6)
    with torch.no_grad():
        logp = torch.log_softmax(model(w[:, :-1]), -1)  # (3, 9, V)
    ref = -logp.gather(-1, w[:, 1:, None])[..., 0][:, 3:].mean(1)  # targets 4 .. 9
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="context"):
        sequence_losses(model, torch.zeros(1, 20, dtype=torch.long), 10, 10)
    with pytest.raises(ValueError, match="distinct windows"):
        windows_of(torch.arange(5), 4, 3, torch.Generator())
