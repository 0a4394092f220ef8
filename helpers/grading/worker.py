"""A grading worker: a trusted process that grades one submission at a time.

The coordinator (:mod:`helpers.grading.batch`, or a Dask worker) starts one per parallel slot
and talks to it with JSON lines. The worker imports what the test cells need once, runs the
test cells itself, and starts a fresh sandboxed kernel for every submission; the next
submission's kernel is started while the current one is graded, so its start-up costs no
waiting. Test cells of different submissions never share a process with student code, nor
a thread with each other (global random state stays per submission: reset before each).

The coordinator's :class:`WorkerClient` enforces ``--total-timeout`` from outside: a worker
that does not answer in time is killed with every sandbox it started, and the row says so.

    python -m helpers.grading.worker      (stdin/stdout: one JSON object per line)
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["KernelFactory", "WorkerClient", "error_record"]

_STRENGTH = {"none": 0, "landlock": 1, "bubblewrap": 2}


def error_record(submission, message: str, status: str = "error") -> dict:
    return {"student_id": submission.student_id, "file_id": submission.file_id, "score": 0.0, "max_score": 0.0,
            "status": status, "message": message, "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "notebook": submission.notebook, "sha256": submission.sha256, "parts": [], "seconds": 0.0}  # fmt: skip


class KernelFactory:
    """Sandboxed kernels for one assignment, one started ahead of need."""

    def __init__(self, assignment, kind: str, limits, workdir: Path, hide: list[str]):
        from helpers.grading.references import course_copy

        self.kind, self.limits, self.workdir, self.hide = kind, limits, Path(workdir), hide
        self.course_root = course_copy(assignment.hidden_references, self.workdir)
        self.preload = assignment.preload
        self.spare = None
        self.data_files = None

    def _new(self):
        from helpers.grading.sandbox import StudentProcess, data_cache_files

        if self.data_files is None:
            self.data_files = data_cache_files()
        return StudentProcess(self.kind, self.course_root, self.preload, self.limits, self.workdir, self.hide,
                              data_files=self.data_files).start()  # fmt: skip

    def take(self):
        process, self.spare = self.spare or self._new(), None
        try:
            process.wait_ready()
        except (EOFError, TimeoutError, RuntimeError) as error:
            detail = process.stderr_tail().strip().splitlines()[-3:]
            process.kill()
            raise RuntimeError(f"the sandboxed kernel did not start ({error}): {' | '.join(detail)}") from None
        self.spare = self._new()  # the next submission's kernel starts while this one is graded
        return process

    def done(self, process) -> None:
        from helpers.grading.sandbox import reap_orphans

        process.kill()
        keep = {self.spare.process.pid} if self.spare is not None and self.spare.process is not None else set()
        reap_orphans(keep)

    def close(self) -> None:
        if self.spare is not None:
            self.spare.kill()
            self.spare = None


def _reset_random_state() -> None:
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(0)


def _resolve_kind(requested: str | None) -> tuple[str | None, str]:
    from helpers.grading.sandbox import detect_sandbox

    if requested == "none":
        return "none", "no sandbox (--no-sandbox)"
    info = detect_sandbox()
    if info.kind is None:
        return None, f"no sandbox on {os.uname().nodename}: {info.detail}; install bubblewrap (apt install bubblewrap), see `nextword doctor`"
    if requested == "landlock" and info.kind == "bubblewrap":  # asked for explicitly (to try the fallback)
        from helpers.grading.landlock import abi_version

        abi = abi_version()
        return ("landlock", f"Landlock ABI {abi}") if abi >= 1 else (None, "Landlock is not available here")
    if requested is not None and _STRENGTH[info.kind] < _STRENGTH[requested]:
        return None, f"{requested} was asked for but {os.uname().nodename} only has {info.kind} ({info.detail})"
    return info.kind, info.detail


def serve(stdin, stdout) -> None:
    """The worker's loop: assignments are sent once, then submissions to grade."""
    from helpers.grading.intake import Submission
    from helpers.grading.runner import Assignment, GradeSettings, grade_one
    from helpers.grading.sandbox import Limits, become_subreaper

    become_subreaper()
    workdir = Path(tempfile.mkdtemp(prefix="nextword-worker-"))
    os.chmod(workdir, 0o700)
    assignments: dict[str, Assignment] = {}
    factories: dict[tuple, KernelFactory] = {}
    try:
        for line in stdin:
            message = json.loads(line)
            if message.get("op") == "assignment":
                assignment = Assignment(**message["assignment"])
                assignments[message["key"]] = assignment
                for name in assignment.test_imports:
                    try:
                        __import__(name)
                    except BaseException:  # noqa: BLE001 - a test that needs it fails with a clear error
                        pass
                continue
            submission = Submission(**{**message["submission"], "files": {k: base64.b64decode(v) for k, v in message["submission"]["files"].items()}})
            raw = message["settings"]
            settings = GradeSettings(**{**raw, "limits": Limits(**raw["limits"])})
            try:
                kind, detail = _resolve_kind(settings.sandbox)
                if kind is None:
                    record = error_record(submission, f"not graded: {detail}")
                else:
                    key = (message["key"], kind, json.dumps(raw["limits"], sort_keys=True), tuple(message.get("hide", [])))
                    if key not in factories:
                        factories[key] = KernelFactory(assignments[message["key"]], kind, settings.limits, workdir, message.get("hide", []))
                    _reset_random_state()
                    settings.sandbox = kind
                    record = grade_one(assignments[message["key"]], submission, settings, factories[key])
                    record["sandbox"] = kind
            except Exception as error:  # noqa: BLE001 - a fault of the grader: this row says so, the class goes on
                trace = traceback.format_exc(limit=-3).strip().splitlines()
                record = error_record(submission, f"grader error ({type(error).__name__}: {str(error)[:300]}; {' | '.join(trace[-3:])[:400]}); please report it")
            stdout.write(json.dumps(record, ensure_ascii=True) + "\n")
            stdout.flush()
    finally:
        for factory in factories.values():
            factory.close()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


