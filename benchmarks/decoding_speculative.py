"""Speculative decoding: speed-up and acceptance rate against the size of the draft model.

A target GPT and several drafts are trained with the same recipe on the same characters of
the Wikipedia sample (week 5's code): GPTs of a few sizes and a character bigram table (the
cheapest possible draft). For each draft, on the same prompts, with a KV cache everywhere:

* plain decoding with the target alone (greedy, and sampling at temperature 1);
* ``speculative_generate`` with the draft, gamma tokens per round: tokens per second,
  speed-up over the target alone, acceptance rate alpha, tokens per target call; greedy output
  checked equal to the target's greedy output;
* the speed-up Leviathan et al. (2023, Theorem 3.8) predict from the measured alpha and the
  measured cost ratio c (time of a draft step / a target step):
  (1 - alpha^(gamma+1)) / ((1 - alpha) (gamma c + 1));
* with ``transformers`` installed, the reference: ``generate(assistant_model=...)`` (assisted
  generation, greedy, a constant ``num_assistant_tokens=gamma``) on the same models exported
  with ``to_huggingface``, its speed-up over its own plain greedy ``generate()``, and whether its
  tokens equal ours.

Prints markdown tables. Run from the repository root:

    python benchmarks/decoding_speculative.py               # about 15 minutes on 2 idle cores
    python benchmarks/decoding_speculative.py --steps 100    # a quick look
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from helpers.course import seed_everything, train_loop, warmup_cosine
from helpers.data import Vocab, char_corpus, random_windows
from helpers.decoding import (
    GREEDY,
    SamplingConfig,
    bigram_step,
    generate,
    lm_step,
    speculative_generate,
)
from helpers.transformer import GPT, GPTConfig, evaluate_loss, lm_loss


def train(config: GPTConfig, ids, steps, seed, batch=32, lr=3e-3):
    seed_everything(seed)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    stream = random_windows(ids, 128, batch, torch.Generator().manual_seed(seed))  # windows of 128 characters
    train_loop(model, stream, lm_loss, optimizer, steps, scheduler=warmup_cosine(optimizer, steps), grad_clip=1.0, progress=False)
    return model.eval()


def bigram_table(ids, V):
    counts = torch.ones(V, V)  # add-one
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return torch.log(counts / counts.sum(1, keepdim=True))


def timed(fn, repeats=1):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def predicted_speedup(alpha, gamma, c):
    if alpha >= 1.0:
        return (gamma + 1) / (gamma * c + 1)
    return (1 - alpha ** (gamma + 1)) / ((1 - alpha) * (gamma * c + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps of every model")
    parser.add_argument("--target", default="4x192", help="layers x width of the target GPT")
    parser.add_argument("--drafts", nargs="+", default=["bigram", "1x32", "1x64", "2x128"])
    parser.add_argument("--gamma", type=int, nargs="+", default=[4], help="draft tokens per round")
    parser.add_argument("--new-tokens", type=int, default=200, help="at most 224 (the window is 256, prompts 32)")
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.new_tokens <= 224:
        raise SystemExit(f"--new-tokens={args.new_tokens} must be between 1 and 224 (the models' window is 256)")
    torch.set_num_threads(args.threads)

    train_text, val_text, _ = char_corpus("wikipedia")
    vocab = Vocab.from_text(train_text, min_count=20)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    V = len(vocab)

    def config(spec):
        layers, width = map(int, spec.split("x"))
        # a window longer than prompt + new tokens: past it every step recomputes the whole window,
        # plain decoding far more often than speculative decoding, and the comparison is unfair
        return GPTConfig(vocab_size=V, block_size=256, n_layer=layers, n_head=4 if width >= 64 else 2, n_embd=width, fast=True)

    start = time.perf_counter()
    target = train(config(args.target), train_ids, args.steps, seed=0)
    models = {}
    for i, spec in enumerate(args.drafts):
        models[spec] = bigram_table(train_ids, V) if spec == "bigram" else train(config(spec), train_ids, args.steps, seed=1 + i)
    train_seconds = time.perf_counter() - start

    def loss(model):
        if isinstance(model, torch.Tensor):
            return float(-model[val_ids[:-1], val_ids[1:]].mean())
        return evaluate_loss(model, val_ids, 128, max_tokens=32_768)

    def step_of(model):
        return bigram_step(model) if isinstance(model, torch.Tensor) else lm_step(model)

    def params(model):
        return model.numel() if isinstance(model, torch.Tensor) else model.num_parameters()

    starts = torch.linspace(0, len(val_ids) - 200, args.prompts).long().tolist()
    prompts = [val_ids[s : s + 32][None] for s in starts]
    n = args.new_tokens
    sampling = SamplingConfig(temperature=1.0)

    def per_step_time(step):
        t, _ = timed(lambda: [generate(step, p, n, GREEDY) for p in prompts], repeats=2)
        return t / (n * len(prompts))

    t_target = per_step_time(lm_step(target))
    base_greedy = [generate(lm_step(target), p, n, GREEDY).sequences for p in prompts]
    t_base_sample, _ = timed(lambda: [generate(lm_step(target), p, n, sampling, generator=torch.Generator().manual_seed(0))
                                      for p in prompts], repeats=2)  # fmt: skip
    t_base_greedy = t_target * n * len(prompts)

    print(f"\nTarget GPT {args.target} ({target.num_parameters():,} parameters, validation loss {loss(target):.3f} nats/char); "
          f"{args.steps} training steps per model ({train_seconds:.0f} s for all); {len(prompts)} prompts x {n} new tokens; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")  # fmt: skip
    print("| draft | parameters (draft/target) | val loss | cost ratio c | gamma | acceptance alpha (greedy / sampling) | "
          "tokens per target call (sampling) | speed-up greedy | speed-up sampling | predicted (sampling) | greedy = target's |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    results = []
    for spec, model in models.items():
        c = per_step_time(step_of(model)) / t_target
        for gamma in args.gamma:
            t_greedy, greedy = timed(lambda m=model, g=gamma: [speculative_generate(lm_step(target), step_of(m), p, n, g, GREEDY)
                                                              for p in prompts])  # fmt: skip
            same = all(torch.equal(r.sequences, b) for r, b in zip(greedy, base_greedy, strict=True))
            t_sample, sampled = timed(lambda m=model, g=gamma: [
                speculative_generate(lm_step(target), step_of(m), p, n, g, sampling, generator=torch.Generator().manual_seed(0))
                for p in prompts])  # fmt: skip
            a_greedy = sum(r.accepted for r in greedy) / sum(r.accepted + r.rejected for r in greedy)
            a_sample = sum(r.accepted for r in sampled) / sum(r.accepted + r.rejected for r in sampled)
            per_call = sum(r.accepted + r.rounds for r in sampled) / sum(r.rounds for r in sampled)
            results.append((spec, model, gamma))
            print(f"| {spec} | {params(model):,} ({params(model) / target.num_parameters():.3f}) | {loss(model):.3f} | {c:.2f} | "
                  f"{gamma} | {a_greedy:.2f} / {a_sample:.2f} | {per_call:.2f} | {t_base_greedy / t_greedy:.2f}x | "
                  f"{t_base_sample / t_sample:.2f}x | {predicted_speedup(a_sample, gamma, c):.2f}x | {'yes' if same else 'NO'} |")  # fmt: skip

    try:
        import transformers
    except ImportError:
        return
    from helpers.transformer import to_huggingface

    transformers.logging.set_verbosity_error()
    hf_target = to_huggingface(target)
    kwargs = dict(do_sample=False, max_new_tokens=n, min_new_tokens=n, eos_token_id=None, pad_token_id=0)

    def hf_generate(prompt, **extra):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return hf_target.generate(prompt, attention_mask=torch.ones_like(prompt), **kwargs, **extra)

    t_hf, hf_out = timed(lambda: [hf_generate(p) for p in prompts], repeats=2)
    print(f"\nThe reference: transformers {transformers.__version__} assisted generation (greedy) on the same models, "
          f"exported with to_huggingface; plain greedy generate() of the target: {n * len(prompts) / t_hf:,.0f} tokens/s "
          f"(ours, KV cache: {n * len(prompts) / t_base_greedy:,.0f})\n")  # fmt: skip
    print("| draft | gamma | HF assisted speed-up over HF greedy | ours over our greedy | same tokens as ours |")
    print("|---|---:|---:|---:|:---:|")
    for spec, model, gamma in results:
        if isinstance(model, torch.Tensor):
            continue
        hf_draft = to_huggingface(model)
        hf_draft.generation_config.num_assistant_tokens = gamma
        hf_draft.generation_config.num_assistant_tokens_schedule = "constant"
        t_assist, assisted = timed(lambda d=hf_draft: [hf_generate(p, assistant_model=d) for p in prompts])
        t_ours, ours = timed(lambda m=model, g=gamma: [speculative_generate(lm_step(target), lm_step(m), p, n, g, GREEDY)
                                                      for p in prompts])  # fmt: skip
        same = all(torch.equal(a, o.sequences) for a, o in zip(assisted, ours, strict=True))
        print(f"| {spec} | {gamma} | {t_hf / t_assist:.2f}x | {t_base_greedy / t_ours:.2f}x | {'yes' if same else 'no'} |")


if __name__ == "__main__":
    main()
