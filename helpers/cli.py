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
    parser = argparse.ArgumentParser(prog="nextword", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="execute lecture notebooks headless and report")
    run.add_argument("week", nargs="?", help="a week such as week01 or 1")
    run.add_argument("--all", action="store_true", help="run every lecture notebook")
    run.add_argument("--solutions", action="store_true", help="run the assignment sources instead")
    run.add_argument("--out", default=None, help="folder for the executed copies (default: none kept)")
    run.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")

    commands.add_parser("doctor", help="check packages, data sets and device")

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
    grade.add_argument("--no-sandbox", action="store_true", help="do not use bubblewrap even if available")
    grade.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    args = parser.parse_args(argv)
    try:
        return {"run": _run, "doctor": _doctor, "release": _release, "grade": _grade}[args.command](args)
    except ValueError as error:
        print(f"nextword {args.command}: {error}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from helpers.notebooks import find_notebooks, run_notebook

    if not args.all and not args.week:
        raise ValueError("say which notebook: nextword run week01, or nextword run --all")
    kind = "solutions" if args.solutions else "notebooks"
    paths = find_notebooks(None if args.all else args.week, kind=kind)
    if not paths:
        raise ValueError(f"no {kind} notebook matches {args.week!r}")
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
    from importlib.metadata import PackageNotFoundError, version

    core = ["torch", "numpy", "matplotlib", "seaborn", "scikit-learn", "ipywidgets", "tqdm", "gensim", "codespell", "wordfreq"]
    instructor = ["jupyterlab", "nbgrader", "nbclient", "nbconvert", "psutil", "distributed"]
    ok = True
    print("Packages")
    for group, names, required in (("core", core, True), ("instructor", instructor, False)):
        for name in names:
            try:
                print(f"  [OK]   {name} {version(name)}")
            except PackageNotFoundError:
                mark = "[FAIL]" if required else "[--]  "
                hint = "pip install -e ." if required else "pip install -e '.[instructor]' (instructors only)"
                print(f"  {mark} {name} missing ({group}: {hint})")
                ok = ok and not required
    print("Data sets")
    from helpers import data

    checks = [
        ("Wikipedia sample", lambda: f"{len(data.load_corpus('wikipedia'))} articles"),
        ("Lee news corpus", lambda: f"{len(data.load_corpus('news'))} articles"),
        ("Google analogies", lambda: f"{sum(map(len, data.load_analogies().values()))} questions"),
        ("WordSim-353", lambda: f"{len(data.load_word_similarity('wordsim353'))} pairs"),
        ("SimLex-999", lambda: f"{len(data.load_word_similarity('simlex999'))} pairs"),
        ("codespell misspellings", lambda: f"{len(data.load_misspellings())} entries"),
        ("polarity sentences", lambda: f"{len(data.load_polarity())} sentences"),
        ("wordfreq", lambda: f"{len(data.word_frequencies(1000))} words"),
    ]
    for name, load in checks:
        try:
            print(f"  [OK]   {name}: {load()}")
        except Exception as error:  # report every failure, then the verdict
            ok = False
            print(f"  [FAIL] {name}: {type(error).__name__}: {error}")
    print("Device")
    try:
        from helpers.training import get_device

        device = get_device()
        print(f"  [OK]   {device}" + ("" if device.type != "cpu" else " (no GPU found: every notebook runs on CPU)"))
    except Exception as error:
        ok = False
        print(f"  [FAIL] {type(error).__name__}: {error}")
    from helpers.grading.sandbox import sandbox_available

    print("Grading sandbox")
    if sandbox_available():
        print("  [OK]   bubblewrap: submissions run without network and without access to solutions/")
    else:
        print("  [--]   bubblewrap not usable: grading runs unsandboxed (apt install bubblewrap)")
    print("\nAll good." if ok else "\nSome checks failed: see [FAIL] above.")
    return 0 if ok else 1


def _release(args) -> int:
    from helpers.grading.release import release
    from helpers.notebooks import ROOT

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
