"""Contrastive search (helpers.decoding.contrastive), which transformers 5 no longer ships.

Oracles: a worked example computed by hand; its defining property on a real model: every
chosen token maximises (1 - alpha) p(v) - alpha max_j cos(h_v, h_j) over the top-k candidates,
with p and every hidden state recomputed from scratch by full forward passes; invariants:
alpha = 0 and k = 1 are greedy decoding, a batch equals its rows.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.decoding import GREEDY, contrastive_scores, contrastive_search, generate, lm_step
from helpers.transformer import GPT, GPTConfig


def toy_step():
    """A 'model' whose next-token distribution is always p = (0.1, 0.5, 0.4) and whose hidden
    state at a position is a fixed vector of the token there."""
    E = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])  # token 1 looks like token 0; token 2 does not
    logits = torch.log(torch.tensor([0.1, 0.5, 0.4]))

    def step(ids, state):
        seen = 0 if state is None else state
        B, T = ids.shape
        return logits.expand(B, T - seen, 3), E[ids[:, seen:]], T

    return step


def test_worked_example():
    out = contrastive_search(toy_step(), torch.tensor([[0]]), 3, k=2, alpha=0.5).sequences
    # step 1, context {0}: token 1: 0.5 * 0.5 - 0.5 * cos((1, .1), (1, 0)) = 0.25 - 0.4975 = -0.2475
    #                      token 2: 0.5 * 0.4 - 0.5 * cos((0, 1), (1, 0)) = 0.20 - 0      =  0.2    -> 2
    # step 2, context {0, 2}: token 1: -0.2475 (closest to 0); token 2: 0.2 - 0.5 * 1 = -0.3 -> 1
    # step 3, context {0, 2, 1}: token 1: 0.25 - 0.5 = -0.25; token 2: -0.3 -> 1
    assert out.tolist() == [[0, 2, 1, 1]]
    assert generate(lambda x, s: toy_step()(x, s)[::2], torch.tensor([[0]]), 3).sequences.tolist() == [[0, 1, 1, 1]]  # greedy
    cos = 1 / math.sqrt(1.01)
    scores = contrastive_scores(torch.tensor([[0.5, 0.4]]), torch.tensor([[[1.0, 0.1], [0.0, 1.0]]]),
                                torch.tensor([[[1.0, 0.0]]]), 0.5)  # fmt: skip
    torch.testing.assert_close(scores, torch.tensor([[0.25 - 0.5 * cos, 0.2]]))


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=20, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()
    with torch.no_grad():
        model.tok_emb.weight.mul_(10)
    return model


@pytest.mark.parametrize("k, alpha", [(4, 0.6), (3, 0.3), (6, 0.9)])
def test_every_choice_maximises_the_objective(k, alpha):
    model = tiny_gpt(1)
    prompt = torch.tensor([[3, 5, 7, 5]])
    out = contrastive_search(lm_step(model, hidden=True), prompt, 12, k=k, alpha=alpha).sequences
    with torch.no_grad():
        for t in range(prompt.shape[1], out.shape[1]):
            run = model.run(out[:, :t])
            context, probs = run.hidden, torch.softmax(run.logits[:, -1], -1)  # (1, t, C), (1, V)
            top_p, top_ids = torch.topk(probs[0], k)
            objective = []
            for p, v in zip(top_p, top_ids, strict=True):
                h_v = model.run(torch.cat([out[:, :t], v.view(1, 1)], 1)).hidden[0, -1]
                penalty = F.cosine_similarity(h_v[None], context[0], dim=-1).max()
                objective.append(float((1 - alpha) * p - alpha * penalty))
            chosen = top_ids.tolist().index(int(out[0, t]))
            assert objective[chosen] >= max(objective) - 1e-5, (t, objective, chosen)


def test_alpha_zero_and_one_candidate_are_greedy_and_batches_equal_rows():
    model = tiny_gpt(2)
    prompts = torch.tensor([[1, 2, 3], [4, 4, 4], [9, 8, 7]])
    greedy = generate(lm_step(model), prompts, 10, GREEDY).sequences
    assert torch.equal(contrastive_search(lm_step(model, hidden=True), prompts, 10, k=5, alpha=0.0).sequences, greedy)
    assert torch.equal(contrastive_search(lm_step(model, hidden=True), prompts, 10, k=1, alpha=0.7).sequences, greedy)
    batch = contrastive_search(lm_step(model, hidden=True), prompts, 10, k=4, alpha=0.6).sequences
    for b in range(3):
        alone = contrastive_search(lm_step(model, hidden=True), prompts[b : b + 1], 10, k=4, alpha=0.6).sequences
        assert torch.equal(alone[0], batch[b])
    uncached = contrastive_search(lm_step(model, use_cache=False, hidden=True), prompts, 10, k=4, alpha=0.6).sequences
    assert torch.equal(uncached, batch)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="alpha"):
        contrastive_search(toy_step(), torch.tensor([[0]]), 3, alpha=1.5)
    with pytest.raises(ValueError, match="k="):
        contrastive_search(toy_step(), torch.tensor([[0]]), 3, k=0)
