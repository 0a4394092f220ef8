"""Speculative decoding (helpers.decoding.speculative): the text is distributed as the target's.

Oracles: the proof of Leviathan et al. (2023, Appendix A.1), checked exactly on enumerable toy
models: the distribution of the first tokens that the acceptance rule (our
``acceptance_probability`` and ``residual_distribution``) induces, summed over every draft and
every accept/reject outcome, equals the target's chain-rule distribution to 1e-12 (and a
wrong rule, which redraws from the target after a rejection, is caught); statistical tests of
``speculative_generate`` itself (chi-square against the exact distribution, with a control that
the test can tell the draft from the target), on the toy models and on two small GPTs;
invariants: greedy speculative decoding gives the target's greedy text, a draft equal to the
target has every token accepted.
"""

import itertools

import pytest
import torch

from helpers.decoding import (
    GREEDY,
    SamplingConfig,
    acceptance_probability,
    expected_tokens_per_round,
    generate,
    lm_step,
    residual_distribution,
    speculative_generate,
)
from helpers.transformer import GPT, GPTConfig

stats = pytest.importorskip("scipy.stats")
V = 3


def table_model(seed, zeros=0.0):
    """p(next | the two tokens before) over 3 tokens, as a table (V, V, V); some entries 0."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(V, V, V, generator=g, dtype=torch.float64) ** 2
    t = t * (torch.rand(V, V, V, generator=g, dtype=torch.float64) >= zeros)
    t[..., 0] += 1e-3  # every row keeps some mass
    return t / t.sum(-1, keepdim=True)


def cond(table, context):
    return table[context[-2], context[-1]]


def round_outcomes(p_table, q_table, context, gamma, residual=residual_distribution):
    """Every outcome of one round and its probability: (emitted tokens, probability)."""
    out = []

    def draft(prefix, weight, i):
        p, q = cond(p_table, prefix), cond(q_table, prefix)
        if i == gamma:  # every draft accepted: one more token from the target
            out.extend(((*prefix[len(context):], z), weight * p[z]) for z in range(V))
            return
        accept = acceptance_probability(p, q)
        for x in range(V):
            if q[x] > 0:
                draft((*prefix, x), weight * q[x] * accept[x], i + 1)
        rejected = sum(q[x] * (1 - accept[x]) for x in range(V))
        r = residual(p, q)
        out.extend(((*prefix[len(context):], z), weight * rejected * r[z]) for z in range(V))

    draft(tuple(context), 1.0, 0)
    return out


def speculative_distribution(p_table, q_table, context, gamma, m, residual=residual_distribution):
    """The exact distribution of the first m tokens speculative decoding emits."""
    dist = {}

    def go(ctx, weight, need):
        for emitted, w in round_outcomes(p_table, q_table, ctx, gamma, residual):
            if len(emitted) >= need:
                key = (*ctx[2:], *emitted)[: m]
                dist[key] = dist.get(key, 0.0) + weight * float(w)
            else:
                go((*ctx, *emitted), weight * float(w), need - len(emitted))

    go(tuple(context), 1.0, m)
    return dist


def target_distribution(p_table, context, m):
    dist = {}
    for y in itertools.product(range(V), repeat=m):
        prob, ctx = 1.0, tuple(context)
        for token in y:
            prob *= float(cond(p_table, ctx)[token])
            ctx = (*ctx, token)
        dist[(*context[2:], *y)] = prob
    return dist


@pytest.mark.parametrize("seed, gamma, zeros", [(0, 1, 0.0), (1, 2, 0.0), (2, 3, 0.3), (3, 2, 0.5)])
def test_the_acceptance_rule_gives_the_target_distribution_exactly(seed, gamma, zeros):
    p_table, q_table = table_model(2 * seed, zeros), table_model(2 * seed + 1, zeros)
    context = (1, 2)
    exact = speculative_distribution(p_table, q_table, context, gamma, m=4)
    target = target_distribution(p_table, context, m=4)
    assert set(exact) <= set(target)
    assert max(abs(exact.get(k, 0.0) - v) for k, v in target.items()) < 1e-12
    # a wrong rule (draw from the target instead of the residual after a rejection) is caught
    wrong = speculative_distribution(p_table, q_table, context, gamma, m=4, residual=lambda p, q: p)
    assert max(abs(wrong.get(k, 0.0) - v) for k, v in target.items()) > 1e-3


def table_step(table):
    """The toy model as a step: scores for every position (no cache)."""
    log_table = table.float().clamp_min(1e-30).log()

    def step(ids, state):
        B, T = ids.shape
        prev2 = torch.cat([torch.zeros(B, 2, dtype=torch.long), ids], 1)
        return log_table[prev2[:, 1:-1], prev2[:, 2:]], None  # (B, T, V): after each prefix

    return step


def chi_square_p(samples, probs: dict):
    keys = sorted(probs)
    observed = torch.tensor([samples.count(k) for k in keys], dtype=torch.float64)
    expected = torch.tensor([probs[k] for k in keys], dtype=torch.float64)
    expected = expected / expected.sum() * len(samples)  # float32 probabilities sum to 1 within 1e-7 only
    keep = expected >= 5  # pool the rare cells, so that the chi-square approximation holds
    observed = torch.cat([observed[keep], observed[~keep].sum().view(1)])
    expected = torch.cat([expected[keep], expected[~keep].sum().view(1)])
    return stats.chisquare(observed.numpy(), expected.numpy()).pvalue


def test_speculative_sampling_follows_the_target_on_toy_models():
    p_table, q_table = table_model(10), table_model(11)
    context = torch.tensor([[1, 2]])
    g = torch.Generator().manual_seed(0)
    samples = [tuple(speculative_generate(table_step(p_table), table_step(q_table), context, 3, gamma=2,
                                          generator=g).sequences[0, 2:].tolist()) for _ in range(3000)]  # fmt: skip
    target = {k[-3:]: v for k, v in target_distribution(p_table, (1, 2), 3).items()}
    assert chi_square_p(samples, target) > 1e-3
    draft = {k[-3:]: v for k, v in target_distribution(q_table, (1, 2), 3).items()}
    assert chi_square_p(samples, draft) < 1e-6  # the test can tell the two models apart


def small_gpt(seed, n_layer, n_embd, vocab=6):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab, block_size=32, n_layer=n_layer, n_head=2, n_embd=n_embd)).eval()
    with torch.no_grad():
        model.tok_emb.weight.mul_(25)
    return model


def test_speculative_sampling_follows_the_target_on_real_models():
    target, draft = small_gpt(0, 2, 32), small_gpt(1, 1, 8)
    prompt = torch.tensor([[1, 4, 2]])
    config = SamplingConfig(temperature=0.9)
    g = torch.Generator().manual_seed(1)
    samples = [tuple(speculative_generate(lm_step(target), lm_step(draft), prompt, 2, gamma=3, config=config,
                                          generator=g).sequences[0, 3:].tolist()) for _ in range(2000)]  # fmt: skip
    with torch.no_grad():
        def exact(model):
            first = torch.softmax(model(prompt)[0, -1] / 0.9, -1)
            pairs = torch.tensor([[*prompt[0].tolist(), a] for a in range(6)])
            second = torch.softmax(model(pairs)[:, -1] / 0.9, -1)
            return {(a, b): float(first[a] * second[a, b]) for a in range(6) for b in range(6)}

        assert chi_square_p(samples, exact(target)) > 1e-3
        assert chi_square_p(samples, exact(draft)) < 1e-6


def test_greedy_speculative_decoding_is_the_targets_greedy_text():
    target = small_gpt(2, 2, 32, vocab=20)
    prompt = torch.tensor([[3, 1, 4, 1, 5]])
    expected = generate(lm_step(target), prompt, 25, GREEDY).sequences
    for draft in (small_gpt(3, 1, 8, vocab=20), small_gpt(4, 1, 16, vocab=20), target):
        for gamma in (1, 3, 6):
            out = speculative_generate(lm_step(target), lm_step(draft), prompt, 25, gamma=gamma, config=GREEDY)
            assert torch.equal(out.sequences, expected)
            assert out.rounds >= 25 / (gamma + 1)
    same = speculative_generate(lm_step(target), lm_step(target), prompt, 25, gamma=4, config=GREEDY)
    assert same.acceptance_rate == 1.0 and same.rounds == 5  # 5 rounds of 4 drafts + 1


def test_a_draft_equal_to_the_target_is_always_accepted_when_sampling():
    target = small_gpt(5, 1, 16, vocab=20)
    out = speculative_generate(lm_step(target), lm_step(target), torch.tensor([[1, 2]]), 30, gamma=4,
                               generator=torch.Generator().manual_seed(2))  # fmt: skip
    assert out.acceptance_rate == 1.0 and out.tokens_per_round == 5.0
    assert expected_tokens_per_round(0.5, 4) == pytest.approx(1.9375)  # (1 - 0.5^5) / 0.5


def test_speculative_decoding_stops_at_the_end_symbol_and_rejects_bad_input():
    target = small_gpt(6, 1, 16, vocab=20)
    expected = generate(lm_step(target), torch.tensor([[2]]), 30, GREEDY, eos_id=int(target(torch.tensor([[2]]))[0, -1].argmax()))
    out = speculative_generate(lm_step(target), lm_step(small_gpt(7, 1, 8, vocab=20)), torch.tensor([[2]]), 30,
                               config=GREEDY, eos_id=int(expected.sequences[0, 1]))  # fmt: skip
    assert out.sequences.tolist() == [[2, int(expected.sequences[0, 1])]]
    with pytest.raises(ValueError, match="one prompt"):
        speculative_generate(lm_step(target), lm_step(target), torch.zeros(2, 1, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="gamma"):
        speculative_generate(lm_step(target), lm_step(target), torch.zeros(1, 1, dtype=torch.long), 3, gamma=0)
