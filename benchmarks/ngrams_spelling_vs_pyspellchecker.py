"""Spelling correction: helpers.ngrams.SpellingCorrector against pyspellchecker and symspellpy.

All correct the same held-out codespell misspellings, one word at a time, without context:
``misspelling_split("test")``, the pairs whose correction word has an odd SHA-1. Our learned
channel is estimated on the other half (``"train"``, even SHA-1), so no test word and no test
pair was seen in training; nothing is tuned on the test half. Prints two markdown tables: all
test pairs, and those whose correction is a common English word (Zipf frequency >= 3 in
wordfreq, at least one per million words).

- pyspellchecker (Barrus, after Norvig's essay) proposes the known words at distance 1, else
  at distance 2, ranked by its own word frequencies; its top-5 is ``candidates()`` sorted by
  frequency.
- symspellpy (Garbe's SymSpell) with its bundled English frequency dictionary, maximum edit
  distance 2, all suggestions ranked by distance, then frequency.
- Ours ranks every word within distance 2 by prior times the learned channel (see
  helpers/ngrams/spelling.py and helpers/ngrams/channel.py). ``novel_weight=0`` is the classic
  assumption that an unknown string is always a typo, which suits this test set (it holds only
  typos) but not real text; the ``frequency-list`` row is the corrector before the learned
  channel (issue 21), with its previous defaults.

    python benchmarks/ngrams_spelling_vs_pyspellchecker.py [--n 1000] [--previous DIR]

``--previous DIR`` also times ``SpellingCorrector()`` of another copy of the package (e.g.
``git archive e35039d helpers | tar -x -C DIR``, the corrector before the learned channel) on
the same pairs, alternating with this one, best of 3 each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

_TIMER = """
import json, sys, time
from helpers.ngrams import SpellingCorrector
pairs = json.load(open(sys.argv[1]))
corrector = SpellingCorrector()
best = []
for _ in range(3):
    t0 = time.perf_counter()
    top1 = sum(corrector.candidates(w, 5)[0][0] == r for w, r in pairs)
    best.append(time.perf_counter() - t0)
