"""Week 6 headline: test accuracy vs number of labelled examples, with and without pre-training.

On the topic task of ``helpers.pretraining.load_topics`` (Wikipedia sentences labelled with
their article's topic, six topics, test articles never seen in training), for training sets of
50, 100, 300, 1000 and all (2139) sentences, balanced over topics and drawn with several seeds:

- ``minilm-finetuned``: the pre-trained all-MiniLM-L6-v2 with a linear head on its mean-pooled
  output, every weight fine-tuned (``helpers.pretraining.results.RECIPE``);
- ``scratch``: the same architecture (6 layers, H=384) from random initialisation, trained with
  the same recipe at its own learning rate (``SCRATCH_LR``);
- ``minilm-probe``: logistic regression on the frozen MiniLM's sentence embeddings;
- ``tfidf``: TF-IDF of words and word pairs + logistic regression (scikit-learn).

With ``--sweep``, then the frozen-layers x learning-rate sweep of experiment 4 at n=100, scored
on the *validation* articles. Every point is ``helpers.pretraining.results.learning_curve_point``,
the function the notebook calls to rerun one point live. Rows are written as they come to two
CSV files in ``helpers/pretraining/results/`` (package data that the week-6 notebook reads).
Run from the repository root:

    python benchmarks/pretraining_learning_curve.py --sweep        # about an hour on 2 idle cores
    python benchmarks/pretraining_learning_curve.py --sizes 50 100 --seeds 0 --out /tmp/quick.csv

It prints the markdown table of benchmarks/README.md at the end.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import torch

from helpers.pretraining import encode_sentences, load_minilm, load_topics
from helpers.pretraining.results import (
    LEARNING_CURVE_CSV,
    MAX_LENGTH,
    METHODS,
    SWEEP_CSV,
    learning_curve_point,
)

SIZES = (50, 100, 300, 1000, 0)  # 0 = every training sentence


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="training-set sizes (0 = all)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="seeds for sizes up to 300")
    parser.add_argument("--big-seeds", type=int, nargs="*", default=[0], help="seeds for sizes above 300")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--sweep", action="store_true", help="also run the frozen-layers x learning-rate sweep")
    parser.add_argument("--sweep-n", type=int, default=100, help="labelled sentences in the sweep")
    parser.add_argument("--only-sweep", action="store_true", help="skip the learning curve")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the notebook uses 1: same numbers)")
    parser.add_argument("--out", type=Path, default=LEARNING_CURVE_CSV)
    parser.add_argument("--sweep-out", type=Path, default=SWEEP_CSV)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    task = load_topics()
    model, tok = load_minilm(fast=True)
    embeddings = None
    if "minilm-probe" in args.methods and not args.only_sweep:
        embeddings = {s: encode_sentences(model, tok, task.texts(s), max_length=MAX_LENGTH) for s in ("train", "test")}
    if args.only_sweep:
        return sweep(task, tok, args.sweep_out, args.sweep_n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["method", "n_train", "seed", "accuracy", "seconds"])
        writer.writeheader()
        seeds = list(dict.fromkeys(args.big_seeds + args.seeds))  # the whole curve of the first seed comes first
        for seed in seeds:
            for size in [n or len(task.train) for n in args.sizes]:
                if seed not in (args.seeds if size <= 300 else args.big_seeds):
                    continue
                for method in args.methods:
                    acc, seconds = learning_curve_point(method, task, tok, size, seed, embeddings=embeddings)
                    row = dict(method=method, n_train=size, seed=seed, accuracy=round(acc, 4), seconds=round(seconds, 1))
                    writer.writerow(row)
                    f.flush()
                    print(row, flush=True)
    print_table(args.out)
    if args.sweep:
        sweep(task, tok, args.sweep_out, args.sweep_n)


def sweep(task, tok, path: Path, n: int = 100, seed: int = 0) -> None:
    """Experiment 4: frozen layers x learning rate with n labelled sentences, accuracy on the
    validation articles."""
    runs = [("minilm-finetuned", freeze, lr) for freeze in (None, 3, 6) for lr in (3e-5, 1e-4, 3e-4)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["method", "freeze", "lr", "n_train", "seed", "val_accuracy", "seconds"])
        writer.writeheader()
        for method, freeze, lr in runs:
            acc, seconds = learning_curve_point(method, task, tok, n, seed, split="validation", lr=lr, freeze=freeze)
            row = dict(method=method, freeze="none" if freeze is None else freeze, lr=lr, n_train=n, seed=seed,
                       val_accuracy=round(acc, 4), seconds=round(seconds, 1))  # fmt: skip
            writer.writerow(row)
            f.flush()
            print(row, flush=True)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    print("\n| model | frozen | lr | validation accuracy | seconds |\n|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['freeze']} | {r['lr']} | {100 * float(r['val_accuracy']):.1f}% | {r['seconds']} |")


def print_table(path: Path) -> None:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    print("\n| labelled examples | " + " | ".join(methods) + " |")
    print("|---:|" + "---:|" * len(methods))
    for n in sorted({int(r["n_train"]) for r in rows}):
        cells = []
        for m in methods:
            accs = [100 * float(r["accuracy"]) for r in rows if r["method"] == m and int(r["n_train"]) == n]
            spread = f" ± {statistics.stdev(accs):.1f}" if len(accs) > 1 else ""
            cells.append(f"{statistics.mean(accs):.1f}%{spread}" if accs else "")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
