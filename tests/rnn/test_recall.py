"""helpers.recall: the generated tasks are what they claim to be, and the lesson's claims hold
across seeds (the vanilla RNN fails where the LSTM succeeds, on both tasks)."""

import pytest
import torch
from torch import nn

from helpers.data import NAMES, Dialogues, RecallTask, row_batches
from helpers.rnn import (
    SequenceClassifier,
    accuracy,
    reply,
    retention_curve,
    train_classifier,
    train_on_dialogues,
)

torch.set_num_threads(1)  # tiny tensors: more threads only add overhead (and CI runs test files in parallel)


def test_recall_batches():
    task = RecallTask(n_symbols=5, n_distractors=3)
    x, y = task.batch(64, 7, torch.Generator().manual_seed(0))
    assert x.shape == (64, 9) and y.shape == (64,)
    assert torch.equal(x[:, 0], y) and (y < 5).all()
    assert ((x[:, 1:-1] >= 5) & (x[:, 1:-1] < 8)).all()  # distractors are not symbols
    assert (x[:, -1] == task.query).all() and task.vocab_size == 9
    x2, _ = task.batch(64, 7, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    assert task.batch(2, 0)[0].shape == (2, 2)
    with pytest.raises(ValueError, match="distance"):
        task.batch(2, -1)


def test_dialogues_ask_for_the_name_given_at_the_start():
    d = Dialogues()
    g = torch.Generator().manual_seed(0)
    for turns in (0, 1, 5):
        for _ in range(20):
            conversation, name = d.sample(turns, g)
            assert len(conversation) == turns + 2
            assert name in conversation[0].split()  # the introduction
            assert "name" in conversation[-1] or "who am i" in conversation[-1]  # the question
            for turn in conversation[1:]:
                assert name not in turn.split()  # small talk never repeats the user's name
    ids = d.encode(["my name is alice .", "who am i ?"])
    assert [d.words[i] for i in ids] == "<u> my name is alice . <u> who am i ?".split()
    with pytest.raises(KeyError, match="zebra"):
        d.encode(["my name is zebra ."])
    with pytest.raises(ValueError, match="list of turns"):
        d.encode("my name is alice .")


def test_dialogue_batches_are_left_padded_and_labelled():
    d = Dialogues()
    x, y = d.batch(50, (0, 4), torch.Generator().manual_seed(1))
    assert x.shape[0] == 50 and (x[:, -1] == d.index["?"]).all()  # every row ends with the question
    for row, target in zip(x, y, strict=True):
        words = [d.words[i] for i in row if i != 0]
        assert row[: len(row) - len(words)].eq(0).all()  # padding only on the left
        first_turn = words[: words.index("<u>", 1)]
        assert NAMES[target] in first_turn
    # other people's names do appear (so the bot must remember the right one)
    many, _ = d.batch(200, 6, torch.Generator().manual_seed(2))
    assert sum(int((many == d.index[n]).sum()) for n in NAMES) > 200


def test_row_batches_drop_shared_padding():
    x = torch.tensor([[0, 0, 1, 2], [0, 3, 4, 5], [0, 0, 0, 6]])
    y = torch.tensor([0, 1, 2])
    xb, yb = next(row_batches(x, y, 8, torch.Generator().manual_seed(0)))
    first_used = min(int((x[label] != 0).nonzero()[0]) for label in yb)  # y is the row index here
    assert xb.shape == (8, 4 - first_used)
    for row, label in zip(xb, yb, strict=True):
        assert torch.equal(row, x[label, first_used:])  # only all-padding columns were dropped


class _Oracle(nn.Module):
    """Reads the name off the first turn: a perfect bot, to check the evaluation plumbing."""

    def __init__(self, d):
        super().__init__()
        self.d, self.dummy = d, nn.Parameter(torch.zeros(1))
        self.name_ids = torch.tensor([d.index[n] for n in NAMES])

    def forward(self, ids):
        logits = torch.zeros(len(ids), len(NAMES))
        for b, row in enumerate(ids):
            words = row[row != 0]
            first = words[: int((words == self.d.index["<u>"]).nonzero()[1])]
            for j, name_id in enumerate(self.name_ids):
                if (first == name_id).any():
                    logits[b, j] = 1.0
        return logits


def test_retention_curve_and_reply_with_a_perfect_bot():
    d = Dialogues()
    oracle = _Oracle(d)
    assert retention_curve(oracle, d, 3, n=40) == [1.0, 1.0, 1.0, 1.0]
    assert reply(oracle, d, ["call me grace .", "i like tea .", "who am i ?"]) == "your name is grace ."
    x, y = d.batch(30, 2, torch.Generator().manual_seed(0))
    assert accuracy(oracle, x, (y + 1) % len(NAMES)) == 0.0


@pytest.mark.slow
def test_rnn_fails_and_lstm_succeeds_on_long_recall_across_seeds():
    """The notebook's claim at distance 30, with its budget (300 steps), on two other seeds."""
    task = RecallTask()
    for seed in (11, 12):
        results = {}
        for cell in ("rnn", "lstm"):
            torch.manual_seed(seed)
            model = SequenceClassifier(task.vocab_size, task.n_symbols, 64, cell, 16,
                                       forget_bias=2.0 if cell == "lstm" else None)  # fmt: skip
            train_classifier(model, task.batches(64, 30, torch.Generator().manual_seed(seed)), 300)
            x, y = task.batch(1000, 30, torch.Generator().manual_seed(10_000 + seed))
            results[cell] = accuracy(model, x, y)
        assert results["lstm"] > 0.95, results
        assert results["rnn"] < 0.3, results  # chance is 1/8


@pytest.mark.slow
def test_lstm_bot_remembers_names_and_rnn_bot_does_not():
    d = Dialogues()
    for seed in (21,):
        curves = {}
        for cell in ("rnn", "lstm"):
            torch.manual_seed(seed)
            bot = SequenceClassifier(d.vocab_size, len(NAMES), 64, cell, 32,
                                     forget_bias=2.0 if cell == "lstm" else None)  # fmt: skip
            train_on_dialogues(bot, d, steps=400, max_turns=8, seed=seed)
            curves[cell] = retention_curve(bot, d, 8, n=200, seed=1000)
        assert min(curves["lstm"]) > 0.9, curves
        assert max(curves["rnn"]) < 0.3, curves
