"""Week 11: the course's quantizers against PyTorch's dynamic quantization (``torch.ao``) and ONNX
Runtime, on the week's teacher GPT, on MiniLM (week 6's topic task) and on one large linear layer.

For every variant the same code measures (``helpers.compression.measure``):

- size: bytes written by ``torch.save(state_dict)`` or of the ONNX file, and the ratio to float32;
- quality: held-out loss (nats per character; the test part of the Wikipedia sample) for the GPT,
  test accuracy and agreement with the float32 model for MiniLM;
- latency: median and 90th percentile of one call at batch 1 (64 characters; one sentence);
- throughput: items per second at batch 32.

References: ``torch.ao.quantization.quantize_dynamic`` (int8 weights per tensor, activations
quantized on the fly, fbgemm kernels) and ONNX Runtime (the exported float graph, and its
``quantize_dynamic`` int8 graph). Ratios are to the float32 PyTorch model; the latency column
"vs torch.ao" divides by the reference's latency. One thread everywhere (PyTorch and ONNX
Runtime). Prints markdown tables. Run from the repository root:

    python benchmarks/compression_bench.py              # about 5 minutes on 2 idle cores
    python benchmarks/compression_bench.py --parts linear gpt
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from helpers.compression import (
    PRESETS,
    OnnxModel,
    apply_masks,
    export_onnx,
    ffn_masks,
    latency,
    load_teacher,
    quantize_model,
    quantize_onnx,
    require_onnx,
    shrink_ffn,
    size_on_disk,
    throughput,
)
from helpers.data import char_corpus
from helpers.transformer import evaluate_loss


def torch_dynamic(model: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated (torchao); still the reference
        return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def timings(run, one, many, repeats):
    t = latency(lambda: run(*one), repeats=repeats)
    items = many[0].shape[0] if len(many) > 1 else many[0].numel()
    return t, throughput(lambda: run(*many), items=items, repeats=max(3, repeats // 4))


def gpt_table(work: Path, repeats: int) -> None:
    teacher, vocab = load_teacher()
    _, _, test_text = char_corpus("wikipedia")
    test_ids = vocab.encode(test_text)
    block = teacher.config.block_size
    one = (test_ids[:block][None],)
    many = (torch.stack([test_ids[i * block:(i + 1) * block] for i in range(32)]),)
    path = export_onnx(teacher, one, work / "gpt.onnx", ["idx"], ["logits"], max_length=block)
    variants = {"float32 (PyTorch)": (teacher, size_on_disk(teacher), "32")}
    for name in ("int8 per-tensor", "int8 per-channel", "int8 x int8 (W8A8)", "int4 group 128", "int4 group 32"):
        q = quantize_model(teacher, embeddings=True, **PRESETS[name]).eval()
        variants[f"ours {name}"] = (q, size_on_disk(q), name.split()[0][3:])
    ref = torch_dynamic(teacher)
    variants["torch.ao dynamic int8"] = (ref, size_on_disk(ref), "8")
    variants["ONNX Runtime float32"] = (OnnxModel(path), size_on_disk(path), "32")
    qpath = quantize_onnx(path, work / "gpt-int8.onnx")
    variants["ONNX Runtime dynamic int8"] = (OnnxModel(qpath), size_on_disk(qpath), "8")
    rows, base_loss = [], None
    for name, (run, size, bits) in variants.items():
        with torch.inference_mode():
            loss = evaluate_loss(run, test_ids, block, max_tokens=65_536) if isinstance(run, nn.Module) else _onnx_loss(run, test_ids, block)
        t, tput = timings(run, one, (many[0],), repeats)
        rows.append((name, bits, size, loss, t, tput * block))
        base_loss = loss if base_loss is None else base_loss
    ref_s = next(r[4].median for r in rows if r[0] == "torch.ao dynamic int8")
    base_size = rows[0][2]
    print(f"\nTeacher GPT ({teacher.num_parameters():,} parameters), held-out test text of the Wikipedia sample, 65,536 characters\n")
    print("| variant | weight bits | size (KB) | size vs float32 | test loss (nats/char) | perplexity vs float32 | batch-1 latency median / p90 (ms) | latency vs torch.ao | tokens/s at batch 32 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, bits, size, loss, t, tput in rows:
        print(f"| {name} | {bits} | {size / 1e3:,.0f} | {size / base_size:.3f} | {loss:.4f} | {np.exp(loss - base_loss):.4f} | "
              f"{t.median * 1e3:.2f} / {t.p90 * 1e3:.2f} | {t.median / ref_s:.2f} | {tput:,.0f} |")


def _onnx_loss(run, ids, block, max_tokens=65_536):
    """The same loss as evaluate_loss (non-overlapping windows) for an ONNX session."""
    n = min(len(ids) - 1, max_tokens) // block * block
    x, y = ids[:n].reshape(-1, block), ids[1:n + 1].reshape(-1, block)
    total = 0.0
    for i in range(0, len(x), 64):
        logits = run(x[i:i + 64])
        total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[i:i + 64].reshape(-1), reduction="sum"))
    return total / n


def minilm_table(work: Path, repeats: int, n_train: int = 600, n_test: int = 300) -> None:
    from sklearn.linear_model import LogisticRegression

    from helpers.pretraining import SequenceClassifier, encode_sentences, load_minilm, load_topics

    task = load_topics()
    encoder, tok = load_minilm(fast=True)
    train = task.subset(n_train, seed=0)
    test = [task.test[i] for i in np.random.default_rng(0).permutation(len(task.test))[:n_test]]
    probe = LogisticRegression(C=1.0, max_iter=3000).fit(encode_sentences(encoder, tok, [s.text for s in train], normalize=False).numpy(),
                                                         [s.label for s in train])  # fmt: skip
    model = SequenceClassifier(encoder, len(task.labels)).eval()
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor(probe.coef_, dtype=torch.float32))
        model.head.bias.copy_(torch.tensor(probe.intercept_, dtype=torch.float32))
    example = tok(["The river flows through the old town and into the lake."])
    one = (example.ids, example.attention_mask)
    batch32 = tok([s.text for s in test[:32]])
    labels = torch.tensor([s.label for s in test])

    def predict(run):
        out = []
        with torch.inference_mode():
            for i in range(0, len(test), 50):
                b = tok([s.text for s in test[i:i + 50]])
                out.append(run(b.ids, b.attention_mask).argmax(-1))
        return torch.cat(out)

    path = export_onnx(model, one, work / "minilm.onnx", ["ids", "attention_mask"], ["logits"])
    pruned = shrink_ffn(apply_masks(copy.deepcopy(model), ffn_masks(model, 0.25)))
    ppath = export_onnx(pruned, one, work / "minilm-pruned.onnx", ["ids", "attention_mask"], ["logits"])
    ours = quantize_model(model, 8, activations="int8", embeddings=True).eval()
    ref = torch_dynamic(model)
    variants = {
        "float32 (PyTorch)": (model, size_on_disk(model)),
        "ours int8 x int8 (W8A8), embeddings int8": (ours, size_on_disk(ours)),
        "torch.ao dynamic int8": (ref, size_on_disk(ref)),
        "ONNX Runtime float32": (OnnxModel(path), size_on_disk(path)),
        "ONNX Runtime dynamic int8": (OnnxModel(qp := quantize_onnx(path, work / "minilm-int8.onnx")), size_on_disk(qp)),
        "25% FFN neurons pruned + ONNX Runtime int8": (OnnxModel(pp := quantize_onnx(ppath, work / "minilm-pruned-int8.onnx")), size_on_disk(pp)),
    }
    base = predict(model)
    rows = []
    for name, (run, size) in variants.items():
        pred = base if run is model else predict(run)
        t, tput = timings(run, one, (batch32.ids, batch32.attention_mask), repeats)
        rows.append((name, size, float((pred == labels).float().mean()), float((pred == base).float().mean()), t, tput))
    ref_s = next(r[4].median for r in rows if r[0] == "torch.ao dynamic int8")
    print(f"\nMiniLM (all-MiniLM-L6-v2) + logistic probe, week 6's topic task: probe fitted on {n_train} training sentences, "
          f"{n_test} test sentences; target < 25 MB and < 20 ms per sentence\n")
    print("| variant | size (MB) | size vs float32 | test accuracy | agreement with float32 | 1-sentence latency median / p90 (ms) | latency vs torch.ao | sentences/s at batch 32 | target met |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for name, size, acc, agree, t, tput in rows:
        met = "yes" if size < 25e6 and t.median < 0.020 else "no"
        print(f"| {name} | {size / 1e6:.1f} | {size / rows[0][1]:.3f} | {acc:.1%} | {agree:.1%} | {t.median * 1e3:.1f} / {t.p90 * 1e3:.1f} | "
              f"{t.median / ref_s:.2f} | {tput:,.0f} | {met} |")


def linear_table(repeats: int) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(768, 3072).eval()
    variants = {"float32 nn.Linear": layer, "ours int8 weight-only": quantize_model(layer, 8),
                "ours int8 x int8 (torch._int_mm)": quantize_model(layer, 8, activations="int8"),
                "ours int4 group 32 weight-only": quantize_model(layer, 4, 32), "torch.ao dynamic int8": torch_dynamic(nn.Sequential(layer))}
    print("\nOne linear layer 768 -> 3072 (BERT-base's feed-forward input), float32 input\n")
    print("| variant | batch 1 median (ms) | vs torch.ao | batch 128 median (ms) | vs torch.ao | relative RMS error at batch 128 |")
    print("|---|---:|---:|---:|---:|---:|")
    x1, x128 = torch.randn(1, 768), torch.randn(128, 768)
    with torch.inference_mode():
        exact = layer(x128)
        res = {n: (latency(lambda m=m: m(x1), repeats=repeats * 4).median, latency(lambda m=m: m(x128), repeats=repeats).median,
                   float((m(x128) - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt())) for n, m in variants.items()}  # fmt: skip
    r1, r128 = res["torch.ao dynamic int8"][:2]
    for name, (t1, t128, err) in res.items():
        print(f"| {name} | {t1 * 1e3:.3f} | {t1 / r1:.2f} | {t128 * 1e3:.2f} | {t128 / r128:.2f} | {err:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--parts", nargs="+", default=["linear", "gpt", "minilm"], choices=["linear", "gpt", "minilm"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    require_onnx()
    import onnxruntime

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU cores, 1 thread; load average at start {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        if "linear" in args.parts:
            linear_table(args.repeats)
        if "gpt" in args.parts:
            gpt_table(Path(tmp), args.repeats)
        if "minilm" in args.parts:
            minilm_table(Path(tmp), args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average at the end {load:.1f}")


if __name__ == "__main__":
    main()
