"""LMS exports, parallel workers and a Dask cluster give the same grades as one worker."""

from __future__ import annotations

import csv
import json
import zipfile

import nbformat
import pytest

from helpers.course.cli import main
from helpers.grading.intake import find_submissions
from helpers.grading.sandbox import detect_sandbox
from tests.grading import factory as f


def _class(folder):
    folder.mkdir(parents=True, exist_ok=True)
    stub = f.release().cells[f.cell_index(f.release(), "cross_entropy")].source
    cases = {
        "ann": f.submission(),
        "ben": f.release(),
        "cat": f.submission({"cross_entropy": stub, "cross_entropy_grad": stub}),
        "dan": f.submission({"softmax": "def softmax(z):\n    return z"}),
    }
    for name, nb in cases.items():
        f.write(nb, folder, name)
    return {"ann": 7.0, "ben": 0.0, "cat": 3.0, "dan": 2.0}


def _grades(out):
    return {r["student_id"]: float(r["score"]) for r in csv.DictReader(open(out / "grades.csv"))}


def test_workers_agree_and_rerun_is_identical(tmp_path):
    expected = _class(tmp_path / "subs")
    one = tmp_path / "one"
    two = tmp_path / "two"
    assert main(["grade", "week00", str(tmp_path / "subs"), "--out", str(one), "--workers", "1", "--quiet"]) == 0
    assert main(["grade", "week00", str(tmp_path / "subs"), "--out", str(two), "--workers", "2", "--quiet"]) == 0
    assert _grades(one) == _grades(two) == expected
    assert main(["grade", "week00", str(tmp_path / "subs"), "--out", str(two), "--workers", "2", "--quiet"]) == 0
    assert _grades(two) == expected  # idempotent


def _sheets(out):
    """grades.csv and parts.csv without the timestamps: every row, every verdict, every message."""
    grades = [{k: v for k, v in r.items() if k != "timestamp"} for r in csv.DictReader(open(out / "grades.csv"))]
    return grades, list(csv.DictReader(open(out / "parts.csv")))


