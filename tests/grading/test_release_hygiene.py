"""JupyterLab keeps the repository clean: what it writes beside and into notebooks
(``.ipynb_checkpoints/``, outputs) never reaches a release, does not break the release check,
and is stripped on commit by the documented nbstripout hook."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
import yaml

from helpers.course.notebooks import ROOT
from helpers.grading.release import release, release_files


def _with_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = 3
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="LAB-OUTPUT\n")]
    return nb


@pytest.mark.slow
def test_checkpoints_and_outputs_never_reach_a_release(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / "week00", course / "solutions" / "week00")
    source = course / "solutions" / "week00" / "week00.ipynb"
    nb = _with_outputs(nbformat.read(source, as_version=4))
    nbformat.write(nb, source)  # saved in JupyterLab after running it
    checkpoints = course / "solutions" / "week00" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    nbformat.write(nb, checkpoints / "week00-checkpoint.ipynb")
    (checkpoints / "notes-checkpoint.txt").write_text("autosave\n")
    fresh = release("week00", dest=tmp_path / "release", visible_dir=tmp_path / "visible", root=course)
    assert not list(fresh.rglob(".ipynb_checkpoints")) and not list(fresh.rglob("*checkpoint*"))
    assert "LAB-OUTPUT" not in (fresh / "week00.ipynb").read_text()
    released = nbformat.read(fresh / "week00.ipynb", as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in released.cells if c.cell_type == "code")
    committed = ROOT / "assignments" / "week00"
    assert release_files(fresh) == release_files(committed)
    assert released.cells == nbformat.read(committed / "week00.ipynb", as_version=4).cells  # outputs changed nothing


def test_the_release_check_ignores_checkpoints_in_an_opened_assignment(tmp_path):
    opened = tmp_path / "week00"
    shutil.copytree(ROOT / "assignments" / "week00", opened)
    (opened / ".ipynb_checkpoints").mkdir()
    shutil.copy(opened / "week00.ipynb", opened / ".ipynb_checkpoints" / "week00-checkpoint.ipynb")
    assert release_files(opened) == release_files(ROOT / "assignments" / "week00")
    assert ".ipynb_checkpoints/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_commit_hook_strips_outputs_and_keeps_what_nbgrader_needs(tmp_path):
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in config["repos"] if repo["repo"].endswith("/nbstripout") for h in repo["hooks"]]
    assert hook["id"] == "nbstripout"
    import re

    for path in ("notebooks/week01_ngrams.ipynb", "solutions/week00/week00.ipynb", "assignments/week00/week00.ipynb"):
        assert re.search(hook["files"], path), path
    assert "nbstripout" in (ROOT / "CONTRIBUTING.md").read_text() and "pre-commit install" in (ROOT / "CONTRIBUTING.md").read_text()
    pytest.importorskip("nbstripout")
    original = nbformat.read(ROOT / "solutions" / "week00" / "week00.ipynb", as_version=4)
    path = tmp_path / "week00.ipynb"
    nbformat.write(_with_outputs(nbformat.read(ROOT / "solutions" / "week00" / "week00.ipynb", as_version=4)), path)
    done = subprocess.run([sys.executable, "-m", "nbstripout", *hook.get("args", []), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    stripped = nbformat.read(path, as_version=4)
    assert "LAB-OUTPUT" not in path.read_text()
    assert [c.get("id") for c in stripped.cells] == [c.get("id") for c in original.cells]
    assert [c.metadata.get("nbgrader") for c in stripped.cells] == [c.metadata.get("nbgrader") for c in original.cells]
    assert [c.source for c in stripped.cells] == [c.source for c in original.cells]
