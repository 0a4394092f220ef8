"""Coordinator side of a grading kernel: start it (sandboxed when possible), run jobs, enforce
time limits, and replace it when a submission has to be killed.

The sandbox is bubblewrap (``bwrap``) where the platform allows: no network, a read-only view
of the system and of the Python installation, the course package but not the rest of the
repository (``solutions/`` with its hidden tests is simply not there), and an empty ``/tmp``.
Without bubblewrap the kernel still runs each submission in its own scratch folder and
process, but a determined student could read files by absolute path: ``nextword doctor``
and the grade summary say so.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GradingKernel", "JobResult", "sandbox_available"]

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")


@dataclass
class JobResult:
    """What came back from one submission: one reply per cell that finished."""

    replies: dict[int, dict] = field(default_factory=dict)
    status: str = "graded"  # graded | timeout | crashed
    message: str = ""
    seconds: float = 0.0


def sandbox_available() -> bool:
    """Whether bubblewrap is installed and can create a sandbox here."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    try:
        done = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc", "/proc", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _sandbox_command(python_cmd: list[str], hide: list[Path]) -> list[str]:
    """bwrap arguments: system and Python read-only, course package visible, nothing else."""
    import helpers

    package = Path(helpers.__file__).resolve().parent
    # The empty /tmp comes first: the read-only binds below may lie inside it (a virtual
    # environment in /tmp), and a later tmpfs would cover them.
    binds: list[str] = ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/tmp/home"]
    for path in _SYSTEM_DIRS:
        if os.path.exists(path):
            binds += ["--ro-bind", path, path]
    for path in {sys.prefix, sys.base_prefix, sys.exec_prefix, *[p for p in sys.path if p and "site-packages" in p]}:
        real = os.path.realpath(path)
        if os.path.isdir(real) and not _inside_any(real, hide):
            binds += ["--ro-bind", real, real]
            if real != path and os.path.isdir(path):
                binds += ["--ro-bind", path, path]
    binds += ["--ro-bind", str(package), str(package)]
    command = [
        shutil.which("bwrap") or "bwrap",
        "--die-with-parent",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--new-session",
        *binds,
        "--chdir", "/tmp",
    ]  # fmt: skip
    # Hide whatever else must stay out of reach even if a bind above exposed it.
    for path in hide:
        if path.exists():
            command += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    command += ["--ro-bind", str(package), str(package)]
    return command + python_cmd


def _inside_any(path: str, roots: list[Path]) -> bool:
    return any(os.path.commonpath([path, str(r)]) == str(r) for r in roots if r.exists())


class KernelDied(RuntimeError):
    pass


class GradingKernel:
    """One warm grading kernel process, reused for many submissions."""

    def __init__(
        self,
        preload: list[str] | None = None,
        sandbox: bool | None = None,
        hide: list[str | os.PathLike] | None = None,
        start_timeout: float = 180.0,
        threads: int = 1,
    ):
        self.preload = list(preload or [])
        self.hide = [Path(p).resolve() for p in (hide or [])]
        self.sandbox = sandbox_available() if sandbox is None else sandbox
        self.start_timeout = start_timeout
        self.threads = threads
        self.process: subprocess.Popen | None = None
        self._buffer = b""
        self.starts = 0

    # -- process management -------------------------------------------------------------
    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith(("TOKEN", "SECRET", "PASSWORD", "KEY"))}
        threads = str(self.threads)
        env.update(
            OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
            MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
            HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
        )  # fmt: skip
        if self.sandbox:
            env.update(HOME="/tmp/home", TMPDIR="/tmp", MPLCONFIGDIR="/tmp/home/.mpl", NEXTWORD_CACHE="/tmp/home/cache")
        return env

    def start(self) -> None:
        self.stop()
        python_cmd = [sys.executable, "-m", "helpers.grading.kernel", "--preload", ",".join(self.preload)]
        command = _sandbox_command(python_cmd, self.hide) if self.sandbox else python_cmd
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self._env(),
            cwd=tempfile.gettempdir(),
            start_new_session=True,
        )
        self._buffer = b""
        self.starts += 1
        reply = self._read(time.monotonic() + self.start_timeout)
        if reply is None or not reply.get("ready"):
            detail = self._stderr_tail()
            self.stop()
            raise RuntimeError(f"the grading kernel did not start: {detail or reply}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.process = None

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read()[-3000:].decode("utf-8", "replace")
        except (OSError, ValueError, AttributeError):
            return ""

    # -- I/O ----------------------------------------------------------------------------
    def _write(self, message: dict) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise KernelDied(str(error)) from error

    def _read(self, deadline: float) -> dict | None:
        """The next reply, or None when ``deadline`` passes first; KernelDied on end of file."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise KernelDied("the grading kernel closed its output")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return {"garbled": line[:200].decode("utf-8", "replace")}

    # -- jobs ---------------------------------------------------------------------------
    def run(
        self,
        cells: list[dict],
        files: dict[str, str] | None = None,
        cell_timeout: float = 120.0,
        total_timeout: float = 600.0,
        grace: float = 5.0,
        limits: dict | None = None,
    ) -> JobResult:
        """Run ``cells`` (dicts with ``index``, ``source``, ``kind``) for one submission.

        A cell past ``cell_timeout`` is interrupted inside the child and the next cell runs; if
        it does not stop within ``grace`` seconds, or the whole submission passes
        ``total_timeout``, the child is killed, the kernel restarted, and the replies received
        so far are returned with status "timeout".
        """
        if self.process is None or self.process.poll() is not None:
            self.start()
        result = JobResult()
        start = time.monotonic()
        job_deadline = start + total_timeout
        job = {"op": "job", "files": files or {}, "limits": dict(limits or {}), "tmp": "/tmp" if self.sandbox else None}
        try:
            self._write(job)
            started = self._read(min(job_deadline, time.monotonic() + 60))
            if not started or not started.get("started"):
                raise KernelDied(f"submission process did not start: {started}")
            for cell in cells:
                self._write({"op": "cell", "index": cell["index"], "source": cell["source"], "kind": cell["kind"], "timeout": cell_timeout})
                cell_deadline = time.monotonic() + cell_timeout + grace
                reply = self._read(min(cell_deadline, job_deadline))
                if reply is None:
                    total = time.monotonic() >= job_deadline
                    result.status = "timeout"
                    result.message = (
                        f"stopped: the notebook ran past the {total_timeout:g} s limit for a submission"
                        if total
                        else f"stopped: a cell ran past the {cell_timeout:g} s limit and could not be interrupted"
                    )
                    result.replies[cell["index"]] = {"timed_out": True, "error": {"ename": "Timeout", "evalue": result.message, "traceback": []}, "outputs": []}
                    self.stop()
                    break
                if "fatal" in reply or "done" in reply:
                    raise KernelDied(reply.get("fatal") or "the submission process exited")
                result.replies[cell["index"]] = reply
                if reply.get("timed_out"):
                    result.status = "timeout"
                    result.message = f"a cell ran past the {cell_timeout:g} s limit and was stopped; later cells still ran"
            else:
                self._write({"op": "end"})
                done = self._read(time.monotonic() + 30)
                if done is None or "done" not in done:
                    self.stop()
        except KernelDied as error:
            result.status = "crashed"
            detail = str(error).strip().splitlines()[-1] if str(error).strip() else "no detail"
            result.message = f"the notebook's process died while running (memory limit, os._exit or a crash): {detail}"
            self.stop()
        result.seconds = time.monotonic() - start
        return result

    def __enter__(self) -> GradingKernel:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
