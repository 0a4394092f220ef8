"""``nextword grade``: autograde a class, in parallel, and write the grade sheet and feedback.

For each submission: read the notebook (malformed files get a row saying why), match it to the
assignment (:mod:`helpers.grading.align`), run it in a warm, sandboxed grading kernel
(:mod:`helpers.grading.sandbox`), score every test cell, and render feedback. Submissions run
on ``--workers`` local processes, or on a Dask cluster with ``--scheduler``. Only this
coordinator writes files, so the grade sheet stays consistent; every write is atomic.

Output folder::

    grades.csv          one row per submission: student_id, score, max_score, status, message, timestamp
    parts.csv           one row per submission and test: points, max_points, status, message
    feedback/<id>.html  for the student (no hidden test code)
    graded/<id>.ipynb   the notebook as graded, with outputs and hidden tests (instructors only)
    results/<id>.json   everything above for one student; --student ID regrades just that one
"""

from __future__ import annotations

import ast
import base64
import csv
import io
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from helpers.course.notebooks import ROOT, normalise_week
from helpers.grading.align import build_plan, split_hidden
from helpers.grading.feedback import PartResult, render_feedback
from helpers.grading.intake import Submission, find_submissions, safe_id

__all__ = ["Assignment", "GradeSettings", "grade_command", "grade_one", "grade_submissions"]

GRADE_COLUMNS = ["student_id", "score", "max_score", "status", "message", "timestamp"]
PART_COLUMNS = ["student_id", "part", "points", "max_points", "status", "message"]


@dataclass
class GradeSettings:
    """Limits for one submission. Defaults: nbgrader's 120 s cell timeout (ExecutePreprocessor)."""

    cell_timeout: float = 120.0
    total_timeout: float = 600.0
    output_bytes: int = 100_000  # per stream per cell, in the graded copy and feedback
    memory_mb: int = 4096  # heap a submission may add on top of the preloaded libraries
    sandbox: bool | None = None  # None: bubblewrap when available


@dataclass
class Assignment:
    """An assignment's source (with hidden tests) and released notebook, as JSON text."""

    name: str
    notebook_name: str
    source_json: str
    release_json: str
    release_files: dict[str, str]  # other released files (data), base64
    preload: list[str]

    @classmethod
    def load(cls, week: str, root: Path = ROOT) -> Assignment:
        name = normalise_week(week)
        sources = sorted((root / "solutions" / name).glob("*.ipynb"))
        if not sources:
            raise ValueError(f"no assignment source for {name} in {root / 'solutions' / name}")
        if len(sources) > 1:
            raise ValueError(f"{name} has {len(sources)} source notebooks; nextword grade handles one per assignment")
        release = root / "assignments" / name / sources[0].name
        if not release.exists():
            raise ValueError(f"{release} is missing: run `nextword release {name}` first")
        files = {}
        for path in sorted((root / "assignments" / name).rglob("*")):
            if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
                files[path.relative_to(root / "assignments" / name).as_posix()] = base64.b64encode(path.read_bytes()).decode()
        source_json = sources[0].read_text(encoding="utf-8")
        return cls(name, sources[0].name, source_json, release.read_text(encoding="utf-8"), files, _imports(source_json))


def _imports(notebook_json: str) -> list[str]:
    """Modules the source notebook imports (preloaded once per grading kernel)."""
    import nbformat

    names = {"numpy", "helpers.grading"}
    for cell in nbformat.reads(notebook_json, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return sorted(names)


# -- grading one submission ----------------------------------------------------------------


def _read_student_notebook(data: bytes):
    """(notebook, note) or raise ValueError with a message for the grade sheet."""
    import nbformat

    if not data.strip():
        raise ValueError("the notebook file is empty")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"the notebook is not valid JSON ({str(error)[:120]}); was it saved completely?") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise ValueError("the file is JSON but not a Jupyter notebook (no list of cells)")
    major = raw.get("nbformat")
    if major not in (3, 4):
        raise ValueError(f"unsupported notebook format version {major!r} (need 4; open and re-save it in Jupyter)")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # nbformat raises many types for broken notebooks
        raise ValueError(f"the notebook could not be read ({type(error).__name__}: {str(error)[:120]})") from None
    note = "notebook was in the old format 3: converted" if major == 3 else ""
    for cell in nb.cells:
        if not isinstance(cell.get("source", ""), str):
            cell["source"] = "".join(cell.get("source") or [])
        cell.setdefault("metadata", {})
    return nb, note


