"""The logits processors (helpers.decoding.processors) against transformers' own processors.

Oracles: each transformers ``LogitsProcessor`` on the same scores and histories, compared bit for
bit (``torch.equal``) on random logits, integer-valued logits (many ties, also at the cut of
top-k and top-p), logits with -inf entries, and random histories with repeated tokens; the
OpenAI API's documented formula for the frequency and presence penalties (no transformers
processor exists), computed here with plain Python counts; and transformers' order of
processors, checked on the composition. Worked examples: the docstrings (doctests).
"""

import collections

import pytest
import torch

from helpers.decoding import (
    SamplingConfig,
    apply_temperature,
    frequency_presence_penalty,
    min_p_filter,
    no_repeat_ngram_filter,
    repetition_penalty,
    suppress_tokens,
    top_k_filter,
    top_p_filter,
    typical_filter,
)

transformers = pytest.importorskip("transformers")
P = transformers.generation.logits_process


def score_sets(seed=0, B=6, V=40):
    """Random logits, integer logits (ties everywhere), and logits with -inf entries."""
    g = torch.Generator().manual_seed(seed)
    smooth = torch.randn(B, V, generator=g) * 2.5
    ties = torch.randint(-3, 4, (B, V), generator=g).float()
    holes = smooth.masked_fill(torch.rand(B, V, generator=g) < 0.3, float("-inf"))
    few = torch.randint(0, 2, (B, V), generator=g).float() * 3  # two values only
    return {"smooth": smooth, "ties": ties, "holes": holes, "two values": few}


def histories(seed=0, B=6, V=40, T=12):
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, 5, (B, T), generator=g)  # few distinct tokens: repeats and repeated n-grams
    wide = torch.randint(0, V, (B, T), generator=g)
    return {"repetitive": small, "varied": wide, "short": small[:, :2]}


def same(a, b):
    """Bitwise equality, -inf included."""
    return a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_temperature_top_k_min_p_equal_transformers(seed):
    for name, scores in score_sets(seed).items():
        for t in (0.3, 0.7, 1.0, 1.8):
            assert same(apply_temperature(scores, t), P.TemperatureLogitsWarper(t)(None, scores.clone())), (name, t)
        for k in (1, 2, 5, 17, 40, 100):
            assert same(top_k_filter(scores, k), P.TopKLogitsWarper(k)(None, scores.clone())), (name, k)
        for m in (0.0, 0.05, 0.2, 0.5, 1.0):
            assert same(min_p_filter(scores, m), P.MinPLogitsWarper(m)(None, scores.clone())), (name, m)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_p_and_typical_equal_transformers(seed):
    for name, scores in score_sets(seed).items():
        for p in (0.0, 0.1, 0.5, 0.75, 0.9, 0.95, 0.999, 1.0):
            ours = top_p_filter(scores, p)
            assert same(ours, P.TopPLogitsWarper(p)(None, scores.clone())), (name, p)
            assert bool((ours > float("-inf")).any(dim=1).all()), "top-p must keep at least one token"
        for mass in (0.05, 0.2, 0.5, 0.9, 0.99):
            assert same(typical_filter(scores, mass), P.TypicalLogitsWarper(mass)(None, scores.clone())), (name, mass)


