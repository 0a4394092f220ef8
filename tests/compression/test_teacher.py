"""The shipped teacher: its file matches the recorded checksum, it loads into the recipe's
configuration, it is a real language model on held-out text, and the recipe is seeded."""

from __future__ import annotations

import pytest
import torch

from helpers.compression import teacher as teacher_module
from helpers.data.chars import baseline_losses, char_corpus
from helpers.transformer.gpt import evaluate_loss


@pytest.mark.skipif(not teacher_module.TEACHER_PATH.is_file(), reason="the teacher file is not in this checkout")
def test_shipped_teacher_loads_and_beats_the_bigram_model():
    assert teacher_module.TEACHER_SHA256 is not None
    assert teacher_module._sha256(teacher_module.TEACHER_PATH) == teacher_module.TEACHER_SHA256
    model, vocab = teacher_module.load_teacher(retrain_if_missing=False)
    assert model.config == teacher_module.teacher_config(len(vocab)) and not model.training
    train_text, _, test_text = char_corpus("wikipedia")
    train_ids, test_ids = vocab.encode(train_text), vocab.encode(test_text)
    bigram = baseline_losses(train_ids, test_ids, len(vocab))["bigram"]
    loss = evaluate_loss(model, test_ids, model.config.block_size, max_tokens=16_384)
    assert loss < bigram - 0.2, (loss, bigram)  # it uses more context than one character


def test_altered_file_is_named(tmp_path):
    bad = tmp_path / "teacher.pt"
    with pytest.raises(ValueError, match="missing or altered"):
        teacher_module.load_teacher(bad, retrain_if_missing=False)


def test_recipe_is_seeded():
    a, b = teacher_module.train_teacher(steps=3, progress=False), teacher_module.train_teacher(steps=3, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
