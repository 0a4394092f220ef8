"""Run the leaderboard, cache its models, and show it: one table, one plot, one CSV.

:func:`run_leaderboard` trains (or loads) every selected entry on the canonical training text,
scores the canonical test text with one CPU thread, and returns one row per model.
:func:`read_committed` reads the committed results (``leaderboard.csv`` next to this module,
shipped with the package so that notebooks show it anywhere); :func:`leaderboard_table` and
:func:`plot_leaderboard` draw either. ``nextword leaderboard`` is the command line.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from helpers.course.leaderboard.registry import REGISTRY, Context, Registry, Stopwatch, Trained
from helpers.course.leaderboard.text import canonical_corpus
from helpers.data.corpora import cache_dir, publish

__all__ = [
    "COLUMNS", "COMMITTED_CSV", "ENTRY_MODULES", "leaderboard_table", "load_entries", "plot_leaderboard",
    "read_committed", "run_leaderboard", "write_committed",
]  # fmt: skip

# Importing these modules registers their entries (a later week appends its own module).
ENTRY_MODULES = ("helpers.course.leaderboard.entries",)
COMMITTED_CSV = Path(__file__).with_name("leaderboard.csv")
COLUMNS = [
    "week", "key", "model", "unit", "parameters", "train_cpu_seconds", "train_seconds", "score_cpu_seconds",
    "score_seconds", "bits", "bits_per_char", "word_perplexity", "unk_perplexity", "outside_vocabulary",
    "test_chars", "test_tokens", "recipe",
]  # fmt: skip


def load_entries() -> Registry:
    for name in ENTRY_MODULES:
        importlib.import_module(name)
    return REGISTRY


def _week(upto) -> int | None:
    if upto is None:
        return None
    from helpers.course.notebooks import normalise_week

    return int(normalise_week(upto)[4:])


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """12 hex digits of a hash of the course's Python source (every ``helpers/**/*.py``): a
    cached model is reused only by the code that trained it, so a change to any week's model
    or training recipe retrains it instead of scoring a stale one. Computed once per process:
    the code that runs is the code that was imported."""
    package = Path(__file__).resolve().parents[2]  # helpers/
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _cache_path(entry, seed: int, fingerprint: str) -> Path:
    folder = cache_dir() / "leaderboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{entry.key}-v{entry.version}-seed{seed}-{fingerprint}-code{code_fingerprint()}.pt"


def run_leaderboard(
    upto: str | int | None = None,
    keys: list[str] | None = None,
    seed: int = 0,
    retrain: bool = False,
    cache: bool = True,
    registry: Registry | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Train (or load from the cache) and score the entries of weeks up to ``upto`` (all when
    None), or exactly ``keys``; one row per entry with the columns :data:`COLUMNS`.

    Entries marked ``cached`` are kept in ``cache_dir()/leaderboard`` under their key,
    version, ``seed``, the fingerprint of the training text and that of the course's code
    (:func:`code_fingerprint`); ``retrain=True`` trains them
    again, ``cache=False`` neither reads nor writes the cache. Training and scoring run on
    ``threads`` CPU threads (1: the same on a laptop and on a busy server) and on the CPU.
    Times are measured twice: wall clock and CPU time of this process (``*_cpu_seconds``,
    which a busy shared machine disturbs far less). Training times of models loaded from the
    cache are those measured when they were trained.
    """
    registry = load_entries() if registry is None else registry
    selected = registry.select(_week(upto), keys)
    corpus = canonical_corpus(seed=0)  # the article split of weeks 1, 3 and 5; ``seed`` seeds training
    test = corpus.test
    trained: dict[str, Trained] = {}

    def load(key: str) -> Trained:
        if key in trained:
            return trained[key]
        entry = registry[key]
        path = _cache_path(entry, seed, corpus.train.fingerprint) if entry.cached and cache else None
        if path is not None and path.exists() and not retrain:
            try:
                trained[key] = torch.load(path, weights_only=False)
                return trained[key]
            except Exception as error:  # a stale pickle (the code changed): train again
                warnings.warn(f"could not load {path.name} ({error}); training {key!r} again", stacklevel=2)
        result = entry.train(Context(corpus, seed, load))
        if not isinstance(result, Trained):
            raise ValueError(f"entry {key!r}: train() must return a Trained, got {type(result).__name__}")
        if path is not None:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            try:
                torch.save(result, tmp)
                publish(tmp, path)  # atomic (a parallel run never reads half a file) and readable by a class
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        trained[key] = result
        return result

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        for entry in selected:
            result = load(entry.key)
            with Stopwatch() as clock:
                score = entry.score_text(result.model, test)
            if score.chars != test.n_chars:
                raise ValueError(f"entry {entry.key!r} scored {score.chars:,} characters of {test.n_chars:,}: every character must be predicted")
            rows.append({
                "week": entry.week, "key": entry.key, "model": entry.name, "unit": entry.unit,
                "parameters": int(result.parameters),
                "train_cpu_seconds": math.nan if result.cpu_seconds is None else result.cpu_seconds,
                "train_seconds": result.train_seconds, "score_cpu_seconds": clock.cpu, "score_seconds": clock.wall,
                "bits": score.bits, "bits_per_char": score.bits_per_char,
                "word_perplexity": 2 ** (score.bits / test.n_tokens),
                "unk_perplexity": math.nan if score.unk_perplexity is None else score.unk_perplexity,
                "outside_vocabulary": score.spelled, "test_chars": test.n_chars, "test_tokens": test.n_tokens,
                "recipe": entry.recipe,
            })  # fmt: skip
            if not entry.cached:
                trained.pop(entry.key, None)  # cheap to rebuild, and an n-gram model is big in memory
    finally:
        torch.set_num_threads(previous)
    return pd.DataFrame(rows, columns=COLUMNS)


