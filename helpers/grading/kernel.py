"""The grading kernel: a warm process that forks one fresh child per submission.

Starting Python, IPython, NumPy and PyTorch costs seconds; paying that for every student is
what makes plain nbgrader slow. This process pays it once: it imports what the assignment
needs, then for each submission ``fork()``s a child that starts with everything loaded and
nothing from any other student. The child runs the notebook's cells one at a time as the
coordinator (:mod:`helpers.grading.sandbox`) sends them, so a hidden test is not in the
child's memory before its turn comes.

Protocol: JSON lines. The coordinator writes commands to this process's stdin; replies go to
its stdout. ``{"op": "job", ...}`` forks a child, which answers ``{"started": ...}``, then one
reply per ``{"op": "cell", ...}``, and exits on ``{"op": "end"}``; then the parent answers
``{"done": exit_status}`` and waits for the next job. Inside the child, student code cannot
read these pipes through stdin/stdout (``input()`` sees end of file; ``print`` is captured).

Run as ``python -m helpers.grading.kernel [--preload mod1,mod2]``.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback

PROTOCOL_IN, PROTOCOL_OUT = 1020, 1021  # where the child keeps the pipes, away from 0/1/2


class CellTimeout(BaseException):
    """Raised inside a cell that ran past its time limit (a BaseException, so that a student's
    ``except Exception`` does not swallow it)."""


class _Capture:
    """A text stream that keeps at most ``cap`` bytes and counts the rest."""

    def __init__(self, name: str, cap: int, fd: int):
        self.name, self.cap, self._fd = name, cap, fd
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0
        self.encoding = "utf-8"

    def write(self, text) -> int:
        text = text if isinstance(text, str) else str(text)
        size = len(text.encode("utf-8", "replace"))
        room = self.cap - self.kept
        if size <= room:
            self.parts.append(text)
            self.kept += size
        else:
            if room > 0:
                piece = text.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
                self.parts.append(piece)
                self.kept += len(piece.encode("utf-8"))
            self.dropped += size - max(room, 0)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def text(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... output truncated: {self.dropped:,} more bytes not kept (limit {self.cap:,} bytes) ...]\n"
        return text


class _Guard:
    """Snapshot of the modules and classes that tests and this kernel rely on, restored after
    every cell.

    A student who rebinds ``builtins.abs``, ``numpy.allclose``, ``torch.Tensor.__eq__`` or a
    function of ``helpers.grading`` changes nothing for the cells that follow, tests included.
    The restore itself only uses references taken here, before any student code ran.
    """

    PREFIXES = ("numpy", "torch", "helpers", "math", "operator", "functools", "itertools", "collections",
                "builtins", "importlib", "inspect", "types", "re", "json", "random", "statistics", "os",
                "posix", "signal", "time", "io", "traceback", "IPython")  # fmt: skip

    def __init__(self):
        import builtins

        modules = [(n, m) for n, m in list(sys.modules.items()) if m is not None and n.split(".")[0] in self.PREFIXES]
        modules.sort(key=lambda item: item[0] != "builtins")  # builtins first: the rest needs them
        self.modules = [(name, module, vars(module), dict(vars(module))) for name, module in modules]
        self.classes = []
        torch = sys.modules.get("torch")
        if torch is not None:
            for cls in (torch.Tensor, torch.nn.Module, torch.nn.Parameter):
                self.classes.append((cls, vars(cls), dict(vars(cls))))
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)
        self._sys = sys
        self._setattr, self._delattr = type.__setattr__, type.__delattr__
        self._builtins = builtins

    def restore(self) -> None:
        missing, sys_ = _MISSING, self._sys
        for name, module, namespace, snapshot in self.modules:
            for key, value in dict.items(snapshot):
                if dict.get(namespace, key, missing) is not value:
                    dict.__setitem__(namespace, key, value)
            if dict.get(sys_.modules, name) is not module:
                dict.__setitem__(sys_.modules, name, module)
        sys_.settrace(None)
        sys_.setprofile(None)
        sys_.meta_path[:] = self.meta_path
        sys_.path_hooks[:] = self.path_hooks
        sys_.path_importer_cache.clear()
        for cls, current, snapshot in self.classes:
            for key, value in dict.items(snapshot):
                if current.get(key, missing) is not value:
                    try:
                        self._setattr(cls, key, value)
                    except (TypeError, AttributeError):
                        pass
            for key in [k for k in current if k not in snapshot]:
                try:
                    self._delattr(cls, key)
                except (TypeError, AttributeError):
                    pass


_MISSING = object()


def _make_shell():
    """An IPython shell whose outputs and errors are recorded instead of printed."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class RecordingHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self.shell.record_output({"output_type": "execute_result", "data": _keep(format_dict), "metadata": {}})

        def finish_displayhook(self):
            pass

    class RecordingPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            self.shell.record_output({"output_type": "display_data", "data": _keep(data), "metadata": {}})

        def clear_output(self, wait=False):
            pass

    class GradingShell(InteractiveShell):
        outputs: list = []
        error: dict | None = None

        def record_output(self, output: dict) -> None:
            self.outputs.append(output)

        def _showtraceback(self, etype, evalue, stb):
            try:
                value = str(evalue)
            except BaseException:  # a student's exception whose __str__ fails
                value = "<unprintable exception>"
            name = getattr(etype, "__name__", str(etype))
            self.error = {"ename": name, "evalue": value[:2000], "traceback": [_plain(line) for line in stb][-40:]}

    shell = GradingShell.instance(
        colors="nocolor", displayhook_class=RecordingHook, display_pub_class=RecordingPublisher, history_length=0
    )
    shell.history_manager.enabled = False
    return shell


