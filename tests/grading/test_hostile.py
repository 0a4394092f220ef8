"""A whole class of week00 submissions, messy and adversarial, graded in one run as an
instructor would (``nextword grade``). Each test below checks one protection; without it the
row in question would get a different score, status or message."""

from __future__ import annotations

import csv
import hashlib
import json
import textwrap
from pathlib import Path

import nbformat
import pytest

from helpers.course.cli import main
from helpers.grading.sandbox import sandbox_available
from tests.grading import factory as f
from tests.grading.factory import ALWAYS_EQUAL, WRONG

CELL_TIMEOUT = 3
TOTAL_TIMEOUT = 14

PATCHES = textwrap.dedent(
    """
    import builtins, numpy, helpers.grading, helpers.grading.checks
    builtins.abs = lambda x: 0
    builtins.isinstance = lambda obj, cls: True
    numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(a), dtype=bool)
    numpy.allclose = lambda *a, **k: True
    numpy.argwhere = lambda *a, **k: numpy.zeros((0, 1), dtype=int)
    helpers.grading.check_close = lambda *a, **k: None
    helpers.grading.checks.check_close = lambda *a, **k: None
    helpers.grading.checks._fail = lambda message: None
    def check_close(*args, **kwargs):
        pass
    """
)

SNOOP = textwrap.dedent(
    """
    import gc, os, glob
    found = [o for o in gc.get_objects() if isinstance(o, str) and "BEGIN HIDDEN" in o]
    print("strings with hidden tests in memory:", len(found))
    print("can read solutions:", os.path.exists(os.path.join(ROOT_GUESS, "solutions", "week00", "week00.ipynb")))
    hits = []
    for path in glob.glob(os.path.join(ROOT_GUESS, "**", "*.ipynb"), recursive=True):
        try:
            if "BEGIN HIDDEN" in open(path, encoding="utf-8", errors="ignore").read():
                hits.append(path)
        except OSError:
            pass
    print("notebooks with hidden tests on disk:", len(hits))
    """
)


def _insert_after(nb, grade_id: str, source: str):
    nb.cells.insert(f.cell_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(source))
    return nb


def _build_class(folder: Path) -> dict[str, Path]:
    """Write every case of the class; returns student id -> path."""
    paths: dict[str, Path] = {}

    def add(name, nb):
        paths[name] = f.write(nb, folder, name)

    add("correct", f.submission())
    add("blank", f.release())
    add("half", f.submission({"cross_entropy": f.release().cells[f.cell_index(f.release(), "cross_entropy")].source,
                              "cross_entropy_grad": f.release().cells[f.cell_index(f.release(), "cross_entropy_grad")].source}))  # fmt: skip
    add("loop_answer", f.submission({"cross_entropy": "while True:\n    pass"}))
    add("stubborn_loop", f.submission({"cross_entropy": "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"}))
    slow = f.submission()
    for _ in range(7):  # 7 x 2.5 s > the 14 s cap for a submission, each under the cell limit
        _insert_after(slow, "test_softmax_stable", "import time\ntime.sleep(2.5)")
    add("total_cap", slow)
    add("exception", _insert_after(f.submission({"softmax": "def softmax(z):\n    return 1 / 0"}), "softmax", "undefined_name + 1"))
    noisy = {
        gid: "import sys, warnings\nwarnings.warn('deprecated thing', DeprecationWarning)\n"
        "print('a note on stderr', file=sys.stderr)\n" + code.replace("\n    ", "\n    warnings.warn('careful', RuntimeWarning)\n    ", 1)
        for gid, code in f.solutions().items()
    }
    add("warnings", f.submission(noisy))
    add("always_equal", f.submission({"softmax": ALWAYS_EQUAL, "cross_entropy": "def cross_entropy(logits, targets):\n    return LyingFloat(0.1)"}))
    add("patched_wrong", _insert_after(f.submission(WRONG), "imports", PATCHES))
    add("patched_correct", _insert_after(f.submission(), "imports", PATCHES))
    edited = f.submission(WRONG)
    for cell in edited.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    add("edited_tests", edited)
    deleted = f.submission()
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    add("deleted_tests", deleted)
    dup = f.submission()
    i = f.cell_index(dup, "softmax")
    wrong_copy = f.clone(dup.cells[i])
    wrong_copy.source = WRONG["softmax"]
    wrong_copy.id = "copy-of-softmax"
    dup.cells.insert(i, wrong_copy)  # a wrong first attempt, then the right one
    t = f.cell_index(dup, "test_cross_entropy")
    test_copy = f.clone(dup.cells[t])
    test_copy.id = "copy-of-test"
    dup.cells.insert(t, test_copy)
    add("duplicated", dup)
    bare = f.submission()
    for cell in bare.cells:
        cell.metadata = {}
        cell.id = nbformat.corpus.words.generate_corpus_id()
    add("no_metadata", bare)
    colab = f.submission()
    for cell in colab.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
    colab.metadata = {"colab": {"provenance": []}, "kernelspec": {"name": "python3", "display_name": "Python 3"}}
    add("colab", colab)
    leaky = f.submission({"softmax": "def softmax(z):\n    import numpy as np\n    print('SEEN:', np.shape(z))\n"
                                     "    z -= z.max(axis=-1, keepdims=True)\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)"})  # fmt: skip
    add("snoop", _insert_after(leaky, "imports", f"ROOT_GUESS = {str(f.ROOT)!r}\n" + SNOOP))
    add("huge_output", _insert_after(f.submission(), "imports", "print('x' * 50_000_000)"))
    add("input_call", _insert_after(f.submission(), "imports", "name = input('Your name? ')"))
    add("exit", _insert_after(f.submission(), "test_softmax_stable", "import os\nos._exit(3)"))
    add("memory", _insert_after(f.submission(), "imports", "hog = bytearray(20 * 2**30)"))
    add("old_format", nbformat.v3.convert.downgrade(f.submission()))
    (folder / "notjson.ipynb").write_text("this is not a notebook {", encoding="utf-8")
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "future.ipynb").write_text(json.dumps({"nbformat": 5, "nbformat_minor": 0, "cells": [], "metadata": {}}))
    (folder / "notanotebook.ipynb").write_text(json.dumps({"hello": "world"}))
    (folder / "script.py").write_text("def softmax(z):\n    pass\n")
    for sub in ("dave", "erin", "frank", "gina"):
        (folder / sub).mkdir()
    f.write(f.submission(), folder / "dave", "week00")
    f.write(f.release(), folder / "dave", "scratch")
    f.write(f.submission(), folder / "erin", "Copy of week00")
    f.write(f.submission(), folder / "frank", "a")
    f.write(f.release(), folder / "frank", "b")
    (folder / "gina" / "notes.txt").write_text("I could not finish, sorry")
    return paths


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    _build_class(folder)
    before = _digest(folder)
    out = tmp_path_factory.mktemp("grades")
    args = ["grade", "week00", str(folder), "--out", str(out), "--workers", "2", "--timeout", str(CELL_TIMEOUT),
            "--total-timeout", str(TOTAL_TIMEOUT), "--memory", "1024", "--quiet"]  # fmt: skip
    assert main(args) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    return {"folder": folder, "out": out, "rows": rows, "before": before, "args": args}


