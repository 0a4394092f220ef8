"""Running one segment of a test cell in the grader's process.

The segment is compiled and executed here with a :class:`~helpers.grading.remote.CellNamespace`
(its own names, the trusted builtins, then the notebook's through proxies), under an alarm for
the cell's time limit. What it prints and what the student's code prints during its calls are
merged in order; its failure is classified (a failed check, a blank answer, an exception of
the student's code, a time limit, the notebook gone) so that feedback can say what a student
may read (:func:`helpers.grading.feedback.failure_message`). The value of a last expression is
nbgrader's partial credit.
"""

from __future__ import annotations

import ast
import linecache
import signal
import sys
import time
import traceback

import helpers.grading.remote as remote
from helpers.grading.capture import Capture
from helpers.grading.checks import GradingFailure
from helpers.grading.remote import (
    CellNamespace,
    FromNotebook,
    NotebookGone,
    NotebookSession,
    NotebookTimeout,
)

__all__ = ["TestTimeout", "run_test_segment"]


class TestTimeout(BaseException):
    """The test cell itself ran past the time limit (raised by an alarm in this process)."""


class _Transcript:
    """A segment's outputs in order: the test's own prints and the student's, merged by stream."""

    def __init__(self, cap: int):
        self.cap = cap
        self.outputs: list[dict] = []

    def add(self, output: dict) -> None:
        if output.get("output_type") == "stream":
            name, text = output.get("name", "stdout"), str(output.get("text", ""))
            if self.outputs and self.outputs[-1].get("output_type") == "stream" and self.outputs[-1]["name"] == name:
                self.outputs[-1]["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": name, "text": text})
        elif output.get("output_type") in ("display_data", "execute_result") and isinstance(output.get("data"), dict):
            self.outputs.append({"output_type": output["output_type"], "data": output["data"]})

    def stream(self, name: str):
        transcript = self

        class Stream(Capture):
            def write(self, text) -> int:
                text = text if isinstance(text, str) else str(text)
                transcript.add({"output_type": "stream", "name": name, "text": text})
                return len(text)

        return Stream(name, self.cap)


def _split_last_expression(code: str, filename: str):
    """(body, last expression) compiled; the value of the last expression is partial credit."""
    tree = ast.parse(code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec")
    return body, compile(last, filename, "eval") if last is not None else None


def _error(kind: str, error: BaseException | None, **fields) -> dict:
    ename = type(error).__name__ if error is not None else fields.pop("ename", "Error")
    if isinstance(error, FromNotebook):
        ename = error.notebook_ename or ename
    try:
        evalue = str(error)[:2000] if error is not None else ""
    except Exception:  # noqa: BLE001
        evalue = "<unprintable>"
    return {"ename": ename, "evalue": fields.pop("evalue", evalue), "kind": kind, "traceback": [], **fields}


def run_test_segment(code: str, hidden: bool, namespace: CellNamespace, session: NotebookSession, seconds: float,
                     cap: int, label: str) -> dict:  # fmt: skip
    """Run one segment of a test cell in this process; a reply like a kernel's, plus ``kind``."""
    transcript = _Transcript(cap)
    filename = f"<{'hidden test' if hidden else 'test'} {label}>"
    reply: dict = {"hidden": hidden}
    start = time.monotonic()
    try:
        body, last = _split_last_expression(code, filename)
    except SyntaxError as error:
        reply.update(outputs=[], error=_error("test", error))
        return reply
    if not hidden:  # tracebacks of visible tests show their lines; hidden code is never shown
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    session.sink = transcript.add
    session.limit_at = start + seconds
    session.measuring_before = remote.measuring_here()  # e.g. a grader run under tracemalloc: not the test's
    remote._current[0] = session
    saved = sys.stdout, sys.stderr

    def on_alarm(signum, frame):
        raise TestTimeout(f"the test ran past the {seconds:g} s limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds + session.grace)
    sys.stdout, sys.stderr = transcript.stream("stdout"), transcript.stream("stderr")
    try:
        exec(body, namespace)
        if last is not None:
            reply["value"] = eval(last, namespace)
    except GradingFailure as error:
        reply["error"] = _error("failure", error)
    except NotImplementedError as error:
        reply["error"] = _error("blank", error)
    except (NotebookTimeout, TestTimeout) as error:
        reply["error"] = _error("timeout", error)
        reply["timed_out"] = True
    except NotebookGone as error:
        reply["error"] = _error("gone", error)
    except Exception as error:  # noqa: BLE001 - any other failure of a test is a failed test
        kind = "notebook" if isinstance(error, FromNotebook) else "failure" if isinstance(error, AssertionError) else "test"
        reply["error"] = _error(kind, error)
        if not hidden:
            frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("<test")]
            reply["error"]["traceback"] = traceback.format_list(frames)[-10:] + [f"{type(error).__name__}: {reply['error']['evalue']}"]
            if isinstance(error, FromNotebook):
                reply["error"]["traceback"] += ["", "in your code:", *error.notebook_traceback]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.stdout, sys.stderr = saved
        session.sink = None
        remote._current[0] = None
        linecache.cache.pop(filename, None)
    reply["outputs"] = transcript.outputs
    reply["seconds"] = round(time.monotonic() - start, 4)
    return reply
