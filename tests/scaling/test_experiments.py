"""Reference checks for helpers.scaling.experiments and the committed sweep.

Oracles: greedy decoding letter by letter (``GPT.generate`` with temperature 0) for exact match
and a per-item loop for the per-letter scores; :func:`helpers.transformer.evaluate_loss` for the loss by
position; the recipe's own promise (a budget of tokens is that many steps, the loss falls); the
committed CSV is complete and consistent with the counting formulas.
"""

import csv
import doctest
from importlib import resources

import pytest
import torch

from helpers.data import Vocab
from helpers.scaling import experiments
from helpers.scaling.counting import count_parameters
from helpers.scaling.experiments import (
    SWEEP_FIELDS,
    SWEEP_SIZES,
    SWEEP_TOKENS,
    loss_by_position,
    train_lm,
    word_completion_items,
    word_scores,
)
from helpers.transformer import GPT, GPTConfig, evaluate_loss

TEXT = (
    "the history of the county begins with the settlement of farmers. the university opened "
    "a library and a hospital; the railway reached the county in the nineteenth century, and "
    "the population of the settlement doubled. the library holds manuscripts, maps, and letters."
)


def test_docstring_examples():
    assert doctest.testmod(experiments).failed == 0


def test_items_are_words_of_the_text_with_their_context():
    items = word_completion_items(TEXT, n_items=6, context=20, given=2, min_letters=6, seed=1)
    assert len(items) == 6 == len(set(items))
    for prompt, completion in items:
        assert len(prompt) == 22 and (prompt + completion) in TEXT
        word = prompt[-2:] + completion
        assert len(word) >= 6 and word.isalpha() and prompt[-3] == " "
    assert word_completion_items(TEXT, 6, context=20, given=2, seed=1) == word_completion_items(TEXT, 6, context=20, given=2, seed=1)
    with pytest.raises(ValueError, match="holds"):
        word_completion_items(TEXT, n_items=500)
    with pytest.raises(ValueError, match="given"):
        word_completion_items(TEXT, given=6, min_letters=6)


def test_word_scores_equal_greedy_decoding_item_by_item():
    vocab = Vocab.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(vocab), block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    ids = vocab.encode(TEXT)
    train_lm(model, ids, tokens=20_000, block_size=32, batch_size=16, lr=1e-2, warmup=10)  # learns some of it
    items = word_completion_items(TEXT, n_items=8, context=24, given=2, seed=2)
    scores = word_scores(model, vocab, items, batch_size=3)
    exact = correct = letters = log_prob = 0
    for prompt, completion in items:
        x = vocab.encode(prompt)[None]
        greedy = model.generate(x, len(completion), temperature=0)[0, x.shape[1] :]
        exact += vocab.decode(greedy) == completion
        full = vocab.encode(prompt + completion)
        with torch.no_grad():
            logp = torch.log_softmax(model(full[None, :-1])[0], -1)  # (T - 1, V)
        for t in range(len(prompt), len(full)):
            correct += int(logp[t - 1].argmax()) == int(full[t])
            log_prob += logp[t - 1, full[t]].item()
            letters += 1
    assert scores["exact_match"] == pytest.approx(exact / len(items))
    assert scores["letter_accuracy"] == pytest.approx(correct / letters)
    assert scores["letter_log_prob"] == pytest.approx(log_prob / letters, rel=1e-5)
    assert 0 < scores["letter_accuracy"] <= 1


def test_loss_by_position_averages_to_the_evaluation_loss():
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=1, n_embd=8)).eval()
    ids = torch.randint(0, 11, (400,), generator=torch.Generator().manual_seed(4))
    per_position = loss_by_position(model, ids, length=16, n_windows=20, batch_size=7)
    assert per_position.shape == (16,)
    assert per_position.mean().item() == pytest.approx(evaluate_loss(model, ids, 16, max_tokens=320), rel=1e-5)
    with pytest.raises(ValueError, match="need"):
        loss_by_position(model, ids, length=16, n_windows=30)


def test_train_lm_takes_the_budget_in_steps_and_lowers_the_loss():
    torch.manual_seed(5)
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 50)
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=16))
    before = evaluate_loss(model, ids, 8)
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    train_lm(model, ids, tokens=8 * 4 * 80 + 1, block_size=8, batch_size=4, lr=1e-2, warmup=5)
    assert len(calls) == 81  # ceil(tokens / (batch x block)) steps
    assert evaluate_loss(model, ids, 8) < before / 3
    with pytest.raises(ValueError, match="tokens"):
        train_lm(model, ids, tokens=0)


def test_the_committed_sweep_is_complete_and_consistent():
    path = resources.files("helpers.scaling") / "data" / "sweep.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == SWEEP_FIELDS
    grid = {(int(r["n_layer"]), int(r["n_embd"]), int(r["n_head"]), int(r["tokens"])) for r in rows}
    assert grid == {(*size, tokens) for size in SWEEP_SIZES for tokens in SWEEP_TOKENS}
    for r in rows:
        config = GPTConfig(vocab_size=106, block_size=64, n_layer=int(r["n_layer"]), n_head=int(r["n_head"]), n_embd=int(r["n_embd"]))
        n = count_parameters(config)
        assert int(r["non_embedding"]) == n.non_embedding and int(r["parameters"]) == n.total
        assert int(r["train_flops"]) == 6 * n.non_embedding * int(r["tokens"])
        assert 1.0 < float(r["val_loss"]) < 4.7  # between a good model and uniform over 106 characters
        assert 0 <= float(r["exact_match"]) <= float(r["letter_accuracy"]) <= 1
