"""``nextword grade``: grade one submission, with the verdict outside the student's process.

For each submission: read the notebook (malformed files get a row saying why), match it to the
assignment (:mod:`helpers.grading.align`), start a fresh sandboxed kernel for it
(:mod:`helpers.grading.sandbox`), and walk the assignment's cells in order. The notebook's own
cells (given code, answers, added cells) run in that kernel; each test cell runs *here*, in
the grader's process, with the notebook's names reached through proxies
(:mod:`helpers.grading.remote`), so the checks, NumPy, torch and the shell a verdict depends on
are out of the student's reach, and hidden tests never enter the student's process. The
kernel is killed with everything it started when the submission ends.

The batch (workers, Dask, the grade sheets) is in :mod:`helpers.grading.batch`.
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import helpers.grading.wire as wire
from helpers.course.notebooks import ROOT, normalise_week
from helpers.grading.align import build_plan, split_hidden
from helpers.grading.capture import cap_submission_outputs
from helpers.grading.feedback import PartResult, failure_message, render_feedback
from helpers.grading.intake import Submission
from helpers.grading.notebook import imported_modules, is_bonus, points, read_submitted_notebook
from helpers.grading.remote import (
    CellNamespace,
    NotebookGone,
    NotebookSession,
    NotebookTimeout,
)
from helpers.grading.sandbox import Limits
from helpers.grading.trusted import run_test_segment

__all__ = ["MANUAL", "Assignment", "GradeSettings", "grade_command", "grade_one", "manual_parts"]



@dataclass
class GradeSettings:
    """Limits for one submission. Defaults: nbgrader's 120 s cell timeout (ExecutePreprocessor)."""

    cell_timeout: float = 120.0
    total_timeout: float = 600.0
    limits: Limits = field(default_factory=Limits)
    sandbox: str | None = None  # "bubblewrap", "landlock", "none"; None: the best there is, refuse if none
    grace: float = 5.0  # seconds an interrupted cell gets to stop before its process is killed


@dataclass
class Assignment:
    """An assignment's source (with hidden tests) and released notebook, as JSON text."""

    name: str
    notebook_name: str
    source_json: str
    release_json: str
    release_files: dict[str, str]  # other released files (data), base64
    preload: list[str]  # imported by the notebook's own cells: loaded before a kernel gets its submission
    test_imports: list[str]  # imported by the test cells: loaded once per grading worker
    hidden_references: list[str]  # stubbed in the sandbox's copy of the course package

    @classmethod
    def load(cls, week: str, root: Path = ROOT) -> Assignment:
        import nbformat

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
        source = nbformat.reads(source_json, as_version=4)
        hidden = source.metadata.get("nextword", {}).get("hidden_references", [])
        if not isinstance(hidden, list) or not all(isinstance(h, str) for h in hidden):
            raise ValueError(f"{sources[0]}: metadata nextword.hidden_references must be a list of module or function names")
        from helpers.grading.references import resolve_hidden

        resolve_hidden(hidden)  # a name that moved or vanished is an error now, not a silent leak
        tests = [c for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
                 and not c.metadata.get("nbgrader", {}).get("solution")]  # fmt: skip
        others = [c for c in source.cells if c.cell_type == "code" and c not in tests]
        return cls(name, sources[0].name, source_json, release.read_text(encoding="utf-8"), files,
                   sorted(imported_modules(others)), sorted(imported_modules(tests) | {"numpy", "helpers.grading"}), list(hidden))  # fmt: skip

    def to_dict(self) -> dict:
        return dict(vars(self))


# -- one submission -------------------------------------------------------------------------


def _blank_record(submission: Submission, max_score: float, max_bonus: float, timestamp: str) -> dict:
    return {"student_id": submission.student_id, "file_id": submission.file_id, "score": 0.0, "max_score": max_score,
            "bonus": 0.0, "max_bonus": max_bonus, "status": submission.status, "message": submission.message, "timestamp": timestamp,
            "notebook": submission.notebook, "sha256": submission.sha256, "parts": [], "seconds": 0.0}  # fmt: skip


