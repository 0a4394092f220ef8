"""Our decoders against transformers' ``generate()`` on a tiny randomly initialised GPT-2.

The model is built from a config (no download): the course's GPT (week 5), exported with
``to_huggingface`` into a ``GPT2LMHeadModel``. Two ways to drive our decoders:

* through ``huggingface_step`` (the Hugging Face model and its own cache), which sees the very
  logits ``generate()`` sees: token ids, the processed scores of every step (the whole
  distribution) and beam scores must be bit-identical, and sampling with the same seed must
  draw the same tokens;
* through ``lm_step`` (the course's GPT and its KV cache), whose logits differ from GPT-2's by
  rounding only: the token ids of greedy and beam search must be the same, and the sampling
  distribution of every step along generate()'s sampled text equal to 1e-5.

Checked with transformers 5.24.0 and torch 2.13.0 (CPU); nothing is pinned. transformers' own
defaults differ from ours where noted (``top_k=50`` when sampling), so every argument is
passed explicitly.
"""

import warnings

import pytest
import torch

from helpers.decoding import (
    GREEDY,
    SamplingConfig,
    beam_search,
    generate,
    huggingface_step,
    lm_step,
)
from helpers.transformer import GPT, GPTConfig

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

V, EOS, PAD = 64, 7, 1


def tiny_gpt(seed=0, n_layer=2, n_embd=32, sharpen=6.0):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=V, block_size=64, n_layer=n_layer, n_head=2, n_embd=n_embd)).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(std=0.1)
        model.tok_emb.weight.mul_(sharpen)  # peaked distributions: no two candidates within rounding error
    return model


@pytest.fixture(scope="module")
def models():
    from helpers.transformer import to_huggingface

    out = []
    for seed in (0, 1):
        gpt = tiny_gpt(seed)
        out.append((gpt, to_huggingface(gpt)))
    return out


PROMPTS = [
    torch.randint(8, V, (3, 5), generator=torch.Generator().manual_seed(11)),
    torch.randint(8, V, (1, 1), generator=torch.Generator().manual_seed(12)),
    torch.randint(8, V, (2, 9), generator=torch.Generator().manual_seed(13)),
]


def hf_generate(hf, prompt, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hf.generate(prompt, attention_mask=torch.ones_like(prompt), eos_token_id=EOS, pad_token_id=PAD,
                           return_dict_in_generate=True, output_scores=True, **kwargs)  # fmt: skip


@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: f"{tuple(p.shape)}")
def test_greedy_equals_generate(models, prompt):
    for gpt, hf in models:
        theirs = hf_generate(hf, prompt, max_new_tokens=24, do_sample=False)
        ours = generate(huggingface_step(hf), prompt, 24, GREEDY, eos_id=EOS, pad_id=PAD, output_scores=True)
        assert torch.equal(ours.sequences, theirs.sequences)
        assert len(ours.scores) == len(theirs.scores)
        assert all(torch.equal(a, b) for a, b in zip(ours.scores, theirs.scores, strict=True))
        for use_cache in (True, False):
            course = generate(lm_step(gpt, use_cache), prompt, 24, GREEDY, eos_id=EOS, pad_id=PAD)
            assert torch.equal(course.sequences, theirs.sequences)
        penalised = SamplingConfig(do_sample=False, repetition_penalty=1.5, no_repeat_ngram_size=2)
        theirs = hf_generate(hf, prompt, max_new_tokens=24, do_sample=False, repetition_penalty=1.5, no_repeat_ngram_size=2)
        assert torch.equal(generate(lm_step(gpt), prompt, 24, penalised, eos_id=EOS, pad_id=PAD).sequences, theirs.sequences)


SAMPLING = [
    dict(temperature=1.0),
    dict(temperature=0.7, top_k=10),
    dict(temperature=1.3, top_p=0.9),
    dict(min_p=0.1),
    dict(typical_p=0.8),
    dict(temperature=0.8, top_k=20, top_p=0.95, repetition_penalty=1.3, no_repeat_ngram_size=2),
]