def test_dask_cluster_gives_the_same_grades_and_guarantees(tmp_path):
    """The same class on a LocalCluster, with two attackers: the same rows, parts and messages
    as ``--workers 2`` on this machine, sandboxed the same way."""
    distributed = pytest.importorskip("distributed")
    from tests.grading.factory import WRONG

    expected = _class(tmp_path / "subs")
    forge = f.submission(WRONG)
    forge.cells.insert(f.cell_index(forge, "imports") + 1, nbformat.v4.new_code_cell(
        "import json, os, struct\nfor i in range(1, 200):\n    t = json.dumps({'id': i, 'ok': [0.5, 0.5]}).encode()\n"
        "    os.write(1021, struct.pack('<II', len(t), 0) + t)\n"
        "import helpers.grading.checks as c\nc.check_close.__code__ = (lambda *a, **k: None).__code__"))  # fmt: skip
    f.write(forge, tmp_path / "subs", "eve")
    expected["eve"] = 0.0
    f.write(f.submission({"softmax": "import os\nos._exit(3)"}), tmp_path / "subs", "fay")  # a crash: a row all the same
    local = tmp_path / "local"
    assert main(["grade", "week00", str(tmp_path / "subs"), "--out", str(local), "--workers", "2", "--quiet"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        args = ["grade", "week00", str(tmp_path / "subs"), "--out", str(out), "--scheduler", cluster.scheduler_address, "--quiet"]
        assert main(args) == 0
    assert {k: v for k, v in _grades(out).items() if k != "fay"} == expected
    assert _sheets(out) == _sheets(local)
    rows = {r["student_id"]: r for r in _sheets(out)[0]}
    assert rows["fay"]["status"] == "crashed" and float(rows["fay"]["score"]) == 0
    sandboxes = {json.loads(p.read_text())["sandbox"] for p in (out / "results").glob("*.json")}
    assert sandboxes == {json.loads(p.read_text())["sandbox"] for p in (local / "results").glob("*.json")} == {detect_sandbox().kind}


def test_canvas_zip(tmp_path):
    nb = nbformat.writes(f.submission())
    path = tmp_path / "submissions.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("doejane_12345_67890_week00.ipynb", nb)
        z.writestr("smithjohn_LATE_23456_78901_week00-1.ipynb", nbformat.writes(f.release()))
        z.writestr("__MACOSX/._doejane_12345_67890_week00.ipynb", b"junk")
    before = path.read_bytes()
    out = tmp_path / "out"
    assert main(["grade", "week00", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert _grades(out) == {"doejane_12345": 7.0, "smithjohn_23456": 0.0}
    assert path.read_bytes() == before
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert rows["doejane_12345"]["message"] == ""  # week00-1.ipynb and LATE_ are Canvas's, not the student's


def test_moodle_zip_with_data_files(tmp_path):
    path = tmp_path / "moodle.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Jane Doe_123456_assignsubmission_file_/week00.ipynb", nbformat.writes(f.submission()))
        z.writestr("Jane Doe_123456_assignsubmission_file_/notes.txt", "my notes")
        z.writestr("Li Wei_654321_assignsubmission_file_/week00 (1).ipynb", nbformat.writes(f.submission()))
    subs = {s.student_id: s for s in find_submissions(path, "week00", ["week00.ipynb"])}
    assert set(subs) == {"Jane_Doe_123456", "Li_Wei_654321"}
    assert subs["Jane_Doe_123456"].notebook == "week00.ipynb" and "notes.txt" in subs["Jane_Doe_123456"].files
    assert "week00 (1).ipynb" in subs["Li_Wei_654321"].notes[0]


def test_zip_with_one_top_folder_and_student_folders(tmp_path):
    path = tmp_path / "class.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("export/ann/week00.ipynb", nbformat.writes(f.submission()))
        z.writestr("export/bob.ipynb", nbformat.writes(f.release()))
    subs = {s.student_id: s for s in find_submissions(path, "week00", ["week00.ipynb"])}
    assert set(subs) == {"ann", "bob"} and not subs["ann"].notes and not subs["bob"].notes


def test_bad_arguments_give_clear_errors(tmp_path, capsys):
    assert main(["grade", "week00", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "do not exist" in capsys.readouterr().err
    assert main(["grade", "week99", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no assignment source for week99" in capsys.readouterr().err
    (tmp_path / "s").mkdir()
    f.write(f.release(), tmp_path / "s", "ann")
    assert main(["grade", "week00", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--timeout", "0"]) == 2
    assert "--timeout 0" in capsys.readouterr().err
    assert main(["grade", "week00", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--student", "zed"]) == 2
    assert "no submission from zed" in capsys.readouterr().err


def test_synthetic_class_for_trying_the_grader(tmp_path):
    from helpers.grading.synthetic import KINDS, make_class

    roster = make_class("week00", 16, tmp_path, seed=3)
    assert len(roster) == 16 and set(roster.values()) <= set(KINDS)
    assert sorted(p.stem for p in tmp_path.glob("*.ipynb")) == sorted(roster)
    assert make_class("week00", 16, tmp_path / "again", seed=3) == roster
    with pytest.raises(ValueError, match="kinds"):
        make_class("week00", 4, tmp_path / "bad", mix={"lazy": 1})


@pytest.mark.skipif(detect_sandbox().kind != "bubblewrap", reason="bubblewrap is not usable here")
def test_sandbox_mounts_the_empty_tmp_before_the_python_it_needs(tmp_path):
    """A virtual environment under /tmp must stay visible inside the sandbox."""
    from helpers.grading.sandbox import Limits, StudentProcess

    command = StudentProcess("bubblewrap", tmp_path, [], Limits(), tmp_path)._bwrap([])
    tmpfs = command.index("--tmpfs")
    assert command[tmpfs + 1] == "/tmp" and tmpfs < command.index("--ro-bind")
    assert "--unshare-net" in command and "--unshare-user" in command and "--cap-drop" in command
