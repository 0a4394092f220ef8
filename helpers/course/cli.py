"""The ``nextword`` command: run notebooks, check the environment, release and grade assignments.

    nextword run week01            execute a lecture notebook headless and report time and memory
    nextword run --all --out build/
    nextword doctor                check packages, data sets and the device
    nextword release [WEEK]        regenerate assignments/ from solutions/ with nbgrader
    nextword grade WEEK SUBMISSIONS --out DIR [--workers N] [--timeout S] [--student ID]
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from helpers import __version__

    parser = argparse.ArgumentParser(prog="nextword", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"nextword {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="execute lecture notebooks headless and report")
    run.add_argument("week", nargs="?", help="a week such as week01 or 1")
    run.add_argument("--all", action="store_true", help="run every lecture notebook")
    run.add_argument("--solutions", action="store_true", help="run the assignment sources instead")
    run.add_argument("--out", default=None, help="folder for the executed copies (default: none kept)")
    run.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")

    doctor = commands.add_parser("doctor", help="check packages, data sets and device")
    doctor.add_argument("--instructor", action="store_true", help="also require the instructor tools")

    rel = commands.add_parser("release", help="generate student versions from solutions/ with nbgrader")
    rel.add_argument("week", nargs="?", help="one week (default: every week in solutions/)")

    grade = commands.add_parser("grade", help="autograde a folder or LMS zip of submissions")
    grade.add_argument("week", help="the assignment, e.g. week01")
    grade.add_argument("submissions", help="folder of <student>.ipynb files or <student>/ folders, or a zip")
    grade.add_argument("--out", required=True, help="folder for grades.csv, feedback/ and graded/")
    grade.add_argument("--workers", type=int, default=None, help="parallel graders (default: CPU count)")
    grade.add_argument("--timeout", type=float, default=None, help="seconds per cell (default 120)")
    grade.add_argument("--total-timeout", type=float, default=None, help="seconds per submission (default 600)")
    grade.add_argument("--memory", type=int, default=None, help="MB of memory a submission may use (default 4096)")
    grade.add_argument("--student", action="append", default=None, help="regrade only this student (repeatable)")
    grade.add_argument("--scheduler", default=None, help="address of a Dask scheduler to grade on")
    grade.add_argument("--sandbox", choices=["bubblewrap", "landlock"], default=None,
                       help="require this sandbox (default: the best this machine has; none: refuse)")
    grade.add_argument("--no-sandbox", action="store_true", help="grade without a sandbox (unsafe: for trying things out)")
    grade.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    args = parser.parse_args(argv)
    try:
        return {"run": _run, "doctor": _doctor, "release": _release, "grade": _grade}[args.command](args)
    except ValueError as error:
        print(f"nextword {args.command}: {error}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from helpers.course.notebooks import find_notebooks, run_notebook

    if not args.all and not args.week:
        raise ValueError("say which notebook: nextword run week01, or nextword run --all")
    kind = "solutions" if args.solutions else "notebooks"
    paths = find_notebooks(None if args.all else args.week, kind=kind)
    if not paths:
        raise ValueError(f"no {'lecture' if kind == 'notebooks' else 'solution'} notebook matches {args.week!r}")
    rows = []
    for path in paths:
        print(f"running {path.relative_to(path.parents[1])} ...", flush=True)
        result = run_notebook(path, out=args.out, timeout=args.timeout)
        rows.append(result)
    print()
    print(f"{'notebook':<32} {'status':<7} {'seconds':>8} {'peak MB':>8}")
    for r in rows:
        peak = f"{r.peak_mb:8.0f}" if r.peak_mb else f"{'?':>8}"
        print(f"{r.notebook:<32} {r.status:<7} {r.seconds:8.1f} {peak}")
    for r in rows:
        if r.error:
            print(f"\n{r.notebook}: {r.error}")
    return 0 if all(r.status == "ok" for r in rows) else 1


def _doctor(args) -> int:
    from helpers.course.doctor import check_environment, format_report

    checks = check_environment(instructor=args.instructor)
    print(format_report(checks))
    return 0 if all(c.status != "FAIL" for c in checks) else 1


def _release(args) -> int:
    from helpers.course.notebooks import ROOT
    from helpers.grading.release import release

    weeks = [args.week] if args.week else sorted(p.name for p in (ROOT / "solutions").glob("week*") if p.is_dir())
    for week in weeks:
        target = release(week)
        print(f"released {week} -> {target.relative_to(ROOT)}")
    return 0


def _grade(args) -> int:
    from helpers.grading.runner import grade_command

    return grade_command(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