print(json.dumps({"ms": min(best) / len(pairs) * 1000, "top1": top1 / len(pairs)}))
"""


def time_package(root, pairs):
    """ms per word and top-1 of ``SpellingCorrector()`` from the package under ``root``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(pairs, f)
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", _TIMER, f.name], env=env, cwd=str(root),  # cwd first on sys.path
                          capture_output=True, text=True, check=True)
    os.unlink(f.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_eval(rank, pairs, subset):
    """Accuracy on ``pairs`` and on ``subset`` of them (each word ranked once), and the time
    per word."""
    from helpers.data import top_k_accuracy

    t0 = time.perf_counter()
    ranked = {w: list(rank(w))[:5] for w, _ in pairs}
    per_word = (time.perf_counter() - t0) / len(pairs)
    return top_k_accuracy(ranked.get, pairs, k=5), top_k_accuracy(ranked.get, subset, k=5), per_word


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="held-out misspellings to correct (default 1000)")
    parser.add_argument("--previous", help="folder holding an earlier copy of the helpers package, to time against")
    parser.add_argument("--previous-only", action="store_true", help="with --previous: only that timing")
    args = parser.parse_args()
    if args.previous_only:
        return compare_with_previous(args.previous, args.n)

    from wordfreq import zipf_frequency

    from helpers.data import misspelling_split
    from helpers.ngrams import SpellingConfig, SpellingCorrector

    pairs = misspelling_split("test", size=args.n)
    common = [(w, r) for w, r in pairs if zipf_frequency(r, "en") >= 3]
    rows = []

    configs = [
        ("helpers.ngrams, learned channel (default)", SpellingConfig()),
        ("helpers.ngrams, learned channel, novel_weight=0", SpellingConfig(novel_weight=0.0)),
        ("helpers.ngrams, frequency-list channel (before)",
         SpellingConfig(channel="frequency-list", alpha=0.99, rare_weight=0.01)),
    ]  # fmt: skip
    for name, config in configs:
        t0 = time.perf_counter()
        corrector = SpellingCorrector(config=config)
        setup = time.perf_counter() - t0
        rank = lambda w, c=corrector: [x for x, _ in c.candidates(w, 5)]  # noqa: E731
        rows.append((name, rank, setup))

    import spellchecker

    t0 = time.perf_counter()
    checker = spellchecker.SpellChecker(distance=2)
    setup = time.perf_counter() - t0

    def rank_pyspell(word):
        found = checker.candidates(word) or {word}
        return sorted(found, key=lambda c: (-checker.word_usage_frequency(c), c))

    rows.append((f"pyspellchecker {_version('pyspellchecker')} (distance 2)", rank_pyspell, setup))

    try:
        from importlib.resources import files

        from symspellpy import SymSpell, Verbosity

        t0 = time.perf_counter()
        sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        sym.load_dictionary(str(files("symspellpy") / "frequency_dictionary_en_82_765.txt"), 0, 1)
        setup = time.perf_counter() - t0

        def rank_symspell(word):
            found = sym.lookup(word, Verbosity.ALL, max_edit_distance=2, include_unknown=True)
            return [s.term for s in sorted(found, key=lambda s: (s.distance, -s.count, s.term))]

        rows.append((f"symspellpy {_version('symspellpy')} (distance 2, 82,765 words)", rank_symspell, setup))
    except ImportError:
        print("symspellpy is not installed: pip install symspellpy to add it to the table\n")

    results = []
    for name, rank, setup in rows:
        everything, frequent, per_word = timed_eval(rank, pairs, common)
        results.append((name, everything, frequent, per_word, setup))

    print(f"{len(pairs)} held-out codespell misspellings (test half: odd SHA-1 of the correction), "
          f"{len(common)} of them with a common correction (Zipf >= 3); "
          f"{platform.machine()}, Python {platform.python_version()}\n")  # fmt: skip
    print("| corrector | top-1 | top-5 | top-1, common words | top-5, common words | words / s | ms / word | set-up (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, everything, frequent, per_word, setup in results:
        print(f"| {name} | {everything['top1']:.1%} | {everything['top5']:.1%} | {frequent['top1']:.1%} | "
              f"{frequent['top5']:.1%} | {1 / per_word:,.1f} | {per_word * 1000:.2f} | {setup:.1f} |")  # fmt: skip
    ours, theirs = results[0], results[3]
    print(f"\nOurs (default) / pyspellchecker: top-1 {ours[1]['top1'] / theirs[1]['top1']:.3f} "
          f"(common words {ours[2]['top1'] / theirs[2]['top1']:.3f}), top-5 {ours[1]['top5'] / theirs[1]['top5']:.3f}, "
          f"words per second {theirs[3] / ours[3]:.1f}x.")  # fmt: skip
    if len(results) > 4:
        sym = results[4]
        print(f"Ours (default) / symspellpy: top-1 {ours[1]['top1'] / sym[1]['top1']:.3f}, "
              f"words per second {sym[3] / ours[3]:.2f}x.")  # fmt: skip
    if args.previous:
        compare_with_previous(args.previous, args.n)


def compare_with_previous(previous: str, n: int) -> None:
    """Time ``SpellingCorrector()`` of this checkout and of ``previous`` on the same pairs."""
    from pathlib import Path

    from helpers.data import misspelling_split

    this = Path(__file__).resolve().parent.parent
    subset = [list(p) for p in misspelling_split("test", size=min(n, 300))]
    timings = {"this checkout": [], previous: []}
    for _ in range(2):  # alternate, so that both see the same load
        for name, root in (("this checkout", this), (previous, previous)):
            timings[name].append(time_package(root, subset))
    print(f"\nSpellingCorrector() on the first {len(subset)} pairs, alternating runs, best of 3 per run:\n")
    print("| package | ms / word | top-1 |")
    print("|---|---:|---:|")
    for name, runs in timings.items():
        print(f"| {name} | {min(r['ms'] for r in runs):.2f} | {runs[0]['top1']:.1%} |")


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