def grade_one(assignment: Assignment, submission: Submission, settings: GradeSettings, kernel) -> dict:
    """Grade one submission with ``kernel`` (a started :class:`GradingKernel`); returns a record."""
    import nbformat

    timestamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    record = {
        "student_id": submission.student_id,
        "score": 0.0,
        "max_score": 0.0,
        "status": submission.status,
        "message": submission.message,
        "timestamp": timestamp,
        "notebook": submission.notebook,
        "sha256": submission.sha256,
        "parts": [],
        "seconds": 0.0,
    }
    source_nb = nbformat.reads(assignment.source_json, as_version=4)
    release_nb = nbformat.reads(assignment.release_json, as_version=4)
    tests = [c for c in source_nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    record["max_score"] = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in tests)
    if submission.status in ("missing", "invalid"):
        return record
    notes = list(submission.notes)
    try:
        student_nb, note = _read_student_notebook(submission.files[submission.notebook])
    except ValueError as error:
        record["status"], record["message"] = "invalid", f"{submission.notebook}: {error}"
        return record
    if note:
        notes.append(note)
    plan = build_plan(source_nb, release_nb, student_nb)
    notes.extend(plan.notes)

    # One kernel cell per code cell, tests split into visible and hidden segments.
    runs: list[list] = []  # per plan cell: [code, hidden, reply]
    cells = []
    for cell in plan.cells:
        segments = []
        if cell.cell_type == "code":
            parts = split_hidden(cell.source) if cell.role == "test" else [(cell.source, False)]
            for code, hidden in parts:
                segments.append([code, hidden, None])
                cells.append({"index": len(cells), "source": code, "kind": "test" if cell.role == "test" else "student"})
        runs.append(segments)
    files = dict(assignment.release_files)
    for name, data in submission.files.items():
        if name != submission.notebook:
            files[name] = base64.b64encode(data).decode()
    limits = {"output_bytes": settings.output_bytes, "memory_mb": settings.memory_mb}
    job = kernel.run(cells, files=files, cell_timeout=settings.cell_timeout, total_timeout=settings.total_timeout, limits=limits)
    flat = [segment for segments in runs for segment in segments]
    for index, segment in enumerate(flat):
        segment[2] = job.replies.get(index)

    parts = [_score(cell, segments) for cell, segments in zip(plan.cells, runs, strict=True) if cell.role == "test"]
    score = sum(p.points for p in parts)
    status = submission.status or job.status
    if job.message:
        notes.append(job.message)
    notes.extend(_cell_errors(plan, runs))
    message = "; ".join(n for n in [submission.message if submission.status else "", *notes] if n)
    record.update(score=score, status=status or "graded", message=message, seconds=round(job.seconds, 3))
    record["parts"] = [
        {"part": p.grade_id, "points": p.points, "max_points": p.max_points, "status": p.status, "message": p.message}
        for p in parts
    ] + manual_parts(source_nb)
    record["feedback_html"] = render_feedback(
        submission.student_id, assignment.name, score, record["max_score"], record["status"], message, parts,
        [(cell, [(c, h, r) for c, h, r in segments]) for cell, segments in zip(plan.cells, runs, strict=True)], timestamp,
    )  # fmt: skip
    record["graded_ipynb"] = _graded_notebook(plan, runs, source_nb)
    return record


MANUAL = "needs manual grading"


