"""Week 7: length extrapolation of four position schemes, trained short and tested long.

The same small decoder (:class:`helpers.scaling.ModernDecoder`: 2 layers, width 64, 4 heads,
RMSNorm, SwiGLU) with learned positions (GPT), sinusoidal ones (Vaswani et al. 2017), RoPE
(Su et al. 2021) or ALiBi (Press et al. 2022), trained on windows of 64 characters of the
Wikipedia sample (the recipe of :func:`helpers.scaling.experiments.train_lm`, lr 0.01), then
evaluated on 64 windows of 64, 128 and 256 validation characters, each read from its start:
the mean loss over all positions, and over the positions past the training length (Press et
al. 2022, Figure 1, evaluate the same way). Several seeds; one CSV row per model and length.

    python benchmarks/scaling_extrapolation.py                 # 4 schemes x 3 seeds, 55 minutes on a loaded 2-core machine
    python benchmarks/scaling_extrapolation.py --seeds 1 --tokens 300000   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from helpers.scaling.decoder import ModernConfig, ModernDecoder
from helpers.scaling.experiments import SWEEP_LR, char_data, loss_by_position, train_lm

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "helpers" / "scaling" / "data" / "extrapolation.csv"
POSITIONS = ("learned", "sinusoidal", "rope", "alibi")
FIELDS = ("position", "seed", "tokens", "train_length", "eval_length", "loss_all", "loss_beyond", "seconds")


def extrapolation_model(vocab_size: int, position: str, train_length: int = 64) -> ModernDecoder:
    return ModernDecoder(
        ModernConfig(vocab_size=vocab_size, block_size=train_length, n_layer=2, n_head=4, n_embd=64, position=position, attention="fast")
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1_000_000, help="training characters per model")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-length", type=int, default=64)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {platform.machine()}, Python {platform.python_version()}, 1 thread; {time.strftime('%Y-%m-%d')}")
    data = char_data()
    lengths = [args.train_length * m for m in (1, 2, 4)]
    rows = []
    for position in POSITIONS:
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            model = extrapolation_model(len(data.vocab), position, args.train_length)
            seconds = train_lm(model, data.train_ids, args.tokens, block_size=args.train_length, lr=SWEEP_LR, seed=seed)
            for length in lengths:
                if position == "learned" and length > args.train_length:
                    continue  # a learned table has no vector for these positions
                per_position = loss_by_position(model, data.val_ids, length, n_windows=64)
                rows.append({
                    "position": position, "seed": seed, "tokens": args.tokens, "train_length": args.train_length,
                    "eval_length": length, "loss_all": round(per_position.mean().item(), 5),
                    "loss_beyond": round(per_position[args.train_length:].mean().item(), 5) if length > args.train_length else "",
                    "seconds": round(seconds, 1),
                })  # fmt: skip
            print(f"{position:<10} seed {seed}: " + ", ".join(f"{r['eval_length']}: {r['loss_all']:.3f}" for r in rows if r["position"] == position and r["seed"] == seed), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {args.out}\n")
    print(f"Mean validation loss (nats per character) over all positions of windows of each length; "
          f"trained on {args.train_length}-character windows, {args.tokens:,} characters, mean ± sd over {args.seeds} seeds\n")
    print("| positions | " + " | ".join(f"{m}x ({L})" for m, L in zip((1, 2, 4), lengths, strict=True)) + f" | past {args.train_length}, at 4x |")
    print("|---|" + "---:|" * 4)
    for position in POSITIONS:
        cells = []
        for length in lengths:
            values = [r["loss_all"] for r in rows if r["position"] == position and r["eval_length"] == length]
            cells.append(_mean_sd(values))
        beyond = [r["loss_beyond"] for r in rows if r["position"] == position and r["eval_length"] == lengths[-1]]
        cells.append(_mean_sd(beyond))
        print(f"| {position} | " + " | ".join(cells) + " |")
    return 0


def _mean_sd(values) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


if __name__ == "__main__":
    sys.exit(main())
