"""Template probes: the masked-LM slot equals transformers' fill-mask pipeline, the causal score
equals GPT-2's loss on our exported weights and sums to one, the bootstrap equals scipy's."""

import numpy as np
import pytest
import torch
from scipy import stats

from helpers.audit.probes import (
    bootstrap_interval,
    filler_gap,
    masked_filler_logprobs,
    sequence_logprobs,
)
from helpers.pretraining import WordPieceTokenizer, from_huggingface, minilm_path
from helpers.transformer import GPT, GPTConfig, to_huggingface

TEMPLATES = [
    "{} worked as a nurse.",
    "yesterday {} went to the office.",
    "the doctor said that {} was tired.",
]
FILLERS = ["he", "she", "they"]


@pytest.fixture(scope="module")
def tiny_mlm():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    hf = transformers.BertForMaskedLM(config).eval()
    hf_tok = transformers.BertTokenizerFast(tokenizer_file=str(minilm_path() / "tokenizer.json"))
    return hf, hf_tok, from_huggingface(hf), WordPieceTokenizer.from_minilm()


def test_masked_slot_equals_fill_mask_pipeline(tiny_mlm):
    from transformers import pipeline

    hf, hf_tok, ours, tok = tiny_mlm
    fill = pipeline("fill-mask", model=hf, tokenizer=hf_tok, device="cpu")
    got = masked_filler_logprobs(ours, tok, TEMPLATES, FILLERS)
    for i, template in enumerate(TEMPLATES):
        ref = {
            r["token_str"]: r["score"]
            for r in fill(template.replace("{}", "[MASK]"), targets=FILLERS)
        }
        np.testing.assert_allclose(got[i], np.log([ref[f] for f in FILLERS]), rtol=1e-4, atol=1e-5)


def test_masked_id_map_and_errors(tiny_mlm):
    _, _, ours, tok = tiny_mlm
    with pytest.raises(ValueError, match="WordPiece tokens"):
        masked_filler_logprobs(ours, tok, TEMPLATES, ["aardwolf"])
    with pytest.raises(ValueError, match="exactly one"):
        masked_filler_logprobs(ours, tok, ["no slot here"], FILLERS)
    # a model over a sub-vocabulary: a map that sends 'she' to [UNK] is refused
    unk = tok.token_to_id("[UNK]")
    she = tok.token_to_id("she")
    with pytest.raises(ValueError, match="unknown to the model"):
        masked_filler_logprobs(
            ours, tok, TEMPLATES, FILLERS, id_map=lambda ids: torch.where(ids == she, unk, ids)
        )


@pytest.fixture(scope="module")
def tiny_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()


def test_sequence_logprob_equals_gpt2_loss(tiny_gpt):
    hf = to_huggingface(tiny_gpt)
    seqs = [torch.tensor([3, 1, 4, 1, 5]), torch.tensor([2, 6])]
    got = sequence_logprobs(tiny_gpt, seqs, start_id=0)
    for seq, value in zip(seqs, got, strict=False):
        ids = torch.cat([torch.tensor([0]), seq])[None]
        with torch.no_grad():
            loss = hf(ids, labels=ids).loss  # mean over the len(seq) predicted tokens
        np.testing.assert_allclose(value, -loss.item() * len(seq), rtol=1e-5)


def test_sequence_logprobs_sum_to_one(tiny_gpt):
    prefix = torch.tensor([1, 2, 3])
    total = sequence_logprobs(
        tiny_gpt, [torch.cat([prefix, torch.tensor([v])]) for v in range(7)], start_id=0
    )
    head = sequence_logprobs(tiny_gpt, [prefix], start_id=0)[0]
    np.testing.assert_allclose(np.exp(total - head).sum(), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        sequence_logprobs(tiny_gpt, [torch.zeros(9, dtype=torch.long)], start_id=0)


def test_bootstrap_interval_equals_scipy():
    x = np.random.default_rng(0).normal(0.3, 1.0, size=40)
    mean, low, high = bootstrap_interval(x, n_resamples=50_000, generator=np.random.default_rng(1))
    ref = stats.bootstrap(
        (x,), np.mean, n_resamples=50_000, method="percentile", rng=np.random.default_rng(2)
    )
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert mean == pytest.approx(x.mean())
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.03 * se * 4)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.03 * se * 4)
    assert bootstrap_interval(x, 100, generator=np.random.default_rng(3)) == bootstrap_interval(
        x, 100, generator=np.random.default_rng(3)
    )


def test_filler_gap_groups_and_errors():
    scores = np.array([[0.0, -1.0, -2.0], [-0.5, -0.5, -3.0], [-1.0, 0.0, -1.0]])
    r = filler_gap(scores, 0, 1, n_resamples=2000)
    np.testing.assert_allclose(r.gaps, [1.0, 0.0, -1.0])
    assert r.low <= r.mean <= r.high and r.mean == pytest.approx(0.0)
    np.testing.assert_allclose(filler_gap(scores, [0, 1], 2, n_resamples=10).gaps, [1.5, 2.5, 0.5])
    with pytest.raises(ValueError, match="columns"):
        filler_gap(scores, 0, 3)
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_interval([1.0])
