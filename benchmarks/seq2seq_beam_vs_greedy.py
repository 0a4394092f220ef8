"""Week 4's decoding and scoring against their references, in one run.

1. Decoding: ``greedy_decode``, ``beam_search`` one source at a time (the clear version) and
   ``beam_search(batched=True)``, on the same attention model and the same sources of the dates
   test set; the batched search must return the same outputs as the clear one. The model is
   trained briefly (``--steps``) so that the search sees realistic distributions.
2. BLEU: ``corpus_bleu`` against ``sacrebleu.BLEU`` (words and characters) on the same corpus:
   time and the two scores, which must agree.

Prints two markdown tables with ratios. Run from the repository root:

    python benchmarks/seq2seq_beam_vs_greedy.py              # CPU, about a minute on 2 cores
    python benchmarks/seq2seq_beam_vs_greedy.py --device cuda
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from helpers.course import seed_everything, train_loop
from helpers.data import batches, encode_pairs, load_dates, source_vocab, target_vocab
from helpers.seq2seq import (
    Seq2Seq,
    Seq2SeqConfig,
    beam_search,
    corpus_bleu,
    greedy_decode,
    seq2seq_loss,
)


def timed(fn, repeats=1):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def decoding_table(args) -> None:
    seed_everything(0)
    device = torch.device(args.device)
    data = load_dates(seed=0, n_train=5000, n_test=args.sources, n_long=10)
    src_vocab, tgt_vocab = source_vocab(), target_vocab()
    model = Seq2Seq(Seq2SeqConfig(len(src_vocab), len(tgt_vocab))).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    stream = batches(data.train, src_vocab, tgt_vocab, 64, seed=0, device=device)
    train_loop(model, stream, seq2seq_loss, optimizer, args.steps, grad_clip=1.0, progress=False)
    model.eval()
    b = encode_pairs(data.test, src_vocab, tgt_vocab).to(device)
    rows = []
    t_greedy, _ = timed(lambda: greedy_decode(model, b.src, b.src_mask, max_len=40), repeats=3)
    rows.append(("greedy_decode (batched)", 1, t_greedy, "-"))
    for width in args.widths:
        t_clear, clear = timed(lambda w=width: beam_search(model, b.src, b.src_mask, width=w, max_len=40))
        t_fast, fast = timed(lambda w=width: beam_search(model, b.src, b.src_mask, width=w, max_len=40, batched=True))
        same = all(c[0].tokens == f[0].tokens for c, f in zip(clear, fast, strict=True))
        rows.append(("beam_search, one source at a time", width, t_clear, "-"))
        rows.append(("beam_search(batched=True)", width, t_fast, "same best outputs" if same else "DIFFERENT"))
    print(f"\nDecoding {args.sources} sources of the dates test set on {device} "
          f"(attention model after {args.steps} training steps; fastest of repeated runs)\n")
    print("| decoder | width | seconds | sources/s | vs clear beam | check |")
    print("|---|---|---|---|---|---|")
    clear_times = {w: t for name, w, t, _ in rows if name.startswith("beam_search, one")}
    for name, width, seconds, check in rows:
        ratio = f"{clear_times[width] / seconds:.1f}x" if width in clear_times else "-"
        print(f"| {name} | {width} | {seconds:.2f} | {args.sources / seconds:.0f} | {ratio} | {check} |")


def bleu_table(args) -> None:
    import sacrebleu

    rng = random.Random(0)
    words = "the a of to and in is was for on that with by as at from his her it an were are which".split()
    refs, hyps = [], []
    for _ in range(args.sentences):
        ref = [rng.choice(words) for _ in range(rng.randint(5, 30))]
        hyp = [w if rng.random() > 0.25 else rng.choice(words) for w in ref][: rng.randint(3, len(ref))]
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    print(f"\nCorpus BLEU of {args.sentences} sentence pairs (fastest of 3 runs)\n")
    print("| tokens | ours (s) | sacrebleu (s) | ours / sacrebleu time | ours | sacrebleu |")
    print("|---|---|---|---|---|---|")
    for tokenize, theirs_tok in (("whitespace", "none"), ("char", "char")):
        t_ours, ours = timed(lambda t=tokenize: corpus_bleu(hyps, refs, tokenize=t), repeats=3)
        metric = sacrebleu.metrics.BLEU(tokenize=theirs_tok)
        t_theirs, theirs = timed(lambda m=metric: m.corpus_score(hyps, [refs]).score, repeats=3)
        print(f"| {tokenize} | {t_ours:.3f} | {t_theirs:.3f} | {t_ours / t_theirs:.2f} | {ours:.4f} | {theirs:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=200, help="training steps before decoding")
    parser.add_argument("--sources", type=int, default=200, help="test sources to decode")
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--sentences", type=int, default=2000, help="sentence pairs for BLEU")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch (small models: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    decoding_table(args)
    bleu_table(args)


if __name__ == "__main__":
    main()
