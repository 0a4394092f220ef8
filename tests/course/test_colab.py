"""Google Colab, simulated: a notebook opened alone, in a Python that has torch and the usual
scientific stack but neither the course nor any Jupyter server package, installs the course
from its repository in its first cell and runs to the end; the student self-check works there.

How the simulation is built, and why:
- **the preinstalled stack.** Colab's interpreter comes with torch, numpy, pandas, matplotlib,
  scikit-learn, ipykernel, ipywidgets ... in its own site-packages. Here they are installed once
  into a *base* environment (``build/colab-base``, or the one ``NEXTWORD_COLAB_BASE`` names; the
  first build downloads about 1.5 GB from the package index and takes minutes). Each test then
  makes a **fresh** ``python -m venv`` and adds the base's site-packages to it with a ``.pth``
  file: what ``--system-site-packages`` does for a base interpreter, for a base environment. The
  stack is importable and pip counts it as installed, as in Colab; whatever the notebook installs
  goes into the fresh environment, which starts without the course.
- **no Jupyter server.** The base holds only ipykernel (the kernel side); the test proves, in the
  fresh environment, that jupyter_server, jupyterlab, notebook, nbgrader, nbclient and the
  course itself are not importable before the notebook runs.
- **no checkout around the notebook.** The notebook is copied alone into an empty folder.
- **the course from git.** ``NEXTWORD_REPO`` is a ``git+file://`` clone of this checkout and
  ``NEXTWORD_REF`` its ``HEAD`` commit, so the setup cell (helpers.course.notebooks.SETUP_CELL)
  pip-installs exactly what is committed (commit before running this test: uncommitted changes
  are not in the clone, and the test says so).
- **the kernel.** nbclient, in the test's own environment, starts a kernel whose python is the
  fresh environment's, with PYTHONPATH and VIRTUAL_ENV removed so nothing of this checkout leaks
  in.

Opt-in (minutes: one pip install of the course per notebook): ``python -m pytest -m colab -p
no:xdist`` or NEXTWORD_COLAB_TESTS=1. Run for one lecture notebook (week 0) and one assignment
(week 0: the solved notebook passes ``check("week00")``; the released blank one does not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers.course.notebooks import ROOT, SETUP_CELL

pytestmark = [pytest.mark.slow, pytest.mark.colab]

OPT_IN = "the Colab simulation is opt-in (minutes): python -m pytest -m colab -p no:xdist, or NEXTWORD_COLAB_TESTS=1"
# What Colab has before a notebook runs: the scientific stack and the kernel, no Jupyter server.
COLAB_STACK = ["numpy", "scipy", "pandas", "matplotlib", "seaborn", "scikit-learn", "ipykernel", "ipywidgets",
               "tqdm", "requests"]  # fmt: skip
NOT_IN_COLAB = ["jupyter_server", "jupyterlab", "notebook", "nbclassic", "nbgrader", "nbclient", "helpers"]
PYTHON = Path(sys.base_prefix) / "bin" / "python3"  # the interpreter under this test's venv
INSTALL_S = 900  # the base stack's first build
CELL_S = 600  # the setup cell's pip install of the course is the slowest cell


def _asked_for(config) -> bool:
    markers = config.getoption("markexpr") or ""
    return os.environ.get("NEXTWORD_COLAB_TESTS") == "1" or ("colab" in markers and "not colab" not in markers)


def _torch_requirement() -> str:
    """The torch this machine's pip has as a CPU build (the test's own environment's version);
    an unpinned ``torch`` would pull a CUDA build of several GB."""
    import torch

    return f"torch=={torch.__version__.split('+')[0]}"


def _run(command: list[str], timeout: float, **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


@pytest.fixture(scope="module")
def colab_base(request) -> Path:
    """The site-packages of the base environment with Colab's preinstalled stack (built once)."""
    if not _asked_for(request.config):
        pytest.skip(OPT_IN)
    base = Path(os.environ.get("NEXTWORD_COLAB_BASE", ROOT / "build" / "colab-base"))
    stack = [_torch_requirement(), *COLAB_STACK]
    stamp = base / "nextword-colab-stack.json"
    if not (stamp.exists() and json.loads(stamp.read_text()) == stack):
        if not (base / "bin" / "python").exists():
            _run([str(PYTHON), "-m", "venv", str(base)], timeout=120)
        start = time.monotonic()
        _run([str(base / "bin" / "python"), "-m", "pip", "install", "-q", *stack], timeout=INSTALL_S)
        print(f"Colab base stack installed in {time.monotonic() - start:.0f} s: {base}")
        stamp.write_text(json.dumps(stack))
    return _site_packages(base)


@pytest.fixture(scope="module")
def course_clone(tmp_path_factory) -> tuple[str, str]:
    """``git+file://`` address of a clone of this checkout, and its HEAD commit."""
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], timeout=60, cwd=ROOT).strip()
    if dirty:
        print(f"note: uncommitted changes are not tested (the clone has HEAD only):\n{dirty[:500]}")
    clone = tmp_path_factory.mktemp("remote") / "nextword"
    _run(["git", "clone", "-q", str(ROOT), str(clone)], timeout=120)
    head = _run(["git", "rev-parse", "HEAD"], timeout=30, cwd=clone).strip()
    return f"git+file://{clone}", head


