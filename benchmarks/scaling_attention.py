"""Week 7: plain vs tiled attention (online softmax) vs PyTorch's fused kernel, as T grows.

For causal self-attention of one sequence (2 heads of 32, float32): the peak extra tensor memory
that each implementation allocates (measured by :class:`helpers.scaling.memory.TensorMemory`,
which sees every tensor PyTorch creates), its largest tensor, the forward time (fastest of 3) and
the largest difference from plain attention. Plain attention is the readable kernel of week 5
(:func:`helpers.transformer.scaled_dot_product_attention`), tiled attention
:func:`helpers.scaling.tiled_attention`, the reference ``torch.nn.functional.scaled_dot_product_attention``.

    python benchmarks/scaling_attention.py                 # CPU, about a minute
    python benchmarks/scaling_attention.py --device cuda --lengths 1024 4096 16384
"""

from __future__ import annotations

import argparse
import platform
import sys

import torch
import torch.nn.functional as F

from helpers.course import best_time
from helpers.scaling import measure, tiled_attention
from helpers.transformer import causal_mask, scaled_dot_product_attention


def implementations(block: int):
    return {
        "plain (week 5)": lambda q, k, v: scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2], device=q.device))[0],
        f"tiled, blocks of {block}": lambda q, k, v: tiled_attention(q, k, v, causal=True, block_q=block, block_k=block),
        "torch sdpa (fused)": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {platform.machine()}, device {device}, {torch.get_num_threads()} thread(s); "
          f"causal self-attention, 1 sequence, 2 heads of 32, float32\n")
    print("| T | implementation | peak extra memory (MiB) | largest tensor | time (ms) | time / plain | max abs difference |")
    print("|---:|---|---:|---|---:|---:|---:|")
    for T in args.lengths:
        g = torch.Generator().manual_seed(T)
        q, k, v = (torch.randn(1, 2, T, 32, generator=g).to(device) for _ in range(3))
        reference, plain_time = None, None
        for name, fn in implementations(args.block).items():
            if name.startswith("plain") and T * T * 2 * 4 * 3 > 2**31:  # more than 2 GB of weights: skip
                print(f"| {T} | {name} | (skipped: {3 * T * T * 2 * 4 / 2**30:.0f} GiB) | | | | |")
                continue
            out, report = measure(fn, q, k, v) if device.type == "cpu" else (fn(q, k, v), None)
            with torch.no_grad():
                seconds = best_time(lambda fn=fn, q=q, k=k, v=v: fn(q, k, v))
            if name.startswith("plain"):
                reference, plain_time = out, seconds
            diff = f"{(out - reference).abs().max().item():.1e}" if reference is not None else "n/a"
            ratio = f"{seconds / plain_time:.2f}" if plain_time else "n/a"
            peak = f"{report.peak_bytes / 2**20:.2f}" if report else "n/a"
            shape = str(report.largest_shape) if report else "n/a"
            print(f"| {T} | {name} | {peak} | {shape} | {1000 * seconds:.1f} | {ratio} | {diff} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
