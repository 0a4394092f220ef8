"""Find and execute the course notebooks headless, measuring time and peak memory.

Used by ``nextword run`` and by the tests that execute every notebook. Execution goes through
``nbclient`` (the engine behind ``jupyter nbconvert --execute``) in a real Jupyter kernel, so a
notebook behaves here as it does in JupyterLab.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "RunResult", "SETUP_CELL", "find_notebooks", "restamp_setup_cells", "run_notebook", "strip_outputs"]

ROOT = Path(__file__).resolve().parents[2]  # the checkout: helpers/course/notebooks.py -> ../../..

# The first code cell of every notebook, verbatim (a test checks it). It must work with the
# course installed (nothing happens), in a clone without installing (the checkout is put on
# sys.path) and in Colab (the package is installed from COURSE_REPO at the release COURSE_REF,
# "v" + the package version: a test keeps the two equal, and restamp_setup_cells() rewrites the
# cell in every notebook after a release bumps the version).
# It looks for the course's own distribution ("nextword"), not for any module called
# "helpers": a student's helpers.py next to the notebook would otherwise hide the course and
# fail later with a confusing error; it is named, with what to do, instead.
SETUP_CELL = """\
# Setup: runs unchanged locally, in Google Colab and offline. When the course package is
# missing it uses this checkout of the course if there is one, else installs the course's
# release COURSE_REF from COURSE_REPO (set NEXTWORD_REPO / NEXTWORD_REF to use a fork or a commit).
import importlib.metadata, importlib.util, os, subprocess, sys
from pathlib import Path

COURSE_REPO = os.environ.get("NEXTWORD_REPO", "https://github.com/nextword-course/nextword")
COURSE_REF = os.environ.get("NEXTWORD_REF", "v0.1.0")
try:
    importlib.metadata.distribution("nextword")
except importlib.metadata.PackageNotFoundError:
    checkout = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "helpers" / "course").is_dir()), None)
    if checkout is not None:
        sys.path.insert(0, str(checkout))
    else:
        url = COURSE_REPO if COURSE_REPO.startswith("git+") else f"git+{COURSE_REPO}"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{url}@{COURSE_REF}"], check=True)
        importlib.invalidate_caches()
found = importlib.util.find_spec("helpers")
if found is None or not found.submodule_search_locations or importlib.util.find_spec("helpers.course") is None:
    raise ImportError(f"'import helpers' finds {found.origin if found else 'nothing'}, not the course package: rename "
                      "your own helpers.py (or helpers/ folder), or reinstall the course; then restart the kernel")"""


def restamp_setup_cells(paths=None) -> list[Path]:
    """Make the first code cell of every notebook (or of ``paths``) :data:`SETUP_CELL` again,
    e.g. after a new release changed ``COURSE_REF``; returns the notebooks it changed."""
    import nbformat

    changed = []
    for path in paths or [*find_notebooks(kind="notebooks"), *find_notebooks(kind="solutions")]:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if first.source != SETUP_CELL:
            first.source = SETUP_CELL
            nbformat.write(nb, path)
            changed.append(Path(path))
    return changed


@dataclass
class RunResult:
    """One notebook run: ``status`` is "ok" or "error"; ``error`` says what failed."""

    notebook: str
    status: str
    seconds: float
    peak_mb: float | None
    error: str = ""


def find_notebooks(which: str | None = None, kind: str = "notebooks") -> list[Path]:
    """Lecture notebooks (``kind="notebooks"``) or assignment sources (``kind="solutions"``).

    ``which`` is a week such as ``"week01"``, ``"1"`` or ``"01"``; ``None`` means all.
    """
    if kind not in ("notebooks", "solutions", "assignments"):
        raise ValueError(f"kind={kind!r} must be notebooks, solutions or assignments")
    folder = ROOT / kind
    pattern = "week*.ipynb" if kind == "notebooks" else "week*/*.ipynb"
    paths = sorted(p for p in folder.glob(pattern) if ".ipynb_checkpoints" not in p.parts)
    if which is None:
        return paths
    week = normalise_week(which)
    return [p for p in paths if (p.name if kind == "notebooks" else p.parent.name).startswith(week)]


def normalise_week(which: str | int) -> str:
    """``"1"``, ``1``, ``"01"``, ``"week1"``, ``"week01"`` -> ``"week01"``."""
    match = re.fullmatch(r"(?:week)?(\d{1,2})", str(which).strip().lower())
    if not match:
        raise ValueError(f"week {which!r} is not a week number: use e.g. 1, 01 or week01")
    return f"week{int(match.group(1)):02d}"


def strip_outputs(nb) -> None:
    """Remove outputs and execution counts in place (what git should hold)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None


def run_notebook(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    timeout: int = 600,
    kernel_name: str = "python3",
) -> RunResult:
    """Execute a notebook top to bottom in a fresh kernel, in the notebook's own folder.

    ``timeout`` limits each cell (seconds). The executed copy (with outputs) is written to
    ``out`` (a folder) when given; the original file is never modified.
    """
    import nbformat
    import psutil
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, resources={"metadata": {"path": str(path.parent)}}
    )
    peak = _PeakMemory(psutil)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        peak.watch(lambda: client.km.provisioner.pid if client.km and client.km.provisioner else None)
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        status, error = "error", _summarise(exc)
    finally:
        peak.stop()
    seconds = time.perf_counter() - start
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(out) / path.name)
    return RunResult(path.name, status, seconds, peak.peak_mb, error)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _summarise(exc: Exception) -> str:
    text = _ANSI.sub("", str(exc)).strip().splitlines()
    tail = [line for line in text if line.strip()][-3:]
    return " | ".join(tail)[:500]


class _PeakMemory:
    """Poll the resident memory of a kernel and its children; remember the peak."""

    def __init__(self, psutil, interval: float = 0.1):
        self._psutil, self._interval = psutil, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_bytes = 0

    @property
    def peak_mb(self) -> float | None:
        return self.peak_bytes / 2**20 if self.peak_bytes else None

    def watch(self, find_pid) -> None:
        """Start polling once ``find_pid()`` returns the kernel's process id."""
        self._thread = threading.Thread(target=self._poll, args=(find_pid,), daemon=True)
        self._thread.start()

    def _poll(self, find_pid) -> None:
        psutil = self._psutil
        pid = None
        while pid is None and not self._stop.wait(self._interval):
            try:
                pid = find_pid()
            except Exception:  # the kernel manager is still starting
                pid = None
        try:
            root = psutil.Process(pid)
        except (psutil.Error, TypeError, ValueError):
            return
        while not self._stop.is_set():
            try:
                total = root.memory_info().rss + sum(
                    c.memory_info().rss for c in root.children(recursive=True) if c.is_running()
                )
            except psutil.Error:
                total = 0
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
