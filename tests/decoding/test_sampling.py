"""Greedy decoding, sampling and the step functions (helpers.decoding.sampling, helpers.decoding.step).

Oracles: transformers' temperature and top-k processors with the same generator draw for
``sample_next_token``; the exact softmax for the frequencies of many draws; invariants: a KV-cache
step equals recomputing every step (also past the block size, and after the cache is rolled
back), rows selected from a state are the rows of the batch, a seed fixes the text, finished
rows are padded. transformers' ``generate()`` itself is the oracle of test_generate_oracle.py.
"""

import pytest
import torch

from helpers.decoding import (
    GREEDY,
    CacheState,
    SamplingConfig,
    bigram_step,
    cached_step,
    forward_step,
    generate,
    last_scores,
    lm_step,
    sample_next_token,
    select_rows,
)
from helpers.transformer import GPT, GPTConfig

TOL = {"rtol": 1e-5, "atol": 1e-5}


def tiny(**overrides) -> GPT:
    config = dict(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16)
    config.update(overrides)
    torch.manual_seed(0)
    return GPT(GPTConfig(**config)).eval()


def ids(B, T, vocab=13, seed=0):
    return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def test_sampling_equals_hugging_face_logits_processors():
    transformers = pytest.importorskip("transformers")
    logits = torch.randn(4, 30, generator=torch.Generator().manual_seed(9)) * 3
    for temperature, top_k in [(1.0, None), (0.5, None), (1.5, 5), (0.8, 1)]:
        processors = transformers.LogitsProcessorList([transformers.TemperatureLogitsWarper(temperature)])
        if top_k is not None:
            processors.append(transformers.TopKLogitsWarper(top_k))
        probs = torch.softmax(processors(None, logits.clone()), dim=-1)
        for seed in range(5):
            expected = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(seed))
            got = sample_next_token(logits, temperature, top_k, torch.Generator().manual_seed(seed))
            assert torch.equal(got, expected)
    assert torch.equal(sample_next_token(logits, temperature=0), logits.argmax(-1, keepdim=True))


def test_sampling_frequencies_follow_the_processed_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]])
    g = torch.Generator().manual_seed(10)
    draws = torch.cat([sample_next_token(logits.expand(1000, 5), 0.5, None, g) for _ in range(20)])
    freq = torch.bincount(draws.flatten(), minlength=5) / draws.numel()
    torch.testing.assert_close(freq, torch.softmax(logits[0] / 0.5, -1), rtol=0, atol=0.01)  # 20k draws: sd < 0.004
    # through generate(): a model that always predicts the same logits, top-p = 0.8
    step = forward_step(lambda x: logits.expand(x.shape[0], x.shape[1], 5))
    out = generate(step, torch.zeros(4000, 1, dtype=torch.long), 3, SamplingConfig(top_p=0.8),
                   generator=torch.Generator().manual_seed(11)).sequences[:, 1:]  # fmt: skip
    p = torch.softmax(logits[0], -1)
    nucleus = torch.where(torch.arange(5) < 2, p, torch.zeros(5))  # 0.64 + 0.24 >= 0.8
    freq = torch.bincount(out.flatten(), minlength=5) / out.numel()
    torch.testing.assert_close(freq, nucleus / nucleus.sum(), rtol=0, atol=0.015)


def test_a_seed_fixes_the_text_and_the_global_generator_is_the_default():
    model = tiny()
    prompt = ids(2, 3)
    config = SamplingConfig(temperature=0.9, top_p=0.9)
    a = generate(lm_step(model), prompt, 12, config, generator=torch.Generator().manual_seed(1)).sequences
    b = generate(lm_step(model), prompt, 12, config, generator=torch.Generator().manual_seed(1)).sequences
    assert torch.equal(a, b)
    torch.manual_seed(1)
    c = generate(lm_step(model), prompt, 12, config).sequences
    assert torch.equal(a, c)


def test_finished_rows_are_padded_and_log_probs_are_the_models():
    table = torch.log(torch.tensor([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6]]))  # 0 = the end symbol
    out = generate(bigram_step(table), torch.tensor([[1], [2]]), 5, GREEDY, eos_id=0, pad_id=2)
    # from 1: 0 (end); from 2: 2, 2, 2, ... never ends
    assert out.sequences.tolist() == [[1, 0, 2, 2, 2, 2], [2, 2, 2, 2, 2, 2]]
    torch.testing.assert_close(out.log_probs, torch.tensor([table[1, 0], 5 * table[2, 2]]))
    assert generate(bigram_step(table), torch.tensor([[1]]), 5, eos_id=0).sequences.tolist() == [[1, 0]]  # all ended: stop