class WorkerClient:
    """The coordinator's end of one worker process, with a watchdog on every submission."""

    def __init__(self, startup: float = 120.0, command: list[str] | None = None, margin: float = 60.0):
        self.command = command or [sys.executable, "-m", "helpers.grading.worker"]
        self.process: subprocess.Popen | None = None
        self.known: set[str] = set()
        self.startup, self.margin = startup, margin  # the worker's start-up; writing feedback
        self._buffer = b""

    def _start(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, start_new_session=True)  # fmt: skip
        self.known, self._buffer = set(), b""

    def kill(self) -> None:
        if self.process is None:
            return
        from helpers.grading.budget import remove_groups_of

        pid = self.process.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        remove_groups_of(pid)  # the sandboxes' cgroups, with anything still in them
        self.process = None

    def _send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message, ensure_ascii=True) + "\n").encode("ascii"))
        self.process.stdin.flush()

    def _read_line(self, deadline: float) -> bytes | None:
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError("the grading worker exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def grade(self, key: str, assignment, submission, settings, hide: list[str]) -> dict:
        """Grade one submission; whatever happens, a record comes back."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        limit = settings.total_timeout + self.startup + self.margin
        try:
            if key not in self.known:
                self._send({"op": "assignment", "key": key, "assignment": assignment.to_dict()})
                self.known.add(key)
            payload = {**asdict(submission), "files": {k: base64.b64encode(v).decode() for k, v in submission.files.items()}}
            self._send({"op": "grade", "key": key, "submission": payload, "settings": asdict(settings), "hide": hide})
            line = self._read_line(time.monotonic() + limit)
        except (BrokenPipeError, OSError, EOFError) as error:
            self.kill()
            return error_record(submission, f"grader error: the grading worker died ({error}); please report it")
        if line is None:
            self.kill()
            return error_record(submission, f"stopped by the grader's watchdog: no result after {limit:g} s "
                                            f"(the --total-timeout of {settings.total_timeout:g} s plus start-up); 0 points", "timeout")  # fmt: skip
        try:
            return json.loads(line)
        except ValueError:
            self.kill()
            return error_record(submission, "grader error: the grading worker sent an unreadable result; please report it")

    def close(self) -> None:
        if self.process is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


def main() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    out = os.fdopen(os.dup(1), "w", encoding="ascii")
    os.dup2(2, 1)  # nothing a test prints can corrupt the protocol
    serve(sys.stdin, out)


if __name__ == "__main__":
    main()
