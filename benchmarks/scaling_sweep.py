"""Week 7: a sweep of tiny GPTs (sizes x token budgets) on a CPU, and the scaling laws it gives.

Each point trains the course GPT (:class:`helpers.transformer.GPT`, learned positions, pre-LN, context
of 64 characters) from scratch on the Wikipedia sample for a budget of characters, with the
recipe of :func:`helpers.scaling.experiments.train_lm` (AdamW, lr 0.01, a warm-up of
min(200, half the steps), then a cosine decay to a tenth over exactly the budget), one seed, one
CPU thread. It records the validation
loss (nats per character, first 131,072 validation characters) and the word-completion scores
of the emergence experiment, and writes one CSV row per point, which the week 7 notebook loads:

    python benchmarks/scaling_sweep.py                    # the full sweep: 20 points, 85 minutes on a loaded 2-core machine
    python benchmarks/scaling_sweep.py --quick --out /tmp/sweep.csv   # 4 small points, a smoke test

Then it fits, side by side with the published values:
1. L(N) = A / N^alpha (Kaplan et al. 2020's form) and L(N) = E + A / N^alpha on the largest
   budget, with 95% bootstrap intervals;
2. L(N, D) = E + A / N^alpha + B / D^beta on every point (Hoffmann et al. 2022, approach 3).
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from helpers.scaling.experiments import (
    SWEEP_FIELDS,
    SWEEP_SIZES,
    SWEEP_TOKENS,
    char_data,
    sweep_point,
    word_completion_items,
)
from helpers.scaling.laws import fit_loss_surface, fit_power_law
from helpers.scaling.published import CHINCHILLA, KAPLAN

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "helpers" / "scaling" / "data" / "sweep.csv"


def run_sweep(sizes, budgets, out: Path, seed: int = 0) -> list[dict]:
    data = char_data()
    items = word_completion_items(data.val_text, n_items=2000, seed=seed)
    rows = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SWEEP_FIELDS)
        writer.writeheader()
        for n_layer, n_embd, n_head in sizes:
            for tokens in budgets:
                row = sweep_point(data, n_layer, n_embd, n_head, tokens, seed=seed, items=items)
                row = {k: (round(v, 5) if isinstance(v, float) and k != "seconds" else v) for k, v in row.items()}
                writer.writerow(row)
                f.flush()
                rows.append(row)
                print(
                    f"n_layer={n_layer} n_embd={n_embd:>3} N={row['non_embedding']:>7,} D={tokens:>9,}: "
                    f"loss {row['val_loss']:.4f}, letters {row['letter_accuracy']:.3f}, exact {row['exact_match']:.3f} "
                    f"({row['seconds']:.0f} s)",
                    flush=True,
                )
    return rows


def read_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def report(rows: list[dict]) -> None:
    budgets = sorted({r["tokens"] for r in rows})
    sizes = sorted({r["non_embedding"] for r in rows})
    print("\nValidation loss (nats per character) by non-embedding parameters N and training characters D\n")
    print("| N | " + " | ".join(f"D = {d / 1e6:g}M" for d in budgets) + " |")
    print("|---:|" + "---:|" * len(budgets))
    for n in sizes:
        cells = [next((f"{r['val_loss']:.3f}" for r in rows if r["non_embedding"] == n and r["tokens"] == d), "") for d in budgets]
        print(f"| {int(n):,} | " + " | ".join(cells) + " |")
    print("\nWord completion (3 letters typed, complete the word; 2000 held-out words), largest budget\n")
    print("| N | letter accuracy | mean log-prob per letter | exact match |")
    print("|---:|---:|---:|---:|")
    last = [r for r in rows if r["tokens"] == budgets[-1]]
    for r in sorted(last, key=lambda r: r["non_embedding"]):
        print(f"| {int(r['non_embedding']):,} | {r['letter_accuracy']:.3f} | {r['letter_log_prob']:.3f} | {r['exact_match']:.3f} |")
    if len(last) < 4:
        print("\n(too few sizes to fit a law)")
        return
    N = np.array([r["non_embedding"] for r in last])
    L = np.array([r["val_loss"] for r in last])
    pure = fit_power_law(N, L, irreducible=False, bootstrap=1000, seed=0)
    offset = fit_power_law(N, L, irreducible=True, bootstrap=1000, seed=0)
    surface = fit_loss_surface([r["non_embedding"] for r in rows], [r["tokens"] for r in rows],
                               [r["val_loss"] for r in rows], bootstrap=200, seed=0)  # fmt: skip

    def ci(fit, name):
        lo, hi = fit.intervals[name]
        return f"[{lo:.3f}, {hi:.3f}]"

    print(f"\nFits (95% bootstrap intervals); D = {budgets[-1] / 1e6:g}M characters for L(N)\n")
    print("| law | fitted | published |")
    print("|---|---|---|")
    print(f"| L = A / N^alpha | alpha = {pure.alpha:.3f} {ci(pure, 'alpha')} | alpha_N = {KAPLAN['alpha_N']} (Kaplan et al. 2020, eq. 1.1; BPE tokens, converged) |")
    print(f"| L = E + A / N^alpha | alpha = {offset.alpha:.3f} {ci(offset, 'alpha')}, E = {offset.E:.3f} {ci(offset, 'E')} | alpha = {CHINCHILLA['alpha']}, E = {CHINCHILLA['E']} (Hoffmann et al. 2022, eq. 10) |")
    print(f"| L = E + A / N^alpha + B / D^beta | alpha = {surface.alpha:.3f} [{surface.intervals['alpha'][0]:.3f}, {surface.intervals['alpha'][1]:.3f}], "
          f"beta = {surface.beta:.3f} [{surface.intervals['beta'][0]:.3f}, {surface.intervals['beta'][1]:.3f}], E = {surface.E:.3f} "
          f"| alpha = {CHINCHILLA['alpha']}, beta = {CHINCHILLA['beta']}, E = {CHINCHILLA['E']} |")
    print(f"| N_opt ~ C^a | a = {surface.a:.3f} | a = 0.46 (approach 3), 0.50 (approach 1); Kaplan: 0.73 |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"CSV to write (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="two sizes x two budgets, to try the script")
    parser.add_argument("--report-only", action="store_true", help="fit and print the tables of an existing CSV")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {platform.machine()}, Python {platform.python_version()}, 1 thread; {time.strftime('%Y-%m-%d')}")
    if args.report_only:
        rows = read_rows(args.out)
    else:
        sizes, budgets = (SWEEP_SIZES[:2], SWEEP_TOKENS[:2]) if args.quick else (SWEEP_SIZES, SWEEP_TOKENS)
        start = time.perf_counter()
        rows = run_sweep(sizes, budgets, args.out, seed=args.seed)
        print(f"sweep: {len(rows)} points in {(time.perf_counter() - start) / 60:.1f} minutes; wrote {args.out}")
        rows = read_rows(args.out)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