@pytest.mark.parametrize("overrides", [{}, {"pos_encoding": "sinusoidal"}, {"fast": True}])
def test_cached_step_equals_recomputing_every_step(overrides):
    model = tiny(**overrides)
    prompt = ids(3, 5, seed=7)
    for config in (GREEDY, SamplingConfig(temperature=0.7, top_k=4)):
        # 30 new tokens from 5: the context outgrows block_size=16 and the window slides
        cached = generate(lm_step(model, use_cache=True), prompt, 30, config, generator=torch.Generator().manual_seed(8))
        plain = generate(lm_step(model, use_cache=False), prompt, 30, config, generator=torch.Generator().manual_seed(8))
        window = generate(forward_step(model, block_size=16), prompt, 30, config, generator=torch.Generator().manual_seed(8))
        assert torch.equal(cached.sequences, plain.sequences) and torch.equal(cached.sequences, window.sequences)


def test_cached_step_rolls_back_to_the_common_prefix():
    model = tiny()
    step = lm_step(model)
    x = ids(2, 12, seed=3)
    _, state = step(x[:, :10], None)
    assert state.ids.shape == (2, 10)
    other = x.clone()
    other[:, 6:] = (other[:, 6:] + 1) % 13  # diverges after 6 tokens
    scores, state = step(other[:, :12], state)
    assert scores.shape[1] == 6  # only the 6 tokens after the common prefix were fed
    torch.testing.assert_close(scores, model(other[:, :12])[:, 6:], **TOL)
    scores, _ = step(other[:, :12], state)  # the same ids again: the last position is recomputed
    torch.testing.assert_close(last_scores(scores), model(other[:, :12])[:, -1], **TOL)


def test_select_rows_walks_states():
    state = CacheState([(torch.arange(6).view(3, 2), torch.arange(3))], torch.tensor([[1], [2], [3]]))
    picked = select_rows(state, torch.tensor([2, 0, 0]))
    assert picked.ids.tolist() == [[3], [1], [1]]
    assert picked.cache[0][0].tolist() == [[4, 5], [0, 1], [0, 1]] and picked.cache[0][1].tolist() == [2, 0, 0]
    assert select_rows({"a": torch.tensor([5, 6]), "n": 3}, torch.tensor([1])) == {"a": torch.tensor([6]), "n": 3}
    with pytest.raises(ValueError, match="select_rows"):
        select_rows(object(), torch.tensor([0]))


def test_cached_step_with_a_hand_written_forward():
    """The adapter of helpers.decoding's docstring: any forward(new_ids, cache) -> (logits, cache)."""
    model = tiny()
    step = cached_step(lambda new, cache: (lambda o: (o.logits, o.kv))(model.run(new, cache)), block_size=16)
    prompt = ids(2, 4, seed=5)
    assert torch.equal(generate(step, prompt, 20).sequences, model.generate(prompt, 20, temperature=0))


def test_bad_input_raises_value_error():
    step = lm_step(tiny())
    with pytest.raises(ValueError, match="LongTensor"):
        generate(step, torch.zeros(1, 3), 4)
    with pytest.raises(ValueError, match="at least one token"):
        generate(step, torch.zeros(1, 0, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(step, ids(1, 2), -1)
    with pytest.raises(ValueError, match="SamplingConfig"):
        generate(step, ids(1, 2), 3, config={"temperature": 0.5})
    with pytest.raises(ValueError, match="eos_id"):
        generate(step, ids(1, 2), 3, eos_id="end")
    with pytest.raises(ValueError, match=r"\(B, V\)"):
        generate(lambda x, s: (torch.zeros(3), s), ids(1, 2), 3)


def test_the_models_temperature_argument_maps_to_one_config():
    """GPT.generate and week 7's decoder share temperature_config: 0 is greedy, <0 an error."""
    from helpers.decoding import temperature_config

    assert not temperature_config(0).do_sample and temperature_config(0.7, top_k=5).do_sample
    assert temperature_config(0.7, top_k=5).temperature == 0.7 and temperature_config(0.7, top_k=5).top_k == 5
    for bad in (-1, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="temperature"):
            temperature_config(bad)
