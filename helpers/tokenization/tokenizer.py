"""A byte-level BPE tokenizer: train, encode, decode, special tokens, save and load.

The pieces: a split pattern (:mod:`~helpers.tokenization.pretokenize`), the merges (a rank per
pair: the id of the token it makes), the byte each of the 256 first tokens stands for, and
special tokens. Encoding follows GPT-2 and tiktoken: cut out special tokens, split the rest with
the pattern, turn each chunk into UTF-8 bytes, apply merges in the order they were learned
(:func:`~helpers.tokenization.bpe.encode_chunk`). Decoding concatenates the bytes of the tokens.

Special tokens follow tiktoken's rules: ``encode`` raises a ``ValueError`` when the text
contains a special token's string that is not explicitly allowed (text typed by a user must not
be able to inject ``<|endoftext|>``); ``allowed_special="all"`` encodes them as their ids;
``disallowed_special=()`` treats them as ordinary text.

Two shortcuts make the pure-Python encoder fast; neither changes a single id (tested):

- a chunk whose bytes are exactly one token is looked up instead of merged (tiktoken does the
  same). That is exact for every token BPE training can make: replaying the merges on the
  token's own bytes rebuilds it. ``whole_tokens="verify"`` (default) checks this for each token
  and leaves out any that fails (possible only in a hand-made merge table); ``"trust"`` skips
  the check (``from_tiktoken``: every cl100k token passes it, see the tests); ``"off"``.
- a chunk that occurred before is not encoded again; ``cache_size`` bounds that table (0 turns
  it off).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from helpers.tokenization.bpe import Pair, encode_chunk
from helpers.tokenization.pretokenize import (
    GPT4_PATTERN,
    PATTERNS,
    compile_pattern,
    split_special,
    utf8,
)

__all__ = ["Tokenizer", "load"]

FORMAT = "nextword-bpe"
FORMAT_VERSION = 1


class Tokenizer:
    """Byte-level BPE. Build one with :func:`~helpers.tokenization.train`,
    :func:`~helpers.tokenization.from_tiktoken` or :func:`load`.

    ``merges``: ``{(a, b): new_id}``; ``byte_ids[i]``: the id of the token for byte ``i``
    (``range(256)`` for our trained tokenizers; a permutation for tiktoken's);
    ``special_tokens``: ``{string: id}``.
    """

    def __init__(
        self,
        merges: Mapping[Pair, int],
        pattern: str = GPT4_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
        byte_ids: Sequence[int] | None = None,
        name: str = "bpe",
        cache_size: int = 100_000,
        whole_tokens: Literal["verify", "trust", "off"] = "verify",
    ):
        self.pattern = PATTERNS.get(pattern, pattern)
        self._split = compile_pattern(self.pattern).findall
        self.byte_ids = tuple(range(256)) if byte_ids is None else tuple(int(i) for i in byte_ids)
        if sorted(set(self.byte_ids)) != sorted(self.byte_ids) or len(self.byte_ids) != 256:
            raise ValueError("byte_ids must give 256 distinct ids, one per byte value")
        self.merges = {(int(a), int(b)): int(c) for (a, b), c in merges.items()}
        self.special_tokens = dict(special_tokens or {})
        self.name = name
        if cache_size < 0:
            raise ValueError(f"cache_size={cache_size} must be 0 (no cache) or a positive number of chunks")
        self.cache_size = cache_size
        self._cache: dict[str, tuple[int, ...]] = {}
        self.vocab = self._build_vocab()
        if whole_tokens not in ("verify", "trust", "off"):
            raise ValueError(f"whole_tokens={whole_tokens!r} must be 'verify', 'trust' or 'off'")
        self.whole_tokens = whole_tokens
        self._whole = self._whole_tokens(whole_tokens)
        self.inverse_special = {i: s for s, i in self.special_tokens.items()}
        clash = set(self.inverse_special) & set(self.vocab)
        if clash:
            raise ValueError(f"special token ids {sorted(clash)[:5]} are already ordinary tokens: pick ids >= {max(self.vocab) + 1}")

    def _build_vocab(self) -> dict[int, bytes]:
        vocab = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        for (a, b), c in sorted(self.merges.items(), key=lambda item: item[1]):
            if a not in vocab or b not in vocab:
                raise ValueError(f"merge ({a}, {b}) -> {c} uses a token that no earlier merge made")
            if c in vocab:
                raise ValueError(f"merge ({a}, {b}) -> {c}: token {c} already exists")
            vocab[c] = vocab[a] + vocab[b]
        return vocab

    def _whole_tokens(self, mode: str) -> dict[bytes, int]:
        if mode == "off":
            return {}
        if mode == "trust":
            return {b: i for i, b in self.vocab.items()}
        byte_ids = self.byte_ids
        return {b: i for i, b in self.vocab.items() if len(b) == 1 or encode_chunk([byte_ids[x] for x in b], self.merges) == [i]}

    # -- sizes -----------------------------------------------------------------------------
    @property
    def n_vocab(self) -> int:
        """Size of an embedding table for these ids: the largest id + 1 (special tokens too)."""
        return max([*self.vocab, *self.inverse_special]) + 1

    def __repr__(self) -> str:
        return f"Tokenizer(name={self.name!r}, merges={len(self.merges)}, special={len(self.special_tokens)}, n_vocab={self.n_vocab})"

    def truncated(self, vocab_size: int) -> Tokenizer:
        """The same tokenizer with only its first ``vocab_size - 256`` merges: the BPE tokenizer
        that training to ``vocab_size`` would have given (merges are learned in order). Special
        tokens are left out: their ids belong to the full vocabulary."""
        n = vocab_size - 256
        if not 0 <= n <= len(self.merges):
            raise ValueError(f"vocab_size={vocab_size} must be between 256 and {256 + len(self.merges)}")
        kept = dict(sorted(self.merges.items(), key=lambda item: item[1])[:n])
        return Tokenizer(kept, self.pattern, {}, self.byte_ids, f"{self.name}[:{vocab_size}]", self.cache_size,
                         whole_tokens=self.whole_tokens)  # a token needs only the merges before it

    # -- encoding ----------------------------------------------------------------------------
    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` with no special-token handling (their strings are plain text)."""
        ids: list[int] = []
        cache, byte_ids, merges, whole = self._cache, self.byte_ids, self.merges, self._whole
        for chunk in self._split(text):
            found = cache.get(chunk)
            if found is None:
                data = utf8(chunk)
                token = whole.get(data)
                found = (token,) if token is not None else tuple(encode_chunk([byte_ids[b] for b in data], merges))
                if self.cache_size:
                    if len(cache) >= self.cache_size:
                        cache.clear()  # simple and bounded; a chunk is cheap to encode again
                    cache[chunk] = found
            ids.extend(found)
        return ids

    def encode(
        self,
        text: str,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encode ``text`` to token ids, with tiktoken's rules for special tokens.

        >>> tok = Tokenizer({}, special_tokens={"<|end|>": 256})
        >>> tok.encode("hi<|end|>", allowed_special="all")
        [104, 105, 256]
        """
        if not isinstance(text, str):
            raise ValueError(f"encode takes a str, got {type(text).__name__}: decode bytes first (bytes.decode('utf-8'))")
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(f"allowed_special names {sorted(unknown)}, which are not special tokens of {self.name}")
        disallowed = set(self.special_tokens) - allowed if disallowed_special == "all" else set(disallowed_special)
        if disallowed:
            for piece, special in split_special(text, disallowed):
                if special:
                    raise ValueError(
                        f"the text contains the special token {piece!r}. To encode it as a special token pass "
                        f"allowed_special={{{piece!r}}}; to encode it as plain text pass disallowed_special=()"
                    )
        ids: list[int] = []
        for piece, special in split_special(text, allowed):
            ids.extend([self.special_tokens[piece]] if special else self.encode_ordinary(piece))
        return ids

    def encode_batch(self, texts: Iterable[str], **options) -> list[list[int]]:
        return [self.encode(text, **options) for text in texts]

    # -- decoding ----------------------------------------------------------------------------
    def token_bytes(self, token: int) -> bytes:
        """The bytes a token stands for (a special token: its UTF-8 string)."""
        if token in self.vocab:
            return self.vocab[token]
        if token in self.inverse_special:
            return self.inverse_special[token].encode("utf-8")
        raise ValueError(f"token id {token!r} is not in {self.name} (ids run to {self.n_vocab - 1})")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        vocab = self.vocab
        try:
            return b"".join(vocab[i] for i in ids)
        except (KeyError, TypeError):
            return b"".join(self.token_bytes(int(i)) for i in ids)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Text of the ids. A token can end inside a multi-byte character; such broken bytes
        become U+FFFD with ``errors="replace"`` (tiktoken's default) or raise with ``"strict"``."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def pieces(self, text: str, allowed_special: Literal["all"] | Collection[str] = "all") -> list[tuple[int, str]]:
        """``[(id, readable text of the token), ...]`` for display."""
        return [(i, self.token_bytes(i).decode("utf-8", "replace")) for i in self.encode(text, allowed_special)]

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the tokenizer as JSON (merges in learning order, pattern, specials, byte ids)."""
        path = Path(path)
        record = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "pattern": self.pattern,
            "byte_ids": list(self.byte_ids),
            "merges": [[a, b, c] for (a, b), c in sorted(self.merges.items(), key=lambda item: item[1])],
            "special_tokens": self.special_tokens,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)  # never a half-written tokenizer file
        return path


def load(path: str | os.PathLike, cache_size: int = 100_000) -> Tokenizer:
    """Read a tokenizer written by :meth:`Tokenizer.save`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no tokenizer file at {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a tokenizer file written by Tokenizer.save ({error})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tokenizer file written by Tokenizer.save")
    if record.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {record.get('version')}; this course reads version {FORMAT_VERSION}")
    merges = {(a, b): c for a, b, c in record["merges"]}
    return Tokenizer(merges, record["pattern"], record["special_tokens"], record["byte_ids"], record["name"], cache_size)
