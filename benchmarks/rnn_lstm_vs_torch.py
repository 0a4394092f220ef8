"""The course's recurrent layers (helpers.rnn) against PyTorch's nn.RNN / nn.LSTM / nn.GRU.

1. Kernels: one forward and backward pass of a single layer, batch first, with the same
   weights: our step-by-step loop (the clear version), ours with ``fast=True`` (PyTorch's fused
   kernel on our parameters) and ``torch.nn.RNN`` / ``LSTM`` / ``GRU``. Milliseconds per pass
   (median of ``--repeats``), the ratio to torch, and the largest difference of the outputs.
2. Training: the week-3 character LSTM (``helpers.rnn.CharLM``: embedding, LSTM, linear; a GRU
   with ``--cell gru``) against the same model made of ``nn.Embedding``, ``nn.LSTM`` (or
   ``nn.GRU``) and ``nn.Linear``, started from
   the same weights and trained with truncated BPTT on the same Wikipedia batches for
   ``--steps`` steps: characters per second and validation bits per character. One run each.

Prints two markdown tables. Run from the repository root:

    python benchmarks/rnn_lstm_vs_torch.py                    # CPU, about 2 minutes on 2 cores
    python benchmarks/rnn_lstm_vs_torch.py --device cuda --steps 500
    python benchmarks/rnn_lstm_vs_torch.py --cell gru                  # the training table for the GRU
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from helpers.course import seed_everything, train_loop
from helpers.data import Vocab, char_corpus
from helpers.rnn import (
    GRU,
    LSTM,
    RNN,
    CharLM,
    CharLMConfig,
    TruncatedBPTT,
    stream_batches,
    stream_loss,
)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pass(layer, x, repeats: int, device) -> float:
    """Median milliseconds of forward + backward."""
    times = []
    for i in range(repeats + 2):  # two warm-up passes
        sync(device)
        start = time.perf_counter()
        out, _ = layer(x)
        out.sum().backward()
        sync(device)
        if i >= 2:
            times.append((time.perf_counter() - start) * 1000)
        layer.zero_grad(set_to_none=True)
    return statistics.median(times)


def kernel_table(args, device) -> None:
    shapes = [(64, 32, 16, 64), (32, 64, 32, 256), (16, 256, 64, 256)]  # (B, T, I, H)
    print("| layer | B, T, I, H | ours, clear (ms) | ours, fast=True (ms) | torch (ms) | clear / torch | fast / torch | max abs difference |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ours_cls, torch_cls in (("RNN (tanh)", RNN, nn.RNN), ("LSTM", LSTM, nn.LSTM), ("GRU", GRU, nn.GRU)):
        for B, T, n_in, H in shapes:
            torch.manual_seed(0)
            ref = torch_cls(n_in, H, batch_first=True).to(device)
            clear = ours_cls(n_in, H).to(device)
            clear.load_state_dict(ref.state_dict())
            fast = ours_cls(n_in, H, fast=True).to(device)
            fast.load_state_dict(ref.state_dict())
            x = torch.randn(B, T, n_in, device=device)
            with torch.no_grad():
                diff = max((clear(x)[0] - ref(x)[0]).abs().max().item(), (fast(x)[0] - ref(x)[0]).abs().max().item())
            ms = [time_pass(layer, x, args.repeats, device) for layer in (clear, fast, ref)]
            print(f"| {name} | {B}, {T}, {n_in}, {H} | {ms[0]:.2f} | {ms[1]:.2f} | {ms[2]:.2f} | "
                  f"{ms[0] / ms[2]:.2f} | {ms[1] / ms[2]:.2f} | {diff:.1e} |")  # fmt: skip


class TorchCharLM(nn.Module):
    """The reference: nn.Embedding -> nn.LSTM or nn.GRU (batch_first) -> nn.Linear, same parameter names."""

    def __init__(self, c: CharLMConfig):
        super().__init__()
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.rnn = (nn.GRU if c.cell == "gru" else nn.LSTM)(c.embed_dim, c.hidden_size, c.num_layers, batch_first=True)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)

    def forward(self, ids, state=None):
        output, state = self.rnn(self.embed(ids), state)
        return self.head(output), state


def training_table(args, device) -> None:
    train_text, val_text, _ = char_corpus("wikipedia")
    vocab = Vocab.from_text(train_text, min_count=20)
    train_ids = vocab.encode(train_text).to(device)
    val_ids = vocab.encode(val_text)[: args.val_chars]
    config = CharLMConfig(vocab_size=len(vocab), hidden_size=args.hidden, embed_dim=32, cell=args.cell)
    seed_everything(args.seed)
    start_weights = CharLM(config).state_dict()
    rows = []
    for label, model in (
        (f"helpers.rnn.CharLM ({args.cell}), clear", CharLM(config)),
        (f"helpers.rnn.CharLM ({args.cell}), fast=True", CharLM(CharLMConfig(**{**config.__dict__, "fast": True}))),
        (f"nn.Embedding + nn.{args.cell.upper()} + nn.Linear", TorchCharLM(config)),
    ):
        model.load_state_dict(start_weights)
        model.to(device)
        steps = args.clear_steps if "clear" in label and args.clear_steps else args.steps
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        batches = stream_batches(train_ids, args.batch_size, args.bptt)
        sync(device)
        start = time.perf_counter()
        train_loop(model, batches, TruncatedBPTT(), optimizer, steps, grad_clip=1.0, progress=False)
        sync(device)
        seconds = time.perf_counter() - start
        bpc = stream_loss(model, val_ids, batch_size=16, bptt=256) / math.log(2)
        rows.append((label, steps, steps * args.batch_size * args.bptt / seconds, bpc))
    torch_speed = rows[-1][2]
    print("| model | steps | characters / s | ratio to torch | validation bpc after the steps |")
    print("|---|---|---|---|---|")
    for label, steps, speed, bpc in rows:
        print(f"| {label} | {steps} | {speed:,.0f} | {speed / torch_speed:.2f} | {bpc:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300, help="training steps of each model")
    parser.add_argument("--clear-steps", type=int, default=None, help="fewer steps for the slow clear version")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm", help="the character model's cell")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--val-chars", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")
    kernel_table(args, device)
    print()
    training_table(args, device)


if __name__ == "__main__":
    main()