# ------------------------------------------------------------------ the committed results
def write_committed(results: pd.DataFrame, path: str | Path = COMMITTED_CSV) -> Path:
    rounded = results.round({"train_cpu_seconds": 2, "train_seconds": 2, "score_cpu_seconds": 3, "score_seconds": 3,
                             "bits": 3, "bits_per_char": 6, "word_perplexity": 3, "unk_perplexity": 3})  # fmt: skip
    rounded.to_csv(path, index=False)
    return Path(path)


def read_committed(upto: str | int | None = None, path: str | Path = COMMITTED_CSV) -> pd.DataFrame:
    """The committed results (the weeks up to ``upto``, or all)."""
    results = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing}: regenerate it with nextword leaderboard --retrain --write")
    week = _week(upto)
    return results if week is None else results[results.week <= week].reset_index(drop=True)


# ------------------------------------------------------------------ showing it
def leaderboard_table(results: pd.DataFrame, markdown: bool = False) -> pd.DataFrame | str:
    """The table readers see: a DataFrame for a notebook, or markdown text (``markdown=True``)."""
    table = pd.DataFrame({
        "week": results.week,
        "model": results.model,
        "unit": results.unit,
        "parameters": [f"{p:,}" for p in results.parameters],
        "training (CPU s)": [f"{s:,.1f}" for s in results.train_cpu_seconds],
        "scoring (k chars per CPU s)": [f"{n / s / 1000:,.1f}" for n, s in zip(results.test_chars, results.score_cpu_seconds, strict=True)],
        "bits per char": [f"{b:.3f}" for b in results.bits_per_char],
        "word perplexity": [f"{p:,.1f}" for p in results.word_perplexity],
        "perplexity, <unk> as a word": ["" if math.isnan(p) else f"{p:,.1f}" for p in results.unk_perplexity],
    })  # fmt: skip
    if not markdown:
        return table.set_index(["week", "model"])
    right = set(table.columns) - {"week", "model", "unit"}
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---:" if c in right else "---" for c in table.columns) + "|"]
    lines += ["| " + " | ".join(str(v).replace("<unk>", "`<unk>`").replace("|", "\\|") for v in row) + " |"
              for row in table.itertuples(index=False)]  # fmt: skip
    lines[0] = lines[0].replace("<unk>", "`<unk>`")
    return "\n".join(lines)


