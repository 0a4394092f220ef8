"""Beam search (helpers.decoding.beam) on worked examples and against exhaustive search.

Oracles: a worked example where greedy decoding misses the most probable output; exhaustive
enumeration of every output of a tiny model (all sequences up to the length limit, scored by a
separate teacher-forced pass) for the best hypothesis and its score, for several length
penalties of both forms; invariants: width 1 with early stopping is greedy, a batch equals its
rows one at a time, early stopping returns width hypotheses. transformers' ``generate()`` is
the oracle of test_generate_oracle.py.
"""

import itertools
import math

import pytest
import torch

from helpers.decoding import (
    GREEDY,
    Hypothesis,
    beam_search,
    bigram_step,
    generate,
    length_penalty,
    lm_step,
)
from helpers.transformer import GPT, GPTConfig

EOS = 0


def worked_example():
    #          eos    a     b      (rows: the previous token; row 3 is the start symbol)
    table = [[1.0, 0.0, 0.0, 0.0],
             [0.5, 0.45, 0.05, 0.0],  # after a: end 0.5
             [0.9, 0.05, 0.05, 0.0],  # after b: end 0.9
             [0.0, 0.6, 0.4, 0.0]]  # after <s>: a 0.6, b 0.4  # fmt: skip
    return bigram_step(torch.log(torch.tensor(table)))


def test_beam_search_beats_greedy_on_a_worked_example():
    step, start = worked_example(), torch.tensor([[3]])
    greedy = generate(step, start, 4, GREEDY, eos_id=EOS)
    assert greedy.sequences.tolist() == [[3, 1, 0]] and math.isclose(float(greedy.log_probs), math.log(0.6 * 0.5), rel_tol=1e-6)
    best = beam_search(step, start, 2, 4, EOS, length_penalty=0.0)[0][0]
    assert best == Hypothesis((2,), True, pytest.approx(math.log(0.4 * 0.9), rel=1e-6), pytest.approx(math.log(0.36), rel=1e-6))


def tiny_gpt(seed):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=4, block_size=16, n_layer=1, n_head=2, n_embd=8)).eval()
    with torch.no_grad():
        model.tok_emb.weight.mul_(40)  # a model with opinions
    return model


def all_outputs(prompt_len, max_new):
    """Every output of at most max_new tokens over {1, 2, 3}: ended by EOS, or cut at max_new."""
    ended = [(*p, EOS) for n in range(max_new) for p in itertools.product([1, 2, 3], repeat=n)]
    return ended + list(itertools.product([1, 2, 3], repeat=max_new))


@torch.no_grad()
def exhaustive_scores(model, prompt, max_new, alpha, form):
    outputs = all_outputs(prompt.shape[1], max_new)
    rows = [prompt[0].tolist() + list(y) for y in outputs]
    scores = []
    for row, y in zip(rows, outputs, strict=True):
        x = torch.tensor([row])
        logp = torch.log_softmax(model(x[:, :-1]), -1)[0, -len(y):].gather(1, x[0, -len(y):, None]).sum()
        scores.append(float(logp) / length_penalty(len(y), alpha, form))
    return outputs, scores


@pytest.mark.parametrize("seed, alpha, form", [(0, 0.0, "power"), (1, 1.0, "power"), (2, 2.0, "power"), (3, -0.5, "power"),
                                               (4, 0.7, "gnmt"), (5, 1.0, "gnmt")])  # fmt: skip
def test_an_unlimited_beam_finds_the_best_output(seed, alpha, form):
    model = tiny_gpt(seed)
    prompt = torch.tensor([[2, 3]])
    max_new = 5
    outputs, scores = exhaustive_scores(model, prompt, max_new, alpha, form)
    ranked = sorted(zip(scores, outputs, strict=True), reverse=True)
    hyps = beam_search(lm_step(model), prompt, len(outputs), max_new, EOS, alpha, early_stopping="never", form=form)[0]
    assert len(hyps) == len(outputs)  # every output, each once
    best = hyps[0]
    assert (*best.tokens, *([EOS] if best.finished else [])) == ranked[0][1]
    assert math.isclose(best.score, ranked[0][0], rel_tol=1e-5, abs_tol=1e-6)
    got = sorted(h.score for h in hyps)
    torch.testing.assert_close(torch.tensor(got), torch.tensor(sorted(scores)), rtol=1e-5, atol=1e-5)
    # a narrower beam, exact stopping: its best is never better than the exhaustive best
    narrow = beam_search(lm_step(model), prompt, 3, max_new, EOS, alpha, early_stopping="never", form=form)[0]
    assert narrow[0].score <= ranked[0][0] + 1e-5 and len(narrow) == 3


def test_width_one_with_early_stopping_is_greedy_and_batches_equal_rows():
    model = tiny_gpt(7)
    prompts = torch.tensor([[1, 2], [3, 3], [2, 1]])
    greedy = generate(lm_step(model), prompts, 8, GREEDY, eos_id=EOS)
    beams = beam_search(lm_step(model), prompts, 1, 8, EOS, early_stopping=True)
    for b, found in enumerate(beams):
        row = prompts[b].tolist() + list(found[0].tokens) + ([EOS] if found[0].finished else [])
        assert greedy.sequences[b, : len(row)].tolist() == row
        assert math.isclose(found[0].log_prob, float(greedy.log_probs[b]), rel_tol=1e-5)
    for width, alpha, early in ((3, 1.0, False), (4, 0.0, True), (2, 1.5, "never")):
        batch = beam_search(lm_step(model), prompts, width, 8, EOS, alpha, early)
        for b in range(3):
            alone = beam_search(lm_step(model), prompts[b : b + 1], width, 8, EOS, alpha, early)[0]
            assert [h.tokens for h in alone] == [h.tokens for h in batch[b]]
            torch.testing.assert_close(torch.tensor([h.score for h in alone]), torch.tensor([h.score for h in batch[b]]))


def test_early_stopping_modes():
    model = tiny_gpt(8)
    prompt = torch.tensor([[1, 3, 2]])
    results = {early: beam_search(lm_step(model), prompt, 3, 10, EOS, 1.0, early)[0] for early in (True, False, "never")}
    for hyps in results.values():
        assert len(hyps) == 3 and [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert results["never"][0].score >= results[False][0].score - 1e-6 >= results[True][0].score - 2e-6


def test_bad_input_raises_value_error():
    step = worked_example()
    start = torch.tensor([[3]])
    with pytest.raises(ValueError, match="width"):
        beam_search(step, start, 0, 4, EOS)
    with pytest.raises(ValueError, match="early_stopping"):
        beam_search(step, start, 2, 4, EOS, early_stopping="sometimes")
    with pytest.raises(ValueError, match="max_new_tokens"):
        beam_search(step, start, 2, 0, EOS)
    with pytest.raises(ValueError, match="form"):
        beam_search(step, start, 2, 4, EOS, form="wu")
    with pytest.raises(ValueError, match="do_sample"):
        from helpers.decoding import SamplingConfig

        beam_search(step, start, 2, 4, EOS, config=SamplingConfig())