def score(graded, student) -> float:
    return float(graded["rows"][student]["score"])


def test_reference_rows(graded):
    assert score(graded, "correct") == f.MAX_SCORE
    assert score(graded, "blank") == 0
    assert score(graded, "half") == 3  # both softmax parts
    assert graded["rows"]["correct"]["status"] == "graded"
    assert all(float(r["max_score"]) == f.MAX_SCORE for r in graded["rows"].values() if r["status"] != "pending")


def test_infinite_loop_times_out_and_keeps_other_points(graded):
    row = graded["rows"]["loop_answer"]
    assert row["status"] == "timeout" and "3 s limit" in row["message"]
    assert float(row["score"]) == 5  # softmax (3) before, gradient (2) after: later cells still ran


def test_loop_that_swallows_the_interrupt_is_killed(graded):
    row = graded["rows"]["stubborn_loop"]
    assert row["status"] == "timeout"
    assert float(row["score"]) == 3  # the tests that passed before the loop


def test_total_time_cap(graded):
    row = graded["rows"]["total_cap"]
    assert row["status"] == "timeout" and f"{TOTAL_TIMEOUT:g} s" in row["message"]
    assert float(row["score"]) == 3  # softmax tests ran before the slow cells


def test_exception_in_answer_cell_later_tests_still_run(graded):
    row = graded["rows"]["exception"]
    assert float(row["score"]) == 2  # cross_entropy is independent of the broken softmax
    assert "error in your cell after 'softmax': NameError" in row["message"]