def plot_leaderboard(results: pd.DataFrame, ax=None):
    """Bits per character against the number of parameters (log scale), one point per model."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7.5, 4.5))[1]
    markers = {"word": "s", "character": "o", "subword": "^"}
    for week, group in results.groupby("week", sort=True):
        for row in group.itertuples():
            ax.scatter(row.parameters, row.bits_per_char, marker=markers.get(row.unit, "x"), s=60, color=f"C{(week - 1) % 10}",
                       label=f"week {week}" if row.Index == group.index[0] else None, zorder=3)  # fmt: skip
    chars = int(results.test_chars.iloc[0]) if len(results) else 0
    ax.set(xscale="log", xlabel="parameters (stored numbers; log scale)", ylabel="bits per character (lower is better)",
           title=f"Held-out Wikipedia, {chars:,} characters (squares: word models, circles: character models)")  # fmt: skip
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.margins(x=0.25, y=0.12)
    ax.autoscale_view()
    _label_points(ax, results)
    return ax


# Where a label may go, in the order tried: beside its point, then farther out (with a leader line).
_LABEL_DIRECTIONS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0)]
_LABEL_DISTANCES = (6, 16, 30)  # typographic points


def _label_points(ax, results: pd.DataFrame, fontsize: int = 8) -> None:
    """Name every point at the first place, near it, where the label's rendered box overlaps
    no other label, point or the legend and stays inside the axes; where there is none, at the
    place that overlaps least. Labels set away from their point get a thin leader line."""
    from matplotlib.transforms import Bbox

    figure = ax.figure
    figure.draw_without_rendering()  # fixes the limits and the legend's place
    renderer = figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    px = figure.dpi / 72  # pixels per typographic point
    points = list(zip(results.parameters, results.bits_per_char, strict=True))
    taken = [Bbox.from_bounds(x - 5 * px, y - 5 * px, 10 * px, 10 * px) for x, y in ax.transData.transform(points)]
    if ax.get_legend() is not None:
        taken.append(ax.get_legend().get_window_extent(renderer))

    def cost(box: Bbox) -> float:
        overlap = sum(max(0.0, min(box.x1, t.x1) - max(box.x0, t.x0)) * max(0.0, min(box.y1, t.y1) - max(box.y0, t.y0))
                      for t in taken)  # fmt: skip
        kept = max(0.0, min(box.x1, inside.x1) - max(box.x0, inside.x0)) * max(0.0, min(box.y1, inside.y1) - max(box.y0, inside.y0))
        return overlap + 2 * (box.width * box.height - kept)

    for i in sorted(range(len(results)), key=lambda i: results.bits_per_char.iloc[i]):
        best = None
        for distance in _LABEL_DISTANCES:
            for dx, dy in _LABEL_DIRECTIONS:
                offset = (dx * distance, dy * distance * (0.6 if dx else 1.0))
                label = ax.annotate(results.model.iloc[i], points[i], textcoords="offset points", xytext=offset,
                                    ha={1: "left", -1: "right", 0: "center"}[dx],
                                    va={1: "bottom", -1: "top", 0: "center"}[dy], fontsize=fontsize)  # fmt: skip
                box = label.get_window_extent(renderer)
                label.remove()
                score = cost(box)
                if best is None or score < best[0]:
                    best = (score, offset, label.get_ha(), label.get_va(), distance, box)
            if best[0] == 0:
                break
        _, offset, ha, va, distance, box = best
        arrow = {"arrowstyle": "-", "lw": 0.5, "color": "0.45", "shrinkB": 4} if distance > _LABEL_DISTANCES[0] else None
        ax.annotate(results.model.iloc[i], points[i], textcoords="offset points", xytext=offset, ha=ha, va=va,
                    fontsize=fontsize, arrowprops=arrow)  # fmt: skip
        taken.append(box)


def machine_note(seconds: float, cpu_seconds: float, load_before: float, load_after: float) -> str:
    """One line on where and how the numbers were measured."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {cores} CPU cores, Python {sys.version.split()[0]}, "
            f"torch {torch.__version__}, one thread. The full run took {cpu_seconds / 60:.1f} min of CPU time and "
            f"{seconds / 60:.1f} min of wall-clock time; load average {load_before:.1f} at its start and "
            f"{load_after:.1f} at its end")  # fmt: skip


# ------------------------------------------------------------------ the benchmarks README
BEGIN, END = "<!-- leaderboard:begin -->", "<!-- leaderboard:end -->"


def readme_path() -> Path:
    from helpers.course.notebooks import ROOT

    return ROOT / "benchmarks" / "README.md"


def update_readme(results: pd.DataFrame, note: str, path: str | Path | None = None) -> Path:
    """Replace the table between the leaderboard markers of ``benchmarks/README.md``."""
    path = Path(path) if path is not None else readme_path()
    if not path.exists():
        raise ValueError(f"{path} does not exist: --write updates a checkout of the course")
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} ... {END} block to update")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    block = f"{BEGIN}\nMeasured {note}.\n\n{leaderboard_table(results, markdown=True)}\n{END}"
    path.write_text(head + block + tail, encoding="utf-8")
    return path


def readme_table(path: str | Path | None = None) -> str:
    """The markdown table inside the leaderboard block of ``benchmarks/README.md``."""
    path = Path(path) if path is not None else readme_path()
    block = path.read_text(encoding="utf-8").split(BEGIN, 1)[1].split(END, 1)[0]
    return "\n".join(line for line in block.strip().splitlines() if line.startswith("|"))
