"""The ``nextword`` command: run notebooks, check the environment, release and grade assignments.

    nextword run week01            execute a lecture notebook headless and report time and memory
    nextword run --all --out build/
    nextword run week03 --cells    ... and list the slowest code cells (lecture pacing)
    nextword doctor [--instructor] check packages, data sets and the device (and nbgrader's panels)
    nextword release [WEEK]        regenerate assignments/ from solutions/ with nbgrader (no WEEK: all)
    nextword grade WEEK SUBMISSIONS --out DIR [--workers N] [--timeout S] [--student ID]

run, release, grade and lab work on the course folder found from the current directory (a clone of
the course: nbgrader_config.py beside solutions/), or the one given with --course DIR.
    nextword lab [JUPYTER-ARGS]    JupyterLab on the course, nbgrader's panels set up (jupyter_config/)
    nextword site [WEEK ...] --out DIR   the course as a static HTML site (executed notebooks, plots)
    nextword restamp               Colab badges, setup cells and plot theme into every notebook (after a merge)
    nextword leaderboard [--upto weekNN]   every language model of the course on the same held-out text
"""

from __future__ import annotations

import argparse
import sys
import time

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
    run.add_argument("--cells", type=int, nargs="?", const=10, default=None, metavar="N",
                     help="also list the N slowest code cells of each notebook (default 10; 0: all)")
    _course_option(run)

    doctor = commands.add_parser("doctor", help="check packages, data sets and device")
    doctor.add_argument("--instructor", action="store_true", help="also require the instructor tools")

    rel = commands.add_parser("release", help="generate student versions from solutions/ with nbgrader")
    rel.add_argument("week", nargs="?", help="one week (default: every week in solutions/)")
    _course_option(rel)

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
    _course_option(grade)

    lab = commands.add_parser("lab", help="start JupyterLab on the course with its Jupyter configuration (nbgrader's panels)")
    _course_option(lab)
    lab.epilog = "Other arguments go to jupyter lab, e.g. nextword lab --no-browser --port 8890."

    site = commands.add_parser("site", help="write the course as a static HTML site")
    site.add_argument("weeks", nargs="*", help="weeks to include, e.g. 0 1 week05 (default: all)")
    site.add_argument("--out", default="build/site", help="folder for the site (default build/site)")
    site.add_argument("--executed", default=None,
                      help="folder of executed notebooks to reuse and keep (default build/executed/notebooks)")
    site.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")

    commands.add_parser("restamp", help="write the Colab badge, setup cell and plot theme into every notebook again")

    board = commands.add_parser("leaderboard", help="score every language model of the course on the same held-out text")
    board.add_argument("--upto", default=None, help="only the models of the weeks up to this one, e.g. week03")
    board.add_argument("--only", action="append", default=None, metavar="KEY", help="only this entry, e.g. kn3 (repeatable)")
    board.add_argument("--committed", action="store_true", help="print the committed table; compute nothing")
    board.add_argument("--retrain", action="store_true", help="train the cached models again")
    board.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    board.add_argument("--plot", default=None, metavar="PNG", help="also save the plot to this file")
    board.add_argument("--write", action="store_true", help="update the committed CSV, plot and benchmarks/README.md (full run with --retrain)")

    args, extra = parser.parse_known_args(argv)
    if args.command == "lab":  # everything nextword does not know goes to jupyter lab
        args.jupyter_args = [a for a in extra if a != "--"]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    commands_by_name = {"run": _run, "doctor": _doctor, "release": _release, "grade": _grade, "leaderboard": _leaderboard,
                        "site": _site, "restamp": _restamp, "lab": _lab}
    try:
        if args.command in ("run", "release", "grade", "lab"):
            from helpers.course.course_dir import find_course

            args.course = find_course(args.course, command=f"nextword {args.command}")
        return commands_by_name[args.command](args)
    except ValueError as error:
        print(f"nextword {args.command}: {error}", file=sys.stderr)
        return 2


def _course_option(command) -> None:
    command.add_argument("--course", default=None, metavar="DIR",
                         help="the course folder (default: the one containing the current directory)")  # fmt: skip


