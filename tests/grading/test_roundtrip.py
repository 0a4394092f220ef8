"""Every assignment of the course, end to end: the checked-in student version is what nbgrader
generates, the solution gets full marks, the blank student version gets 0, and the student
self-check agrees with the visible tests."""

from __future__ import annotations

import csv
import json
import re

import nbformat
import pytest

from helpers.course.cli import main
from helpers.course.notebooks import ROOT
from helpers.grading.release import release, visible_tests

WEEKS = sorted(p.name for p in (ROOT / "solutions").glob("week*") if p.is_dir())


def _comparable(path):
    nb = nbformat.read(path, as_version=4)
    return json.dumps(nb, sort_keys=True)


@pytest.mark.parametrize("week", WEEKS)
def test_checked_in_release_matches_nbgrader(week, tmp_path):
    fresh = release(week, dest=tmp_path / "release", visible_dir=tmp_path / "visible")
    checked_in = ROOT / "assignments" / week
    names = sorted(p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(checked_in).as_posix() for p in checked_in.rglob("*") if p.is_file()), (
        f"assignments/{week} is out of date: run `nextword release {week}`"
    )
    for name in names:
        if name.endswith(".ipynb"):
            assert _comparable(fresh / name) == _comparable(checked_in / name), f"run `nextword release {week}`"
        else:
            assert (fresh / name).read_bytes() == (checked_in / name).read_bytes()
    shipped = ROOT / "helpers" / "grading" / "visible" / f"{week}.json"
    assert json.loads(shipped.read_text()) == json.loads((tmp_path / "visible" / f"{week}.json").read_text()), (
        f"helpers/grading/visible/{week}.json is out of date: run `nextword release {week}`"
    )


@pytest.mark.parametrize("week", WEEKS)
def test_release_hides_solutions_and_hidden_tests(week):
    for path in (ROOT / "assignments" / week).glob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        nb = nbformat.read(path, as_version=4)
        assert any(c.metadata.get("nbgrader", {}).get("grade") for c in nb.cells), "no graded test cells"


@pytest.mark.parametrize("week", WEEKS)
def test_solution_full_marks_blank_zero(week, tmp_path):
    source = next((ROOT / "solutions" / week).glob("*.ipynb"))
    blank = ROOT / "assignments" / week / source.name
    folder = tmp_path / "submissions"
    for student, path in (("solution", source), ("blank", blank)):
        (folder / student).mkdir(parents=True)
        (folder / student / source.name).write_bytes(path.read_bytes())
    out = tmp_path / "grades"
    assert main(["grade", week, str(folder), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    solution, blank_row = rows["solution"], rows["blank"]
    assert float(solution["max_score"]) > 0
    assert float(solution["score"]) == float(solution["max_score"]), solution
    assert solution["status"] == "graded"
    assert float(blank_row["score"]) == 0, blank_row
    assert blank_row["status"] == "graded"


def test_half_done_week00_gets_partial_credit(tmp_path):
    from tests.grading import factory as f

    folder = tmp_path / "subs"
    folder.mkdir()
    stub = f.release().cells[f.cell_index(f.release(), "cross_entropy")].source
    f.write(f.submission({"cross_entropy": stub, "cross_entropy_grad": stub}), folder, "half")
    out = tmp_path / "grades"
    assert main(["grade", "week00", str(folder), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    row = next(csv.DictReader(open(out / "grades.csv")))
    assert float(row["score"]) == 3 and float(row["max_score"]) == 7


@pytest.mark.parametrize("week", WEEKS)
def test_self_check_matches_visible_tests(week):
    """check() runs the shipped visible tests: all pass on the solution's answers."""
    from helpers.grading.selfcheck import run_visible_tests

    source = nbformat.read(next((ROOT / "solutions" / week).glob("*.ipynb")), as_version=4)
    shipped = visible_tests(ROOT / "assignments" / week)
    assert shipped["notebooks"][0]["tests"], "no visible tests"
    namespace: dict = {}
    import contextlib
    import io
    import os

    cwd = os.getcwd()
    os.chdir(ROOT / "solutions" / week)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for cell in source.cells:
                if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
                    code = "\n".join(line for line in cell.source.splitlines() if not re.match(r"\s*[%!]", line))
                    exec(compile(code, "<cell>", "exec"), namespace)
            results = run_visible_tests(week, namespace=namespace, verbose=False)
    finally:
        os.chdir(cwd)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    blank = run_visible_tests(week, namespace={}, verbose=False)
    assert not any(r.passed for r in blank)


@pytest.mark.parametrize("week", WEEKS)
def test_tricks_get_no_points_in_any_assignment(week, tmp_path):
    """Answers that return objects equal to anything, with or without monkey-patching the
    checks, score 0 on every assignment; the same notebook without metadata scores full."""
    from helpers.grading.notebook import load_notebook
    from helpers.grading.synthetic import make_submission

    source = next((ROOT / "solutions" / week).glob("*.ipynb"))
    source_nb, release_nb = load_notebook(source), load_notebook(ROOT / "assignments" / week / source.name)
    folder = tmp_path / "subs"
    folder.mkdir()
    import random

    for kind in ("always_equal", "patched", "no_metadata"):
        nbformat.write(make_submission(kind, source_nb, release_nb, random.Random(0)), folder / f"{kind}.ipynb")
    out = tmp_path / "grades"
    assert main(["grade", week, str(folder), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert float(rows["always_equal"]["score"]) == 0, rows["always_equal"]
    assert float(rows["patched"]["score"]) == 0, rows["patched"]
    assert float(rows["no_metadata"]["score"]) == float(rows["no_metadata"]["max_score"]), rows["no_metadata"]
