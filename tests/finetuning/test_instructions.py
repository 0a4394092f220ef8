"""Instruction data, the response-only loss, exact match and the prompting functions."""

import datetime
from collections import Counter

import pytest
import torch

from helpers.data.date_formats import MONTHS
from helpers.data.dates import split_of
from helpers.decoding import SamplingConfig, bigram_step, forward_step
from helpers.finetuning import (
    DATE_TASKS,
    IGNORE_INDEX,
    Instruction,
    complete,
    date_instructions,
    exact_match,
    few_shot_prompt,
    instruction_batch,
    instruction_vocab,
    response_loss,
    self_consistency,
    zero_shot_prompt,
)
from helpers.transformer import GPT, GPTConfig


def test_date_instructions_answers_and_splits():
    train, test = date_instructions(300, "train", seed=0), date_instructions(300, "test", seed=0)
    for ex in train + test:
        if ex.instruction == DATE_TASKS["iso"][0]:
            date = datetime.date.fromisoformat(ex.output)
        elif ex.instruction == DATE_TASKS["us"][0]:
            m, d, y = map(int, ex.output.split("/"))
            date = datetime.date(y, m, d)
        else:
            continue
        assert split_of(date) == ("train" if ex in train else "test")
    assert {ex.instruction for ex in train} == {text for text, _ in DATE_TASKS.values()}
    months = [ex.output for ex in train if ex.instruction == DATE_TASKS["month"][0]]
    assert set(months) <= set(MONTHS) and len(set(months)) > 6
    assert (
        date_instructions(5, seed=1) == date_instructions(5, seed=1) != date_instructions(5, seed=2)
    )
    with pytest.raises(ValueError, match="unknown or no tasks"):
        date_instructions(3, tasks=["weekday"])
    with pytest.raises(ValueError, match="split"):
        date_instructions(3, split="dev")


def test_mask_keeps_exactly_the_response():
    vocab = instruction_vocab()
    examples = [
        Instruction("Which year is this?", "4 May 1999", "1999"),
        Instruction("Say hi.", "", "hi there"),
    ]
    batch = instruction_batch(vocab, examples)
    for i, ex in enumerate(examples):
        kept = [t for t in batch.targets[i].tolist() if t != IGNORE_INDEX]
        assert kept == vocab.encode(ex.output, eos=True).tolist()
        first = (batch.targets[i] != IGNORE_INDEX).nonzero()[0].item()
        assert (
            first == batch.prompt_lengths[i] - 1
        )  # the last prompt token predicts the first answer token
        assert vocab.decode(batch.inputs[i, : first + 1]).endswith("Answer: ")


def test_masked_loss_equals_manual_computation():
    vocab = instruction_vocab()
    examples = date_instructions(5, seed=3)
    batch = instruction_batch(vocab, examples)
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(
            vocab_size=len(vocab), block_size=batch.inputs.shape[1], n_layer=1, n_head=2, n_embd=16
        )
    )
    loss = response_loss(model, batch)
    logp = torch.log_softmax(model(batch.inputs), dim=-1)
    total, count = 0.0, 0
    for i, ex in enumerate(examples):  # by hand: -log p of each response token after its prefix
        ids = torch.cat([vocab.encode(zero_shot_prompt(ex)), vocab.encode(ex.output, eos=True)])
        p = batch.prompt_lengths[i].item()
        for t in range(p, len(ids)):
            total -= logp[i, t - 1, ids[t]].item()
            count += 1
    assert loss.item() == pytest.approx(total / count, rel=1e-5)


def test_exact_match_and_errors():
    assert exact_match(["a", "b ", "c"], ["a", "b", "d"]) == pytest.approx(2 / 3)
    assert exact_match(["b "], ["b"], strip=False) == 0
    with pytest.raises(ValueError, match="2 predictions for 1"):
        exact_match(["a", "b"], ["a"])


def test_few_shot_prompt_layout():
    shots = date_instructions(3, seed=0)
    query = date_instructions(1, "test", seed=0)[0]
    prompt = few_shot_prompt(shots, query)
    assert prompt.count("Answer: ") == 4 and prompt.endswith(zero_shot_prompt(query))
    assert (
        all(shot.output in prompt for shot in shots)
        and query.output not in prompt.split(query.input)[-1]
    )
    with pytest.raises(ValueError, match="one of the examples"):
        few_shot_prompt(shots, shots[1])


def _copy_model(vocab):
    """A bigram table that always continues with the character after the current one in
    'abc\\n', then the end symbol: greedy output is known in advance."""
    V = len(vocab)
    table = torch.full((V, V), -20.0)
    chain = [vocab.index[c] for c in "xabc"] + [vocab.eos_id]
    for a, b in zip(chain, chain[1:], strict=False):
        table[a, b] = 0.0
    for i in range(V):
        if i not in chain[:-1]:
            table[i, vocab.index["a"]] = 0.0
    return bigram_step(torch.log_softmax(table, dim=-1))


def test_complete_batches_equal_lengths_and_stops_at_eos():
    vocab = instruction_vocab()
    step = _copy_model(vocab)
    out = complete(step, vocab, ["x", "qq", "zz", "x"], max_new_tokens=8)
    assert out == ["abc", "abc", "abc", "abc"]
    with pytest.raises(ValueError, match="list of strings"):
        complete(step, vocab, "x", 3)


def test_self_consistency_takes_the_majority():
    vocab = instruction_vocab()
    V = len(vocab)
    a, b = vocab.index["A"], vocab.index["B"]
    table = torch.full((V, V), -30.0)
    table[:, a], table[:, b] = 0.0, -0.7  # P(A) = 1 / (1 + e^-0.7) ~ 0.67 after any token
    step = bigram_step(torch.log_softmax(table, dim=-1))
    vote = self_consistency(step, vocab, "?", n_samples=25, max_new_tokens=1, config=SamplingConfig(temperature=1.0),
                            generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert vote.answer == "A" and sum(vote.counts.values()) == 25
    assert vote.counts == Counter(c.strip() for c in vote.completions)
    assert 0.5 < vote.agreement < 0.95  # sampled, not greedy
    with pytest.raises(ValueError, match="greedy"):
        self_consistency(step, vocab, "?", 3, 1, config=SamplingConfig(do_sample=False))


def test_prompting_works_on_the_course_gpt():
    vocab = instruction_vocab()
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=len(vocab), block_size=64, n_layer=1, n_head=2, n_embd=16)
    ).eval()
    prompt = zero_shot_prompt(Instruction("Which year is this?", "5 June 2001", "2001"))
    (text,) = complete(forward_step(model, 64), vocab, [prompt], max_new_tokens=5)
    ids = vocab.encode(prompt)[None]
    greedy = model.generate(ids, 5, temperature=0)[0, ids.shape[1] :]
    assert text == vocab.decode(greedy)