def _keep(data: dict) -> dict:
    """Keep the text and image representations of an output, each at most 1 MB."""
    kept = {}
    for mime in ("text/plain", "image/png"):
        value = data.get(mime)
        if isinstance(value, str) and len(value) <= 1_000_000:
            kept[mime] = value
        elif isinstance(value, str):
            kept[mime] = value[:100_000] + "\n[... truncated ...]" if mime == "text/plain" else None
    return {k: v for k, v in kept.items() if v is not None}


def _plain(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def _send(stream, message: dict) -> None:
    stream.write((json.dumps(message) + "\n").encode("utf-8"))
    stream.flush()


def _set_parent_death_signal() -> None:
    """Ask Linux to kill this child if the grading kernel dies (no orphans left running)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the coordinator kills the process group
        pass


def _limit_resources(memory_mb: int | None, file_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    if memory_mb:
        used = _vm_data_bytes()
        limit = used + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _vm_data_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _run_child(job: dict, shell, reader, writer) -> None:
    """Everything a child does for one submission; never returns (``os._exit``)."""
    _set_parent_death_signal()
    scratch = tempfile.mkdtemp(prefix="submission-", dir=job.get("tmp") or None)
    for name, payload in job.get("files", {}).items():
        path = os.path.join(scratch, name)
        if os.path.commonpath([scratch, os.path.abspath(path)]) != scratch:
            continue  # no writing outside the scratch folder
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(payload))
    os.chdir(scratch)
    # The protocol moves to high file descriptors; 0 reads nothing, 1 and 2 go to a file.
    os.dup2(reader.fileno(), PROTOCOL_IN)
    os.dup2(writer.fileno(), PROTOCOL_OUT)
    os.set_inheritable(PROTOCOL_IN, False)
    os.set_inheritable(PROTOCOL_OUT, False)
    reader = os.fdopen(PROTOCOL_IN, "rb")
    writer = os.fdopen(PROTOCOL_OUT, "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    fd_log_path = os.path.join(tempfile.gettempdir(), f"fd-output-{os.getpid()}.txt")
    fd_log = os.open(fd_log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd_log, 1)
    os.dup2(fd_log, 2)
    limits = job.get("limits", {})
    cap = int(limits.get("output_bytes", 100_000))
    _limit_resources(limits.get("memory_mb"), int(limits.get("file_mb", 64)))
    for var, value in job.get("env", {}).items():
        os.environ[var] = value
    guard = _Guard()

    def on_alarm(signum, frame):
        raise CellTimeout("cell stopped: it ran past the time limit")

    fd_seen = 0
    _send(writer, {"started": True, "pid": os.getpid()})
    while True:
        line = reader.readline()
        if not line:
            break
        message = json.loads(line)
        if message.get("op") != "cell":
            break
        stdout = _Capture("stdout", cap, 1)
        stderr = _Capture("stderr", cap, 2)
        shell.outputs, shell.error = [], None
        sys.stdout, sys.stderr = stdout, stderr
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(message.get("timeout", 120)))
        start = time.perf_counter()
        timed_out = False
        try:
            result = shell.run_cell(message["source"], store_history=False, silent=False)
            timed_out = isinstance(result.error_in_exec, CellTimeout)
        except CellTimeout:
            timed_out = True
            shell.error = shell.error or {"ename": "CellTimeout", "evalue": "cell stopped: time limit", "traceback": []}
        except BaseException as error:  # noqa: BLE001 - report anything the shell let through
            shell.error = {"ename": type(error).__name__, "evalue": str(error)[:2000], "traceback": []}
        finally:
            guard.restore()  # undo any rebinding of library functions before anything else runs
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        seconds = time.perf_counter() - start
        fd_text, fd_seen = _read_new(fd_log_path, fd_seen, cap)
        outputs = []
        if stdout.parts or stdout.dropped:
            outputs.append({"output_type": "stream", "name": "stdout", "text": stdout.text()})
        if fd_text:
            outputs.append({"output_type": "stream", "name": "stdout", "text": fd_text})
        if stderr.parts or stderr.dropped:
            outputs.append({"output_type": "stream", "name": "stderr", "text": stderr.text()})
        outputs.extend(_cap_outputs(shell.outputs, cap))
        reply = {"index": message.get("index"), "outputs": outputs, "seconds": round(seconds, 4), "timed_out": timed_out}
        if shell.error is not None:
            reply["error"] = shell.error
            if timed_out:
                reply["error"]["evalue"] = f"cell stopped after {message.get('timeout', 120)} s (time limit)"
        _send(writer, reply)
    writer.flush()
    os._exit(0)


def _read_new(path: str, seen: int, cap: int) -> tuple[str, int]:
    """Output written straight to file descriptors 1/2 since the last cell (capped)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return "", seen
    if size <= seen:
        return "", seen
    with open(path, "rb") as f:
        f.seek(seen)
        data = f.read(cap)
    text = data.decode("utf-8", "replace")
    if size - seen > cap:
        text += f"\n[... output truncated: {size - seen - cap:,} more bytes not kept ...]\n"
    return text, size


def _cap_outputs(outputs: list, cap: int) -> list:
    kept, total = [], 0
    for output in outputs:
        size = sum(len(v) for v in output.get("data", {}).values())
        if total + size > max(cap, 2_000_000):
            kept.append({"output_type": "stream", "name": "stdout", "text": "[... further display outputs dropped: size limit ...]\n"})
            break
        kept.append(output)
        total += size
    return kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="grading kernel (used by nextword grade)")
    parser.add_argument("--preload", default="", help="comma-separated modules to import once")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing printed while preloading can corrupt the protocol
    shell = _make_shell()
    loaded = []
    for name in filter(None, args.preload.split(",")):
        try:
            __import__(name)
            loaded.append(name)
        except BaseException:  # noqa: BLE001 - a missing optional module is not fatal here
            pass
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
    _send(writer, {"ready": True, "pid": os.getpid(), "preloaded": loaded})
    while True:
        line = reader.readline()
        if not line:
            return
        try:
            job = json.loads(line)
        except ValueError:
            _send(writer, {"error": "bad command"})
            continue
        if job.get("op") != "job":
            _send(writer, {"error": f"unknown op {job.get('op')!r}"})
            continue
        pid = os.fork()
        if pid == 0:
            try:
                _run_child(job, shell, reader, writer)
            except BaseException:  # noqa: BLE001 - last resort: say why, then die
                try:
                    _send(writer, {"fatal": traceback.format_exc()[-2000:]})
                finally:
                    os._exit(70)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        _send(writer, {"done": code})


if __name__ == "__main__":
    main()