def test_top_p_keeps_the_nucleus_and_ties_at_the_cut():
    # the smallest set of most likely tokens with mass >= p
    probs = torch.tensor([[0.05, 0.4, 0.1, 0.3, 0.15]])
    kept = top_p_filter(probs.log(), 0.8) > float("-inf")
    assert kept.tolist() == [[False, True, False, True, True]]  # 0.4 + 0.3 + 0.15 = 0.85 >= 0.8
    # four equal tokens and p = 0.5: exactly two are needed (a tie straddling the cut)
    uniform = torch.zeros(1, 4)
    assert int((top_p_filter(uniform, 0.5) > float("-inf")).sum()) == 2
    assert same(top_p_filter(uniform, 0.5), P.TopPLogitsWarper(0.5)(None, uniform.clone()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_repetition_penalty_equals_transformers(seed):
    for name, scores in score_sets(seed).items():
        for hname, ids in histories(seed).items():
            for penalty in (0.5, 1.0, 1.2, 2.0):
                theirs = P.RepetitionPenaltyLogitsProcessor(penalty)(ids, scores.clone())
                assert same(repetition_penalty(scores, ids, penalty), theirs), (name, hname, penalty)


def test_repetition_penalty_lowers_every_repeated_token_over_the_prompt_too():
    scores = torch.tensor([[3.0, -1.0, 0.5, 2.0]])
    prompt_and_text = torch.tensor([[0, 1, 1]])  # token 0 only in the "prompt" part
    out = repetition_penalty(scores, prompt_and_text, 1.5)
    assert out[0, 0] == 2.0 and out[0, 1] == -1.5  # positive divided, negative multiplied: both lower
    assert out[0, 2] == 0.5 and out[0, 3] == 2.0  # unseen tokens untouched


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_repeat_ngram_and_suppress_equal_transformers(seed):
    for name, scores in score_sets(seed).items():
        for hname, ids in histories(seed).items():
            for n in (1, 2, 3, 4):
                theirs = P.NoRepeatNGramLogitsProcessor(n)(ids, scores.clone())
                assert same(no_repeat_ngram_filter(scores, ids, n), theirs), (name, hname, n)
        for banned in ([0], [3, 7, 39], []):
            if banned:
                assert same(suppress_tokens(scores, banned), P.SuppressTokensLogitsProcessor(banned)(None, scores.clone()))


def openai_penalties(scores, generated, frequency, presence):
    """mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence, as the OpenAI API
    reference ("Parameter details") writes it, with c[j] counted in plain Python."""
    out = scores.clone()
    for b, row in enumerate(generated.tolist()):
        for j, c in collections.Counter(row).items():
            out[b, j] = scores[b, j] - c * frequency - float(c > 0) * presence
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_frequency_and_presence_penalties_follow_the_openai_formula(seed):
    for scores in score_sets(seed).values():
        for generated in histories(seed).values():
            for frequency, presence in ((0.5, 0.0), (0.0, 1.0), (0.3, 0.7), (-0.5, 0.2)):
                ours = frequency_presence_penalty(scores, generated, frequency, presence)
                torch.testing.assert_close(ours, openai_penalties(scores, generated, frequency, presence), rtol=0, atol=1e-6)


class FrequencyPresence(P.LogitsProcessor):
    """The OpenAI penalties as a transformers processor (over the tokens after the prompt)."""

    def __init__(self, prompt_len, frequency, presence):
        self.prompt_len, self.frequency, self.presence = prompt_len, frequency, presence

    def __call__(self, input_ids, scores):
        return openai_penalties(scores, input_ids[:, self.prompt_len :], self.frequency, self.presence)


@pytest.mark.parametrize("seed", [0, 1])
def test_composition_follows_transformers_order(seed):
    """Every processor at once, in the order of transformers' ``_get_logits_processor``: the
    penalties, a processor of one's own (here the OpenAI penalties), then the warpers."""
    config = SamplingConfig(temperature=0.7, top_k=12, top_p=0.8, min_p=0.05, typical_p=0.95, repetition_penalty=1.3,
                            frequency_penalty=0.4, presence_penalty=0.6, no_repeat_ngram_size=2, suppress_tokens=(1, 2))  # fmt: skip
    prompt_len = 5
    theirs = P.LogitsProcessorList([
        P.RepetitionPenaltyLogitsProcessor(1.3), P.NoRepeatNGramLogitsProcessor(2), P.SuppressTokensLogitsProcessor([1, 2]),
        FrequencyPresence(prompt_len, 0.4, 0.6), P.TemperatureLogitsWarper(0.7), P.TopKLogitsWarper(12),
        P.TopPLogitsWarper(0.8), P.MinPLogitsWarper(0.05), P.TypicalLogitsWarper(0.95),
    ])  # fmt: skip
    for name, scores in score_sets(seed).items():
        for hname, ids in histories(seed).items():
            if ids.shape[1] < prompt_len:
                continue
            torch.testing.assert_close(config(scores, ids, prompt_len), theirs(ids, scores.clone()), rtol=0, atol=1e-6,
                                       msg=f"{name}, {hname}")  # fmt: skip
    greedy = SamplingConfig(do_sample=False, temperature=0.5, top_k=1, repetition_penalty=1.3)
    scores, ids = score_sets(seed)["smooth"], histories(seed)["varied"]
    assert same(greedy(scores, ids), repetition_penalty(scores, ids, 1.3)), "greedy decoding skips the warpers"


def test_processors_do_not_change_their_input_and_reject_bad_values():
    scores, ids = score_sets(3)["ties"], histories(3)["repetitive"]
    before = scores.clone()
    for fn in (lambda s: top_p_filter(s, 0.5), lambda s: top_k_filter(s, 3), lambda s: typical_filter(s, 0.5),
               lambda s: min_p_filter(s, 0.1), lambda s: repetition_penalty(s, ids, 1.5),
               lambda s: no_repeat_ngram_filter(s, ids, 2), lambda s: suppress_tokens(s, [0]),
               lambda s: frequency_presence_penalty(s, ids, 1.0, 1.0)):  # fmt: skip
        fn(scores)
        assert torch.equal(scores, before)
    for bad in (dict(temperature=0.0), dict(top_k=0), dict(top_p=1.5), dict(min_p=-0.1), dict(typical_p=1.5),
                dict(repetition_penalty=0.0), dict(no_repeat_ngram_size=-1), dict(do_sample="yes")):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            SamplingConfig(**bad)
    with pytest.raises(ValueError, match=r"\(B, V\)"):
        top_k_filter(torch.zeros(5), 2)
