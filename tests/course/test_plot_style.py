"""One plotting theme, set in one place (helpers/course/style.py, from seaborn) and used by
every notebook with one line."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import nbformat
import pytest

from helpers.course.notebooks import ROOT, find_notebooks
from helpers.course.style import SHEET, STYLE, theme

LINE = f'plt.style.use("{STYLE}")'
PLOTTING = [p for p in [*find_notebooks(kind="notebooks"), *find_notebooks(kind="solutions")]
            if "matplotlib" in "".join(c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")]  # fmt: skip


def test_the_sheet_is_seaborns_theme():
    """The style sheet is what theme() asks seaborn for (regenerate: python -m helpers.course.style)."""
    sheet = matplotlib.rc_params_from_file(SHEET, use_default_template=False)
    wanted = matplotlib.RcParams(theme())
    assert set(sheet) == set(wanted)
    assert {k: sheet[k] for k in wanted if sheet[k] != wanted[k]} == {}
    assert sheet["axes.grid"] and sheet["axes.prop_cycle"].by_key()["color"][0] == "#0173b2"  # whitegrid, colorblind


def test_the_style_works_without_importing_seaborn():
    code = ("import sys, matplotlib.pyplot as plt\n"
            f"plt.style.use({STYLE!r})\n"
            "assert 'seaborn' not in sys.modules\n"
            "print(plt.rcParams['axes.titlesize'], plt.rcParams['figure.dpi'])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(float(theme()["axes.titlesize"])), str(float(theme()["figure.dpi"]))]


def test_every_lecture_plots():
    assert set(find_notebooks(kind="notebooks")) <= set(PLOTTING)


@pytest.mark.parametrize("path", PLOTTING, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_notebook_that_plots_uses_the_course_theme_in_its_import_cell(path):
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert LINE in code[1], f"{path.name}: add `{LINE}` to the import cell"
    assert sum(LINE in c for c in code) == 1, f"{path.name}: set the theme once, in the import cell"
    assert "sns.set" not in "".join(code) and "plt.style.use(" not in "".join(code).replace(LINE, ""), (
        f"{path.name}: no other theme; change the course's in helpers/course/style.py")


def test_apply_theme_puts_the_theme_back_into_a_notebook_taken_from_another_branch(tmp_path):
    """After a merge takes a notebook without the theme, apply_theme() (run by `nextword
    restamp`) writes the theme line into its import cell and a grid(False) after each imshow
    call, even one spread over lines; a second run changes nothing."""
    from helpers.course.style import THEME_LINE, apply_theme

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# setup"),
                nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfrom x import (\n    a,\n)\nprint(1)"),
                nbformat.v4.new_code_cell("fig, axes = plt.subplots(1, 2)\nim = axes[0].imshow(\n    w, cmap='Blues'\n)\n"
                                          "for ax in axes:\n    ax.imshow(w)\n    ax.grid(False)\nplt.show()")]  # fmt: skip
    path = tmp_path / "week99_demo.ipynb"
    nbformat.write(nb, path)
    assert apply_theme([path]) == [path]
    code = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert code[1].split("\n") == ["import matplotlib.pyplot as plt", "from x import (", "    a,", ")", THEME_LINE, "print(1)"]
    assert code[2].split("\n")[1:5] == ["im = axes[0].imshow(", "    w, cmap='Blues'", ")",
                                        "axes[0].grid(False)  # no grid lines over an image"]  # fmt: skip
    assert code[2].count("ax.grid(False)") == 1, "an existing grid(False) is kept, not doubled"
    assert apply_theme([path]) == []
