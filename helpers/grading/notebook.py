"""Reading assignment notebooks and their nbgrader cell metadata.

nbgrader marks cells in ``cell.metadata.nbgrader``: ``grade_id`` (a name), ``solution``
(students write here), ``grade`` with ``points`` (an autograded test when it is a code cell),
``locked`` (students must not edit). These helpers read that schema without importing nbgrader,
so that students' self-checks work where nbgrader is not installed (Colab).
"""

from __future__ import annotations

import json
import os
import re

__all__ = [
    "HIDDEN_TESTS",
    "grade_id",
    "is_locked",
    "is_solution_cell",
    "is_test_cell",
    "load_notebook",
    "points",
    "strip_hidden_tests",
]

HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def load_notebook(path: str | os.PathLike):
    """Read a notebook as nbformat v4 (a ``NotebookNode``)."""
    import nbformat

    with open(path, encoding="utf-8") as f:
        return nbformat.read(f, as_version=4)


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    value = _meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_test_cell(cell) -> bool:
    """An autograded test: a code cell marked ``grade`` and not ``solution``."""
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_solution_cell(cell) -> bool:
    return bool(_meta(cell).get("solution"))


def is_locked(cell) -> bool:
    meta = _meta(cell)
    return bool(meta.get("locked")) and not meta.get("solution")


def points(cell) -> float:
    try:
        return float(_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def strip_hidden_tests(source: str) -> str:
    """The source with every hidden-test region removed (what students see)."""
    return HIDDEN_TESTS.sub("", source)


def dumps(nb) -> str:
    """Serialise a notebook the way nbformat writes it (for hashing and comparison)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False)
