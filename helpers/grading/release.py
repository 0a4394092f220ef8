"""Release: generate the student version of an assignment from its source with nbgrader.

``solutions/weekNN/`` (solutions, hidden tests) -> ``assignments/weekNN/`` (stubs, visible tests
only), exactly as ``nbgrader generate_assignment`` does with the course's ``nbgrader_config.py``.
It also writes the visible tests to ``helpers/grading/visible/weekNN.json`` (package data), so
that :func:`helpers.grading.check` works in Colab, where only the package is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers.course.notebooks import ROOT, normalise_week
from helpers.grading.notebook import is_bonus, is_test_cell, load_notebook

__all__ = ["VISIBLE_DIR", "release", "visible_tests"]

VISIBLE_DIR = Path(__file__).resolve().parent / "visible"


def release(week: str, dest: str | os.PathLike | None = None, visible_dir: str | os.PathLike | None = None) -> Path:
    """Generate the student version of ``week`` into ``dest`` (default ``assignments/``).

    Returns the folder that holds the released notebooks.
    """
    week = normalise_week(week)
    source = ROOT / "solutions" / week
    if not source.is_dir() or not any(source.glob("*.ipynb")):
        raise ValueError(f"no assignment source for {week}: expected notebooks in {source}")
    release_dir = Path(dest) if dest is not None else ROOT / "assignments"
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "gradebook.db"
        out = Path(scratch) / "release"
        command = [
            sys.executable, "-m", "nbgrader", "generate_assignment", week, "--force", "--quiet",
            f"--CourseDirectory.root={ROOT}",
            f"--CourseDirectory.release_directory={out}",
            f"--CourseDirectory.db_url=sqlite:///{db}",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0 or not (out / week).is_dir():
            raise RuntimeError(f"nbgrader generate_assignment {week} failed:\n{done.stdout}\n{done.stderr}")
        target = release_dir / week
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(out / week, target)
    write_visible_tests(week, target, Path(visible_dir) if visible_dir is not None else VISIBLE_DIR)
    return target


def visible_tests(release_folder: Path) -> dict:
    """The visible test cells of a released assignment, in order, with their points."""
    notebooks = []
    for path in sorted(release_folder.glob("*.ipynb")):
        nb = load_notebook(path)
        cells = [c for c in nb.cells if c.cell_type == "code"]
        notebooks.append(
            {
                "notebook": path.name,
                "tests": [
                    {
                        "grade_id": c.metadata["nbgrader"]["grade_id"],
                        "points": float(c.metadata["nbgrader"].get("points", 0)),
                        "source": c.source,
                        **({"bonus": True} if is_bonus(c) else {}),  # week 1's bonus part
                    }
                    for c in cells
                    if is_test_cell(c)
                ],
            }
        )
    return {"assignment": release_folder.name, "notebooks": notebooks}


def write_visible_tests(week: str, release_folder: Path, visible_dir: Path) -> Path:
    visible_dir.mkdir(parents=True, exist_ok=True)
    path = visible_dir / f"{week}.json"
    path.write_text(json.dumps(visible_tests(release_folder), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
