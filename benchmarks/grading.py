"""Grading speed and correctness: `nextword grade` vs plain nbgrader, on generated classes.

    python benchmarks/grading.py [--n 100] [--nbgrader-n 20] [--weeks week00 week01]

For each week: a class of ``--n`` submissions from ``helpers.grading.synthetic`` (correct,
partial, blank, broken, infinite loop, equal-to-anything objects, monkey-patching, lost
metadata) is graded with 1 and 2 workers, and a class of well-formed submissions only
(correct, partial, blank) with 2 workers. Plain nbgrader (``nbgrader autograde`` then
``nbgrader generate_feedback``, its defaults) grades ``--nbgrader-n`` submissions of the mixed
class in one process, and a few with one process per student. Both graders' scores are
compared with the score each kind must get where it is unambiguous (correct and lost
metadata: full marks; blank, equal-to-anything and patched: zero).
Prints a markdown table. Cell timeout 10 s for both graders (loops would otherwise dominate).
``nextword grade`` runs with the best sandbox this machine has (named in the output): one fresh
sandboxed kernel per submission, test cells in the grader's process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.course.notebooks import ROOT
from helpers.grading.synthetic import make_class

TIMEOUT = 10
WELL_FORMED = {"correct": 50, "partial": 35, "blank": 15}


def ours(week: str, folder: Path, workers: int) -> tuple[float, dict[str, float]]:
    out = Path(tempfile.mkdtemp(prefix="ours-"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "helpers.course.cli", "grade", week, str(folder), "--out", str(out), "--workers",
                    str(workers), "--timeout", str(TIMEOUT), "--quiet"], check=True)  # fmt: skip
    seconds = time.perf_counter() - start
    scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(open(out / "grades.csv"))}
    shutil.rmtree(out)
    return seconds, scores


def plain_nbgrader(week: str, folder: Path, students: list[str], per_student: bool) -> tuple[float, dict[str, float]]:
    """nbgrader with its defaults on a course folder of its own layout."""
    course = Path(tempfile.mkdtemp(prefix="nbgrader-course-"))
    (course / "source").symlink_to(ROOT / "solutions")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.ExecutePreprocessor.timeout = {TIMEOUT}\n"
        f"c.CourseDirectory.db_students = {[{'id': s} for s in students]!r}\n"
    )
    name = next((ROOT / "solutions" / week).glob("*.ipynb")).name
    for student in students:
        target = course / "submitted" / student / week
        target.mkdir(parents=True)
        shutil.copy(folder / f"{student}.ipynb", target / name)
    run = lambda *args: subprocess.run(["nbgrader", *args], cwd=course, capture_output=True, text=True)  # noqa: E731
    done = run("generate_assignment", week, "--force")
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    start = time.perf_counter()
    if per_student:
        for student in students:
            run("autograde", week, "--student", student)
            run("generate_feedback", week, "--student", student)
    else:
        run("autograde", week)
        run("generate_feedback", week)
    seconds = time.perf_counter() - start
    run("export", "--to", str(course / "grades.csv"))
    scores = {s: float("nan") for s in students}
    if (course / "grades.csv").exists():
        for row in csv.DictReader(open(course / "grades.csv")):
            if row["assignment"] == week and row["student_id"] in scores:
                scores[row["student_id"]] = float(row["score"] or 0)
    shutil.rmtree(course)
    return seconds, scores


def wrong(scores: dict[str, float], roster: dict[str, str], max_score: float) -> tuple[int, int]:
    """(rows graded wrong, rows where the right score is unambiguous)."""
    expected = {"correct": max_score, "no_metadata": max_score, "blank": 0.0, "always_equal": 0.0, "patched": 0.0}
    judged = [s for s in scores if roster[s] in expected]
    return sum(scores[s] != expected[roster[s]] for s in judged), len(judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--nbgrader-n", type=int, default=20)
    parser.add_argument("--per-student-n", type=int, default=5)
    parser.add_argument("--weeks", nargs="+", default=["week00", "week01"])
    args = parser.parse_args()
    rows = []
    for week in args.weeks:
        if not (ROOT / "solutions" / week).is_dir():
            print(f"skipping {week}: no assignment yet", file=sys.stderr)
            continue
        work = Path(tempfile.mkdtemp(prefix=f"class-{week}-"))
        mixed = make_class(week, args.n, work / "mixed", seed=0)
        clean = make_class(week, args.n, work / "clean", seed=1, mix=WELL_FORMED)
        source = json.loads(next((ROOT / "solutions" / week).glob("*.ipynb")).read_text())
        max_score = sum(c["metadata"].get("nbgrader", {}).get("points", 0) for c in source["cells"]
                        if c["metadata"].get("nbgrader", {}).get("grade"))  # fmt: skip
        for label, folder, roster, workers in (("mixed", work / "mixed", mixed, 1), ("mixed", work / "mixed", mixed, 2),
                                               ("well-formed", work / "clean", clean, 2)):  # fmt: skip
            seconds, scores = ours(week, folder, workers)
            bad, judged = wrong(scores, roster, max_score)
            rows.append((week, "nextword grade", f"{workers} workers", label, len(scores), seconds, bad, judged))
        subset = random.Random(0).sample(sorted(mixed), min(args.nbgrader_n, len(mixed)))
        seconds, scores = plain_nbgrader(week, work / "mixed", subset, per_student=False)
        bad, judged = wrong(scores, mixed, max_score)
        rows.append((week, "nbgrader (defaults)", "1 process", "mixed", len(subset), seconds, bad, judged))
        few = random.Random(0).sample(sorted(clean), min(args.per_student_n, len(clean)))
        seconds, scores = plain_nbgrader(week, work / "clean", few, per_student=True)
        rows.append((week, "nbgrader (defaults)", "1 process per student", "well-formed", len(few), seconds, 0, 0))
        shutil.rmtree(work)
    from helpers.grading.sandbox import detect_sandbox

    load = os.getloadavg()
    print(f"\nCPU cores: {os.cpu_count()}; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min); "
          f"cell timeout {TIMEOUT} s; autograde + feedback for every submission")  # fmt: skip
    print(f"nextword grade sandbox: {detect_sandbox().detail}\n")
    print("| week | grader | parallelism | class | submissions | seconds | per minute | wrong grades (of unambiguous) |")
    print("|---|---|---|---|---:|---:|---:|---|")
    for week, grader, how, label, n, seconds, bad, judged in rows:
        verdict = f"{bad} of {judged}" if judged else "n/a"
        print(f"| {week} | {grader} | {how} | {label} | {n} | {seconds:.1f} | {60 * n / seconds:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
