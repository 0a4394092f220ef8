"""Students' self-check: run an assignment's visible tests against the current notebook.

``from helpers.grading import check; check("week01")`` works in JupyterLab, classic Jupyter
and Colab without nbgrader: the visible tests ship with the package (written by
``nextword release`` into ``helpers/grading/visible/``). Each test runs in a copy of the
notebook's namespace, so a test can neither break nor fix the student's variables.
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from helpers.course.notebooks import normalise_week

__all__ = ["PartCheck", "run_visible_tests"]

VISIBLE_DIR = Path(__file__).resolve().parent / "visible"


@dataclass
class PartCheck:
    part: str
    points: float
    passed: bool
    message: str
    bonus: bool = False


def _caller_namespace() -> dict:
    """The notebook's variables: IPython's user namespace, else the ``__main__`` module's."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return vars(sys.modules["__main__"])


def run_visible_tests(assignment: str, namespace: dict | None = None, verbose: bool = True) -> list[PartCheck]:
    """Run the visible tests of ``assignment``; print a table and return the results."""
    week = normalise_week(assignment)
    path = VISIBLE_DIR / f"{week}.json"
    if not path.exists():
        available = ", ".join(sorted(p.stem for p in VISIBLE_DIR.glob("week*.json"))) or "none"
        raise ValueError(f"no tests for assignment {assignment!r}; available: {available}")
    spec = json.loads(path.read_text(encoding="utf-8"))
    namespace = _caller_namespace() if namespace is None else namespace
    results = []
    for notebook in spec["notebooks"]:
        for test in notebook["tests"]:
            bonus = bool(test.get("bonus", False))
            scope = dict(namespace)  # the tests see the student's names but cannot change them
            out = io.StringIO()
            try:
                with redirect_stdout(out), redirect_stderr(out):
                    exec(compile(test["source"], f"<test {test['grade_id']}>", "exec"), scope)
            except NotImplementedError:
                results.append(PartCheck(test["grade_id"], test["points"], False, "not answered yet (NotImplementedError)", bonus))
            except Exception as error:  # noqa: BLE001 - every failure is reported, none raised
                last = traceback.format_exception_only(type(error), error)[-1].strip()
                results.append(PartCheck(test["grade_id"], test["points"], False, last[:300], bonus))
            else:
                results.append(PartCheck(test["grade_id"], test["points"], True, "", bonus))
    if verbose:
        _print_table(week, results)
    return results


def _print_table(week: str, results: list[PartCheck]) -> None:
    total = sum(r.points for r in results if not r.bonus)
    passed = sum(r.points for r in results if r.passed and not r.bonus)
    bonus_total = sum(r.points for r in results if r.bonus)
    bonus = sum(r.points for r in results if r.passed and r.bonus)
    extra = f", and {bonus:g} of {bonus_total:g} bonus points" if bonus_total else ""
    print(f"{week}: visible tests pass for {passed:g} of {total:g} points{extra}")
    width = max((len(r.part) for r in results), default=4)
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        kind = " bonus" if r.bonus else ""
        print(f"  [{mark}] {r.part:<{width}}  {r.points:g} pt{kind}" + (f"  {r.message}" if r.message else ""))
    print("Hidden tests with other inputs also run when your notebook is graded.")