def grade_one(assignment: Assignment, submission: Submission, settings: GradeSettings, kernels) -> dict:
    """Grade one submission; ``kernels.take()`` gives a started, sandboxed student kernel."""
    import nbformat

    timestamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    source_nb = nbformat.reads(assignment.source_json, as_version=4)
    release_nb = nbformat.reads(assignment.release_json, as_version=4)
    tests = [c for c in source_nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    record = _blank_record(submission, sum(points(c) for c in tests if not is_bonus(c)),
                           sum(points(c) for c in tests if is_bonus(c)), timestamp)  # fmt: skip
    if submission.status in ("missing", "invalid"):
        return record
    notes = list(submission.notes)
    try:
        student_nb, note = read_submitted_notebook(submission.files[submission.notebook])
    except ValueError as error:
        record["status"], record["message"] = "invalid", f"{submission.notebook}: {error}"
        return record
    if note:
        notes.append(note)
    plan = build_plan(source_nb, release_nb, student_nb)
    notes.extend(plan.notes)
    runs = _run_plan(assignment, submission, settings, kernels, plan)
    status, message = runs.pop("_status")
    if message:
        notes.append(message)
    cells = runs.pop("_cells")
    cap_submission_outputs(cells)
    parts = [_score(cell, segments) for cell, segments in cells if cell.role == "test"]
    score = sum(p.points for p in parts if not p.bonus)
    bonus = sum(p.points for p in parts if p.bonus)
    notes.extend(_cell_errors(cells))
    message = "; ".join(n for n in [submission.message if submission.status else "", *notes] if n)
    record.update(score=score, bonus=bonus, status=submission.status or status, message=message, seconds=round(runs["seconds"], 3))
    record["parts"] = [{"part": p.grade_id, "points": p.points, "max_points": p.max_points, "status": p.status,
                        "message": p.message, "bonus": p.bonus} for p in parts] + manual_parts(source_nb)  # fmt: skip
    record["feedback_html"] = render_feedback(submission.student_id, assignment.name, score, record["max_score"],
                                              record["status"], message, parts, cells, timestamp,
                                              bonus=(bonus, record["max_bonus"]))  # fmt: skip
    record["graded_ipynb"] = _graded_notebook(cells, source_nb)
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
                        "bonus": False, "status": MANUAL, "message": "graded by hand by a TA; not part of the autograded score"})  # fmt: skip
    return out


def _run_plan(assignment, submission, settings, kernels, plan) -> dict:
    """Run the plan's cells; returns per-cell segments [code, hidden, reply] and a status."""
    cells = []
    for cell in plan.cells:
        segments = []
        if cell.cell_type == "code":
            parts = split_hidden(cell.source) if cell.role == "test" else [(cell.source, False)]
            segments = [[code, hidden, None] for code, hidden in parts]
        cells.append((cell, segments))
    files = dict(assignment.release_files)
    for name, data in submission.files.items():
        if name != submission.notebook:
            files[name] = base64.b64encode(data).decode()
    start = time.monotonic()
    deadline = start + settings.total_timeout
    limits = settings.limits
    process = kernels.take()
    session = NotebookSession(process, deadline, grace=settings.grace)
    status, message = "graded", ""
    try:
        process.begin(files, {"memory_mb": limits.memory_mb, "processes": limits.processes, "file_mb": limits.file_mb})
    except (EOFError, TimeoutError, RuntimeError, wire.ProtocolError) as error:
        session.kill(f"the notebook's process did not start ({error})")
    interrupted = False
    for cell, segments in cells:
        if not segments or not session.alive:
            continue
        if time.monotonic() >= deadline:
            session.kill("the notebook ran past its time limit for the submission")
            break
        if cell.role == "test":
            namespace = CellNamespace(session)
            for segment in segments:
                if not session.alive:
                    break
                seconds = min(settings.cell_timeout, deadline - time.monotonic())
                segment[2] = run_test_segment(segment[0], segment[1], namespace, session, seconds,
                                              limits.output_bytes, cell.grade_id or "test")  # fmt: skip
                interrupted |= bool(segment[2].get("timed_out"))
        else:
            session.limit_at = time.monotonic() + settings.cell_timeout
            try:
                segments[0][2] = session.run_cell(segments[0][0])
                interrupted |= segments[0][2]["timed_out"]
            except (NotebookGone, NotebookTimeout) as error:
                segments[0][2] = {"outputs": [], "error": {"ename": "Stopped", "evalue": str(error)}, "timed_out": True}
    reason = session.gone_reason
    session.close()
    kernels.done(process)
    if reason and "time limit for the submission" in reason:
        status, message = "timeout", f"stopped: the notebook ran past the {settings.total_timeout:g} s limit for a submission"
    elif reason and "could not be interrupted" in reason:
        status, message = "timeout", f"stopped: a cell ran past the {settings.cell_timeout:g} s limit and could not be interrupted"
    elif reason:
        status, message = "crashed", f"the notebook's process stopped while running ({reason}: memory limit, os._exit or a crash)"
    elif interrupted:
        status, message = "timeout", f"a cell ran past the {settings.cell_timeout:g} s limit and was stopped; later cells still ran"
    return {"_status": (status, message), "_cells": cells, "seconds": time.monotonic() - start}


