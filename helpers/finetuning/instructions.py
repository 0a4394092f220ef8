r"""Instruction tuning: a prompt template, the loss on the response only, and a data set of date
instructions with held-out dates.

Instruction tuning (Wei et al. 2022, "Finetuned Language Models Are Zero-Shot Learners", FLAN,
ICLR; Ouyang et al. 2022, InstructGPT, section 3.5, supervised fine-tuning) trains a language
model on (instruction, input, response) triples written into one text by a template. The model
should learn to *answer*, not to write instructions, so the loss counts the response tokens
only (the prompt tokens are masked, as in Alpaca, Taori et al. 2023, and in ``trl``'s
completion-only training):

    L = - (1 / |R|) \sum_{t \in R} \log p(x_{t+1} | x_{\le t}),     R = positions whose next token is in the response

:data:`DEFAULT_TEMPLATE` is a short layout in the spirit of Alpaca's (``### Instruction`` /
``### Input`` / ``### Response``), kept to a few characters because the course's models read
characters and have short contexts; the response ends with the end symbol so that generation
knows where to stop. :data:`SHORT_FORMATS` leaves out the dates spelled in words, so that an
example fits in about 70 characters.

:func:`date_instructions` turns week 4's dates (:mod:`helpers.data.dates`) into four tasks on the
same inputs (ISO form, US form, year, month name): one model must read the instruction to know
which answer is wanted. Dates come from week 4's fixed partition of the calendar, so an
evaluation on ``split="test"`` only sees dates never seen in training, in any format.
:func:`exact_match` scores generated answers.

Left out: multi-turn chat templates, packing several examples into one window, RLHF/DPO.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.data.date_formats import FORMATS, MONTHS, can_render, render
from helpers.data.dates import _partition
from helpers.data.vocab import EOS, PAD, Vocab

__all__ = ["DATE_TASKS", "DEFAULT_TEMPLATE", "IGNORE_INDEX", "Instruction", "InstructionBatch", "SHORT_FORMATS", "Template",
           "date_instructions", "encode_instruction", "exact_match", "instruction_batch", "instruction_vocab",
           "response_loss"]  # fmt: skip

IGNORE_INDEX = -100  # targets with this value carry no loss (PyTorch's cross_entropy default)


@dataclass(frozen=True)
class Instruction:
    """One example: what to do, the text to do it on (may be empty) and the wanted answer."""

    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class Template:
    """How an example becomes text: ``prompt(ex)`` is everything before the answer."""

    instruction: str = "{instruction}\n"
    input: str = "Input: {input}\n"
    response: str = "Answer: "

    def prompt(self, instruction: str, input: str = "") -> str:
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction={instruction!r} must be a non-empty string")
        text = self.instruction.format(instruction=instruction)
        if input:
            text += self.input.format(input=input)
        return text + self.response


DEFAULT_TEMPLATE = Template()


# ----------------------------------------------------------------------------- encoding and loss
def instruction_vocab(extra: str = "") -> Vocab:
    """Characters for the date instructions: printable ASCII, newline, then padding and end
    symbols at ids 0 and 1 (``pad_id`` 0, ``eos_id`` 1)."""
    chars = sorted(set(string.printable) - set("\t\r\x0b\x0c") | set(extra))
    return Vocab(chars, specials=(PAD, EOS))


class InstructionBatch(NamedTuple):
    inputs: torch.Tensor  # (B, T) token ids, right-padded with pad_id
    targets: (
        torch.Tensor
    )  # (B, T) the next token where it belongs to the response, else IGNORE_INDEX
    prompt_lengths: torch.Tensor  # (B,) tokens of each prompt


def encode_instruction(
    vocab: Vocab, example: Instruction, template: Template = DEFAULT_TEMPLATE
) -> tuple[torch.Tensor, int]:
    """Ids of ``prompt + output + </s>`` and the length of the prompt."""
    if vocab.eos_id is None:
        raise ValueError(
            "the vocabulary needs an end symbol to mark where a response stops: use instruction_vocab()"
        )
    if not example.output:
        raise ValueError(f"example {example!r} has an empty output: there is nothing to learn")
    prompt = vocab.encode(template.prompt(example.instruction, example.input))
    response = vocab.encode(example.output, eos=True)
    return torch.cat([prompt, response]), len(prompt)


def instruction_batch(
    vocab: Vocab,
    examples: Sequence[Instruction],
    template: Template = DEFAULT_TEMPLATE,
    block_size: int | None = None,
) -> InstructionBatch:
    """Inputs and next-token targets, the prompt's targets masked with :data:`IGNORE_INDEX`.

    Position t predicts token t + 1; its target is kept only when token t + 1 is part of the
    response (its end symbol included). Rows are right-padded; padding is masked too.
    """
    if len(examples) == 0:
        raise ValueError("instruction_batch needs at least one example")
    if vocab.pad_id is None:
        raise ValueError("the vocabulary needs a padding symbol: use instruction_vocab()")
    rows, lengths = zip(*(encode_instruction(vocab, ex, template) for ex in examples), strict=True)
    T = max(len(r) for r in rows) - 1
    if block_size is not None and T > block_size:
        raise ValueError(f"the longest example has {T + 1} tokens, more than block_size + 1 = {block_size + 1}: "
                         "use shorter examples or a model with a longer context")  # fmt: skip
    inputs = torch.full((len(rows), T), vocab.pad_id, dtype=torch.long)
    targets = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)
    for i, (ids, p) in enumerate(zip(rows, lengths, strict=True)):
        n = len(ids) - 1
        inputs[i, :n] = ids[:-1]
        targets[i, p - 1 : n] = ids[p:]  # the next tokens from the first response token on
    return InstructionBatch(inputs, targets, torch.tensor(lengths))


def response_loss(model: nn.Module, batch: InstructionBatch) -> torch.Tensor:
    """Mean cross-entropy over the response tokens (nats); a ``loss_fn`` for ``train_loop``."""
    logits = model(batch.inputs)
    logits = logits[0] if isinstance(logits, tuple) else logits  # (B, T, V)
    if not bool((batch.targets != IGNORE_INDEX).any()):
        raise ValueError("every target is masked: the batch has no response tokens")
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1), ignore_index=IGNORE_INDEX
    )


# ----------------------------------------------------------------------------- the date instructions
def _iso(d: datetime.date) -> str:
    return d.isoformat()


SHORT_FORMATS = tuple(f for f in FORMATS if not f.startswith("spelled") and f != "iso")

DATE_TASKS: dict[str, tuple[str, callable]] = {
    "iso": ("Write in ISO form.", _iso),
    "us": ("Write as MM/DD/YYYY.", lambda d: render(d, "us_slash")),
    "year": ("Which year?", lambda d: str(d.year)),
    "month": ("Which month?", lambda d: MONTHS[d.month - 1]),
}


def date_instructions(
    n: int,
    split: str = "train",
    seed: int = 0,
    tasks: Sequence[str] = tuple(DATE_TASKS),
    formats: Sequence[str] | None = None,
) -> list[Instruction]:
    """``n`` instructions about single dates of week 4's ``split`` (train / valid / test), each
    with a task drawn from ``tasks`` and an input format from ``formats`` (default: all of
    :data:`helpers.data.date_formats.FORMATS` but ISO itself, which would make "iso" a copy).

    >>> date_instructions(1, seed=3)[0].instruction in {t for t, _ in DATE_TASKS.values()}
    True
    """
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split={split!r} must be train, valid or test")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative integer")
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in DATE_TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown or no tasks {unknown!r}: choose from {', '.join(DATE_TASKS)}")
    formats = [f for f in FORMATS if f != "iso"] if formats is None else list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown or no formats {bad!r}: choose from {', '.join(FORMATS)}")
    days = _partition()[split]
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        date = datetime.date.fromordinal(rng.choice(days))
        usable = [f for f in formats if can_render(date, f)]
        task = rng.choice(tasks)
        if not usable:
            continue
        text, answer = DATE_TASKS[task]
        out.append(Instruction(text, render(date, rng.choice(usable)), answer(date)))
    return out


def exact_match(predictions: Sequence[str], references: Sequence[str], strip: bool = True) -> float:
    """Fraction of predictions equal to their reference (after stripping surrounding spaces).

    >>> exact_match(["2021-03-03", " 1999 "], ["2021-03-03", "1998"])
    0.5
    """
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        raise ValueError("exact_match needs at least one reference")
    norm = (lambda s: s.strip()) if strip else (lambda s: s)
    return sum(norm(p) == norm(r) for p, r in zip(predictions, references, strict=True)) / len(
        references
    )
