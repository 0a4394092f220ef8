"""Our word2vec (helpers.embeddings.word2vec) against gensim's, side by side, in one run.

Same corpus (the Wikipedia sample, lower-cased word tokens), same hyperparameters (gensim's
defaults except the number of epochs), the same number of worker threads (``workers``; both
then update the vectors without locks, Hogwild-style, so runs with 2 workers are not
bit-for-bit repeatable). For skip-gram and CBOW it
reports the Google analogy accuracy (3CosAdd, questions with all four words in the vocabulary),
Spearman's rho on WordSim-353 and SimLex-999, and the training speed in corpus words per second
(vocabulary building included for both), with ours / gensim ratios.

    python benchmarks/embeddings_word2vec_vs_gensim.py                  # 2 threads, 20 epochs
    taskset -c 0,1 python benchmarks/embeddings_word2vec_vs_gensim.py   # pinned to two cores
    python benchmarks/embeddings_word2vec_vs_gensim.py --threads 1 --epochs 5 --arch sg
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="workers (threads) for both (default 2)")
    parser.add_argument("--epochs", type=int, default=20, help="passes over the corpus (default 20)")
    parser.add_argument("--arch", choices=["sg", "cbow", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from gensim.models import Word2Vec as GensimWord2Vec

    from helpers.data import load_analogies, load_sentences, load_word_similarity
    from helpers.embeddings import Embeddings, Word2Vec, evaluate_analogies, evaluate_similarity

    sentences = load_sentences("wikipedia")
    n_words = sum(map(len, sentences))
    questions = load_analogies()
    wordsim, simlex = load_word_similarity("wordsim353"), load_word_similarity("simlex999")
    # gensim's defaults (word2vec.c's, except the learning rates: the C code starts CBOW at 0.05 and
    # stops at alpha * 1e-4), written out so that both get the same
    shared = dict(window=5, negative=5, min_count=5, sample=1e-3, alpha=0.025, min_alpha=1e-4, epochs=args.epochs)

    rows = []
    for arch in (["sg", "cbow"] if args.arch == "both" else [args.arch]):
        sg = arch == "sg"
        start = time.perf_counter()
        ours = Word2Vec(dim=100, sg=sg, seed=args.seed, workers=args.threads, **shared)
        ours.fit(sentences, progress=False)
        ours_seconds = time.perf_counter() - start

        start = time.perf_counter()
        ref = GensimWord2Vec(
            sentences, vector_size=100, sg=int(sg), seed=args.seed, workers=args.threads, **shared
        )
        ref_seconds = time.perf_counter() - start
        theirs = Embeddings(ref.wv.index_to_key, ref.wv.vectors)

        name = "skip-gram" if sg else "CBOW"
        a_ours, a_ref = evaluate_analogies(ours, questions), evaluate_analogies(theirs, questions)
        rows.append((name, f"analogy accuracy, % ({a_ours.answered} of {a_ours.asked} questions)",
                     100 * a_ours.accuracy, 100 * a_ref.accuracy))  # fmt: skip
        for label, pairs in (("WordSim-353", wordsim), ("SimLex-999", simlex)):
            s_ours, s_ref = evaluate_similarity(ours, pairs), evaluate_similarity(theirs, pairs)
            rows.append((name, f"{label} Spearman rho ({s_ours.used} pairs)", s_ours.rho, s_ref.rho))
        rows.append((name, "words per second", args.epochs * n_words / ours_seconds, args.epochs * n_words / ref_seconds))
        rows.append((name, "vocabulary size", len(ours.words), len(theirs.words)))

    print(
        f"word2vec on the Wikipedia sample ({n_words:,} words, {len(sentences):,} sentences), dim 100, "
        f"window 5, 5 negatives, min_count 5, sample 1e-3, {args.epochs} epochs, {args.threads} thread(s); "
        f"torch {torch.__version__}, gensim {__import__('gensim').__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs visible\n"
    )
    print("| model | metric | ours | gensim | ours / gensim | ours - gensim |")
    print("|---|---|---:|---:|---:|---:|")
    for name, metric, a, b in rows:
        fmt = (lambda x: f"{x:,.0f}") if abs(b) >= 100 else (lambda x: f"{x:.3f}")
        print(f"| {name} | {metric} | {fmt(a)} | {fmt(b)} | {a / b:.2f} | {fmt(a - b)} |")


if __name__ == "__main__":
    main()
