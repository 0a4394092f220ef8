"""Quality measures (helpers.decoding.quality) and the adaptive generator (helpers.decoding.adaptive).

Oracles: sacrebleu's BLEU of each text against the others for self-BLEU; PyTorch's
cross-entropy for perplexity; hand-counted examples for distinct-n and the repetition rate
(Li et al. 2016 divide distinct n-grams by generated tokens; Welleck et al. 2020's seq-rep-n).
The task rule is checked on prompts of each kind that it was not written from.
"""

import math
import random

import pytest
import torch
import torch.nn.functional as F

from helpers.decoding import (
    PRESETS,
    detect_task,
    distinct_n,
    perplexity,
    preset_for,
    repetition_rate,
    self_bleu,
)


def random_texts(seed, n=12):
    rng = random.Random(seed)
    words = "the a cat dog sat on mat ran far away quick brown fox of to in".split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 25))) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_bleu_equals_sacrebleu(seed):
    sacrebleu = pytest.importorskip("sacrebleu")
    texts = random_texts(seed)
    expected = sum(
        sacrebleu.corpus_bleu([t], [[o] for o in texts[:i] + texts[i + 1 :]]).score for i, t in enumerate(texts)
    ) / len(texts)
    assert math.isclose(self_bleu(texts), expected, rel_tol=1e-9, abs_tol=1e-9)
    assert self_bleu(texts + texts) > self_bleu(texts)  # duplicates: less diverse
    with pytest.raises(ValueError, match="at least 2"):
        self_bleu(["only one"])


def test_distinct_n_and_repetition_rate_by_hand():
    texts = ["the cat sat on the mat", "the cat ran"]
    # unigrams: the, cat, sat, on, mat, ran = 6 distinct of 9 tokens; bigrams: the cat, cat sat,
    # sat on, on the, the mat, cat ran = 6 distinct
    assert distinct_n(texts, 1) == 6 / 9 and distinct_n(texts, 2) == 6 / 9
    assert distinct_n(["a a a a"], 1) == 0.25 and distinct_n([], 2) == 0.0
    assert repetition_rate(["a b c a b c a b c"], n=3) == 1 - 3 / 7  # 7 trigrams, 3 distinct
    assert repetition_rate(["one two three four"], n=2) == 0.0
    assert distinct_n(["abab"], 2, tokenize=list) == 2 / 4  # characters: ab, ba over 4 tokens


def test_perplexity_is_the_exponential_of_the_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(50, 7, generator=g), torch.randint(0, 7, (50,), generator=g)
    log_probs = torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0]
    assert math.isclose(perplexity(log_probs.tolist()), math.exp(F.cross_entropy(logits, targets).item()), rel_tol=1e-6)
    assert perplexity([0.0, 0.0]) == 1.0
    with pytest.raises(ValueError):
        perplexity([])


CODE = [
    "def fibonacci(n):\n    if n < 2:\n        return n",
    "import numpy as np\nx = np.zeros(3)",
    "for (int i = 0; i < n; i++) {\n  total += a[i];",
    "class Stack:\n    def __init__(self):\n        self.items = []",
    "const add = (a, b) => a + b;",
    "SELECT name FROM users WHERE id = 3;",
    "#include <stdio.h>\nint main(void) {",
    "result = model.fit(X_train, y_train)",
]
DIALOGUE = [
    "Alice: Are you coming tonight?\nBob: I think so.",
    "User: How do I boil an egg?\nAssistant:",
    "Q: What is the capital of France?\nA:",
    '"Where have you been?" she asked.',
    "Customer: My order has not arrived.\nAgent: I am sorry to hear that.",
    "Teacher: Who wrote Hamlet?\nStudent: Shakespeare.",
]
STORY = [
    "Once upon a time there was a lighthouse keeper who never slept.",
    "The history of the city begins in the twelfth century, when",
    "It was raining when the train finally reached the border.",
    "In 1905 Albert Einstein published four papers that changed physics.",
    "The old man walked to the river every morning, and every morning he",
    "Anarchism is a political philosophy that advocates self-governed societies",
]


def test_the_task_rule_recognises_each_kind_of_prompt():
    assert [detect_task(p) for p in CODE] == ["code"] * len(CODE)
    assert [detect_task(p) for p in DIALOGUE] == ["dialogue"] * len(DIALOGUE)
    assert [detect_task(p) for p in STORY] == ["story"] * len(STORY)
    task, config = preset_for(CODE[0])
    assert task == "code" and config is PRESETS["code"] and config.temperature == 0.2 and config.top_p == 0.95
    assert PRESETS["story"].top_p == 0.95 and PRESETS["dialogue"].presence_penalty > 0
    assert detect_task("") == "story"
    with pytest.raises(ValueError, match="string"):
        detect_task(42)
