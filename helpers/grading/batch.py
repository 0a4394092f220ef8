"""Grade a whole class: workers or a Dask cluster, the grade sheets, the summary.

Submissions are graded by :mod:`helpers.grading.worker` processes (``--workers`` local ones, or
one per Dask worker thread with ``--scheduler``), each watched from here. Only this
coordinator writes files, each record in its own ``try``: one record that cannot be written
(odd characters, a full disk) is an ``error`` row, never a missing grade sheet. Every write is
atomic and text is written with ``errors="backslashreplace"``.

Output folder::

    grades.csv          one row per submission: student_id, score, max_score, status, message,
                        timestamp, bonus, max_bonus (bonus tests count in bonus, never in score)
    parts.csv           one row per submission and test: points, max_points, status, message, bonus (yes/no)
    feedback/<id>.html  for the student (no hidden test code)
    graded/<id>.ipynb   the notebook as graded, with outputs and hidden tests (instructors only)
    results/<id>.json   everything above for one student; --student ID regrades just that one

Cells of the CSV files that a spreadsheet would read as a formula (``= + - @``) start with ``'``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from helpers.course.notebooks import ROOT
from helpers.grading.intake import Submission, find_submissions
from helpers.grading.runner import MANUAL, Assignment, GradeSettings
from helpers.grading.worker import WorkerClient, error_record

__all__ = ["grade_command", "grade_submissions", "summarise", "write_sheets"]

# New columns go at the end: instructors' scripts may read these sheets by position.
GRADE_COLUMNS = ["student_id", "score", "max_score", "status", "message", "timestamp", "bonus", "max_bonus"]
PART_COLUMNS = ["student_id", "part", "points", "max_points", "status", "message", "bonus"]
UNSANDBOXED = "UNSANDBOXED (--no-sandbox): student code could read and change files of this machine"


def _key(assignment: Assignment) -> str:
    return hashlib.sha256(json.dumps(assignment.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


_LOCAL = threading.local()


def _dask_task(key: str, assignment: Assignment, submission: Submission, settings: GradeSettings, hide: list[str]) -> dict:
    """What a Dask worker runs: one grading worker process per Dask thread, kept warm."""
    client = getattr(_LOCAL, "client", None)
    if client is None:
        client = _LOCAL.client = WorkerClient()
    return client.grade(key, assignment, submission, settings, hide)


def grade_submissions(assignment: Assignment, submissions: list[Submission], out: Path, settings: GradeSettings | None = None,
                      workers: int = 1, scheduler: str | None = None, hide: list[Path] | None = None,
                      progress: bool = True) -> list[dict]:  # fmt: skip
    """Grade ``submissions`` and write their records to ``out``; returns the records."""
    from tqdm.auto import tqdm

    settings = settings or GradeSettings()
    out.mkdir(parents=True, exist_ok=True)
    key, hidden = _key(assignment), [str(p) for p in (hide or [])]
    records = []
    bar = tqdm(total=len(submissions), desc=f"grading {assignment.name}", unit="nb", disable=not progress)

    def collect(record, submission):
        record = _sanitise(record, submission)
        _write_record(out, record)
        records.append(record)
        bar.update()

    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = {client.submit(_dask_task, key, assignment, s, settings, hidden, pure=False): s for s in submissions}
            for future in dask_completed(futures):
                try:
                    record = future.result()
                except Exception as error:  # noqa: BLE001 - a lost Dask task is one error row
                    record = error_record(futures[future], f"grader error on the Dask cluster ({type(error).__name__}: {error})")
                collect(record, futures[future])
    else:
        clients: list[WorkerClient] = []
        local = threading.local()

        def grade(submission):
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = WorkerClient()
                clients.append(client)
            return client.grade(key, assignment, submission, settings, hidden)

        try:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
                futures = {executor.submit(grade, s): s for s in submissions}
                for future in as_completed(futures):
                    try:
                        record = future.result()
                    except Exception as error:  # noqa: BLE001
                        record = error_record(futures[future], f"grader error ({type(error).__name__}: {error}); please report it")
                    collect(record, futures[future])
        finally:
            for client in clients:
                client.close()
    bar.close()
    return sorted(records, key=lambda r: r["student_id"])


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sanitise(record: dict, submission: Submission) -> dict:
    """A record every later step can rely on: the right ids, finite numbers, strings."""
    if not isinstance(record, dict):
        record = error_record(submission, "grader error: no record came back; please report it")
    record["student_id"], record["file_id"] = submission.student_id, submission.file_id
    notes = []
    for name in ("score", "max_score", "bonus", "max_bonus"):
        number = _finite(record.get(name, 0.0))
        if number is None:
            notes.append(f"{name} was not a finite number: 0 recorded")
        record[name] = number or 0.0
    parts = record.get("parts") if isinstance(record.get("parts"), list) else []
    for part in parts:
        for name in ("points", "max_points"):
            number = _finite(part.get(name, 0.0))
            part[name] = number or 0.0
        part["bonus"] = part.get("bonus") is True
    record["parts"] = parts
    for name in ("status", "message", "timestamp"):
        record[name] = str(record.get(name) or "")
    if notes:
        record["message"] = "; ".join([record["message"], *notes]).strip("; ")
    return record


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_record(out: Path, record: dict) -> None:
    """Write one student's files; a failure becomes an error in their own record."""
    sid = record["file_id"]
    feedback, graded = record.pop("feedback_html", None), record.pop("graded_ipynb", None)
    try:
        if feedback is not None:
            _atomic_write(out / "feedback" / f"{sid}.html", feedback)
        if graded is not None:
            _atomic_write(out / "graded" / f"{sid}.ipynb", graded)
    except Exception as error:  # noqa: BLE001 - keep the grade even if its feedback cannot be written
        record["message"] = "; ".join(filter(None, [record["message"], f"feedback could not be written ({type(error).__name__})"]))
    try:
        _atomic_write(out / "results" / f"{sid}.json", json.dumps(record, indent=1, sort_keys=True, ensure_ascii=True))
    except Exception as error:  # noqa: BLE001
        fallback = {key: record.get(key) for key in ("student_id", "file_id", "timestamp")}
        fallback.update(score=0.0, max_score=0.0, status="error", parts=[],
                        message=f"grader error: the result could not be written ({type(error).__name__}: {error})")  # fmt: skip
        try:
            _atomic_write(out / "results" / f"{sid}.json", json.dumps(fallback, ensure_ascii=True))
        except Exception:  # noqa: BLE001 - write_sheets reports the row as not graded
            pass


