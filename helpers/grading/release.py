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

from helpers.course.course_dir import tool_environment
from helpers.course.notebooks import ROOT, normalise_week
from helpers.grading.notebook import is_bonus, is_test_cell, load_notebook

__all__ = ["IGNORED", "VISIBLE_DIR", "ReleaseError", "release", "release_files", "visible_tests"]

VISIBLE_DIR = Path(__file__).resolve().parent / "visible"

# Never part of a release, whatever is in solutions/: JupyterLab's autosaves, caches, editor litter.
IGNORED = (".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store", "*~")


class ReleaseError(RuntimeError):
    """nbgrader could not generate the assignment; the message carries nbgrader's own error."""


def release(week: str, dest: str | os.PathLike | None = None, visible_dir: str | os.PathLike | None = None,
            root: str | os.PathLike | None = None) -> Path:  # fmt: skip
    """Generate the student version of ``week`` of the course at ``root`` (default: this
    checkout) into ``dest`` (default ``assignments/``), and its visible tests into
    ``visible_dir`` (default: the course's ``helpers/grading/visible/``). Returns the folder that holds the
    released notebooks. JupyterLab's ``.ipynb_checkpoints`` never reach it, and nbgrader
    clears every output. nbgrader runs with this interpreter's scripts folder on ``PATH``
    (an unactivated virtual environment works); when it fails, :class:`ReleaseError` says why
    in nbgrader's words.
    """
    week = normalise_week(week)
    root = Path(root).resolve() if root is not None else ROOT
    source = root / "solutions" / week
    if not source.is_dir() or not any(source.glob("*.ipynb")):
        raise ValueError(f"no assignment source for {week}: expected notebooks in {source}")
    release_dir = Path(dest) if dest is not None else root / "assignments"
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "gradebook.db"
        out = Path(scratch) / "release"
        # nbgrader reads a copy of the sources without checkpoints (its own ignore list covers
        # other files only: a checkpoint notebook would be taken for a second assignment notebook)
        sources = Path(scratch) / "source"
        shutil.copytree(source, sources / week, ignore=shutil.ignore_patterns(*IGNORED))
        command = [
            sys.executable, "-m", "nbgrader", "generate_assignment", week, "--force",
            f"--CourseDirectory.root={root}",
            f"--CourseDirectory.source_directory={sources}",
            f"--CourseDirectory.release_directory={out}",
            f"--CourseDirectory.db_url=sqlite:///{db}",
            "--Application.log_level=WARN",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=tool_environment())
        if done.returncode != 0 or not (out / week).is_dir():
            raise ReleaseError(f"nbgrader generate_assignment {week} failed (exit code {done.returncode}):\n"
                               + _nbgrader_error(done.stdout + "\n" + done.stderr))  # fmt: skip
        target = release_dir / week
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(out / week, target, ignore=shutil.ignore_patterns(*IGNORED))
    # the course's own copy of the package data (VISIBLE_DIR when the course is this checkout)
    visible = Path(visible_dir) if visible_dir is not None else root / "helpers" / "grading" / "visible"
    write_visible_tests(week, target, visible)
    return target


def release_files(folder: str | os.PathLike) -> list[str]:
    """The files of a released assignment folder, relative and sorted, without what
    :data:`IGNORED` names (JupyterLab's checkpoints of an opened assignment are not part of it)."""
    import fnmatch

    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
                  and not any(fnmatch.fnmatch(part, pattern) for part in p.relative_to(folder).parts for pattern in IGNORED))  # fmt: skip


def _nbgrader_error(text: str, lines: int = 40) -> str:
    """The informative end of nbgrader's output: its tracebacks and ``[ERROR]`` lines."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) if kept else "(nbgrader printed nothing)"


def visible_tests(release_folder: Path) -> dict:
    """The visible test cells of a released assignment, in order, with their points."""
    notebooks = []
    for path in sorted(p for p in release_folder.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts):
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