def _cell_errors(cells) -> list[str]:
    """Notes on errors in the student's own cells (answers and added cells)."""
    notes, previous = [], "the start"
    for cell, segments in cells:
        if cell.role in ("answer", "extra"):
            for _code, _hidden, reply in segments:
                error = (reply or {}).get("error")
                if error and error.get("ename") not in ("NotImplementedError", "Stopped"):
                    where = f"answer cell '{cell.grade_id}'" if cell.role == "answer" else f"your cell after {previous}"
                    notes.append(f"error in {where}: {error.get('ename')}: {str(error.get('evalue', ''))[:150]}")
        if cell.grade_id:
            previous = f"'{cell.grade_id}'"
    return notes[:5]


def _score(cell, segments) -> PartResult:
    hidden = any(h for _, h, _ in segments)
    part = PartResult(cell.grade_id or "test", 0.0, cell.points, "passed", hidden=hidden, segments=segments, bonus=cell.bonus)
    for _code, is_hidden, reply in segments:
        if reply is None:
            part.status, part.message = "not run", "not run: the notebook was stopped before this test"
            return part
        error = reply.get("error")
        if error:
            part.status, part.message = "failed", failure_message(error, is_hidden)[:500]
            return part
    part.points = cell.points
    value = segments[-1][2].get("value") if segments else None
    if type(value) in (int, float):  # nbgrader's partial credit: a test cell ending in a number
        if not math.isfinite(value):
            part.points, part.status, part.message = 0.0, "partial", "partial credit was not a finite number: 0 points"
        else:
            part.points = min(max(float(value), 0.0), cell.points)
            if part.points < cell.points:
                part.status, part.message = "partial", f"partial credit: {part.points:g} of {cell.points:g}"
    return part


def _graded_notebook(cells, source_nb) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

    notebook_cells = []
    for cell, segments in cells:
        if cell.cell_type != "code":
            notebook_cells.append(new_markdown_cell(cell.source[:200_000]))
            continue
        code = new_code_cell(cell.source)
        if cell.grade_id:
            code.metadata["nbgrader"] = {"grade_id": cell.grade_id, "grade": cell.role == "test", "points": cell.points}
            if cell.bonus:
                code.metadata["nextword"] = {"bonus": True}
        for _code, _hidden, reply in segments:
            for output in (reply or {}).get("outputs", []):
                kind = output["output_type"]
                if kind == "stream":
                    code.outputs.append(new_output("stream", name=output.get("name", "stdout"), text=output.get("text", "")))
                else:
                    code.outputs.append(new_output(kind, data=output.get("data", {}), **({"execution_count": None} if kind == "execute_result" else {})))
            if reply and reply.get("error"):
                err = reply["error"]
                code.outputs.append(new_output("error", ename=str(err.get("ename", "")), evalue=str(err.get("evalue", "")),
                                               traceback=[str(t) for t in err.get("traceback", [])]))  # fmt: skip
        notebook_cells.append(code)
    nb = nbformat.v4.new_notebook(cells=notebook_cells, metadata=source_nb.metadata)
    return nbformat.writes(nb)


def grade_command(args) -> int:
    """Entry point of ``nextword grade`` (the batch lives in :mod:`helpers.grading.batch`)."""
    from helpers.grading.batch import grade_command as run

    return run(args)