def manual_parts(source_nb) -> list[dict]:
    """nbgrader's manually graded answers (a markdown cell with ``solution`` and ``grade``): listed
    as parts with 0 points and the status "needs manual grading", outside the autograded score
    and ``max_score``, so that a TA sees them and no student reads them as a 0."""
    out = []
    for cell in source_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
            out.append({"part": meta.get("grade_id", "manual"), "points": 0.0, "max_points": float(meta.get("points", 0)),
                        "status": MANUAL, "message": "graded by hand by a TA; not part of the autograded score"})  # fmt: skip
    return out


def _cell_errors(plan, runs) -> list[str]:
    """Notes on errors in the student's own cells (answers and added cells)."""
    notes, previous = [], "the start"
    for cell, segments in zip(plan.cells, runs, strict=True):
        if cell.role in ("answer", "extra"):
            for _code, _hidden, reply in segments:
                error = (reply or {}).get("error")
                if error and error.get("ename") not in ("NotImplementedError",):
                    where = f"answer cell '{cell.grade_id}'" if cell.role == "answer" else f"your cell after {previous}"
                    notes.append(f"error in {where}: {error.get('ename')}: {error.get('evalue', '')[:150]}")
        if cell.grade_id:
            previous = f"'{cell.grade_id}'"
    return notes[:5]


def _score(cell, segments) -> PartResult:
    hidden = any(h for _, h, _ in segments)
    part = PartResult(cell.grade_id or "test", 0.0, cell.points, "passed", hidden=hidden, segments=segments)
    for _code, is_hidden, reply in segments:
        if reply is None:
            part.status, part.message = "not run", "not run: the notebook was stopped before this test"
            return part
        error = reply.get("error")
        if error:
            part.status = "failed"
            where = "hidden test" if is_hidden else "test"
            if error.get("ename") == "NotImplementedError":
                part.message = "not answered yet: an answer cell still raises NotImplementedError"
            else:
                part.message = f"{where}: {error.get('ename', 'Error')}: {error.get('evalue', '')}"[:500]
            return part
    part.points = cell.points
    last = segments[-1][2] if segments else None
    for output in (last or {}).get("outputs", []):
        if output.get("output_type") == "execute_result":  # nbgrader's partial credit: a number
            try:
                value = float(output.get("data", {}).get("text/plain", ""))
            except ValueError:
                continue
            part.points = min(max(value, 0.0), cell.points)
            if part.points < cell.points:
                part.status, part.message = "partial", f"partial credit: {part.points:g} of {cell.points:g}"
    return part


def _graded_notebook(plan, runs, source_nb) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

    cells = []
    for cell, segments in zip(plan.cells, runs, strict=True):
        if cell.cell_type == "markdown":
            cells.append(new_markdown_cell(cell.source))
            continue
        code = new_code_cell(cell.source)
        if cell.grade_id:
            code.metadata["nbgrader"] = {"grade_id": cell.grade_id, "grade": cell.role == "test", "points": cell.points}
        for _code, _hidden, reply in segments:
            for output in (reply or {}).get("outputs", []):
                kind = output["output_type"]
                if kind == "stream":
                    code.outputs.append(new_output("stream", name=output["name"], text=output["text"]))
                else:
                    code.outputs.append(new_output(kind, data=output.get("data", {}), **({"execution_count": None} if kind == "execute_result" else {})))
            if reply and reply.get("error"):
                err = reply["error"]
                code.outputs.append(new_output("error", ename=err.get("ename", ""), evalue=err.get("evalue", ""), traceback=err.get("traceback", [])))
        cells.append(code)
    nb = nbformat.v4.new_notebook(cells=cells, metadata=source_nb.metadata)
    return nbformat.writes(nb)


# -- running many ----------------------------------------------------------------------------


class _KernelPool:
    """One warm grading kernel per thread, started on first use."""

    def __init__(self, preload: list[str], sandbox: bool | None, hide: list[Path]):
        from helpers.grading.sandbox import GradingKernel, sandbox_available

        self._make = lambda: GradingKernel(preload=preload, sandbox=self.sandbox, hide=hide)
        self.sandbox = sandbox_available() if sandbox is None else sandbox
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    def get(self):
        kernel = getattr(self._local, "kernel", None)
        if kernel is None:
            kernel = self._local.kernel = self._make()
            with self._lock:
                self._all.append(kernel)
        return kernel

    def close(self) -> None:
        for kernel in self._all:
            kernel.stop()