def hf_kwargs(config: dict) -> dict:
    return {"top_k": 0, **config}  # transformers samples from the top 50 unless told otherwise


@pytest.mark.parametrize("config", SAMPLING, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_sampling_equals_generate_at_every_step(models, config):
    prompt = PROMPTS[0]
    ours_config = SamplingConfig(**config)
    for seed, (gpt, hf) in enumerate(models):
        torch.manual_seed(100 + seed)
        theirs = hf_generate(hf, prompt, max_new_tokens=20, do_sample=True, **hf_kwargs(config))
        torch.manual_seed(100 + seed)  # the same draws: generate() uses the global generator
        ours = generate(huggingface_step(hf), prompt, 20, ours_config, eos_id=EOS, pad_id=PAD, output_scores=True)
        assert torch.equal(ours.sequences, theirs.sequences)
        assert all(torch.equal(a, b) for a, b in zip(ours.scores, theirs.scores, strict=True))
        # the course's GPT, along the text generate() sampled: the same distribution at every step
        step, state = lm_step(gpt), None
        T0 = prompt.shape[1]
        for t, their_scores in enumerate(theirs.scores):
            ids = theirs.sequences[:, : T0 + t]
            raw, state = step(ids, state)
            mine = torch.softmax(ours_config(raw[:, -1], ids, T0), dim=-1)
            torch.testing.assert_close(mine, torch.softmax(their_scores, dim=-1), rtol=0, atol=1e-5)


BEAMS = [  # width, length penalty, early stopping
    (1, 1.0, False), (2, 1.0, False), (3, 0.0, True), (4, 2.0, "never"), (5, -1.0, False),
    (3, 0.6, "never"), (4, 1.0, True),
]  # fmt: skip


@pytest.mark.parametrize("width, alpha, early", BEAMS)
def test_beam_search_equals_generate(models, width, alpha, early):
    for gpt, hf in models:
        for prompt in PROMPTS:
            theirs = hf_generate(hf, prompt, max_new_tokens=14, do_sample=False, num_beams=width, length_penalty=alpha,
                                 early_stopping=early, num_return_sequences=width)  # fmt: skip
            T = theirs.sequences.shape[1]
            for name, step in (("huggingface_step", huggingface_step(hf)), ("lm_step", lm_step(gpt))):
                hyps = beam_search(step, prompt, width, 14, EOS, alpha, early)
                rows, scores = [], []
                for b, found in enumerate(hyps):
                    assert len(found) == width
                    for h in found:
                        row = prompt[b].tolist() + list(h.tokens) + ([EOS] if h.finished else [])
                        rows.append(row + [PAD] * (T - len(row)))
                        scores.append(h.score)
                assert torch.equal(torch.tensor(rows), theirs.sequences), name
                if width == 1:  # generate() decodes greedily then, and has no beam scores
                    continue
                if name == "huggingface_step":
                    assert torch.equal(torch.tensor(scores), theirs.sequences_scores)
                else:
                    torch.testing.assert_close(torch.tensor(scores), theirs.sequences_scores, rtol=1e-5, atol=1e-5)


def test_beam_search_with_penalties_equals_generate(models):
    gpt, hf = models[0]
    prompt = PROMPTS[2]
    config = SamplingConfig(do_sample=False, repetition_penalty=1.4, no_repeat_ngram_size=3)
    theirs = hf_generate(hf, prompt, max_new_tokens=14, do_sample=False, num_beams=3, repetition_penalty=1.4,
                         no_repeat_ngram_size=3, num_return_sequences=3)  # fmt: skip
    hyps = beam_search(huggingface_step(hf), prompt, 3, 14, EOS, config=config)
    assert torch.equal(torch.tensor([h.score for found in hyps for h in found]), theirs.sequences_scores)
