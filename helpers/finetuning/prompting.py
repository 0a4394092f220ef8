r"""Prompting a model without training it: zero-shot, few-shot and self-consistency.

* **Zero-shot**: the instruction alone, in the template the model will see
  (:func:`zero_shot_prompt`).
* **Few-shot** (in-context learning, Brown et al. 2020, "Language Models are Few-Shot
  Learners", NeurIPS, section 2): k solved examples before the question, no gradient step
  (:func:`few_shot_prompt`). Brown et al. found it works far better in large models (their
  Figure 1.2: 175B parameters gain much more from examples than 1.3B).
* **Chain of thought** (Wei et al. 2022, NeurIPS; "Let's think step by step", Kojima et al. 2022,
  NeurIPS): examples, or a trigger phrase, that make the model write intermediate steps before the
  answer. Wei et al. (section 3, Figure 4) report that it only helps models of about 100B
  parameters and more; smaller ones write fluent but wrong steps. Here it is a choice of
  few-shot examples (outputs that contain the steps) plus an ``extract`` function that reads
  the final answer.
* **Self-consistency** (Wang et al. 2023, ICLR, section 2): sample several completions at a
  temperature, read the answer of each and return the most frequent one (:func:`self_consistency`).

Every function works on any model through a decoding *step* (:mod:`helpers.decoding.step`:
``lm_step(gpt)``, ``forward_step(model)``, ``huggingface_step(hf_model)``) and a vocabulary with
``encode`` / ``decode``; the tokens come from :func:`helpers.decoding.generate`, the one
implementation of greedy decoding and sampling in the course.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from helpers.decoding.processors import SamplingConfig
from helpers.decoding.sampling import GREEDY, generate
from helpers.finetuning.instructions import DEFAULT_TEMPLATE, Instruction, Template

#: Wang et al. 2023 (section 3.1) sample at temperature 0.5-0.7 (and top-k 40 for some models).
SELF_CONSISTENCY = SamplingConfig(temperature=0.7)

__all__ = [
    "SELF_CONSISTENCY",
    "Vote",
    "complete",
    "first_line",
    "few_shot_prompt",
    "self_consistency",
    "zero_shot_prompt",
]


def zero_shot_prompt(query: Instruction, template: Template = DEFAULT_TEMPLATE) -> str:
    """The instruction and its input, ending where the answer starts."""
    return template.prompt(query.instruction, query.input)


def few_shot_prompt(
    examples: Sequence[Instruction],
    query: Instruction,
    template: Template = DEFAULT_TEMPLATE,
    separator: str = "\n",
) -> str:
    """``k = len(examples)`` solved examples, each ended by ``separator``, then the query's prompt.

    >>> ex = Instruction("Which year?", "3 May 1999", "1999")
    >>> print(few_shot_prompt([ex], Instruction("Which year?", "4 June 2001", "?")) + "|")
    Which year?
    Input: 3 May 1999
    Answer: 1999
    Which year?
    Input: 4 June 2001
    Answer: |
    """
    if any(query == ex for ex in examples):
        raise ValueError("the query is one of the examples: the model could copy the answer")
    shots = "".join(
        template.prompt(ex.instruction, ex.input) + ex.output + separator for ex in examples
    )
    return shots + zero_shot_prompt(query, template)


def first_line(text: str) -> str:
    """The answer in a completion: everything before the first newline, stripped."""
    return text.split("\n", 1)[0].strip()


def complete(
    step,
    vocab,
    prompts: Sequence[str],
    max_new_tokens: int,
    config: SamplingConfig = GREEDY,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> list[str]:
    """The text each prompt is continued with (without the prompt), up to ``max_new_tokens``
    tokens or the vocabulary's end symbol. Prompts of the same length are decoded as one
    batch (the models have no padding mask, so unequal rows are never padded together)."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a list of strings, got one string: wrap it in a list")
    if not prompts:
        return []
    encoded = [vocab.encode(p) for p in prompts]
    if any(len(e) == 0 for e in encoded):
        raise ValueError("every prompt needs at least one token")
    eos = getattr(vocab, "eos_id", None)
    out: list[str | None] = [None] * len(prompts)
    by_length: dict[int, list[int]] = {}
    for i, e in enumerate(encoded):
        by_length.setdefault(len(e), []).append(i)
    for length, rows in by_length.items():
        ids = torch.stack([encoded[i] for i in rows])
        if device is not None:
            ids = ids.to(device)
        result = generate(step, ids, max_new_tokens, config, eos_id=eos, generator=generator)
        for i, row in zip(rows, result.sequences[:, length:].tolist(), strict=True):
            out[i] = vocab.decode(row)
    return out


class Vote(NamedTuple):
    answer: str  # the most frequent answer (ties: the one sampled first)
    counts: Counter  # answer -> how many samples gave it
    completions: list[str]  # the raw sampled texts

    @property
    def agreement(self) -> float:
        """Share of the samples that gave the winning answer."""
        return self.counts[self.answer] / sum(self.counts.values())


def self_consistency(
    step,
    vocab,
    prompt: str,
    n_samples: int,
    max_new_tokens: int,
    config: SamplingConfig = SELF_CONSISTENCY,
    extract: Callable[[str], str] = first_line,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Vote:
    """Majority vote over ``n_samples`` sampled completions of ``prompt`` (Wang et al. 2023).

    ``config`` must sample (``do_sample=True``; Wang et al. use temperature 0.5-0.7 and top-k 40);
    ``extract`` reads the answer from a completion (default: its first line).
    """
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"n_samples={n_samples!r} must be a positive integer")
    if not config.do_sample:
        raise ValueError(
            "self-consistency votes over samples: greedy decoding (do_sample=False) gives one answer n times"
        )
    completions = complete(
        step, vocab, [prompt] * n_samples, max_new_tokens, config, generator, device
    )
    answers = [extract(c) for c in completions]
    counts = Counter(answers)
    best = max(counts.values())
    answer = next(a for a in answers if counts[a] == best)  # the first of the tied answers
    return Vote(answer, counts, completions)
