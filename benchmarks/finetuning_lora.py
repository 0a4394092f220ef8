"""Week 10: LoRA vs full fine-tuning of the course's GPT on a new domain, a rank sweep, and our
LoRA's step time against ``peft``'s on the same model.

A character GPT (``helpers.transformer.GPT``) is pre-trained on the Wikipedia sample, then
adapted to the news corpus (gensim's Lee corpus) for the same number of steps on the same
batches:

- ``full``: every weight trained (AdamW);
- ``lora r=R``: ``helpers.finetuning.inject_lora`` on ``q_proj, v_proj, fc1, fc2``, alpha = 2r,
  the base frozen; the ranks of ``--ranks``;
- ``peft r=4``: the same adapters made by ``peft`` (``LoraConfig`` + ``get_peft_model``), to
  compare step time (the tests check that the two compute the same thing).

For each: trainable parameters, optimiser state (bytes held by AdamW's moments), training
memory without activations (float32 weights + gradients + optimiser state), on CUDA also the
measured peak memory of a training step, median step time, news and Wikipedia validation loss
(nats per character; the Wikipedia loss measures forgetting) and the file size of what must be
stored (the full state dict, or the adapter alone). Run from the repository root:

    python benchmarks/finetuning_lora.py                               # defaults: about 5 minutes on 2 idle cores
    python benchmarks/finetuning_lora.py --pretrain-steps 100 --steps 50 --ranks 1 4   # a smoke run

With ``--minilm N``: week 6's topic task (``helpers.pretraining.load_topics``), the pre-trained
MiniLM with a linear head fine-tuned on N labelled sentences (week 6's recipe: 3 epochs, at
least 30 steps, batch 16, AdamW), every weight (lr 1e-4) vs LoRA r=8 on ``q_proj, v_proj`` plus
the head (lr 1e-3); test accuracy and trainable parameters.

It prints the markdown tables of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch

from helpers.course import seed_everything, train_loop
from helpers.data import char_corpus, random_windows
from helpers.finetuning import inject_lora, instruction_vocab, save_adapter, trainable_parameters
from helpers.transformer import GPT, GPTConfig, evaluate_loss, lm_loss

TARGETS = ["q_proj", "v_proj", "fc1", "fc2"]


def optimiser_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
               if torch.is_tensor(t) and t.ndim > 0)  # fmt: skip


def file_bytes(model, adapter: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights"
        if adapter:
            save_adapter(model, path)
        else:
            torch.save({k: v for k, v in model.state_dict().items()}, path)
        return path.stat().st_size


def run(name, model, data, lr, steps, block, batch, device, val):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    batches = random_windows(data, block, batch, torch.Generator(device).manual_seed(1))
    times = []

    def timed_loss(m, b):
        times.append(time.perf_counter())
        return lm_loss(m, b)

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    train_loop(model, batches, timed_loss, optimizer, steps=steps, progress=False)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    step_times = [b - a for a, b in zip(times, times[1:], strict=False)]
    count = trainable_parameters(model)
    state = optimiser_state_bytes(optimizer)
    return {
        "name": name,
        "trainable": count.trainable,
        "total": count.total,
        "optimiser_bytes": state,
        "training_bytes": 4 * count.total + 4 * count.trainable + state,
        "peak_bytes": peak,
        "ms_per_step": 1000 * statistics.median(step_times[len(step_times) // 5 :]),
        "news": val(model, "news"),
        "wiki": val(model, "wiki"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--ranks", type=int, nargs="*", default=[1, 2, 4, 8, 16])
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=96)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-peft", action="store_true", help="skip the peft step-time comparison")
    parser.add_argument("--minilm", type=int, default=0, help="also compare on MiniLM with this many labelled sentences")
    parser.add_argument("--no-gpt", action="store_true", help="skip the GPT experiments")
    args = parser.parse_args(argv)
    if args.minilm:
        minilm(args.minilm, args.threads)
    if args.no_gpt:
        return
    torch.set_num_threads(args.threads)
    seed_everything(0)
    device = torch.device(args.device)
    vocab = instruction_vocab()
    wiki_train, wiki_valid, _ = char_corpus("wikipedia")
    news_train, news_valid, _ = char_corpus("news")
    wiki = vocab.encode(wiki_train).to(device)
    news = vocab.encode(news_train).to(device)
    valid = {"wiki": vocab.encode(wiki_valid[:100_000]).to(device), "news": vocab.encode(news_valid[:100_000]).to(device)}

    def val(model, which):
        return evaluate_loss(model, valid[which], args.block, max_tokens=50_000)

    config = GPTConfig(vocab_size=len(vocab), block_size=args.block, n_layer=args.n_layer, n_head=4, n_embd=args.n_embd)
    torch.manual_seed(0)
    base = GPT(config).to(device)
    start = time.perf_counter()
    train_loop(base, random_windows(wiki, args.block, args.batch, torch.Generator(device).manual_seed(0)), lm_loss,
               torch.optim.AdamW(base.parameters(), lr=2e-3), steps=args.pretrain_steps, progress=False)  # fmt: skip
    print(f"pre-trained {base.num_parameters():,} parameters for {args.pretrain_steps} steps in "
          f"{time.perf_counter() - start:.0f} s: news {val(base, 'news'):.3f}, wiki {val(base, 'wiki'):.3f}")  # fmt: skip
    rows = [{"name": "base (no adaptation)", "news": val(base, "news"), "wiki": val(base, "wiki")}]
    full = copy.deepcopy(base)
    rows.append(run("full fine-tuning", full, news, 1e-3, args.steps, args.block, args.batch, device, val))
    rows[-1]["file_bytes"] = file_bytes(full, adapter=False)
    for r in args.ranks:
        model = inject_lora(copy.deepcopy(base), TARGETS, r=r, alpha=2 * r)
        rows.append(run(f"LoRA r={r}", model, news, 3e-3, args.steps, args.block, args.batch, device, val))
        rows[-1]["file_bytes"] = file_bytes(model, adapter=True)
        print(rows[-1])
    if not args.no_peft:
        import peft

        ours = inject_lora(copy.deepcopy(base), TARGETS, r=4, alpha=8)
        theirs = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
        peft_steps = max(20, args.steps // 4)
        a = run("ours r=4", ours, news, 3e-3, peft_steps, args.block, args.batch, device, val)
        b = run("peft r=4", theirs, news, 3e-3, peft_steps, args.block, args.batch, device, val)
        print(f"\nstep time, {peft_steps} steps: ours {a['ms_per_step']:.1f} ms, peft {b['ms_per_step']:.1f} ms "
              f"(ours / peft = {a['ms_per_step'] / b['ms_per_step']:.2f}); news loss ours {a['news']:.4f}, peft {b['news']:.4f}")  # fmt: skip

    full_row = rows[1]
    print(f"\nGPT {args.n_layer} layers x {args.n_embd}, {base.num_parameters():,} parameters, block {args.block}, "
          f"batch {args.batch}, {args.steps} adaptation steps, device {device}\n")  # fmt: skip
    peak = device.type == "cuda"
    print("| run | trainable | optimiser state | weights + grads + optimiser" + (" | peak memory" if peak else "")
          + " | ms/step | news loss | Wikipedia loss | file |")  # fmt: skip
    print("|---|---:|---:|---:|" + ("---:|" if peak else "") + "---:|---:|---:|---:|")
    for row in rows:
        if "trainable" not in row:
            print(f"| {row['name']} | | | |" + (" |" if peak else "") + f" | {row['news']:.3f} | {row['wiki']:.3f} | |")
            continue
        ratio = full_row["trainable"] / row["trainable"]
        mem = full_row["training_bytes"] / row["training_bytes"]
        cells = [row["name"], f"{row['trainable']:,} ({ratio:.0f}x fewer)" if row is not full_row else f"{row['trainable']:,}",
                 f"{row['optimiser_bytes'] / 1e3:,.0f} kB", f"{row['training_bytes'] / 1e6:.2f} MB ({mem:.2f}x less)"]  # fmt: skip
        if peak:
            cells.append(f"{row['peak_bytes'] / 1e6:.1f} MB ({full_row['peak_bytes'] / row['peak_bytes']:.2f}x less)")
        cells += [f"{row['ms_per_step']:.1f}", f"{row['news']:.3f}", f"{row['wiki']:.3f}", f"{row['file_bytes'] / 1e3:,.0f} kB"]
        print("| " + " | ".join(cells) + " |")


def minilm(n: int, threads: int, seed: int = 0) -> None:
    """LoRA vs full fine-tuning of MiniLM on week 6's topic task with ``n`` labelled sentences."""
    import math

    from helpers.pretraining import SequenceClassifier, accuracy, load_minilm, load_topics, predict
    from helpers.pretraining.finetune import classification_batches, classification_loss
    from helpers.pretraining.results import MAX_LENGTH, RECIPE

    torch.set_num_threads(threads)
    task = load_topics()
    subset = task.subset(n, seed)
    texts, labels = [s.text for s in subset], [s.label for s in subset]
    rows = []
    for name in ("full", "lora"):
        seed_everything(seed)
        encoder, tokenizer = load_minilm(fast=True)
        if name == "lora":
            inject_lora(encoder, ["q_proj", "v_proj"], r=8, alpha=16)
        model = SequenceClassifier(encoder, n_classes=len(task.labels), pooling="mean")  # the head stays trainable
        steps = max(RECIPE["min_steps"], math.ceil(RECIPE["epochs"] * n / RECIPE["batch_size"]))
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4 if name == "full" else 1e-3)
        batches = classification_batches(tokenizer.encode_batch(texts, MAX_LENGTH), labels, RECIPE["batch_size"],
                                         torch.Generator().manual_seed(seed), pad_id=encoder.config.pad_id)  # fmt: skip
        start = time.perf_counter()
        train_loop(model, batches, classification_loss, optimizer, steps, grad_clip=1.0, progress=False)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            acc = accuracy(predict(model, tokenizer.encode_batch(task.texts("test"), MAX_LENGTH)), task.targets("test"))
        count = trainable_parameters(model)
        rows.append((name, count.trainable, count.total, acc, 1000 * seconds / steps))
        print(rows[-1])
    print(f"\nMiniLM on the topic task, {n} labelled sentences (seed {seed}), test accuracy on {len(task.test)} sentences\n")
    print("| run | trainable parameters | test accuracy | ms/step |\n|---|---:|---:|---:|")
    for name, trainable, total, acc, ms in rows:
        label = "full fine-tuning" if name == "full" else "LoRA r=8 on q, v + head"
        print(f"| {label} | {trainable:,} of {total:,} ({100 * trainable / total:.3g}%) | {100 * acc:.1f}% | {ms:.0f} |")


if __name__ == "__main__":
    main()
