"""Build submissions from the course's real week00 assignment, as students would hand them in."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import nbformat

from helpers.course.notebooks import ROOT
from helpers.grading.synthetic import _ANYTHING as ANYTHING
from helpers.grading.synthetic import answers, fill

WEEK = "week00"
SOURCE = ROOT / "solutions" / WEEK / f"{WEEK}.ipynb"
RELEASE = ROOT / "assignments" / WEEK / f"{WEEK}.ipynb"
MAX_SCORE = 7.0
PARTS = {"test_softmax_values": 2, "test_softmax_stable": 1, "test_cross_entropy": 2, "test_cross_entropy_grad": 2}


def release() -> nbformat.NotebookNode:
    return nbformat.read(RELEASE, as_version=4)


def solutions() -> dict[str, str]:
    """The instructor's answer for every answer cell, without nbgrader's markers."""
    return answers(nbformat.read(SOURCE, as_version=4))


def submission(changes: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The released notebook with the instructor's answers, some replaced by ``changes``."""
    return fill(release(), {**solutions(), **(changes or {})})


def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def write(nb, folder: Path, name: str) -> Path:
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def clone(nb):
    return copy.deepcopy(nb)


WRONG = {
    "softmax": "def softmax(z):\n    import numpy as np\n    return np.zeros(np.shape(z))",
    "cross_entropy": "def cross_entropy(logits, targets):\n    return 0.0",
    "cross_entropy_grad": "def cross_entropy_grad(logits, targets):\n    import numpy as np\n    return np.zeros(np.shape(logits))",
}

# The equal-to-anything object of the synthetic classes, a float that lies, and answers using them.
ALWAYS_EQUAL = ANYTHING + textwrap.dedent(
    """
    class LyingFloat(float):
        def __eq__(self, other): return True
        def __float__(self): return 1.3862943611198906
        def __sub__(self, other): return 0.0

    def softmax(z):
        return _Anything()
    """
)

