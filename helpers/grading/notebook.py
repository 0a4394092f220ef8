"""Reading assignment notebooks and their nbgrader cell metadata.

nbgrader marks cells in ``cell.metadata.nbgrader``: ``grade_id`` (a name), ``solution``
(students write here), ``grade`` with ``points`` (an autograded test when it is a code cell),
``locked`` (students must not edit). The course adds ``cell.metadata.nextword.bonus`` for a test
whose points are a bonus, outside the maximum score (:func:`is_bonus`). These helpers read that schema without importing nbgrader,
so that students' self-checks work where nbgrader is not installed (Colab).
"""

from __future__ import annotations

import ast
import json
import os
import re

__all__ = [
    "HIDDEN_TESTS",
    "imported_modules",
    "read_submitted_notebook",
    "grade_id",
    "is_bonus",
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


def is_bonus(cell) -> bool:
    """A bonus test: its points are reported apart and do not count towards the maximum score.

    nbgrader has no notion of bonus points, so the course marks them in its own cell metadata,
    ``cell.metadata.nextword.bonus = true``, next to nbgrader's."""
    meta = cell.get("metadata", {}).get("nextword")
    return isinstance(meta, dict) and meta.get("bonus") is True


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


def imported_modules(cells) -> set[str]:
    """Top-level modules the code ``cells`` import (IPython magics and shell lines skipped)."""
    names: set[str] = set()
    for cell in cells:
        try:
            tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def read_submitted_notebook(data: bytes):
    """(notebook, note) or raise ValueError with a message for the grade sheet."""
    import nbformat

    if not data.strip():
        raise ValueError("the notebook file is empty")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"the notebook is not valid JSON ({str(error)[:120]}); was it saved completely?") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise ValueError("the file is JSON but not a Jupyter notebook (no list of cells)")
    major = raw.get("nbformat")
    if major not in (3, 4):
        raise ValueError(f"unsupported notebook format version {major!r} (need 4; open and re-save it in Jupyter)")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for broken notebooks
        raise ValueError(f"the notebook could not be read ({type(error).__name__}: {str(error)[:120]})") from None
    note = "notebook was in the old format 3: converted" if major == 3 else ""
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            cell["source"] = "".join(str(s) for s in (cell.get("source") or []))
        cell.setdefault("metadata", {})
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            cell["cell_type"] = "raw"
    return nb, note
