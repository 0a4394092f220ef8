"""The learning-curve results that ``benchmarks/pretraining_learning_curve.py`` measured.

Fine-tuning a 22M-parameter encoder at every training-set size takes longer than a lecture
notebook may run on a CPU, so the benchmark script measures the whole curve and writes this
CSV (package data, so that it is there in Colab too); the notebook loads it, says so, and
reruns one point live with the same code and seed. Each row: ``method, n_train, seed,
accuracy, seconds``, where accuracy is on the test articles of :func:`load_topics`.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["LEARNING_CURVE_CSV", "load_learning_curve"]

LEARNING_CURVE_CSV = Path(__file__).resolve().parent / "results" / "learning_curve.csv"


def load_learning_curve(path: str | Path | None = None) -> list[dict]:
    """The rows of the committed learning-curve CSV, numbers as numbers."""
    path = Path(path) if path is not None else LEARNING_CURVE_CSV
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run python benchmarks/pretraining_learning_curve.py to make it")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["n_train"], row["seed"] = int(row["n_train"]), int(row["seed"])
        row["accuracy"], row["seconds"] = float(row["accuracy"]), float(row["seconds"])
    return rows
