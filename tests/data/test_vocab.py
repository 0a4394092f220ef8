"""The one vocabulary class: characters with a trailing unknown symbol (weeks 3, 5), the four
special symbols of sequence-to-sequence models (week 4), and a closed word vocabulary (week 3)."""

import pytest
import torch

from helpers.data import SEQ2SEQ_SPECIALS, Vocab
from helpers.data.vocab import REPLACEMENT


def test_characters_most_frequent_first_unknown_last():
    vocab = Vocab.from_text("hello world")
    assert vocab.tokens[:3] == ["l", "o", " "]  # 3 l, 2 o, then ties by code point
    assert vocab.tokens[-1] == REPLACEMENT and vocab.unk_id == len(vocab) - 1
    assert vocab.pad_id is vocab.bos_id is vocab.eos_id is None
    ids = vocab.encode("hex")
    assert ids.dtype == torch.long and ids.shape == (3,)
    assert vocab.decode(ids) == "he" + REPLACEMENT
    assert vocab.decode(vocab.encode("hello")) == "hello"
    assert Vocab.from_text("aab", min_count=2).tokens == ["a", REPLACEMENT]


def test_seq2seq_specials_come_first():
    vocab = Vocab("0123456789- ", specials=SEQ2SEQ_SPECIALS, unk="<unk>")
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert vocab.encode("2021", bos=True, eos=True).tolist() == [1, 6, 4, 6, 5, 2]
    assert vocab.decode([1, 6, 4, 0, 6, 5, 2, 9, 9]) == "2021"  # padding skipped, stops at </s>
    assert vocab.decode(vocab.encode("20x1")) == "20" + REPLACEMENT + "1"
    assert vocab.decode(torch.tensor([6, 4])) == "20"


def test_closed_word_vocabulary():
    vocab = Vocab(["my", "name", "is"], specials=("<pad>",), unk=None, sep=" ")
    assert vocab.tokens == ["<pad>", "my", "name", "is"] and vocab.unk_id is None
    assert vocab.decode(vocab.encode(["my", "name", "is"])) == "my name is"
    with pytest.raises(KeyError, match="zebra"):
        vocab.encode(["my", "zebra"])


def test_clear_errors():
    vocab = Vocab.from_text("abc")
    with pytest.raises(ValueError, match="empty"):
        Vocab.from_text("")
    with pytest.raises(ValueError, match="not an integer"):
        vocab.decode([len(vocab) + 5])
    with pytest.raises(ValueError, match="no <s> symbol"):
        vocab.encode("ab", bos=True)
    with pytest.raises(ValueError, match="non-empty string"):
        Vocab(["a", ""])
    with pytest.raises(ValueError, match="min_count"):
        Vocab.from_text("abc", min_count=0)