def test_warnings_on_stderr_get_full_marks(graded):
    assert score(graded, "warnings") == f.MAX_SCORE
    notebook = json.loads((graded["out"] / "graded" / "warnings.ipynb").read_text())
    streams = [o for c in notebook["cells"] for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert streams, "the warnings were really printed to stderr"


def test_objects_equal_to_anything_get_no_points(graded):
    assert score(graded, "always_equal") == 0


def test_monkey_patched_builtins_and_helpers_get_no_points(graded):
    assert score(graded, "patched_wrong") == 0
    assert score(graded, "patched_correct") == f.MAX_SCORE  # restoring does not hurt honest work


def test_edited_tests_are_restored(graded):
    row = graded["rows"]["edited_tests"]
    assert float(row["score"]) == 0 and "was edited: restored" in row["message"]


def test_deleted_tests_are_restored(graded):
    row = graded["rows"]["deleted_tests"]
    assert float(row["score"]) == f.MAX_SCORE and "deleted: restored" in row["message"]


def test_duplicated_cells(graded):
    row = graded["rows"]["duplicated"]
    assert float(row["score"]) == f.MAX_SCORE  # the test counted once, the later answer wins
    assert "graded once" in row["message"] and "appears 2 times" in row["message"]
    parts = [p for p in csv.DictReader(open(graded["out"] / "parts.csv")) if p["student_id"] == "duplicated"]
    assert len(parts) == len(f.PARTS)


@pytest.mark.parametrize("student", ["no_metadata", "colab", "old_format"])
def test_lost_metadata_is_matched_by_content(graded, student):
    row = graded["rows"][student]
    assert float(row["score"]) == f.MAX_SCORE
    assert "matched by content" in row["message"] or student == "old_format"


def test_hidden_tests_stay_hidden(graded):
    release = f.RELEASE.read_text()
    assert "BEGIN HIDDEN" not in release and "default_rng(7)" not in release
    hidden_lines = [
        line.strip()
        for line in f.SOURCE.read_text().split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].split("\\n")
        if len(line.strip()) > 20
    ]
    assert hidden_lines
    row = graded["rows"]["snoop"]
    assert row["status"] == "graded"
    # the in-place softmax passes the visible tests but fails the hidden one on mutation
    parts = {p["part"]: p for p in csv.DictReader(open(graded["out"] / "parts.csv")) if p["student_id"] == "snoop"}
    assert parts["test_softmax_values"]["status"] == "failed" and "hidden test" in parts["test_softmax_values"]["message"]
    for student in graded["rows"]:
        page = graded["out"] / "feedback" / f"{student}.html"
        if page.exists():
            text = page.read_text()
            assert "### BEGIN HIDDEN" not in text
            assert not [line for line in hidden_lines if line in text], student
    snoop = (graded["out"] / "feedback" / "snoop.html").read_text()
    assert "SEEN: (2,)" in snoop  # visible calls print ...
    assert "SEEN: (3, 7)" not in snoop  # ... hidden ones do not reach the feedback
    assert "strings with hidden tests in memory: 0" in snoop


@pytest.mark.skipif(not sandbox_available(), reason="bubblewrap is not available here")
def test_student_code_cannot_read_the_solutions(graded):
    snoop = (graded["out"] / "feedback" / "snoop.html").read_text()
    assert "can read solutions: False" in snoop
    assert "notebooks with hidden tests on disk: 0" in snoop


def test_huge_output_is_capped(graded):
    assert score(graded, "huge_output") == f.MAX_SCORE
    assert (graded["out"] / "graded" / "huge_output.ipynb").stat().st_size < 1_000_000
    feedback = (graded["out"] / "feedback" / "huge_output.html").read_text()
    assert len(feedback) < 1_000_000 and "output truncated" in feedback


def test_input_does_not_hang(graded):
    assert score(graded, "input_call") == f.MAX_SCORE


def test_process_exit_keeps_points_before(graded):
    row = graded["rows"]["exit"]
    assert row["status"] == "crashed" and float(row["score"]) == 3


def test_memory_hog_is_stopped(graded):
    assert score(graded, "memory") == f.MAX_SCORE  # the hog fails alone (MemoryError)


@pytest.mark.parametrize(
    "student, status, words",
    [
        ("notjson", "invalid", "not valid JSON"),
        ("empty", "invalid", "empty"),
        ("future", "invalid", "format version 5"),
        ("notanotebook", "invalid", "not a Jupyter notebook"),
        ("script", "invalid", ".py"),
        ("dave", "graded", "ignored scratch.ipynb"),
        ("erin", "graded", "Copy of week00.ipynb"),
        ("frank", "ambiguous", "2 notebooks"),
        ("gina", "missing", "no notebook"),
    ],
)
def test_malformed_submissions_get_a_clear_row(graded, student, status, words):
    row = graded["rows"][student]
    assert row["status"] == status and words in row["message"], row


def test_every_submission_has_one_row_and_nothing_is_modified(graded):
    folder = graded["folder"]
    expected = {p.stem for p in folder.iterdir() if p.is_file()} | {p.name for p in folder.iterdir() if p.is_dir()}
    lines = (graded["out"] / "grades.csv").read_text().strip().splitlines()[1:]
    assert len(lines) == len(expected) and set(graded["rows"]) == expected
    assert _digest(folder) == graded["before"]


def test_regrading_one_student_leaves_the_others_alone(graded):
    out = graded["out"]
    others = {p.name: p.read_bytes() for p in (out / "results").glob("*.json") if p.stem != "half"}
    assert main([*graded["args"], "--student", "half"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert rows["half"]["score"] == graded["rows"]["half"]["score"] and len(rows) == len(graded["rows"])
    assert {p.name: p.read_bytes() for p in (out / "results").glob("*.json") if p.stem != "half"} == others
