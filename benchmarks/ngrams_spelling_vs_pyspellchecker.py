"""Spelling correction: helpers.ngrams.SpellingCorrector against pyspellchecker.

Both correct the same held-out codespell misspellings (``misspelling_split("test")``: a fixed
half chosen by hash, never used to build or tune our corrector), one word at a time, without
context. Prints a markdown table of top-1 and top-5 accuracy, time per word and set-up time.

pyspellchecker (Barrus, after Norvig's essay) proposes the known words at distance 1, else at
distance 2, ranked by its own word frequencies; its top-5 list is its ``candidates()`` sorted
by frequency. Ours ranks every word within distance 2 by the noisy channel (see
helpers/ngrams/spelling.py); "novel_weight=0" is the classic assumption that an unknown string is
always a typo, which suits this test set (it contains only typos) but not real text.

    python benchmarks/ngrams_spelling_vs_pyspellchecker.py [--n 1000]
"""

from __future__ import annotations

import argparse
import platform
import time


def timed_eval(rank, pairs):
    from helpers.data import top_k_accuracy

    t0 = time.perf_counter()
    result = top_k_accuracy(rank, pairs, k=5)
    return result, (time.perf_counter() - t0) / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=1000, help="held-out misspellings to correct (default 1000)"
    )
    args = parser.parse_args()

    import spellchecker

    from helpers.data import misspelling_split
    from helpers.ngrams import SpellingConfig, SpellingCorrector

    pairs = misspelling_split("test", size=args.n)
    rows = []

    for name, config in [("helpers.ngrams.spelling (default)", SpellingConfig()),
                         ("helpers.ngrams.spelling, novel_weight=0", SpellingConfig(novel_weight=0.0))]:  # fmt: skip
        t0 = time.perf_counter()
        corrector = SpellingCorrector(config=config)
        setup = time.perf_counter() - t0
        result, per_word = timed_eval(
            lambda w, c=corrector: [x for x, _ in c.candidates(w, 5)], pairs
        )
        rows.append((name, result, per_word, setup))

    t0 = time.perf_counter()
    checker = spellchecker.SpellChecker(distance=2)
    setup = time.perf_counter() - t0

    def rank(word):
        found = checker.candidates(word) or {word}
        return sorted(found, key=lambda c: (-checker.word_usage_frequency(c), c))

    result, per_word = timed_eval(rank, pairs)
    rows.append(
        (f"pyspellchecker {_version('pyspellchecker')} (distance 2)", result, per_word, setup)
    )

    print(
        f"{len(pairs)} held-out codespell misspellings; {platform.machine()}, Python {platform.python_version()}\n"
    )
    print("| corrector | top-1 | top-5 | ms / word | set-up (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, result, per_word, setup in rows:
        print(
            f"| {name} | {result['top1']:.1%} | {result['top5']:.1%} | {per_word * 1000:.1f} | {setup:.1f} |"
        )
    ours, theirs = rows[0], rows[-1]
    print(f"\nRatios, ours (default) / pyspellchecker: top-1 {ours[1]['top1'] / theirs[1]['top1']:.2f}, "
          f"top-5 {ours[1]['top5'] / theirs[1]['top5']:.2f}, time per word {ours[2] / theirs[2]:.2f}.")  # fmt: skip


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
