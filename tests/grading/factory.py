"""Build submissions from the course's real week00 assignment, as students would hand them in."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from helpers.notebooks import ROOT

WEEK = "week00"
SOURCE = ROOT / "solutions" / WEEK / f"{WEEK}.ipynb"
RELEASE = ROOT / "assignments" / WEEK / f"{WEEK}.ipynb"
MAX_SCORE = 7.0
PARTS = {"test_softmax_values": 2, "test_softmax_stable": 1, "test_cross_entropy": 2, "test_cross_entropy_grad": 2}


def release() -> nbformat.NotebookNode:
    return nbformat.read(RELEASE, as_version=4)


def solutions() -> dict[str, str]:
    """The instructor's answer for every answer cell, without nbgrader's markers."""
    source = nbformat.read(SOURCE, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", "", c.source, flags=re.M)
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def submission(answers: dict[str, str] | None = None, use_solutions: bool = True) -> nbformat.NotebookNode:
    """The released notebook with the given answers (default: the instructor's answers)."""
    nb = release()
    filled = dict(solutions()) if use_solutions else {}
    filled.update(answers or {})
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in filled:
            cell.source = filled[gid]
    return nb


def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def write(nb, folder: Path, name: str) -> Path:
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def clone(nb):
    return copy.deepcopy(nb)
