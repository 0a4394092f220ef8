"""Bonus points (nbgrader has none): a test cell marked ``metadata.nextword.bonus`` is reported in
its own columns of grades.csv and never raises the maximum score. The end-to-end check, every
week's solution earning its full bonus and the blank none, is in test_roundtrip.py."""

import csv
import json

import nbformat

from helpers.course.notebooks import ROOT
from helpers.grading.align import build_plan
from helpers.grading.batch import summarise, write_sheets
from helpers.grading.feedback import PartResult, render_feedback
from helpers.grading.intake import Submission
from helpers.grading.notebook import is_bonus, load_notebook
from helpers.grading.selfcheck import PartCheck, _print_table


def _test_cell(grade_id, points, bonus=None):
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": points}}
    if bonus is not None:
        meta["nextword"] = {"bonus": bonus}
    return nbformat.v4.new_code_cell("assert True", metadata=meta)


def test_only_a_true_flag_makes_a_bonus():
    assert is_bonus(_test_cell("a", 1, True))
    assert not is_bonus(_test_cell("a", 1)) and not is_bonus(_test_cell("a", 1, "yes")) and not is_bonus(_test_cell("a", 1, False))


def test_week01s_bonus_part_is_outside_its_maximum():
    nb = load_notebook(ROOT / "solutions" / "week01" / "week01.ipynb")
    plan = build_plan(nb, load_notebook(ROOT / "assignments" / "week01" / "week01.ipynb"), nb)
    tests = [c for c in plan.cells if c.role == "test"]
    assert [c.grade_id for c in tests if c.bonus] == ["test_choose"]
    assert plan.max_score == 14 and sum(c.points for c in tests if c.bonus) == 2
    shipped = json.loads((ROOT / "helpers" / "grading" / "visible" / "week01.json").read_text())
    assert [t["grade_id"] for t in shipped["notebooks"][0]["tests"] if t.get("bonus")] == ["test_choose"]


def test_sheets_summary_and_feedback_report_bonus_apart(tmp_path):
    parts = [{"part": "test_a", "points": 3.0, "max_points": 3.0, "status": "passed", "message": "", "bonus": False},
             {"part": "test_extra", "points": 2.0, "max_points": 2.0, "status": "passed", "message": "", "bonus": True}]  # fmt: skip
    for sid, score, bonus in (("ann", 3.0, 2.0), ("bob", 1.0, 0.0)):
        record = {"student_id": sid, "file_id": sid, "score": score, "max_score": 3.0, "bonus": bonus, "max_bonus": 2.0,
                  "status": "graded", "message": "", "timestamp": "t", "parts": [dict(p) for p in parts]}  # fmt: skip
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / f"{sid}.json").write_text(json.dumps(record))
    old = {"student_id": "cat", "file_id": "cat", "score": 1.0, "max_score": 3.0, "status": "graded", "message": "",
           "timestamp": "t", "parts": [{"part": "test_a", "points": 1.0, "max_points": 3.0, "status": "partial", "message": ""}]}  # fmt: skip
    (tmp_path / "results" / "cat.json").write_text(json.dumps(old))  # a result stored before bonus points existed
    records = write_sheets(tmp_path, [Submission("ann"), Submission("bob"), Submission("cat")])
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert [(r["score"], r["max_score"], r["bonus"], r["max_bonus"]) for r in rows.values()] == [
        ("3", "3", "2", "2"), ("1", "3", "0", "2"), ("1", "3", "0", "0")]  # fmt: skip
    kinds = {(r["student_id"], r["part"]): r["bonus"] for r in csv.DictReader(open(tmp_path / "parts.csv"))}
    assert kinds[("ann", "test_extra")] == "yes" and kinds[("ann", "test_a")] == "no" and kinds[("cat", "test_a")] == "no"
    text = summarise(records, 1.0, "bubblewrap")
    assert "out of 3" in text and "bonus (not in the score): mean 0.67 of 2, 1 of 3 submissions earned some" in text
    page = render_feedback("ann", "week01", 3.0, 3.0, "graded", "", [PartResult("test_a", 3, 3, "passed"),
                           PartResult("test_extra", 2, 2, "passed", bonus=True)], [], "t", bonus=(2.0, 2.0))  # fmt: skip
    assert "week01: 3 / 3 points + 2 / 2 bonus</h1>" in page and "test_extra (bonus)" in page


def test_self_check_prints_bonus_apart(capsys):
    _print_table("week01", [PartCheck("test_a", 3, True, ""), PartCheck("test_extra", 2, False, "no", bonus=True)])
    out = capsys.readouterr().out
    assert "pass for 3 of 3 points, and 0 of 2 bonus points" in out and "2 pt bonus" in out
