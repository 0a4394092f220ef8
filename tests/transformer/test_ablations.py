"""The ablation switches of the block (no residual, no layer norm) and the ablation runner."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.transformer.ablations import run_ablations, train_variant
from helpers.transformer.block import TransformerBlock
from helpers.transformer.export import to_huggingface
from helpers.transformer.gpt import GPT, GPTConfig


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_without_residual_is_the_plain_composition(norm_first):
    torch.manual_seed(0)
    block = TransformerBlock(16, 2, norm_first=norm_first, residual=False).eval()
    x = torch.randn(2, 5, 16)
    attn = lambda h: block.attn(h, causal=True)  # noqa: E731
    if norm_first:  # x -> MHA(LN1 x) -> FFN(LN2 .)
        expected = block.ff(block.norm2(attn(block.norm1(x))))
    else:  # x -> LN1(MHA x) -> LN2(FFN .)
        expected = block.norm2(block.ff(block.norm1(attn(x))))
    with torch.no_grad():
        torch.testing.assert_close(block(x, causal=True), expected.detach())


def test_block_without_layer_norm_has_no_norm_and_keeps_the_residual():
    torch.manual_seed(1)
    block = TransformerBlock(16, 4, layer_norm=False).eval()
    assert isinstance(block.norm1, nn.Identity) and isinstance(block.norm2, nn.Identity)
    x = torch.randn(3, 6, 16)
    with torch.no_grad():
        h = x + block.attn(x, causal=True)
        torch.testing.assert_close(block(x, causal=True), h + block.ff(h))


def test_default_block_is_unchanged_by_the_switches():
    torch.manual_seed(2)
    plain = TransformerBlock(16, 4).eval()
    same = TransformerBlock(16, 4, residual=True, layer_norm=True).eval()
    same.load_state_dict(plain.state_dict())
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(same(x, causal=True), plain(x, causal=True), rtol=0, atol=0)


def test_gpt_ablations_build_and_refuse_export():
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, layer_norm=False)
    model = GPT(config)
    assert not any(isinstance(m, nn.LayerNorm) for m in model.modules())
    assert model(torch.zeros(1, 8, dtype=torch.long)).shape == (1, 8, 11)
    with pytest.raises(ValueError, match="GPT-2's layout"):
        to_huggingface(GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, residual=False)))


def _ids(n, vocab, seed):
    # a text with structure to learn: a noisy repetition of a short pattern
    g = torch.Generator().manual_seed(seed)
    pattern = torch.randint(0, vocab, (7,), generator=g)
    ids = pattern.repeat(n // 7 + 1)[:n]
    noise = torch.rand(n, generator=g) < 0.1
    return torch.where(noise, torch.randint(0, vocab, (n,), generator=g), ids)


def test_train_variant_learns_and_is_reproducible():
    config = GPTConfig(vocab_size=9, block_size=16, n_layer=2, n_head=2, n_embd=16)
    train_ids, val_ids = _ids(4000, 9, 0), _ids(1000, 9, 0)
    a = train_variant(config, train_ids, val_ids, 40, batch_size=8, lr=1e-2, seed=3, eval_tokens=512)
    b = train_variant(config, train_ids, val_ids, 40, batch_size=8, lr=1e-2, seed=3, eval_tokens=512)
    assert a.losses == b.losses and a.val_loss == b.val_loss
    assert len(a.losses) == 40 and not a.diverged
    assert a.losses[0] == pytest.approx(math.log(9), abs=0.3)  # untrained: close to uniform
    assert a.val_loss < math.log(9) - 0.5  # it learned the pattern
    # the validation loss is the mean cross-entropy of the model on consecutive windows
    assert a.final_loss == pytest.approx(sum(a.losses[-20:]) / 20)


def test_run_ablations_applies_each_variant_and_warmup():
    base = GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, n_embd=8)
    ids = _ids(800, 9, 1)
    runs = run_ablations(base, {"base": {}, "post-LN, no warm-up": {"norm_first": False, "warmup": 0}}, ids, ids, 5,
                         batch_size=4, eval_tokens=64)
    assert [r.name for r in runs] == ["base", "post-LN, no warm-up"]
    assert runs[0].config == base and runs[0].warmup == 30
    assert runs[1].config.norm_first is False and runs[1].warmup == 0
    with pytest.raises(ValueError, match="not GPTConfig fields"):
        run_ablations(base, {"bad": {"depth": 3}}, ids, ids, 5)


def test_diverged_run_is_reported():
    config = GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, n_embd=8)
    ids = _ids(400, 9, 2)
    run = train_variant(config, ids, ids, 5, batch_size=4, lr=1e30, eval_tokens=64)
    assert run.diverged and math.isnan(run.val_loss) and math.isnan(run.final_loss)


def test_train_variant_rejects_bad_arguments():
    config = GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, n_embd=8)
    ids = _ids(400, 9, 2)
    with pytest.raises(ValueError, match="steps"):
        train_variant(config, ids, ids, 0)
    with pytest.raises(ValueError, match="warmup"):
        train_variant(config, ids, ids, 5, warmup=-1)


def test_cross_entropy_used_is_torchs():
    # train_variant's first loss is F.cross_entropy of the freshly seeded model on the first batch
    from helpers.data.chars import random_windows

    config = GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, n_embd=8)
    ids = _ids(400, 9, 4)
    run = train_variant(config, ids, ids, 1, batch_size=4, seed=5, eval_tokens=64)
    torch.manual_seed(5)
    model = GPT(config)
    x, y = next(random_windows(ids, 8, 4, torch.Generator().manual_seed(5)))
    with torch.no_grad():
        expected = F.cross_entropy(model(x).reshape(-1, 9), y.reshape(-1)).item()
    assert run.losses[0] == pytest.approx(expected, rel=1e-6)