def _cell(value) -> str:
    """A CSV cell that no spreadsheet runs as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_sheets(out: Path, submissions: list[Submission]) -> list[dict]:
    """Rebuild grades.csv and parts.csv from the stored results of ``submissions``."""
    records = []
    for sub in sorted(submissions, key=lambda s: s.student_id):
        path = out / "results" / f"{sub.file_id}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            record = _sanitise(record, sub)
        except FileNotFoundError:
            record = {"student_id": sub.student_id, "score": 0.0, "max_score": 0.0, "status": "pending", "message": "not graded yet", "timestamp": "", "parts": []}
        except Exception as error:  # noqa: BLE001 - an unreadable result is a row that says so
            record = {"student_id": sub.student_id, "score": 0.0, "max_score": 0.0, "status": "error", "timestamp": "", "parts": [],
                      "message": f"grader error: stored result unreadable ({type(error).__name__}); regrade with --student"}  # fmt: skip
        if record.get("sandbox") == "none":
            record["message"] = "; ".join(filter(None, [UNSANDBOXED, record["message"]]))
        records.append(record)
    grades, parts = io.StringIO(), io.StringIO()
    g = csv.writer(grades, lineterminator="\n")
    p = csv.writer(parts, lineterminator="\n")
    g.writerow(GRADE_COLUMNS)
    p.writerow(PART_COLUMNS)
    for record in records:
        try:
            g.writerow([_cell(record["student_id"]), f"{record['score']:g}", f"{record['max_score']:g}", _cell(record["status"]),
                        _cell(record["message"]), _cell(record["timestamp"]), f"{_finite(record.get('bonus')) or 0:g}", f"{_finite(record.get('max_bonus')) or 0:g}"])  # fmt: skip
            for part in record.get("parts", []):
                p.writerow([_cell(record["student_id"]), _cell(part.get("part", "")), f"{part['points']:g}", f"{part['max_points']:g}",
                            _cell(part.get("status", "")), _cell(part.get("message", "")), "yes" if part.get("bonus") else "no"])  # fmt: skip
        except Exception as error:  # noqa: BLE001 - one odd record cannot stop the sheet
            g.writerow([_cell(record.get("student_id", "?")), "0", "0", "error", f"grader error writing this row ({type(error).__name__})", "", "0", "0"])
    _atomic_write(out / "grades.csv", grades.getvalue())
    _atomic_write(out / "parts.csv", parts.getvalue())
    return records


def summarise(records: list[dict], seconds: float, sandbox: str) -> str:
    """A short report: sandbox, counts by status, score statistics, a histogram, each part."""
    lines = []
    if sandbox.startswith("none"):
        lines.append("!" * 78)
        lines.append(f"WARNING: {UNSANDBOXED}. These grades cannot be trusted for a real class.")
        lines.append("!" * 78)
    else:
        lines.append(f"sandbox: {sandbox}")
    n = len(records)
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    lines.append(f"{n} submissions in {seconds:.1f} s ({60 * n / max(seconds, 1e-9):.1f} per minute): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))  # fmt: skip
    scores = [_finite(r.get("score")) or 0.0 for r in records]
    max_score = max((_finite(r.get("max_score")) or 0.0 for r in records), default=0.0)
    if scores and max_score:
        lines.append(f"score: mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
                     f"min {min(scores):g}, max {max(scores):g} (out of {max_score:g})")  # fmt: skip
        bins = 5
        counts = [0] * bins
        for s in scores:
            counts[min(max(int(bins * s / max_score), 0), bins - 1)] += 1
        width = max(counts)
        for i, count in enumerate(counts):
            lo, hi = max_score * i / bins, max_score * (i + 1) / bins
            lines.append(f"  {lo:5.1f}-{hi:5.1f} | {'#' * round(30 * count / width) if width else ''} {count}")
    max_bonus = max((_finite(r.get("max_bonus")) or 0.0 for r in records), default=0.0)
    if records and max_bonus:
        bonuses = [_finite(r.get("bonus")) or 0.0 for r in records]
        lines.append(f"bonus (not in the score): mean {statistics.mean(bonuses):.2f} of {max_bonus:g}, "
                     f"{sum(b > 0 for b in bonuses)} of {len(bonuses)} submissions earned some")  # fmt: skip
    per_part: dict[str, list] = {}
    for r in records:
        for part in r.get("parts", []):
            per_part.setdefault(part["part"], []).append(part)
    if per_part:
        lines.append("per part: mean points / max, share passed")
        for name, items in per_part.items():
            if items[0].get("status") == MANUAL:
                lines.append(f"  {name:<32} {MANUAL} ({items[0]['max_points']:g} points, not in the score above)")
                continue
            mean = statistics.mean(_finite(p["points"]) or 0.0 for p in items)
            passed = sum(p["status"] == "passed" for p in items) / len(items)
            extra = "   bonus" if items[0].get("bonus") else ""
            lines.append(f"  {name:<32} {mean:5.2f} / {items[0]['max_points']:g}   {passed:6.1%}{extra}")
    return "\n".join(lines)


def _settings(args) -> GradeSettings:
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
        settings.limits.memory_mb = args.memory
    if args.no_sandbox and getattr(args, "sandbox", None):
        raise ValueError("--no-sandbox and --sandbox contradict each other: give one")
    settings.sandbox = "none" if args.no_sandbox else getattr(args, "sandbox", None)
    return settings


def grade_command(args) -> int:
    """Entry point of ``nextword grade``."""
    from helpers.grading.sandbox import detect_sandbox

    root = Path(getattr(args, "course", None) or ROOT)  # the CLI's --course, or the course found from here
    assignment = Assignment.load(args.week, root)
    settings = _settings(args)
    if settings.sandbox != "none" and not args.scheduler:  # fail closed; Dask workers check on their own machines
        info = detect_sandbox()
        if info.kind is None:
            raise ValueError(f"refusing to grade without a sandbox: {info.detail}. Install bubblewrap "
                             "(sudo apt install bubblewrap) and check with `nextword doctor`; "
                             "--no-sandbox grades anyway, unsafely, for trying things out")  # fmt: skip
        if settings.sandbox == "bubblewrap" and info.kind != "bubblewrap":
            raise ValueError(f"--sandbox bubblewrap: not usable here ({info.detail})")
        sandbox_note = info.detail if settings.sandbox in (None, info.kind) else "landlock (asked for with --sandbox)"
    else:
        sandbox_note = "none" if settings.sandbox == "none" else "checked by each Dask worker"
    source = Path(args.submissions).resolve()
    out = Path(args.out).resolve()
    found = find_submissions(source, assignment.name, [assignment.notebook_name])
    if args.student:
        wanted = set(args.student)
        chosen = [s for s in found if s.student_id in wanted or s.file_id in wanted]
        unknown = wanted - {s.student_id for s in chosen} - {s.file_id for s in chosen}
        if unknown:
            raise ValueError(f"no submission from {', '.join(sorted(unknown))} in {source}")
        todo = chosen
    else:
        todo = found
    workers = args.workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"--workers {workers} must be at least 1")
    hide = [root / "solutions", out, source] + [ROOT / "solutions"] * (ROOT != root and (ROOT / "solutions").is_dir())  # never inside the sandbox, whatever else is bound
    start = time.monotonic()
    records = grade_submissions(assignment, todo, out, settings, workers=workers, scheduler=args.scheduler, hide=hide,
                                progress=not args.quiet)  # fmt: skip
    elapsed = time.monotonic() - start
    write_sheets(out, found)
    if not args.quiet:
        print(summarise(records, elapsed, sandbox_note))
        print(f"wrote {out / 'grades.csv'} ({len(found)} rows), {out / 'parts.csv'}, feedback/ and graded/")
    elif settings.sandbox == "none":
        import sys

        print(f"WARNING: {UNSANDBOXED}", file=sys.stderr, flush=True)
    return 0