def _run(args) -> int:
    from helpers.course.notebooks import find_notebooks, format_cell_times, run_notebook

    if not args.all and not args.week:
        raise ValueError("say which notebook: nextword run week01, or nextword run --all")
    kind = "solutions" if args.solutions else "notebooks"
    paths = find_notebooks(None if args.all else args.week, kind=kind, root=args.course)
    if not paths:
        raise ValueError(f"no {'lecture' if kind == 'notebooks' else 'solution'} notebook matches {args.week!r}")
    rows = []
    for path in paths:
        print(f"running {path.relative_to(path.parents[1])} ...", flush=True)
        result = run_notebook(path, out=args.out, timeout=args.timeout)
        rows.append(result)
    print()
    print(f"{'notebook':<32} {'status':<7} {'seconds':>8} {'peak MB':>8} {'slowest cell':>13}")
    for r in rows:
        peak = f"{r.peak_mb:8.0f}" if r.peak_mb else f"{'?':>8}"
        slow = r.slowest(1)
        slowest = f"{slow[0].seconds:6.1f} s (#{slow[0].index})" if slow else ""
        print(f"{r.notebook:<32} {r.status:<7} {r.seconds:8.1f} {peak} {slowest:>13}")
    if args.cells is not None:
        for r in rows:
            print()
            print(format_cell_times(r, top=args.cells or None))
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
    from helpers.grading.release import ReleaseError, release

    course = args.course
    weeks = [args.week] if args.week else sorted(p.name for p in (course / "solutions").glob("week*")
                                                 if p.is_dir() and any(p.glob("*.ipynb")))  # fmt: skip
    if not weeks:
        raise ValueError(f"no assignment sources in {course / 'solutions'}: expected solutions/weekNN/*.ipynb")
    for week in weeks:
        try:
            target = release(week, root=course)
        except ReleaseError as error:
            print(f"nextword release: {error}", file=sys.stderr)
            return 1
        print(f"released {week} -> {target.relative_to(course)}", flush=True)
    print(f"{len(weeks)} assignment(s) released into {course / 'assignments'}")
    return 0


def _lab(args) -> int:
    """JupyterLab in the course folder with the course's Jupyter configuration first
    (jupyter_config/: the exchange panels off) and this environment's scripts on PATH
    (Formgrader runs nbgrader's alembic), also from an unactivated virtual environment."""
    import subprocess

    from helpers.course.doctor import lab_environment

    command = [sys.executable, "-m", "jupyter", "lab", *args.jupyter_args]
    try:
        return subprocess.call(command, cwd=args.course, env=lab_environment(args.course))
    except KeyboardInterrupt:
        return 130


def _site(args) -> int:
    from pathlib import Path

    from helpers.course.site import build_site

    pages = build_site(args.weeks or None, out=args.out, executed=args.executed, timeout=args.timeout)
    broken = [p for p in pages if p.errors]
    for page in broken:
        print(f"{page.path}: shows an error output: {page.errors[0]}", file=sys.stderr)
    print(f"site: {Path(args.out) / 'index.html'} ({len(pages)} pages, {sum(len(p.figures) for p in pages)} figures)")
    return 1 if broken else 0


def _restamp(args) -> int:
    from helpers.course.notebooks import ROOT, restamp_notebooks

    changed = restamp_notebooks()
    for path in changed:
        print(f"restamped {path.relative_to(ROOT)}")
    print(f"{len(changed)} notebooks changed; re-release the assignments whose solutions changed (nextword release WEEK)")
    return 0


def _grade(args) -> int:
    from helpers.grading.runner import grade_command

    return grade_command(args)


def _leaderboard(args) -> int:
    import os

    from helpers.course.leaderboard import board

    if args.write and (args.upto or args.only or args.seed != 0 or not args.retrain or args.committed):
        raise ValueError("--write records the full run: use nextword leaderboard --retrain --write (no --upto, --only or --seed)")
    if args.committed:
        results = board.read_committed(args.upto)
        if args.only:
            results = results[results.key.isin(args.only)].reset_index(drop=True)
    else:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        start, cpu = time.perf_counter(), time.process_time()
        results = board.run_leaderboard(args.upto, args.only, seed=args.seed, retrain=args.retrain)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        note = board.machine_note(seconds, cpu, load, os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
    print(board.leaderboard_table(results, markdown=True))
    if len(results):
        print(f"\ntest text: {results.test_chars[0]:,} characters, {results.test_tokens[0]:,} words and sentence ends")
    if not args.committed:
        print(f"measured {note}")
    if args.write:  # what is committed is the rounded CSV: the README table and the plot show exactly that
        results = board.read_committed(path=board.write_committed(results))
    plot = args.plot or (str(board.readme_path().with_name("leaderboard.png")) if args.write else None)
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        board.plot_leaderboard(results)
        plt.tight_layout()
        plt.savefig(plot, dpi=120)
        print(f"plot: {plot}")
    if args.write:
        print(f"wrote {board.COMMITTED_CSV} and {board.update_readme(results, note)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
