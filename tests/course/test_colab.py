"""Google Colab, simulated: a notebook opened alone, in a Python that has torch and the usual
scientific stack but neither the course nor any Jupyter server package, installs the course
from its repository in its first cell and runs to the end; the student self-check works there.

How the simulation is built, and why:
- **the preinstalled stack.** Colab's interpreter comes with torch, numpy, pandas, matplotlib,
  scikit-learn, transformers, ipykernel, ipywidgets ... in its own site-packages. Here that
  stack (``COLAB_STACK`` and everything it requires) is taken from this test's own environment:
  the files of each of those distributions, as their RECORD lists them, are hard-linked (copied
  across file systems) into a scratch ``site-packages`` folder, which takes seconds and no
  network, and leaves out every other distribution of this environment (the course, nbclient,
  jupyter_server ...). Each test then makes a **fresh** ``python -m venv`` whose ``.pth`` file
  adds that folder with ``site.addsitedir``: what ``--system-site-packages`` does for a base
  interpreter. The stack is importable and pip counts it as installed, as in Colab; whatever the
  notebook installs goes into the fresh environment, which starts without the course.
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

Opt-in, because the setup cell pip-installs the course's dependencies from the package index
(about a minute per notebook on 2 idle cores): ``python -m pytest -m colab`` or
NEXTWORD_COLAB_TESTS=1, which ``.ci/run`` sets for its main run. Run for one lecture notebook
(week 0) and one assignment (week 0: the solved notebook passes ``check("week00")``; the released
blank one does not).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from helpers.course.notebooks import ROOT, SETUP_CELL

pytestmark = [pytest.mark.slow, pytest.mark.colab]

OPT_IN = "the Colab simulation is opt-in (it pip-installs the course): python -m pytest -m colab, or NEXTWORD_COLAB_TESTS=1"
# What Colab has before a notebook runs (a part of its preinstalled packages): torch, the
# scientific stack, Hugging Face's libraries and the kernel, no Jupyter server.
COLAB_STACK = ["torch", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "scikit-learn", "ipykernel", "ipywidgets",
               "tqdm", "requests", "transformers", "sentence-transformers", "tokenizers", "safetensors", "regex",
               "platformdirs"]  # fmt: skip
NOT_IN_COLAB = ["jupyter_server", "jupyterlab", "notebook", "nbclassic", "nbgrader", "nbclient", "helpers"]
# The course's own dependencies outside that stack: the setup cell has to install them.
INSTALLED_BY_THE_SETUP_CELL = ["gensim", "codespell_lib", "wordfreq", "tiktoken"]
PYTHON = Path(sys.base_prefix) / "bin" / "python3"  # the interpreter under this test's venv
CELL_S = 600  # the setup cell's pip install of the course is the slowest cell


def _asked_for(config) -> bool:
    markers = config.getoption("markexpr") or ""
    return os.environ.get("NEXTWORD_COLAB_TESTS") == "1" or ("colab" in markers and "not colab" not in markers)


def _run(command: list[str], timeout: float, **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


def _requirement_closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    """The distributions of this environment that ``names`` need, their requirements included
    (extras and requirements whose markers do not hold here left out, as pip would)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if name in map(canonicalize_name, names):
                pytest.fail(f"{name}, part of the simulated Colab's stack, is not installed here: pip install -e '.[dev]'")
            continue  # a requirement this platform's build does without; pip would say so in Colab too
        found[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(found.values())


def _link_distribution(dist: importlib.metadata.Distribution, site: Path) -> int:
    """Hard-link (or copy) the files of ``dist`` that live in its site-packages into ``site``."""
    count = 0
    for file in dist.files or []:
        if file.parts[0] == ".." or "__pycache__" in file.parts:
            continue  # scripts and data outside site-packages; byte code is rebuilt
        source, target = Path(dist.locate_file(file)), site / file
        if not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            continue
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
        count += 1
    return count


@pytest.fixture(scope="module")
def colab_base(request, tmp_path_factory) -> Path:
    """A site-packages folder holding Colab's preinstalled stack and nothing else, linked from
    this test's environment."""
    if not _asked_for(request.config):
        pytest.skip(OPT_IN)
    site = tmp_path_factory.mktemp("colab-preinstalled") / "site-packages"
    start = time.monotonic()
    dists = _requirement_closure(COLAB_STACK)
    files = sum(_link_distribution(d, site) for d in dists)
    print(f"Colab's stack: {len(dists)} distributions, {files} files linked in {time.monotonic() - start:.1f} s")
    return site


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
        # as --system-site-packages would: the stack after the fresh env, its own .pth files processed
        (_site_packages(self.env) / "colab-preinstalled.pth").write_text(f"import site; site.addsitedir({str(base_site)!r})\n")
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
    preinstalled = ["torch", "numpy", "pandas", "matplotlib", "sklearn", "transformers", "ipykernel", "ipywidgets"]
    seen = colab.importable([*preinstalled, *NOT_IN_COLAB, *INSTALLED_BY_THE_SETUP_CELL])
    assert all(seen[m] for m in preinstalled), f"Colab's stack is not importable: {seen}"
    assert not any(seen[m] for m in NOT_IN_COLAB + INSTALLED_BY_THE_SETUP_CELL), f"not a Colab-like environment: {seen}"
    url, ref = course_clone
    monkeypatch.setenv("NEXTWORD_REPO", url)
    monkeypatch.setenv("NEXTWORD_REF", ref)
    return colab


def _installed_from_clone(nb, colab: Colab, course_clone) -> None:
    where = _probe(nb, "WHERE")
    assert Path(where["helpers"]).is_relative_to(colab.env), f"the course was not installed into the fresh env: {where}"
    assert where["url"] == course_clone[0].removeprefix("git+"), where
    fresh = _site_packages(colab.env)
    reinstalled = [m for m in ("torch", "numpy", "transformers") if (fresh / m).exists()]
    assert not reinstalled, f"pip reinstalled Colab's preinstalled {reinstalled} instead of using them"


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
