"""``train``: from text to a byte-level BPE :class:`~helpers.tokenization.tokenizer.Tokenizer`.

Training (Sennrich et al. 2016; byte-level as in Radford et al. 2019, section 2.2): cut the
text out around special tokens, split it with the pattern, count the distinct chunks, then
learn ``vocab_size - 256`` merges with the incremental trainer
(:func:`~helpers.tokenization.trainer.train_fast`) or, with ``naive=True``, the reference one
that recounts everything (:func:`~helpers.tokenization.bpe.train_naive`). Both give the same
merges; ties go to the smallest pair of ids.

Left out: a minimum pair frequency, a cap on token length and dropout (BPE-dropout, Provilkov
et al. 2020). GPT-2's byte-to-Unicode table is not needed: our merges live on raw bytes, as
tiktoken's do.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping

from helpers.tokenization.bpe import train_naive
from helpers.tokenization.pretokenize import GPT4_PATTERN, PATTERNS, chunk_counts, split_special
from helpers.tokenization.tokenizer import Tokenizer
from helpers.tokenization.trainer import train_fast

__all__ = ["train"]


def train(
    text: str | Iterable[str],
    vocab_size: int,
    pattern: str = GPT4_PATTERN,
    special_tokens: Iterable[str] | Mapping[str, int] | None = None,
    naive: bool = False,
    name: str = "bpe",
) -> Tokenizer:
    """Learn a byte-level BPE tokenizer with ``vocab_size`` ordinary tokens (256 bytes + merges).

    ``text``: one string or an iterable of documents (never merged across documents).
    ``pattern``: ``"gpt4"`` (default), ``"gpt2"`` or any regular expression for the ``regex``
    module. ``special_tokens``: strings (they get the ids after the ordinary tokens) or a
    ``{string: id}`` table; they are cut out of the training text and never learned.

    >>> tok = train("low lower lowest " * 20, vocab_size=260)
    >>> tok.decode(tok.encode("lowest")) == "lowest", len(tok.encode(" lower"))
    (True, 2)
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
        raise ValueError(f"vocab_size={vocab_size!r} must be an integer >= 256 (the 256 byte tokens plus the merges)")
    documents = [text] if isinstance(text, str) else list(text)
    if not all(isinstance(d, str) for d in documents):
        raise ValueError("text must be a str or an iterable of str")
    if isinstance(special_tokens, Mapping):
        specials = dict(special_tokens)
    else:
        specials = {s: vocab_size + i for i, s in enumerate(dict.fromkeys(special_tokens or ()))}
    if any(i < vocab_size for i in specials.values()):
        raise ValueError(f"special token ids must be >= vocab_size={vocab_size}: got {specials}")
    pieces = [piece for doc in documents for piece, special in split_special(doc, specials) if not special]
    table = chunk_counts(pieces, pattern)
    chunks = Counter({tuple(chunk): n for chunk, n in table.items()})
    n_merges = vocab_size - 256
    merges = (train_naive if naive else train_fast)(chunks, n_merges)
    if len(merges) < n_merges:
        warnings.warn(
            f"the text ran out of pairs to merge after {len(merges)} merges: the vocabulary has "
            f"{256 + len(merges)} tokens, not {vocab_size}. Train on more text for a bigger one.",
            stacklevel=2,
        )
    ranks = {pair: 256 + k for k, pair in enumerate(merges)}
    return Tokenizer(ranks, PATTERNS.get(pattern, pattern), specials, name=name)