def _safe_grade(assignment, submission, settings, pool) -> dict:
    """grade_one that never raises: a failure of the grader itself becomes an 'error' row."""
    try:
        return grade_one(assignment, submission, settings, pool.get())
    except Exception as error:  # noqa: BLE001 - one broken submission must not stop the class
        return {
            "student_id": submission.student_id, "score": 0.0, "max_score": 0.0, "status": "error",
            "message": f"grader error ({type(error).__name__}: {str(error)[:300]}); please report it",
            "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "notebook": submission.notebook, "sha256": submission.sha256, "parts": [], "seconds": 0.0,
        }  # fmt: skip


_DASK_POOLS: dict = {}


def _dask_task(assignment: Assignment, submission: Submission, settings: GradeSettings) -> dict:
    """What a Dask worker runs: grading kernels stay warm in the worker between tasks."""
    key = (tuple(assignment.preload), settings.sandbox)
    pool = _DASK_POOLS.get(key)
    if pool is None:
        pool = _DASK_POOLS[key] = _KernelPool(assignment.preload, settings.sandbox, [])
    return _safe_grade(assignment, submission, settings, pool)


def grade_submissions(
    assignment: Assignment,
    submissions: list[Submission],
    out: Path,
    settings: GradeSettings | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    hide: list[Path] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Grade ``submissions`` and write their records to ``out``; returns the records."""
    from tqdm.auto import tqdm

    settings = settings or GradeSettings()
    out.mkdir(parents=True, exist_ok=True)
    records = []
    bar = tqdm(total=len(submissions), desc=f"grading {assignment.name}", unit="nb", disable=not progress)
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            futures = [client.submit(_dask_task, assignment, s, settings, pure=False) for s in submissions]
            from distributed import as_completed as dask_completed

            for future in dask_completed(futures):
                record = future.result()
                _write_record(out, record)
                records.append(record)
                bar.update()
    else:
        pool = _KernelPool(assignment.preload, settings.sandbox, hide or [])
        try:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
                futures = [executor.submit(_safe_grade, assignment, s, settings, pool) for s in submissions]
                for future in as_completed(futures):
                    record = future.result()
                    _write_record(out, record)
                    records.append(record)
                    bar.update()
        finally:
            pool.close()
    bar.close()
    return sorted(records, key=lambda r: r["student_id"])


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def _write_record(out: Path, record: dict) -> None:
    sid = safe_id(record["student_id"])
    feedback = record.pop("feedback_html", None)
    graded = record.pop("graded_ipynb", None)
    if feedback is not None:
        _atomic_write(out / "feedback" / f"{sid}.html", feedback)
    if graded is not None:
        _atomic_write(out / "graded" / f"{sid}.ipynb", graded)
    _atomic_write(out / "results" / f"{sid}.json", json.dumps(record, indent=1, sort_keys=True))


def write_sheets(out: Path, student_ids: list[str]) -> list[dict]:
    """Rebuild grades.csv and parts.csv from the stored results of ``student_ids``."""
    records = []
    for sid in sorted(student_ids):
        path = out / "results" / f"{safe_id(sid)}.json"
        if path.exists():
            records.append(json.loads(path.read_text(encoding="utf-8")))
        else:
            records.append({"student_id": sid, "score": 0.0, "max_score": 0.0, "status": "pending", "message": "not graded yet", "timestamp": "", "parts": []})
    grades, parts = io.StringIO(), io.StringIO()
    g = csv.DictWriter(grades, GRADE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    p = csv.DictWriter(parts, PART_COLUMNS, lineterminator="\n")
    g.writeheader()
    p.writeheader()
    for record in records:
        g.writerow({**record, "score": f"{record['score']:g}", "max_score": f"{record['max_score']:g}"})
        for part in record.get("parts", []):
            p.writerow({"student_id": record["student_id"], **part, "points": f"{part['points']:g}", "max_points": f"{part['max_points']:g}"})
    _atomic_write(out / "grades.csv", grades.getvalue())
    _atomic_write(out / "parts.csv", parts.getvalue())
    return records


def summarise(records: list[dict], seconds: float, sandboxed: bool) -> str:
    """A short report: counts by status, score statistics, a histogram, and each part."""
    lines = []
    n = len(records)
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    lines.append(f"{n} submissions in {seconds:.1f} s ({60 * n / max(seconds, 1e-9):.1f} per minute): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))  # fmt: skip
    scores = [r["score"] for r in records]
    max_score = max((r["max_score"] for r in records), default=0.0)
    if scores and max_score:
        lines.append(f"score: mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
                     f"min {min(scores):g}, max {max(scores):g} (out of {max_score:g})")  # fmt: skip
        bins = 5
        counts = [0] * bins
        for s in scores:
            counts[min(int(bins * s / max_score), bins - 1)] += 1
        width = max(counts)
        for i, count in enumerate(counts):
            lo, hi = max_score * i / bins, max_score * (i + 1) / bins
            bar = "#" * round(30 * count / width) if width else ""
            lines.append(f"  {lo:5.1f}-{hi:5.1f} | {bar} {count}")
    per_part: dict[str, list] = {}
    for r in records:
        for part in r.get("parts", []):
            per_part.setdefault(part["part"], []).append(part)
    if per_part:
        lines.append("per part: mean points / max, share passed")
        for name, items in per_part.items():
            if items[0]["status"] == MANUAL:
                lines.append(f"  {name:<32} {MANUAL} ({items[0]['max_points']:g} points, not in the score above)")
                continue
            mean = statistics.mean(p["points"] for p in items)
            passed = sum(p["status"] == "passed" for p in items) / len(items)
            lines.append(f"  {name:<32} {mean:5.2f} / {items[0]['max_points']:g}   {passed:6.1%}")
    if not sandboxed:
        lines.append("note: bubblewrap is not available, so submissions ran without a sandbox (apt install bubblewrap)")
    return "\n".join(lines)


def grade_command(args) -> int:
    """Entry point of ``nextword grade``."""
    assignment = Assignment.load(args.week)
    source = Path(args.submissions).resolve()
    out = Path(args.out).resolve()
    found = find_submissions(source, assignment.name, [assignment.notebook_name])
    if args.student:
        wanted = {safe_id(s) for s in args.student}
        unknown = wanted - {s.student_id for s in found}
        if unknown:
            raise ValueError(f"no submission from {', '.join(sorted(unknown))} in {source}")
        todo = [s for s in found if s.student_id in wanted]
    else:
        todo = found
    settings = GradeSettings()
    if args.timeout is not None:
        if args.timeout <= 0:
            raise ValueError(f"--timeout {args.timeout} must be a positive number of seconds")
        settings.cell_timeout = args.timeout
    if args.total_timeout is not None:
        if args.total_timeout <= 0:
            raise ValueError(f"--total-timeout {args.total_timeout} must be a positive number of seconds")
        settings.total_timeout = args.total_timeout
    if args.memory is not None:
        if args.memory < 64:
            raise ValueError(f"--memory {args.memory} is too small: give megabytes, at least 64")
        settings.memory_mb = args.memory
    if args.no_sandbox:
        settings.sandbox = False
    workers = args.workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"--workers {workers} must be at least 1")
    hide = [ROOT / "solutions", out, source]  # the sandbox binds none of these; belt and braces
    start = time.monotonic()
    records = grade_submissions(assignment, todo, out, settings, workers=workers, scheduler=args.scheduler, hide=hide, progress=not args.quiet)
    elapsed = time.monotonic() - start
    write_sheets(out, [s.student_id for s in found])
    if not args.quiet:
        from helpers.grading.sandbox import sandbox_available

        sandboxed = settings.sandbox if settings.sandbox is not None else sandbox_available()
        print(summarise(records, elapsed, bool(sandboxed)))
        print(f"wrote {out / 'grades.csv'} ({len(found)} rows), {out / 'parts.csv'}, feedback/ and graded/")
    return 0

