"""Kneser-Ney trigram: helpers.ngrams.NGramLM against NLTK's KneserNeyInterpolated.

Same training sentences, same held-out sentences (Wikipedia sample, split by article), words
seen once mapped to <unk> by both. Prints a markdown table: fit and scoring time, their ratio,
and both perplexities.

The perplexities are not expected to match: NLTK uses one fixed discount (0.1) at every order
instead of modified Kneser-Ney's three discounts per order estimated from counts-of-counts; it
pads with two <s> and two </s> (so it also predicts a second </s>, an easy event), and it does
not interpolate the unigram level with the uniform distribution. Our model equals KenLM's
lmplz to 1e-6 (tests/test_ngram.py). NLTK computes continuation counts by scanning every
n-gram at each query, so its scoring time grows with the training data: the comparison uses a
slice of the data; the last row is our model on the whole sample.

    python benchmarks/ngrams_vs_nltk.py [--train-sentences 2000] [--test-sentences 100]
"""

from __future__ import annotations

import argparse
import math
import platform
import time


def sentences(docs):
    from helpers.data import split_sentences, tokenize

    return [t for d in docs for s in split_sentences(d) if (t := tokenize(s))]


def ours(train, test, order):
    from helpers.ngrams import NGramLM

    t0 = time.perf_counter()
    model = NGramLM(order, smoothing="kneser-ney", min_count=2).fit(train)
    t1 = time.perf_counter()
    ppl = model.perplexity(test)
    t2 = time.perf_counter()
    tokens = sum(len(s) + 1 for s in test)
    return t1 - t0, t2 - t1, ppl, tokens


def nltk_kn(train, test, order):
    from nltk.lm import KneserNeyInterpolated, Vocabulary
    from nltk.lm.preprocessing import pad_both_ends, padded_everygram_pipeline
    from nltk.util import ngrams

    t0 = time.perf_counter()
    vocab = Vocabulary((w for s in train for w in s), unk_cutoff=2)
    model = KneserNeyInterpolated(order, vocabulary=vocab)
    grams, _ = padded_everygram_pipeline(order, train)
    model.fit(grams)
    t1 = time.perf_counter()
    test_grams = [
        g for s in test for g in ngrams(pad_both_ends(list(vocab.lookup(s)), order), order)
    ]
    ppl = model.perplexity(test_grams)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, ppl, len(test_grams)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-sentences", type=int, default=2000)
    parser.add_argument("--test-sentences", type=int, default=100)
    parser.add_argument("--order", type=int, default=3)
    args = parser.parse_args()

    import nltk

    from helpers.data import load_corpus, split_documents

    parts = split_documents(load_corpus("wikipedia"), seed=0)
    full_train, full_test = sentences(parts.train), sentences(parts.test)
    train, test = full_train[: args.train_sentences], full_test[: args.test_sentences]
    words = sum(map(len, train))

    a_fit, a_score, a_ppl, a_tokens = ours(train, test, args.order)
    b_fit, b_score, b_ppl, b_tokens = nltk_kn(train, test, args.order)
    c_fit, c_score, c_ppl, c_tokens = ours(full_train, full_test, args.order)

    print(f"Kneser-Ney {args.order}-gram, Wikipedia sample; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, NLTK {nltk.__version__}\n")  # fmt: skip
    print("| model | training words | test tokens | fit (s) | score (s) | total (s) | perplexity |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = [
        ("helpers.ngrams (modified KN, KenLM conventions)", words, a_tokens, a_fit, a_score, a_ppl),
        ("nltk.lm.KneserNeyInterpolated (discount 0.1)", words, b_tokens, b_fit, b_score, b_ppl),
        ("helpers.ngrams, whole sample", sum(map(len, full_train)), c_tokens, c_fit, c_score, c_ppl),
    ]
    for name, n_words, tokens, fit, score, ppl in rows:
        shown = f"{ppl:.1f}" if math.isfinite(ppl) else "inf"
        print(
            f"| {name} | {n_words:,} | {tokens:,} | {fit:.2f} | {score:.2f} | {fit + score:.2f} | {shown} |"
        )
    print(
        f"\nSpeed-up on the same data (NLTK time / ours): fit {b_fit / a_fit:.1f}x, "
        f"scoring {b_score / a_score:.0f}x, total {(b_fit + b_score) / (a_fit + a_score):.0f}x. "
        f"Perplexity ratio (NLTK / ours): {b_ppl / a_ppl:.2f} (different discounts and padding)."
    )


if __name__ == "__main__":
    main()