class Colab:
    """A fresh environment on top of the base stack, and a kernel that runs in it."""

    def __init__(self, base_site: Path, folder: Path):
        self.env = folder / "venv"
        _run([str(PYTHON), "-m", "venv", str(self.env)], timeout=120)
        (_site_packages(self.env) / "colab-preinstalled.pth").write_text(f"{base_site}\n")
        self.python = self.env / "bin" / "python"
        self.kernels = folder / "jupyter"
        spec = self.kernels / "kernels" / "colab"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [str(self.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (simulated Colab)", "language": "python"}))  # fmt: skip

    def importable(self, modules: list[str]) -> dict[str, bool]:
        code = ("import importlib.util, json, sys; "
                "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))")  # fmt: skip
        return json.loads(_run([str(self.python), "-c", code, *modules], timeout=120, env=_clean_env(), cwd=self.env))

    def execute(self, notebook: Path, monkeypatch, allow_errors: bool = False) -> nbformat.NotebookNode:
        from nbclient import NotebookClient

        monkeypatch.setenv("JUPYTER_PATH", str(self.kernels))
        for name in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PATH", f"{self.env / 'bin'}{os.pathsep}{os.environ['PATH']}")
        nb = nbformat.read(notebook, as_version=4)
        client = NotebookClient(nb, kernel_name="colab", timeout=CELL_S, allow_errors=allow_errors,
                                resources={"metadata": {"path": str(notebook.parent)}})  # fmt: skip
        client.execute(cwd=str(notebook.parent))
        return nb


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return env


def _alone(source: Path, folder: Path, extra_cells: list[str]) -> Path:
    """``source`` copied alone into the empty ``folder``, with ``extra_cells`` appended."""
    folder.mkdir()
    nb = nbformat.read(source, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source == SETUP_CELL, f"{source.name}: its first code cell is not SETUP_CELL (restamp it)"
    nb.cells += [nbformat.v4.new_code_cell(c) for c in extra_cells]
    path = folder / source.name
    nbformat.write(nb, path)
    assert sorted(p.name for p in folder.iterdir()) == [source.name]
    return path


def _outputs(cell) -> str:
    return "".join(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))


def _errors(nb) -> list[str]:
    return [f"cell {i}: {o['ename']}: {o['evalue']}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]  # fmt: skip


WHERE = ("import json, sys, importlib.metadata, helpers  # simulated-Colab probe\n"
         "print('WHERE' + json.dumps({'helpers': helpers.__file__, 'prefix': sys.prefix,\n"
         "      'nextword': importlib.metadata.version('nextword'),\n"
         "      'url': json.loads(importlib.metadata.distribution('nextword').read_text('direct_url.json') or '{}').get('url')}))")  # fmt: skip
CHECK = ("import json\nfrom helpers.grading import check  # the student self-check\n"
         "results = check('week00')\n"
         "print('CHECK' + json.dumps({r.part: r.passed for r in results}))")  # fmt: skip


def _probe(nb, tag: str) -> dict:
    out = next(_outputs(c) for c in nb.cells if c.cell_type == "code" and tag in c.source and "print('" + tag in c.source)
    return json.loads(out.split(tag, 1)[1].strip().splitlines()[0])


def _fresh(colab_base, course_clone, folder, monkeypatch) -> Colab:
    colab = Colab(colab_base, folder)
    seen = colab.importable(["torch", "numpy", "pandas", "matplotlib", "ipykernel", "ipywidgets", *NOT_IN_COLAB])
    assert all(seen[m] for m in ("torch", "numpy", "pandas", "matplotlib", "ipykernel", "ipywidgets")), seen
    assert not any(seen[m] for m in NOT_IN_COLAB), f"not a Colab-like environment: {seen}"
    url, ref = course_clone
    monkeypatch.setenv("NEXTWORD_REPO", url)
    monkeypatch.setenv("NEXTWORD_REF", ref)
    return colab


def _installed_from_clone(nb, colab: Colab, course_clone) -> None:
    where = _probe(nb, "WHERE")
    assert Path(where["helpers"]).is_relative_to(colab.env), f"the course was not installed into the fresh env: {where}"
    assert where["url"] == course_clone[0].removeprefix("git+"), where


def test_lecture_notebook_installs_the_course_and_runs(colab_base, course_clone, tmp_path, monkeypatch):
    colab = _fresh(colab_base, course_clone, tmp_path, monkeypatch)
    path = _alone(ROOT / "notebooks" / "week00_setup.ipynb", tmp_path / "content", [WHERE])
    start = time.monotonic()
    nb = colab.execute(path, monkeypatch)
    print(f"week 0 (lecture) ran in the simulated Colab in {time.monotonic() - start:.0f} s")
    assert not _errors(nb)
    _installed_from_clone(nb, colab, course_clone)


def test_assignment_installs_the_course_and_self_checks(colab_base, course_clone, tmp_path, monkeypatch):
    colab = _fresh(colab_base, course_clone, tmp_path, monkeypatch)
    path = _alone(ROOT / "solutions" / "week00" / "week00.ipynb", tmp_path / "solved", [WHERE, CHECK])
    start = time.monotonic()
    nb = colab.execute(path, monkeypatch)
    print(f"week 0 (assignment, solved) ran in the simulated Colab in {time.monotonic() - start:.0f} s")
    assert not _errors(nb)
    _installed_from_clone(nb, colab, course_clone)
    parts = _probe(nb, "CHECK")
    assert parts and all(parts.values()), f"check('week00') on the solved notebook: {parts}"
    # the released notebook, unanswered, in the same environment (the course now installed)
    blank = _alone(ROOT / "assignments" / "week00" / "week00.ipynb", tmp_path / "blank", [CHECK])
    nb = colab.execute(blank, monkeypatch, allow_errors=True)
    parts_blank = _probe(nb, "CHECK")
    assert set(parts_blank) == set(parts) and not any(parts_blank.values()), f"check('week00') unanswered: {parts_blank}"
