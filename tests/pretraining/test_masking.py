"""Reference checks for helpers.pretraining.masking.

Oracles: Hugging Face's ``DataCollatorForLanguageModeling.torch_mask_tokens`` given a generator
in the same state (exact equality), the rates of Devlin et al. 2019, section 3.1 (15%; 80/10/10)
checked statistically on large samples, for ours and for the collator with other seeds, and
the edge cases (all-special rows, p=0, p=1, padding).
"""

import doctest
import math

import pytest
import torch

from helpers.pretraining import masking
from helpers.pretraining.masking import IGNORE_INDEX, mask_tokens

transformers = pytest.importorskip("transformers")
scipy_stats = pytest.importorskip("scipy.stats")

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "a", "big", "small", "red", "blue", "tree", "house", "car"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A BERT tokenizer with a 20-entry vocabulary: small enough to check uniformity."""
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(SPECIALS + WORDS) + "\n", encoding="utf-8")
    # the pure-Python WordPiece (transformers >= 5 calls it BertTokenizerLegacy)
    slow = getattr(transformers, "BertTokenizerLegacy", transformers.BertTokenizer)
    return slow(vocab_file=str(path))


def specials(tokenizer):
    return dict(mask_id=tokenizer.mask_token_id, vocab_size=len(tokenizer), special_ids=tokenizer.all_special_ids)


def random_batch(tokenizer, B, T, seed):
    """[CLS] words [SEP] [PAD]...: rows of random lengths, right-padded."""
    g = torch.Generator().manual_seed(seed)
    first_word = len(SPECIALS)
    ids = torch.randint(first_word, len(tokenizer), (B, T), generator=g)
    lengths = torch.randint(3, T + 1, (B,), generator=g)
    ids[:, 0] = tokenizer.cls_token_id
    for i, n in enumerate(lengths.tolist()):
        ids[i, n - 1] = tokenizer.sep_token_id
        ids[i, n:] = tokenizer.pad_token_id
    return ids


def collator_masks(tokenizer, ids, seed, **kwargs):
    collator = transformers.DataCollatorForLanguageModeling(tokenizer, **kwargs)
    collator.generator = torch.Generator().manual_seed(seed)  # what its own ``seed`` argument sets up
    special = torch.tensor([tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True) for row in ids.tolist()])
    return collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special)


def test_docstring_examples():
    assert doctest.testmod(masking).failed == 0


@pytest.mark.parametrize(
    "p,mask_fraction,random_fraction",
    [(0.15, 0.8, 0.1), (0.5, 0.8, 0.1), (0.3, 0.5, 0.4), (0.15, 1.0, 0.0), (0.4, 0.0, 1.0), (1.0, 0.8, 0.1)],
)
def test_equals_the_collator_given_the_same_generator(tokenizer, p, mask_fraction, random_fraction):
    ids = random_batch(tokenizer, 64, 24, seed=1)
    expected = collator_masks(tokenizer, ids, 7, mlm_probability=p, mask_replace_prob=mask_fraction,
                              random_replace_prob=random_fraction)  # fmt: skip
    got = mask_tokens(ids, p=p, mask_fraction=mask_fraction, random_fraction=random_fraction,
                      generator=torch.Generator().manual_seed(7), **specials(tokenizer))  # fmt: skip
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_equals_the_collator_with_the_real_bert_vocabulary():
    from helpers.pretraining import WordPieceTokenizer, minilm_path

    ours = WordPieceTokenizer.from_minilm()
    theirs = transformers.BertTokenizerFast.from_pretrained(str(minilm_path()))
    assert sorted(ours.special_ids) == sorted(theirs.all_special_ids)
    sentences = ["The cat sat on the mat.", "Masked language models read in both directions at once.", "Short."] * 8
    batch = ours(sentences)
    expected = collator_masks(theirs, batch.ids, 3)
    got = mask_tokens(batch.ids, mask_id=ours.mask_id, vocab_size=len(ours), special_ids=ours.special_ids,
                      generator=torch.Generator().manual_seed(3))  # fmt: skip
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def rates(ids, inputs, labels, mask_id):
    """Per non-special position: chosen or not; per chosen position: became [MASK], kept, other."""
    chosen = labels != IGNORE_INDEX
    return {
        "chosen": chosen,
        "masked": (inputs == mask_id)[chosen],
        "kept": (inputs == ids)[chosen],
        "other": ((inputs != mask_id) & (inputs != ids))[chosen],
    }


def z_score(successes, n, prob):
    return (successes - n * prob) / math.sqrt(n * prob * (1 - prob))


def test_rates_match_the_paper_on_a_large_sample(tokenizer):
    """15% of the real tokens chosen; of those 80% [MASK], 10% random, 10% unchanged; a random
    replacement is uniform over the vocabulary; counts per row are binomial (independent draws)."""
    ids = random_batch(tokenizer, 4000, 50, seed=2)
    inputs, labels = mask_tokens(ids, generator=torch.Generator().manual_seed(0), **specials(tokenizer))
    real = ~torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    r = rates(ids, inputs, labels, tokenizer.mask_token_id)
    V = len(tokenizer)
    n_real, n_chosen = int(real.sum()), int(r["chosen"].sum())
    assert not r["chosen"][~real].any()
    assert abs(z_score(n_chosen, n_real, 0.15)) < 5
    # a random token is the mask id with probability 1/V and the original with 1/V as well
    assert abs(z_score(int(r["masked"].sum()), n_chosen, 0.8 + 0.1 / V)) < 5
    assert abs(z_score(int(r["kept"].sum()), n_chosen, 0.1 + 0.1 / V)) < 5
    assert abs(z_score(int(r["other"].sum()), n_chosen, 0.1 * (V - 2) / V)) < 5
    replaced = inputs[(labels != IGNORE_INDEX) & (inputs != ids) & (inputs != tokenizer.mask_token_id)]
    counts = torch.bincount(replaced, minlength=V).numpy()
    # uniform over all V ids but the original and [MASK] ones; the original varies, so test the
    # words only, each missing from its own position: expected counts are nearly equal
    words = counts[len(SPECIALS):]
    assert scipy_stats.chisquare(words).pvalue > 1e-4
    assert counts[tokenizer.pad_token_id] > 0  # specials can be drawn as random tokens, as in BERT's code
    per_row = (labels != IGNORE_INDEX).sum(1).double()
    n_per_row = real.sum(1).double()
    variance_ratio = ((per_row - 0.15 * n_per_row) ** 2).sum() / (n_per_row * 0.15 * 0.85).sum()
    assert 0.9 < variance_ratio.item() < 1.1  # Bernoulli per position, not a fixed count per row


def test_rates_agree_with_the_collator_over_many_seeds(tokenizer):
    """Two-sample check: ours and the collator, different seeds, the same rates within noise."""
    ids = random_batch(tokenizer, 3000, 40, seed=3)
    ours = rates(ids, *mask_tokens(ids, generator=torch.Generator().manual_seed(11), **specials(tokenizer)), tokenizer.mask_token_id)
    theirs = rates(ids, *collator_masks(tokenizer, ids, 12), tokenizer.mask_token_id)
    for key in ("chosen", "masked", "kept", "other"):
        a, b = ours[key].double(), theirs[key].double()
        pooled = torch.cat([a, b]).mean().item()
        se = math.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
        assert abs(a.mean().item() - b.mean().item()) < 5 * se, key


def test_all_special_rows_p0_p1_and_padding(tokenizer):
    kw = specials(tokenizer)
    ids = random_batch(tokenizer, 16, 12, seed=4)
    ids[3] = torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id] + [tokenizer.pad_token_id] * 10)
    ids[5] = tokenizer.pad_token_id
    before = ids.clone()
    inputs, labels = mask_tokens(ids, p=1.0, generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(ids, before), "the input must not be modified"
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    assert (labels[~special] == ids[~special]).all(), "p=1 chooses every real token"
    assert (labels[special] == IGNORE_INDEX).all() and torch.equal(inputs[special], ids[special])
    assert (labels[3] == IGNORE_INDEX).all() and (labels[5] == IGNORE_INDEX).all()
    inputs, labels = mask_tokens(ids, p=0.0, generator=torch.Generator().manual_seed(0), **kw)
    assert torch.equal(inputs, ids) and (labels == IGNORE_INDEX).all()
    only_special = torch.tensor([[tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]] * 4)
    inputs, labels = mask_tokens(only_special, p=1.0, **kw)
    assert torch.equal(inputs, only_special) and (labels == IGNORE_INDEX).all()
    empty = torch.zeros(0, 5, dtype=torch.long)
    assert mask_tokens(empty, **kw)[0].shape == (0, 5)


def test_reproducible_with_a_generator_and_any_shape(tokenizer):
    kw = specials(tokenizer)
    ids = random_batch(tokenizer, 8, 10, seed=5)
    a = mask_tokens(ids, generator=torch.Generator().manual_seed(9), **kw)
    b = mask_tokens(ids, generator=torch.Generator().manual_seed(9), **kw)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    flat = mask_tokens(ids.flatten(), generator=torch.Generator().manual_seed(9), **kw)
    assert torch.equal(flat[1].view(8, 10), a[1])  # elementwise: the shape does not matter


def test_rejects_bad_input(tokenizer):
    kw = specials(tokenizer)
    ids = random_batch(tokenizer, 2, 6, seed=6)
    with pytest.raises(ValueError, match="p=1.5"):
        mask_tokens(ids, p=1.5, **kw)
    with pytest.raises(ValueError, match="sum of at most 1"):
        mask_tokens(ids, mask_fraction=0.8, random_fraction=0.3, **kw)
    with pytest.raises(ValueError, match="LongTensor"):
        mask_tokens(ids.float(), **kw)
    with pytest.raises(ValueError, match="token ids must be in"):
        mask_tokens(ids + 100, **kw)
    with pytest.raises(ValueError, match="mask_id"):
        mask_tokens(ids, mask_id=99, vocab_size=20, special_ids=[0])
