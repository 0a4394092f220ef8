"""The course's mini-GPT against the same model built from PyTorch's own layers, and its KV cache.

1. Training: ``helpers.transformer.GPT`` (readable attention, and ``fast=True``) and a reference GPT
   made only of ``torch.nn.TransformerEncoderLayer`` (pre-LN, GELU, causal mask) with the same
   sizes, the same initialisation, the same batches of the Wikipedia sample (characters), the
   same optimiser and the same number of steps: training throughput (tokens per second) and
   validation loss (nats per character) after training. One run each.
2. Generation: ``GPT.generate`` with and without the KV cache at 128 and 512 new tokens (greedy,
   so the two must give the same tokens), and Hugging Face's ``GPT2LMHeadModel.generate`` with
   the same weights when ``transformers`` is installed.

Prints two markdown tables with ratios. Run from the repository root:

    python benchmarks/transformer_gpt_vs_torch.py                  # CPU, about 3 minutes on 2 cores
    python benchmarks/transformer_gpt_vs_torch.py --device cuda --steps 500 --batch-size 64
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from helpers.course import seed_everything
from helpers.data import Vocab, char_corpus, random_windows
from helpers.transformer import GPT, GPTConfig, evaluate_loss, lm_loss


class TorchGPT(nn.Module):
    """The reference: a decoder-only GPT from nn.TransformerEncoder (pre-LN, GELU, causal mask)."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        layer = nn.TransformerEncoderLayer(
            c.n_embd, c.n_head, 4 * c.n_embd, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, c.n_layer, enable_nested_tensor=False)
        self.norm_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        for module in self.modules():  # the same GPT-2 initialisation as helpers.transformer.GPT
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.encoder.layers:
            nn.init.normal_(block.self_attn.in_proj_weight, std=0.02)
            nn.init.zeros_(block.self_attn.in_proj_bias)
            for proj in (block.self_attn.out_proj, block.linear2):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * c.n_layer))
        self.head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device)  # (T, T), -inf above
        x = self.encoder(x, mask=mask, is_causal=True)
        return self.head(self.norm_f(x))  # (B, T, V)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train(model, ids, val_ids, args, device) -> tuple[float, float]:
    """Train ``args.steps`` steps; return (tokens per second, validation loss)."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    batches = random_windows(ids, args.block_size, args.batch_size, torch.Generator().manual_seed(args.seed))
    warmup = 3  # not timed: first calls allocate memory and pick kernels
    for step in range(args.steps + warmup):
        if step == warmup:
            sync(device)
            start = time.perf_counter()
        x, y = next(batches)
        loss = lm_loss(model, (x.to(device), y.to(device)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(device)
    seconds = time.perf_counter() - start
    tokens_per_second = args.steps * args.batch_size * args.block_size / seconds
    return tokens_per_second, evaluate_loss(model, val_ids, args.block_size, max_tokens=args.val_tokens)


def as_hf_gpt2(model: GPT):
    """Hugging Face GPT-2 with our weights, or None without transformers."""
    try:
        from helpers.transformer import to_huggingface

        return to_huggingface(model)
    except ImportError:
        return None


def timed(fn, device) -> tuple[float, torch.Tensor]:
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--val-tokens", type=int, default=65536)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    train_text, val_text, _ = char_corpus("wikipedia")
    vocab = Vocab.from_text(train_text, min_count=20)
    ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    config = GPTConfig(len(vocab), args.block_size, args.n_layer, args.n_head, args.n_embd)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; {config}")
    print(f"{args.steps} steps of {args.batch_size} x {args.block_size} characters, AdamW lr {args.lr}\n")

    rows = []
    for name, build in [
        ("helpers.transformer.GPT (readable attention)", lambda: GPT(config)),
        ("helpers.transformer.GPT (fast=True)", lambda: GPT(GPTConfig(**{**vars(config), "fast": True}))),
        ("torch nn.TransformerEncoderLayer", lambda: TorchGPT(config)),
    ]:
        seed_everything(args.seed)
        model = build()
        params = sum(p.numel() for p in model.parameters())
        rows.append((name, params, *train(model, ids, val_ids, args, device)))
    reference = rows[-1][2]
    print("| model | parameters | training tokens/s | vs torch | validation loss (nats/char) |")
    print("|---|---:|---:|---:|---:|")
    for name, params, speed, loss in rows:
        print(f"| {name} | {params:,} | {speed:,.0f} | {speed / reference:.2f} | {loss:.3f} |")

    # Generation: a model with room for 16 + 512 positions (speed does not depend on the weights).
    seed_everything(args.seed)
    gen_model = GPT(GPTConfig(**{**vars(config), "block_size": 16 + 512, "fast": True})).to(device).eval()
    hf = as_hf_gpt2(gen_model)
    prompt = val_ids[:16][None].to(device)  # (1, 16)
    print("\n| new tokens | no cache (tokens/s) | KV cache (tokens/s) | speed-up | same tokens | HF GPT-2 generate, cache (tokens/s) | ours (cache) vs HF, speed |")
    print("|---:|---:|---:|---:|:---:|---:|---:|")
    for n in (128, 512):
        gen_model.generate(prompt, 4, temperature=0)  # warm-up
        t_plain, plain = timed(lambda n=n: gen_model.generate(prompt, n, temperature=0, use_cache=False), device)
        t_cache, cached = timed(lambda n=n: gen_model.generate(prompt, n, temperature=0, use_cache=True), device)
        row = f"| {n} | {n / t_plain:,.0f} | {n / t_cache:,.0f} | {t_plain / t_cache:.1f}x | {'yes' if torch.equal(plain, cached) else 'NO'} |"
        if hf is not None:
            with torch.no_grad():
                kwargs = dict(attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=n, min_new_tokens=n)
                hf.generate(prompt, **{**kwargs, "max_new_tokens": 4, "min_new_tokens": 4})  # warm-up
                t_hf, _ = timed(lambda kwargs=kwargs: hf.generate(prompt, **kwargs), device)
            row += f" {n / t_hf:,.0f} | {t_hf / t_cache:.2f} |"
        else:
            row += " (transformers not installed) | |"
        print(row)


if __name__ == "__main__":
    main()
