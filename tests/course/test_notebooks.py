"""Every lecture notebook and every assignment source runs top to bottom without an error, and
every notebook is committed the way the course expects (no outputs, the standard first cell)."""

from __future__ import annotations

import json
import os
import time

import nbformat
import pytest

from helpers.course.notebooks import ROOT, SETUP_CELL, find_notebooks, run_notebook

LECTURES = find_notebooks(kind="notebooks")
SOURCES = find_notebooks(kind="solutions")
ALL = LECTURES + SOURCES
TIMES = ROOT / "build" / "notebook-times"
MEMORY_BUDGET_MB = 2048  # every notebook must fit a laptop and free Colab


def _id(path):
    return path.relative_to(ROOT).as_posix()


@pytest.mark.notebook
@pytest.mark.parametrize("path", ALL, ids=_id)
def test_notebook_runs(path, tmp_path):
    result = run_notebook(path, out=tmp_path, timeout=600)
    TIMES.mkdir(parents=True, exist_ok=True)
    record = {"notebook": _id(path), "status": result.status, "seconds": round(result.seconds, 1),
              "peak_mb": round(result.peak_mb or 0), "when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "session": os.environ.get("NEXTWORD_TEST_SESSION", "")}  # fmt: skip
    name = f"{_id(path).replace('/', '__')}-{os.getpid()}.json"
    (TIMES / name).write_text(json.dumps(record))
    assert result.status == "ok", result.error
    assert result.peak_mb is None or result.peak_mb < MEMORY_BUDGET_MB, f"{_id(path)} used {result.peak_mb:.0f} MB"


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
