"""Every assignment of the course, end to end: the checked-in student version is what nbgrader
generates, and one grading run per week gives the solution full marks, the blank student
version 0, the usual tricks 0 (objects equal to anything, monkey-patching the checks, two-line
wrappers around the course's own kernels, hidden in the sandbox), and the solution saved
without its metadata full marks. The student self-check agrees with the visible tests."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re

import nbformat
import pytest

from helpers.course.cli import main
from helpers.course.notebooks import ROOT
from helpers.grading.notebook import load_notebook
from helpers.grading.release import release, release_files, visible_tests
from helpers.grading.synthetic import make_submission

WEEKS = sorted(p.name for p in (ROOT / "solutions").glob("week*") if p.is_dir())


def _comparable(path):
    nb = nbformat.read(path, as_version=4)
    return json.dumps(nb, sort_keys=True)


@pytest.mark.parametrize("week", WEEKS)
def test_checked_in_release_matches_nbgrader(week, tmp_path):
    fresh = release(week, dest=tmp_path / "release", visible_dir=tmp_path / "visible")
    checked_in = ROOT / "assignments" / week
    names = release_files(fresh)
    assert names == release_files(checked_in), (  # JupyterLab's .ipynb_checkpoints/ do not count
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
def test_one_grading_run_scores_every_kind_of_notebook_right(week, tmp_path):
    """The solution full marks, the blank release 0, the tricks 0 (``patched``: answers that
    equal anything plus monkey-patched checks; ``reference``: wrappers around the course's own
    kernels), the solution without its metadata full marks. One run, like a class."""
    source = next((ROOT / "solutions" / week).glob("*.ipynb"))
    source_nb, release_nb = load_notebook(source), load_notebook(ROOT / "assignments" / week / source.name)
    folder = tmp_path / "subs"
    for student, path in (("solution", source), ("blank", ROOT / "assignments" / week / source.name)):
        (folder / student).mkdir(parents=True)
        (folder / student / source.name).write_bytes(path.read_bytes())
    for kind in ("patched", "reference", "no_metadata"):
        nbformat.write(make_submission(kind, source_nb, release_nb, random.Random(0)), folder / f"{kind}.ipynb")
    out = tmp_path / "grades"
    # a generous cell limit: these notebooks train models, and this checks scores, not speed
    assert main(["grade", week, str(folder), "--out", str(out), "--workers", "2", "--timeout", "900", "--quiet"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    full = float(rows["solution"]["max_score"])
    tests = [c for c in source_nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    bonus = [c.metadata.get("nextword", {}).get("bonus") is True for c in tests]
    assert full == sum(c.metadata["nbgrader"]["points"] for c, b in zip(tests, bonus, strict=True) if not b), "bonus points counted in max_score"
    top = sum(c.metadata["nbgrader"]["points"] for c, b in zip(tests, bonus, strict=True) if b)
    wrong = [(student, rows[student]["score"], rows[student]["bonus"], rows[student]["status"], rows[student]["message"][:200])
             for student, expected, extra in (("solution", full, top), ("blank", 0, 0), ("patched", 0, 0), ("reference", 0, 0),
                                              ("no_metadata", full, top))
             if float(rows[student]["score"]) != expected or float(rows[student]["bonus"]) != extra
             or float(rows[student]["max_bonus"]) != top or rows[student]["status"] != "graded"]  # fmt: skip
    assert full > 0 and not wrong, wrong


def test_week08_wrappers_of_the_course_kernels_under_other_names_get_nothing(tmp_path):
    """The synthetic ``reference`` trick wraps kernels of the same name; week 8's answers have
    other names than the course's (``count_pairs`` and ``bpe.pair_counts``): every answer a
    two-line wrapper around the course's kernel, imported every way, still scores 0."""
    from helpers.grading.synthetic import fill

    source = ROOT / "solutions" / "week08" / "week08.ipynb"
    release_nb = load_notebook(ROOT / "assignments" / "week08" / source.name)
    wrappers = {
        "count_pairs": "def count_pairs(chunks):\n    from helpers.tokenization.bpe import pair_counts\n    return pair_counts(chunks)\n\n\n"
                       "def merge_pair(ids, pair, new_id):\n    import helpers.tokenization as t\n    return t.merge(ids, pair, new_id)\n",
        "train_bpe": "def train_bpe(texts, n_merges):\n    from helpers.tokenization.trainer import train_fast\n"
                     "    return train_fast(pretokenize(texts), n_merges)\n",
        "encode": "def encode(text, merges):\n    from helpers.tokenization import train\n    from helpers.tokenization.bpe import encode_chunk\n"
                  "    ranks = {tuple(p): 256 + k for k, p in enumerate(merges)}\n"
                  "    return [i for c in regex.findall(GPT4_PATTERN, text) for i in encode_chunk(list(c.encode()), ranks)]\n\n\n"
                  "def decode(ids, merges):\n    raise NotImplementedError()\n",
    }  # fmt: skip
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(fill(release_nb, wrappers), folder / "wrapper.ipynb")
    out = tmp_path / "grades"
    assert main(["grade", "week08", str(folder), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    row = next(csv.DictReader(open(out / "grades.csv")))
    parts = list(csv.DictReader(open(out / "parts.csv")))
    assert float(row["score"]) == 0 and row["status"] == "graded", (row, parts)
    assert "reference for this assignment" in (out / "graded" / "wrapper.ipynb").read_text()


def test_week07_sees_how_the_code_runs_where_it_runs(tmp_path):
    """Week 7 checks which operators a function runs and how large its tensors get; under the
    new design the function runs in the notebook, so the measurement must be made there too:
    answers that call PyTorch's softmax and fused attention (right values) lose those parts."""
    from helpers.grading.synthetic import answers, fill

    source = ROOT / "solutions" / "week07" / "week07.ipynb"
    filled = answers(load_notebook(source))
    filled["online_softmax"] = "def online_softmax(x, block_size):\n    return torch.softmax(x, dim=-1)\n"
    filled["tiled_attention"] = ("def tiled_attention(q, k, v, causal=False, block_q=32, block_k=32):\n"
                                 "    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)\n")  # fmt: skip
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(fill(load_notebook(ROOT / "assignments" / "week07" / source.name), filled), folder / "fused.ipynb")
    out = tmp_path / "grades"
    assert main(["grade", "week07", str(folder), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    parts = {r["part"]: float(r["points"]) for r in csv.DictReader(open(out / "parts.csv"))}
    lost = {"test_online_softmax", "test_tiled_values", "test_tiled_causal", "test_tiled_memory"}
    assert {p for p, points in parts.items() if points == 0} == lost, parts
    assert all(points > 0 for p, points in parts.items() if p not in lost)


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
