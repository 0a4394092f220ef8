"""The parts of the grader that keep submissions apart, one at a time: the wire format, the
proxies, the sandbox kinds and budgets, the watchdog, intake and the grade sheets."""

from __future__ import annotations

import collections
import csv
import json
import math
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.course.cli import main
from helpers.grading import wire
from helpers.grading.landlock import abi_version
from helpers.grading.proxy import NotebookGone, NotebookObject, mirror
from helpers.grading.references import course_copy, stub_source
from helpers.grading.remote import CellNamespace, NotebookSession
from helpers.grading.sandbox import Limits, StudentProcess, detect_sandbox
from tests.grading import factory as f

KINDS = [k for k, ok in (("bubblewrap", detect_sandbox().kind == "bubblewrap"), ("landlock", abi_version() >= 1)) if ok]


# -- the wire format -----------------------------------------------------------------------


def _round_trip(value):
    buffers: list[bytes] = []
    header = wire.encode(value, buffers)
    reader_side = json.loads(json.dumps(header))
    return wire.decode(reader_side, buffers)


def test_plain_data_round_trips_with_its_kind():
    Point = collections.namedtuple("Point", "x y")
    value = {"a": [1, 2.5, float("nan"), float("-inf"), None, True, "é\ud800"], (1, "k"): frozenset({3}), 7: {1, 2},
             "np": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.float32(0.25), "t": torch.ones(2, 2, dtype=torch.bfloat16),
             "c": collections.Counter("aab"), "d": collections.defaultdict(list, {"x": [1]}), "p": Point(1, 2), "s": slice(1, None, 2),
             "b": b"\x00\xff", "z": 1 + 2j, "g": torch.Generator().manual_seed(3), "dtype": torch.float64}  # fmt: skip
    back = _round_trip(value)
    assert math.isnan(back["a"][2]) and back["a"][3] == float("-inf") and back["a"][6] == "é\ud800"
    assert back[(1, "k")] == frozenset({3}) and back[7] == {1, 2}
    assert back["np"].dtype == np.int16 and back["np"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(back["scalar"]) is np.float32 and back["t"].dtype == torch.bfloat16
    assert type(back["c"]) is collections.Counter and back["c"]["z"] == 0 and back["d"]["new"] == []
    assert back["p"].y == 2 and back["s"] == slice(1, None, 2) and back["b"] == b"\x00\xff" and back["z"] == 1 + 2j
    assert torch.equal(torch.randn(3, generator=back["g"]), torch.randn(3, generator=torch.Generator().manual_seed(3)))
    assert back["dtype"] is torch.float64


def test_what_is_not_data_is_refused_or_left_to_the_caller():
    with pytest.raises(TypeError, match="not plain data"):
        wire.encode(object(), [])
    with pytest.raises(TypeError, match="Python objects"):
        wire.encode(np.array([object()]), [])
    buffers: list[bytes] = []
    marker = wire.encode([object()], buffers, other=lambda value, bufs: {"$": "h", "id": 1})
    with pytest.raises(wire.ProtocolError, match="unexpected"):
        wire.decode(marker, buffers)  # a handle means nothing without a session
    import pickle

    with pytest.raises(wire.ProtocolError):  # a pickle from the student's side is never loaded
        wire.decode({"$": "pickle", "b": 0}, [pickle.dumps(print)])


@pytest.mark.parametrize("bad", [{"$": "nd", "b": 5}, {"$": "tuple", "v": 3}, {"$": "dict", "v": [[1]]}, {"x": 1}])
def test_malformed_values_are_protocol_errors(bad):
    with pytest.raises(wire.ProtocolError):
        wire.decode(bad, [b"junk"])


def test_npy_buffers_are_read_without_pickle():
    import io

    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(wire.ProtocolError):
        wire.decode({"$": "nd", "b": 0}, [out.getvalue()])


def test_frames_have_a_deadline_and_a_size_limit():
    read, write = os.pipe()
    try:
        reader = wire.FrameReader(read, limit=1000)
        with pytest.raises(TimeoutError):
            reader.read(time.monotonic() + 0.2)
        os.write(write, wire.pack_frame({"x": "y" * 2000}, []))
        with pytest.raises(wire.ProtocolError, match="too large"):
            reader.read(time.monotonic() + 1)
    finally:
        os.close(read)
        os.close(write)


# -- proxies -----------------------------------------------------------------------------


def test_changes_to_arguments_are_mirrored_in_place():
    array, tensor, items = np.zeros(3), torch.zeros(2), [np.zeros(2), {"k": [1]}]
    mirror(array, np.ones(3))
    mirror(tensor, torch.ones(2))
    mirror(items, [np.full(2, 5.0), {"k": [1, 2]}])
    kept = items[0]
    assert array.tolist() == [1, 1, 1] and tensor.tolist() == [1, 1] and items[1] == {"k": [1, 2]}
    assert kept is items[0] and kept.tolist() == [5, 5]  # the same array object, changed
    model = torch.nn.Linear(2, 1)
    mirror(model, {"state": {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}, "training": {"": False},
                   "requires_grad": {"weight": False, "bias": True}})  # fmt: skip
    assert model.weight.tolist() == [[1.0, 1.0]] and model.training is False
    assert model.weight.requires_grad is False and model.bias.requires_grad is True


@pytest.fixture(params=KINDS)
def session(request, tmp_path):
    process = StudentProcess(request.param, course_copy(["helpers.ngrams.edits"], tmp_path), ["numpy"], Limits(memory_mb=512), tmp_path).start()
    process.wait_ready()
    process.begin({}, {"memory_mb": 512})
    session = NotebookSession(process, time.monotonic() + 120, grace=1.0)
    yield session
    session.close()


def test_proxies_never_hand_the_trusted_side_anything_to_run(session):
    cell = session.run_cell(
        "import numpy as np\n"
        "class Sneaky:\n"
        "    __array_interface__ = {'shape': (4,), 'typestr': '<f8', 'data': (4096, False), 'version': 3}\n"
        "    def __len__(self): return 2\n"
        "    def __getitem__(self, i):\n"
        "        if i >= 2: raise IndexError(i)\n"
        "        return 0.5\n"
        "    def __float__(self): return 1.0\n"
        "s = Sneaky()\n"
        "def f(x):\n"
        "    x += 1\n"
        "    return s\n"
    )
    assert cell["error"] is None, cell
    ns = CellNamespace(session)
    proxy = ns["s"]
    assert type(proxy) is NotebookObject
    with pytest.raises(AttributeError):
        proxy.__array_interface__  # noqa: B018 - dunders of the student's objects are never read
    assert np.asarray(proxy).tolist() == [0.5, 0.5]  # only through plain items
    with pytest.raises(TypeError):
        float(proxy)
    x = np.zeros(2)
    assert ns["f"](x) is proxy and x.tolist() == [1, 1]  # the same proxy for the same object; x changed in place


def test_functions_of_a_test_find_the_notebook_names_they_use(session):
    """A helper or a lambda defined in a test cell reads the notebook's names as the test does,
    whether it runs here (a proxy) or travels into the notebook (its own object there)."""
    cell = session.run_cell("merges = [(1, 2)]\ndef encode(t, m):\n    return [len(t), len(m)]\n"
                            "def apply(fn, x):\n    return fn(x)\n")  # fmt: skip
    assert cell["error"] is None, cell
    cases = {  # each in a fresh test namespace: nothing fetched before
        "import math\nresult = apply(lambda t: encode(t, merges) + [math.floor(2.5)], 'ab')": [2, 1, 2],
        "def outer(n):\n    return apply(lambda t: [n] * len(encode(t, merges)), 'x')\nresult = outer(4)": [4, 4],
        "def helper(t):\n    return encode(t, merges)\nresult = apply(helper, 'abc')": [3, 1],
        "def direct(t):\n    return encode(t, merges)\nresult = direct('abc')": [3, 1],
    }
    for code, expected in cases.items():
        ns = CellNamespace(session)
        exec(code, ns)
        assert ns["result"] == expected, code
    with pytest.raises(NameError):
        exec("apply(lambda t: not_anywhere(t), 'x')", CellNamespace(session))


def test_models_keep_their_frozen_parameters_both_ways(session):
    """requires_grad survives a student's function changing a test's model (fine-tuning weeks),
    and reading a notebook model's parameters through its proxy; types are read by check_type."""
    from helpers.grading import check_type, is_instance
    from helpers.grading.checks import GradingFailure

    cell = session.run_cell("import torch\ntorch.manual_seed(0)\n"
                            "def freeze(m):\n    m.weight.requires_grad_(False)\n    m.train(False)\n    return None\n"
                            "theirs = torch.nn.Linear(3, 2)\ntheirs.bias.requires_grad_(False)\n")  # fmt: skip
    assert cell["error"] is None, cell
    ns = CellNamespace(session)
    mine = torch.nn.Linear(3, 2)
    ns["freeze"](mine)
    assert [p.requires_grad for p in mine.parameters()] == [False, True] and mine.training is False
    theirs = ns["theirs"]
    assert type(theirs) is NotebookObject
    assert [p.requires_grad for p in theirs.parameters()] == [True, False]
    assert sum(p.numel() for p in theirs.parameters() if p.requires_grad) == 6
    check_type(theirs, torch.nn.Linear, name="theirs")
    check_type(theirs, torch.nn.Module, name="theirs")
    with pytest.raises(GradingFailure, match="should be a Conv1d"):
        check_type(theirs, torch.nn.Conv1d, name="theirs")
    cell = session.run_cell("class Adapter(torch.nn.Module):\n    pass\n"
                            "net = torch.nn.Sequential(torch.nn.Linear(2, 2), Adapter())\n")  # fmt: skip
    assert cell["error"] is None, cell
    ns = CellNamespace(session)
    kinds = [(name, is_instance(m, ns["Adapter"]), is_instance(m, torch.nn.Linear)) for name, m in ns["net"].named_modules()]
    assert kinds == [("", False, False), ("0", False, True), ("1", True, False)]
    assert not is_instance(torch.nn.Linear(1, 1), ns["Adapter"]) and is_instance(torch.nn.Linear(1, 1), (int, torch.nn.Module))


def test_measuring_the_notebooks_code_in_the_grader_fails_loudly(session):
    """A tracker in the grader around a call that runs in the notebook would see nothing and
    pass anything (week 7 as written before issue 10): such a test fails, for every student,
    with a message for its author, and run_in_notebook is the way that works."""
    from helpers.grading.remote import MeasuredInTheWrongProcess
    from helpers.grading.trusted import run_test_segment

    assert session.run_cell("import torch\ndef f(x):\n    return torch.softmax(x, -1)\n")["error"] is None
    wrong = {
        "tracemalloc": "import tracemalloc\ntracemalloc.start()\ntry:\n    f(torch.ones(3))\nfinally:\n    tracemalloc.stop()\n",
        "dispatch mode": "from helpers.scaling.memory import TensorMemory\nwith TensorMemory() as t:\n    f(torch.ones(3))\n",
        "setprofile": "import sys\ndef watch(frame, event, arg):\n    pass\nsys.setprofile(watch)\ntry:\n    f(torch.ones(3))\n"
                      "finally:\n    sys.setprofile(None)\n",
    }  # fmt: skip
    for what, code in wrong.items():
        with pytest.raises(MeasuredInTheWrongProcess, match="run_in_notebook"):
            exec(compile("import torch\n" + code, "<test measure>", "exec"), CellNamespace(session))
        reply = run_test_segment("import torch\n" + code, False, CellNamespace(session), session, 30, 10_000, "measure")
        assert reply["error"]["ename"] == "MeasuredInTheWrongProcess", (what, reply)
    right = ("import torch\nfrom helpers.grading import plain, run_in_notebook\nfrom helpers.scaling.memory import measure\n"
             "out, report = run_in_notebook(measure, f, torch.ones(3))\nops = plain(report.ops)\n")  # fmt: skip
    ns = CellNamespace(session)
    reply = run_test_segment(right, False, ns, session, 30, 10_000, "measure")  # a test: run_in_notebook reaches the notebook
    assert reply.get("error") is None and "aten._softmax" in ns["ops"] and session.alive, reply


def test_hidden_references_are_stubbed_in_the_sandbox(session):
    reply = session.run_cell("from helpers.ngrams.edits import edits1\nedits1('ab')")
    assert reply["error"]["ename"] == "RuntimeError" and "reference for this assignment" in reply["error"]["evalue"]
    reply = session.run_cell("import helpers.ngrams.edits as e, inspect\nprint(len(inspect.getsource(e)))\nprint(e.LETTERS)")
    assert reply["error"] is None and "abcdefghijklmnopqrstuvwxyz" in reply["outputs"][0]["text"]


def test_a_kernel_that_stops_reading_cannot_block_the_grader(session):
    session.run_cell("import os, signal\ndef f(x):\n    return 0\n")
    f_proxy = CellNamespace(session)["f"]
    session.run_cell("import threading\nthreading.Timer(0.2, os.kill, (os.getpid(), signal.SIGSTOP)).start()")
    time.sleep(0.5)
    session.limit_at = time.monotonic() + 2
    start = time.monotonic()
    with pytest.raises(NotebookGone):
        f_proxy(np.zeros(4_000_000))  # 32 MB: far more than a pipe holds
    assert time.monotonic() - start < 10


def test_stub_source_keeps_names_and_signatures():
    source = "import math\nX = 3\ndef f(a, b=2):\n    return a + b\nclass C:\n    def m(self):\n        return 1\n    def n(self):\n        return 2\n"
    out = stub_source(source, "helpers.x", [["f"], ["C", "m"]])
    namespace: dict = {}
    exec(out, namespace)
    assert namespace["X"] == 3 and namespace["C"]().n() == 2
    with pytest.raises(RuntimeError, match="helpers.x.f is the course's reference"):
        namespace["f"](1)
    with pytest.raises(RuntimeError, match="helpers.x.C.m"):
        namespace["C"]().m()
    with pytest.raises(ValueError, match="helpers.x.g is not defined"):
        stub_source(source, "helpers.x", [["g"]])


# -- budgets, whole-tree kills ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_submission_is_killed_whole_with_its_budget(kind, tmp_path):
    from helpers.grading.budget import make_budget

    if make_budget(2**30, 16) is None:
        pytest.skip("no writable cgroups here: only per-process rlimits apply")
    process = StudentProcess(kind, course_copy([], tmp_path), [], Limits(memory_mb=200, processes=16), tmp_path).start()
    process.wait_ready()
    process.begin({}, {"memory_mb": 200, "processes": 16})
    session = NotebookSession(process, time.monotonic() + 120, grace=1.0)
    reply = session.run_cell(
        "import subprocess, sys\nprocs = []\n"
        "try:\n    for _ in range(40):\n        procs.append(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', 'NEXTWORD-BUDGET-TEST']))\n"
        "except OSError as e:\n    print('refused after', len(procs))\n"
    )
    assert "refused after" in reply["outputs"][0]["text"], reply
    pids = process.budget.pids()
    assert len(pids) > 5
    # children that each stay under the per-process limit, together over the whole budget
    session.limit_at = time.monotonic() + 100
    hog = "import sys, time; x = bytearray(180 << 20); x[::4096] = b'1' * len(range(0, 180 << 20, 4096)); open(sys.argv[1], 'w'); time.sleep(60)  # NEXTWORD-BUDGET-TEST"
    try:
        session.run_cell(
            "import os, time\nfor p in procs:\n    p.kill()\n    p.wait()\n"
            f"hogs = [subprocess.Popen([sys.executable, '-c', {hog!r}, f'done{{i}}']) for i in range(12)]\n"
            "end = time.time() + 60\n"
            "while time.time() < end and not all(h.poll() is not None or os.path.exists(f'done{i}') for i, h in enumerate(hogs)):\n"
            "    time.sleep(0.2)\n"
        )
    except NotebookGone:  # the memory limit may take the kernel itself
        pass
    assert process.budget.memory_exceeded()
    session.close()
    time.sleep(0.5)
    left = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and b"NEXTWORD-BUDGET-TEST" in Path(f"/proc/{pid}/cmdline").read_bytes():
                left.append(pid)
        except OSError:
            continue
    assert not left, "processes of the submission survived it"


# -- the watchdog, intake, sheets ------------------------------------------------------------


def test_the_watchdog_answers_for_a_worker_that_hangs():
    import sys

    from helpers.grading.intake import Submission
    from helpers.grading.runner import Assignment, GradeSettings
    from helpers.grading.worker import WorkerClient

    client = WorkerClient(startup=1, margin=1, command=[sys.executable, "-c", "import time; time.sleep(600)"])
    settings = GradeSettings(total_timeout=1)
    start = time.monotonic()
    record = client.grade("k", Assignment.load("week00"), Submission("ann", notebook="a.ipynb", files={"a.ipynb": b"{}"}), settings, [])
    assert record["status"] == "timeout" and "watchdog" in record["message"] and time.monotonic() - start < 30
    assert client.process is None  # killed, with everything it started


def test_look_alike_ids_stay_apart_and_formulas_are_neutralised(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a b", "a_b", "Ann", "ann", "=1+1", "@SUM(A1)"):
        f.write(f.release(), subs, name)
    (subs / os.fsdecode(b"caf\xe9")).mkdir()  # a folder name that is not UTF-8
    f.write(f.release(), subs / os.fsdecode(b"caf\xe9"), "week00")
    out = tmp_path / "out"
    assert main(["grade", "week00", str(subs), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    rows = list(csv.reader(open(out / "grades.csv", encoding="utf-8", errors="strict")))[1:]
    ids = [r[0] for r in rows]
    assert len(rows) == 7 and len(set(ids)) == 7 and "'=1+1" in ids and "'@SUM(A1)" in ids
    assert len(list((out / "feedback").glob("*.html"))) == 7
    messages = {r[0]: r[4] for r in rows}
    assert "similar id" in messages["a b"] and "similar id" in messages["ann"]


def test_a_broken_zip_entry_is_one_invalid_row(tmp_path):
    path = tmp_path / "class.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ann.ipynb", json.dumps(f.submission()))
        z.writestr("bob.ipynb", json.dumps(f.submission()) + " " * 5000)
    data = bytearray(path.read_bytes())
    at = data.find(b"bob.ipynb", 40) + len("bob.ipynb") + 200  # inside bob's compressed data
    data[at : at + 40] = b"\x00" * 40
    path.write_bytes(bytes(data))
    out = tmp_path / "out"
    assert main(["grade", "week00", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert rows["ann"]["status"] == "graded" and float(rows["ann"]["score"]) == 7
    assert rows["bob"]["status"] == "invalid" and "could not read" in rows["bob"]["message"]


def test_non_finite_numbers_never_reach_the_sheet(tmp_path):
    from helpers.grading.align import PlanCell
    from helpers.grading.batch import _sanitise, summarise
    from helpers.grading.intake import Submission
    from helpers.grading.runner import _score

    part = _score(PlanCell("code", "", "test", "t", 2.0), [["x", False, {"outputs": [], "value": float("nan")}]])
    assert part.points == 0 and "not a finite number" in part.message
    record = _sanitise({"score": float("nan"), "max_score": float("inf"), "status": "graded", "message": "", "parts": []}, Submission("ann"))
    assert record["score"] == 0 and record["max_score"] == 0 and "not a finite number" in record["message"]
    assert "1 submissions" in summarise([record], 1.0, "bubblewrap")


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    import helpers.grading.sandbox as sandbox

    subs = tmp_path / "subs"
    subs.mkdir()
    f.write(f.submission(), subs, "ann")
    monkeypatch.setattr(sandbox, "detect_sandbox", lambda: sandbox.SandboxInfo(None, "no bubblewrap, no Landlock (test)"))
    assert main(["grade", "week00", str(subs), "--out", str(tmp_path / "o")]) == 2
    assert "refusing to grade without a sandbox" in capsys.readouterr().err and not (tmp_path / "o" / "grades.csv").exists()
    assert main(["grade", "week00", str(subs), "--out", str(tmp_path / "o"), "--no-sandbox", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "WARNING: UNSANDBOXED" in printed
    row = next(csv.DictReader(open(tmp_path / "o" / "grades.csv")))
    assert float(row["score"]) == 7 and row["message"].startswith("UNSANDBOXED")


def test_environment_is_an_allow_list(tmp_path):
    from helpers.grading.paths import environment

    env = environment("/h", "/t", 1)
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING",
                        "MPLBACKEND", "MPLCONFIGDIR", "NEXTWORD_CACHE", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                        "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "NEXTWORD_GRADING"}  # fmt: skip
    assert tempfile.gettempdir()  # the grader's own TMPDIR is not passed on
