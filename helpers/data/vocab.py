"""One vocabulary for every model of the course: characters or word tokens <-> integer ids.

Ids go first to the ``specials`` (in the order given), then to the ``tokens`` (in the order
given, repeats dropped). A token that is not in the vocabulary is encoded as the unknown
symbol ``unk``: by default the Unicode replacement character, appended after the tokens, as
the character models of weeks 3 and 5 use it; sequence-to-sequence models (week 4) put
padding, begin, end and unknown first (:data:`SEQ2SEQ_SPECIALS`, ids 0-3); with
``unk=None`` an unknown token is an error (the closed vocabulary of week 3's dialogues).

>>> chars = Vocab.from_text("hello world")
>>> chars.decode(chars.encode("hello"))
'hello'
>>> iso = Vocab("0123456789- ", specials=SEQ2SEQ_SPECIALS, unk="<unk>")
>>> iso.encode("2021", bos=True, eos=True)
tensor([1, 6, 4, 6, 5, 2])
>>> iso.decode([1, 6, 4, 6, 5, 2, 0, 0])
'2021'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

__all__ = ["PAD", "BOS", "EOS", "UNK", "REPLACEMENT", "SEQ2SEQ_SPECIALS", "Vocab"]

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
REPLACEMENT = "\ufffd"  # how an unknown symbol is written back as text
SEQ2SEQ_SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3


class Vocab:
    """Tokens <-> ids. ``sep`` joins decoded tokens: ``""`` for characters, ``" "`` for words."""

    def __init__(
        self,
        tokens: Iterable[str],
        specials: Sequence[str] = (),
        unk: str | None = REPLACEMENT,
        sep: str = "",
    ):
        tokens = list(tokens)
        if any(not isinstance(t, str) or not t for t in tokens):
            raise ValueError("every vocabulary entry must be a non-empty string")
        self.specials = tuple(specials)
        self.tokens = list(dict.fromkeys([*self.specials, *tokens]))  # keep order, drop repeats
        if unk is not None and unk not in self.tokens:
            self.tokens.append(unk)
        self.unk = unk
        self.sep = sep
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_text(
        cls, text: str | Iterable[str], min_count: int = 1, specials: Sequence[str] = ()
    ) -> Vocab:
        """The characters of ``text`` seen at least ``min_count`` times, most frequent first
        (ties by code point); rarer ones are encoded as the unknown symbol."""
        counts = Counter(text) if isinstance(text, str) else Counter(c for part in text for c in part)
        if not counts:
            raise ValueError("cannot build a character vocabulary from empty text")
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count={min_count!r} must be a positive integer")
        kept = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(kept, specials=specials)

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        shown = self.sep.join(t for t in self.tokens if t not in self.specials and t != self.unk)
        return f"Vocab({shown[:40]!r}{'...' if len(shown) > 40 else ''}, {len(self)} ids)"

    def _id_of(self, symbol: str) -> int | None:
        return self.index.get(symbol) if symbol in self.specials or symbol == self.unk else None

    @property
    def unk_id(self) -> int | None:
        return None if self.unk is None else self.index[self.unk]

    @property
    def pad_id(self) -> int | None:
        return self._id_of(PAD)

    @property
    def bos_id(self) -> int | None:
        return self._id_of(BOS)

    @property
    def eos_id(self) -> int | None:
        return self._id_of(EOS)

    def encode(self, text: str | Sequence[str], bos: bool = False, eos: bool = False) -> torch.Tensor:
        """Ids of the tokens of ``text`` (a string of characters, or a list of tokens), optionally
        framed by the begin and end symbols: a 1-D LongTensor, ready for an ``nn.Embedding``."""
        if (bos and self.bos_id is None) or (eos and self.eos_id is None):
            raise ValueError(f"this vocabulary has no {BOS if bos else EOS} symbol: build it with specials=SEQ2SEQ_SPECIALS")
        unk = self.unk_id
        if unk is None:
            missing = [t for t in text if t not in self.index]
            if missing:
                raise KeyError(f"{missing[0]!r} is not in the vocabulary")
        ids = [self.index.get(t, unk) for t in text]
        return torch.tensor([self.bos_id] * bos + ids + [self.eos_id] * eos, dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Text for ``ids``: stops at the first end symbol, skips padding and begin symbols,
        writes the unknown symbol as the replacement character."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        skip = {self.pad_id, self.bos_id} - {None}
        out = []
        for i in ids:
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.tokens):
                raise ValueError(f"id {i!r} is not an integer in [0, {len(self.tokens)})")
            if i == self.eos_id:
                break
            if i in skip:
                continue
            out.append(REPLACEMENT if i == self.unk_id else self.tokens[i])
        return self.sep.join(out)
