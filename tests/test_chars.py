"""Character vocabulary and training windows."""

import pytest
import torch

from helpers.chars import UNK, CharVocab, char_corpus, random_windows


def test_round_trip_and_unknown_characters():
    vocab = CharVocab.from_text("hello world")
    assert vocab.decode(vocab.encode("hello")) == "hello"
    assert vocab.decode(vocab.encode("hex")) == "he" + UNK
    assert vocab.chars[0] == "l"  # most frequent first
    with pytest.raises(ValueError, match="empty"):
        CharVocab.from_text("")
    with pytest.raises(ValueError, match="ids must be integers"):
        vocab.decode([len(vocab) + 5])


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
