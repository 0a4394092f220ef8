"""Character training windows, the corpus split and the baselines of the character models."""

import math

import pytest
import torch

from helpers.data import baseline_losses, char_corpus, random_windows


def test_windows_are_shifted_by_one_and_reproducible():
    ids = torch.arange(100)
    x, y = next(random_windows(ids, block_size=8, batch_size=4, generator=torch.Generator().manual_seed(0)))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y - x, torch.ones_like(x))
    x2, _ = next(random_windows(ids, 8, 4, torch.Generator().manual_seed(0)))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="need more than"):
        next(random_windows(ids[:5], 8, 4))


def test_char_corpus_split_by_article():
    train, val, test = char_corpus()
    assert len(train) > 5 * len(val) > 0 and len(test) > 0
    assert val[:200] not in train


def test_baselines_equal_counting_by_hand():
    train = torch.tensor([0, 1, 1, 2, 0, 1])
    val = torch.tensor([1, 0, 2])
    V = 3
    got = baseline_losses(train, val, V)
    # add-one unigram: counts (2, 3, 1) + 1 over 6 + 3
    unigram = [3 / 9, 4 / 9, 2 / 9]
    assert got["unigram"] == pytest.approx(-sum(math.log(unigram[i]) for i in (1, 0, 2)) / 3)
    # add-one bigram: pairs 0->1 twice, 1->1, 1->2, 2->0; P(0 | 1) = 1 / (2 + 3), P(2 | 0) = 1 / (2 + 3)
    assert got["bigram"] == pytest.approx(-(math.log(1 / 5) + math.log(1 / 5)) / 2)
    assert got["uniform"] == pytest.approx(math.log(3))
    with pytest.raises(ValueError, match="vocab_size"):
        baseline_losses(train, val, 2)
