"""The first cell of every notebook finds the course, and says clearly when something else
called ``helpers`` (a student's own helpers.py, a common file name) hides it."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from helpers.course.notebooks import ROOT, SETUP_CELL, run_notebook


def _notebook(folder, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP_CELL), *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "lesson.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_a_shadowing_helpers_py_is_named_with_what_to_do(tmp_path, monkeypatch):
    # A kernel puts its working folder on sys.path before site-packages (but after PYTHONPATH,
    # which a developer's checkout may set): the student's file comes first.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    (tmp_path / "helpers.py").write_text("def my_plot(): pass\n")
    result = run_notebook(_notebook(tmp_path, "import helpers.course"), out=tmp_path / "out", timeout=120)
    assert result.status == "error"
    executed = nbformat.read(tmp_path / "out" / "lesson.ipynb", as_version=4)
    error = executed.cells[0].outputs[-1]
    assert error.ename == "ImportError"
    assert "helpers.py" in error.evalue and "rename your own helpers.py" in error.evalue


@pytest.mark.slow
def test_without_a_shadow_the_course_imports(tmp_path):
    result = run_notebook(_notebook(tmp_path, "import helpers.course\nprint(helpers.course.__file__)"),
                          out=tmp_path / "out", timeout=120)  # fmt: skip
    assert result.status == "ok", result.error
    executed = nbformat.read(tmp_path / "out" / "lesson.ipynb", as_version=4)
    assert str(ROOT / "helpers" / "course") in executed.cells[1].outputs[0].text


def test_a_checkout_that_is_not_installed_is_used(tmp_path):
    """No installed distribution (``python -S``: no site-packages): the cell finds the checkout
    above the working folder and puts it on ``sys.path``."""
    code = SETUP_CELL + "\nprint(importlib.util.find_spec(\"helpers.course\").origin)"
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT / "notebooks", capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "helpers" / "course" / "__init__.py")


@pytest.mark.parametrize(
    "repo, expected",
    [("https://example.org/fork/nextword", "git+https://example.org/fork/nextword@v9"),
     ("git+file:///srv/course/nextword", "git+file:///srv/course/nextword@v9")],
)  # fmt: skip
def test_colab_installs_the_pinned_release_of_the_repository(tmp_path, repo, expected):
    """Neither installed nor in a checkout (Colab): pip installs COURSE_REPO at COURSE_REF;
    NEXTWORD_REPO may be written with or without the ``git+`` prefix."""
    fake_pip = "import subprocess, sys\nsubprocess.run = lambda cmd, check: (print(cmd[-1]), sys.exit(0))\n"
    done = subprocess.run([sys.executable, "-S", "-c", fake_pip + SETUP_CELL], cwd=tmp_path, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "NEXTWORD_REPO": repo, "NEXTWORD_REF": "v9"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_the_pinned_release_is_this_version():
    from importlib.metadata import version

    assert f'os.environ.get("NEXTWORD_REF", "v{version("nextword")}")' in SETUP_CELL, (
        "COURSE_REF in helpers.course.notebooks.SETUP_CELL must be 'v' + the version in pyproject.toml; "
        "after changing it run helpers.course.notebooks.restamp_setup_cells()"
    )
