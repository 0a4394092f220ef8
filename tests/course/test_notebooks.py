"""Every lecture notebook and every assignment source runs top to bottom without an error, and
every notebook is committed the way the course expects (no outputs, the standard first cell)."""

from __future__ import annotations

import json
import os
import time
import warnings

import nbformat
import pytest

from helpers.course.notebooks import CELL_BUDGET_S, ROOT, SETUP_CELL, find_notebooks, run_notebook

LECTURES = find_notebooks(kind="notebooks")
SOURCES = find_notebooks(kind="solutions")
ALL = LECTURES + SOURCES
TIMES = ROOT / "build" / "notebook-times"
EXECUTED = ROOT / "build" / "executed"
MEMORY_BUDGET_MB = 2048  # every notebook must fit a laptop and free Colab

# Pacing (issue 20, GUIDE.md): a lecture runs in about 2 minutes (3 at most) on 2 cores, no
# lecture cell longer than ~30 s (CELL_BUDGET_S) on one slow core; an assignment source well
# under a minute. Timed tests are flaky on a loaded machine, so a cell over the budget only
# warns (the warning names it; every cell's time is in build/notebook-times/), and the test
# fails on gross excess only: 5x the cell budget, and a lecture's cells over 600 s (3x the
# rule); in CI (2 cores, 2 workers) the slowest cell took 99 s (week 4) and the slowest
# lecture 192 s in cells, so load alone does not trip them. NEXTWORD_PACING_SCALE multiplies
# the limits on a slower machine (0 switches them off).
PACING_SCALE = float(os.environ.get("NEXTWORD_PACING_SCALE", "1"))
CELL_LIMIT_S = 150
NOTEBOOK_LIMIT_S = {"notebooks": 600, "solutions": 180}


class PacingWarning(UserWarning):
    """A notebook cell ran longer than the course's pacing budget."""


def _id(path):
    return path.relative_to(ROOT).as_posix()


@pytest.mark.notebook
@pytest.mark.parametrize("path", ALL, ids=_id)
def test_notebook_runs(path):
    # The executed copy (outputs, plots) stays in build/executed: `nextword site` reuses it.
    result = run_notebook(path, out=EXECUTED / path.parent.relative_to(ROOT), timeout=600)
    TIMES.mkdir(parents=True, exist_ok=True)
    record = {"notebook": _id(path), "status": result.status, "seconds": round(result.seconds, 1),
              "peak_mb": round(result.peak_mb or 0), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "session": os.environ.get("NEXTWORD_TEST_SESSION", ""), "load": round(os.getloadavg()[0], 1),
              "cells": [[c.index, c.cell_id, round(c.seconds, 2)] for c in result.cells]}  # fmt: skip
    name = f"{_id(path).replace('/', '__')}-{os.getpid()}.json"
    (TIMES / name).write_text(json.dumps(record))
    assert result.status == "ok", result.error
    assert result.peak_mb is None or result.peak_mb < MEMORY_BUDGET_MB, f"{_id(path)} used {result.peak_mb:.0f} MB"
    _check_pacing(result, "solutions" if path in SOURCES else "notebooks")


def _check_pacing(result, kind):
    slow = [c for c in result.slowest(len(result.cells)) if c.seconds > CELL_BUDGET_S]
    for c in slow:
        warnings.warn(PacingWarning(f"{result.notebook} cell {c.index} ({c.cell_id}: {c.first_line}) took {c.seconds:.0f} s, "
                                    f"over the {CELL_BUDGET_S} s pacing budget: check with nextword run --cells"), stacklevel=2)  # fmt: skip
    if PACING_SCALE <= 0:
        return
    gross = [c for c in slow if c.seconds > CELL_LIMIT_S * PACING_SCALE]
    assert not gross, (f"{result.notebook}: cells far over the pacing budget of {CELL_BUDGET_S} s (limit {CELL_LIMIT_S * PACING_SCALE:.0f} s): "
                       + "; ".join(f"cell {c.index} ({c.cell_id}) {c.seconds:.0f} s" for c in gross))  # fmt: skip
    # The notebook's own time is the sum of its cells: a kernel that starts slowly or a runner
    # that stalls between cells (nbclient can wait out its whole timeout after an ipywidgets
    # cell, jupyter/nbclient#312) is not the notebook's pace; it is named, not failed.
    in_cells = sum(c.seconds for c in result.cells)
    if result.seconds - in_cells > CELL_LIMIT_S:
        warnings.warn(PacingWarning(f"{result.notebook}: {result.seconds - in_cells:.0f} s of its {result.seconds:.0f} s passed "
                                    "outside its cells (a slow kernel start, or the runner stalled between cells)"), stacklevel=2)  # fmt: skip
    limit = NOTEBOOK_LIMIT_S[kind] * PACING_SCALE
    assert in_cells < limit, f"{result.notebook}: its cells took {in_cells:.0f} s, far over its pacing budget (limit {limit:.0f} s)"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{_id(path)}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_first_code_cell_is_the_standard_setup(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.strip() == SETUP_CELL.strip(), f"{_id(path)}: the first code cell must be helpers.course.notebooks.SETUP_CELL"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lectures_seed_and_pick_the_device(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "seed_everything(" in code[1], f"{_id(path)}: the second code cell must call seed_everything"
    assert "get_device()" in "\n".join(code), f"{_id(path)}: pick the device with get_device()"


def test_every_week_has_its_parts():
    """A lecture for every assignment and an assignment for every lecture after week 0."""
    lectures = {p.name[:6] for p in LECTURES}
    assignments = {p.parent.name for p in SOURCES}
    assert "week00" in lectures and "week00" in assignments
    assert assignments <= lectures | {"week00"}, "an assignment without its lecture notebook"
