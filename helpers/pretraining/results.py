"""The learning curve of week 6: its settings, one point of it, and the committed results.

Fine-tuning a 22M-parameter encoder at every training-set size takes longer than a lecture
notebook may run on a CPU, so ``benchmarks/pretraining_learning_curve.py`` measures the whole
curve and writes ``results/learning_curve.csv`` (package data, so that it is there in Colab
too); the notebook loads it, says so, and reruns one point live with :func:`learning_curve_point`,
the function the benchmark calls. Each row: ``method, n_train, seed, accuracy, seconds``;
accuracy on the test articles of :func:`~helpers.pretraining.topics.load_topics`.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

__all__ = [
    "LEARNING_CURVE_CSV",
    "MAX_LENGTH",
    "METHODS",
    "PROBE_C",
    "RECIPE",
    "SCRATCH_LR",
    "SWEEP_CSV",
    "learning_curve_point",
    "load_learning_curve",
    "load_sweep",
]

LEARNING_CURVE_CSV = Path(__file__).resolve().parent / "results" / "learning_curve.csv"
SWEEP_CSV = LEARNING_CURVE_CSV.with_name("freeze_lr_sweep.csv")
METHODS = ("tfidf", "minilm-probe", "minilm-finetuned", "scratch")
# Devlin et al. 2019, appendix A.3: batch 16 or 32, 2-4 epochs, small learning rates; warm-up over
# 10% of the steps (their code). MiniLM is small, so 1e-4 (BERT-base: 2e-5 to 5e-5); at least 30
# steps so that the smallest training sets are seen several times. Every weight is trained.
RECIPE = dict(epochs=3, min_steps=30, batch_size=16, lr=1e-4, warmup=0.1)
SCRATCH_LR = 3e-4  # a randomly initialised transformer needs a larger rate (a common choice at this size; not tuned)
MAX_LENGTH = 48  # WordPiece tokens per sentence; 90% of the training sentences have at most 51
PROBE_C = 1.0  # inverse regularisation of the logistic regression on frozen embeddings


def learning_curve_point(method, task, tokenizer, n, seed, split="test", lr=None, freeze=None, embeddings=None, device=None):
    """Accuracy on ``split`` of ``method`` trained on ``task.subset(n, seed)``, and the seconds
    it took: ``(accuracy, seconds)``. ``embeddings`` (a dict split -> (N, H) tensor of frozen
    MiniLM sentence embeddings) saves re-encoding for ``"minilm-probe"``. ``device`` runs the
    fine-tuned models there (the committed results were measured on one CPU thread)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from helpers.course.training import seed_everything
    from helpers.pretraining.baseline import tfidf_baseline
    from helpers.pretraining.bert import BertEncoder
    from helpers.pretraining.finetune import SequenceClassifier, accuracy, fine_tune, predict
    from helpers.pretraining.pretrained import encode_sentences, load_minilm

    if method not in METHODS:
        raise ValueError(f"method={method!r} must be one of {METHODS}")
    subset = task.subset(n, seed)
    texts, labels = [s.text for s in subset], [s.label for s in subset]
    eval_texts, eval_labels = task.texts(split), task.targets(split)
    start = time.perf_counter()
    if method == "tfidf":
        return tfidf_baseline(texts, labels).score(eval_texts, eval_labels), time.perf_counter() - start
    if method == "minilm-probe":
        if embeddings is None:
            model, _ = load_minilm(fast=True)
            embeddings = {split: encode_sentences(model, tokenizer, eval_texts, max_length=MAX_LENGTH)}
            embeddings["train"] = encode_sentences(model, tokenizer, texts, max_length=MAX_LENGTH)
            train_x = embeddings["train"]
        else:
            index = {s: i for i, s in enumerate(task.train)}
            train_x = embeddings["train"][[index[s] for s in subset]]
        probe = LogisticRegression(C=PROBE_C, max_iter=3000).fit(train_x.numpy(), labels)
        return probe.score(embeddings[split].numpy(), eval_labels), time.perf_counter() - start
    seed_everything(seed)
    encoder, _ = load_minilm(fast=True)
    if method == "scratch":
        encoder = BertEncoder(encoder.config)  # the same sizes, random weights (BERT's initialisation)
    model = SequenceClassifier(encoder, n_classes=len(task.labels), pooling="mean").to(device)
    recipe = dict(RECIPE, lr=lr or (SCRATCH_LR if method == "scratch" else RECIPE["lr"]))
    train_ids = tokenizer.encode_batch(texts, MAX_LENGTH)
    fine_tune(model, train_ids, labels, freeze=freeze, seed=seed, progress=False, **recipe)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predicted = predict(model, tokenizer.encode_batch(eval_texts, MAX_LENGTH))
    return accuracy(predicted, eval_labels), seconds


def _read(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run python benchmarks/pretraining_learning_curve.py --sweep to make it")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = int(value)
            except ValueError:
                try:
                    row[key] = float(value)
                except ValueError:
                    pass
    return rows


def load_learning_curve(path: str | Path | None = None) -> list[dict]:
    """The rows of the committed learning-curve CSV, numbers as numbers."""
    return _read(Path(path) if path is not None else LEARNING_CURVE_CSV)


def load_sweep(path: str | Path | None = None) -> list[dict]:
    """The rows of the committed frozen-layers x learning-rate sweep (validation accuracy)."""
    return _read(Path(path) if path is not None else SWEEP_CSV)
