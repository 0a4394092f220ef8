"""Find and execute the course notebooks headless, measuring time and peak memory.

Used by ``nextword run`` and by the tests that execute every notebook. Execution goes through
``nbclient`` (the engine behind ``jupyter nbconvert --execute``) in a real Jupyter kernel, so a
notebook behaves here as it does in JupyterLab.
"""

from __future__ import annotations

import inspect
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

__all__ = ["BADGE_CELL_ID", "CELL_BUDGET_S", "COURSE_REF", "COURSE_REPO", "ROOT", "CellTime", "RunResult", "SETUP_CELL", "cell_times",
           "colab_badge", "colab_url", "find_notebooks", "format_cell_times", "restamp_notebooks", "restamp_readme", "restamp_setup_cells", "run_notebook", "strip_outputs", "student_path"]

ROOT = Path(__file__).resolve().parents[2]  # the checkout: helpers/course/notebooks.py -> ../../..

# The course's one repository address and the release its notebooks belong to ("v" + the
# package version; a test keeps the two equal). The setup cell, the Colab badges and the site's
# links are all built from these two.
COURSE_REPO = "https://github.com/nextword-course/nextword"
COURSE_REF = "v0.1.0"

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

COURSE_REPO = os.environ.get("NEXTWORD_REPO", "@REPO@")
COURSE_REF = os.environ.get("NEXTWORD_REF", "@REF@")
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
                      "your own helpers.py (or helpers/ folder), or reinstall the course; then restart the kernel")"""\
    .replace("@REPO@", COURSE_REPO).replace("@REF@", COURSE_REF)


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_CELL_ID = "colab-badge"
_BADGE = re.compile(r"\s*\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def student_path(path: str | os.PathLike) -> str:
    """The notebook a student opens, relative to the repository: an assignment's source in
    ``solutions/weekNN/`` becomes its released version in ``assignments/weekNN/``."""
    path = Path(path)
    rel = (path.resolve().relative_to(ROOT) if path.is_absolute() else path).as_posix()
    return "assignments/" + rel.removeprefix("solutions/") if rel.startswith("solutions/") else rel


def colab_url(path: str | os.PathLike, ref: str = COURSE_REF) -> str:
    """Google Colab's address of a notebook of :data:`COURSE_REPO` at ``ref``: the notebook and
    the package its setup cell installs come from the same release."""
    if not COURSE_REPO.startswith("https://github.com/"):
        raise ValueError(f"COURSE_REPO={COURSE_REPO!r}: Colab opens notebooks from GitHub repositories only")
    return f"https://colab.research.google.com/github/{COURSE_REPO.removeprefix('https://github.com/')}/blob/{ref}/{student_path(path)}"


def colab_badge(path: str | os.PathLike) -> str:
    """The Markdown "Open in Colab" badge of a notebook (see :func:`colab_url`)."""
    return f"[![Open In Colab]({COLAB_BADGE})]({colab_url(path)})"


def restamp_setup_cells(paths=None) -> list[Path]:
    """Give every notebook (or ``paths``) the course's standard head again: a first Markdown
    cell with its Colab badge, and :data:`SETUP_CELL` as the first code cell. Run it after a
    new release changed ``COURSE_REF`` and when a week is added; it also refreshes the README's
    badges (:func:`restamp_readme`). Returns the notebooks it changed."""
    import nbformat

    changed = []
    for path in paths or [*find_notebooks(kind="notebooks"), *find_notebooks(kind="solutions")]:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        first = next(c for c in nb.cells if c.cell_type == "code")
        first.source = SETUP_CELL
        badge = colab_badge(path)
        if nb.cells[0].get("id") == BADGE_CELL_ID:
            nb.cells[0].source = badge
        else:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(badge, id=BADGE_CELL_ID))
        if "solutions" in Path(path).parts:  # an assignment: a read-only cell that nbgrader tracks, like its intro
            nb.cells[0].metadata.update({"deletable": False, "editable": False, "nbgrader": {
                "grade": False, "grade_id": "colab_badge", "locked": True, "schema_version": 3, "solution": False, "task": False}})
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(Path(path))
    if paths is None:
        restamp_readme()
    return changed


def restamp_notebooks(paths=None) -> list[Path]:
    """Everything the course writes into notebooks by code, again: the Colab badge cell and
    :data:`SETUP_CELL` (:func:`restamp_setup_cells`, which also refreshes the README's badges)
    and the plot theme (:func:`helpers.course.style.apply_theme`). Idempotent. Run it
    (``nextword restamp``) after merging a branch, taking the branch's version of every notebook
    that conflicted, then re-release the assignments whose solutions changed. Returns the
    notebooks it changed."""
    from helpers.course.style import apply_theme

    changed = restamp_setup_cells(paths)
    changed += [p for p in apply_theme(paths) if p not in changed]
    return changed


def restamp_readme(path: str | os.PathLike | None = None) -> bool:
    """Put a Colab badge after every link to a notebook or an assignment in the README's
    syllabus table (and only there); returns whether the file changed."""
    path = Path(path) if path is not None else ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("| ") and ("](notebooks/week" in line or "](assignments/week" in line):
            line = _BADGE.sub("", line)
            line = re.sub(r"(\]\((notebooks/week\d\d_\w+\.ipynb)\))", lambda m: f"{m.group(1)} {colab_badge(m.group(2))}", line)
            line = re.sub(r"(\]\(assignments/(week\d\d)/\))",
                          lambda m: f"{m.group(1)} {colab_badge(f'assignments/{m.group(2)}/{m.group(2)}.ipynb')}", line)
        lines.append(line)
    new = "".join(lines)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


# Lecture pacing (issue 20): a lecture cell should take at most about this long on one slow
# CPU core (a free Colab machine), so that a class can run the notebook live.
CELL_BUDGET_S = 30


@dataclass(frozen=True)
class CellTime:
    """How long one code cell ran: ``index`` counts every cell of the notebook (Markdown too,
    as JupyterLab numbers them), ``cell_id`` is the cell's id, ``first_line`` its first
    non-comment line."""

    index: int
    cell_id: str
    seconds: float
    first_line: str


@dataclass
class RunResult:
    """One notebook run: ``status`` is "ok" or "error"; ``error`` says what failed; ``cells``
    holds the time of every code cell that ran, in notebook order (see :func:`cell_times`)."""

    notebook: str
    status: str
    seconds: float
    peak_mb: float | None
    error: str = ""
    cells: list[CellTime] = field(default_factory=list)

    def slowest(self, n: int = 5) -> list[CellTime]:
        """The ``n`` slowest code cells, slowest first."""
        return sorted(self.cells, key=lambda c: -c.seconds)[:n]


def cell_times(nb) -> list[CellTime]:
    """The run time of every executed code cell of a notebook, from the timestamps that
    ``nbclient`` records (``record_timing``) in each cell's ``metadata.execution``: from the
    kernel's ``execute_input`` message to its ``execute_reply``. Cells without both stamps
    (not run, e.g. after an error) are left out."""
    times = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {}) if cell.cell_type == "code" else {}
        start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if not (start and end):
            continue
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        lines = [line.strip() for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
        times.append(CellTime(index, cell.get("id", ""), max(seconds, 0.0), (lines[0] if lines else "")[:60]))
    return times


def format_cell_times(result: RunResult, top: int | None = None, budget: float = CELL_BUDGET_S) -> str:
    """A table of a run's code cells, slowest first (the ``top`` slowest, or all), each over
    ``budget`` seconds marked; ``nextword run --cells`` prints it."""
    cells = result.slowest(len(result.cells) if top is None else top)
    total = sum(c.seconds for c in result.cells)
    lines = [f"{result.notebook}: {len(result.cells)} code cells ran, {total:.1f} s in cells, {result.seconds:.1f} s in all",
             f"{'cell':>5} {'id':<22} {'seconds':>8} {'share':>6}  first line"]
    for c in cells:
        mark = "  <-- over budget" if c.seconds > budget else ""
        lines.append(f"{c.index:>5} {c.cell_id[:22]:<22} {c.seconds:8.1f} {c.seconds / max(total, 1e-9):6.0%}  {c.first_line}{mark}")
    return "\n".join(lines)


def find_notebooks(which: str | None = None, kind: str = "notebooks", root: str | os.PathLike | None = None) -> list[Path]:
    """Lecture notebooks (``kind="notebooks"``) or assignment sources (``kind="solutions"``)
    of the course at ``root`` (default: this checkout), never JupyterLab's checkpoints.

    ``which`` is a week such as ``"week01"``, ``"1"`` or ``"01"``; ``None`` means all.
    """
    if kind not in ("notebooks", "solutions", "assignments"):
        raise ValueError(f"kind={kind!r} must be notebooks, solutions or assignments")
    folder = (Path(root) if root is not None else ROOT) / kind
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
    plots: bool = True,
) -> RunResult:
    """Execute a notebook top to bottom in a fresh kernel, in the notebook's own folder.

    ``timeout`` limits each cell (seconds). The executed copy (with outputs) is written to
    ``out`` (a folder) when given; the original file is never modified. With ``plots`` (the
    default) figures are drawn as in JupyterLab (matplotlib's inline backend, whatever
    ``MPLBACKEND`` says), so drawing errors surface and the copy shows its plots. The result
    carries every code cell's run time (:func:`cell_times`; :func:`format_cell_times` prints them).
    """
    import nbformat
    import psutil
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = _sliced_poll_client(NotebookClient)(
        nb, timeout=timeout, kernel_name=kernel_name, record_timing=True, resources={"metadata": {"path": str(path.parent)}}
    )
    peak = _PeakMemory(psutil)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        peak.watch(lambda: client.km.provisioner.pid if client.km and client.km.provisioner else None)
        env = {k: v for k, v in os.environ.items() if not (plots and k == "MPLBACKEND")}
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        status, error = "error", _summarise(exc)
    finally:
        peak.stop()
    seconds = time.perf_counter() - start
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(out) / path.name)
    return RunResult(path.name, status, seconds, peak.peak_mb, error, cell_times(nb))


POLL_SLICE_S = 1.0


def _sliced_poll_client(base):
    """``base`` (nbclient's NotebookClient) whose kernel channels are polled in slices of
    ``POLL_SLICE_S`` seconds.

    nbclient waits for a cell's reply with one poll as long as the cell timeout. After a cell
    that opens ipywidgets comms that poll can miss the reply's arrival and return only when it
    times out (jupyter/nbclient#312): CI saw week 2 and week 3 sit 600 s between two cells.
    Polling again every second finds a reply that is already queued, whatever woke the loop or not.
    """
    from queue import Empty

    def sliced(get_msg):
        async def get_msg_sliced(timeout=None):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = POLL_SLICE_S if deadline is None else max(0.0, min(POLL_SLICE_S, deadline - time.monotonic()))
                try:
                    message = get_msg(timeout=left)
                    return (await message) if inspect.isawaitable(message) else message
                except Empty:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise

        return get_msg_sliced

    class SlicedPollClient(base):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel):
                channel.get_msg = sliced(channel.get_msg)
            return kc

    return SlicedPollClient


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
