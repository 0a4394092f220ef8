"""The student's side of grading: one process per submission, inside its sandbox.

It runs the notebook's own cells (given code, answers, cells the student added) and answers
requests from the trusted grader about the resulting namespace: fetch a name, call a function,
read an attribute, ... Every result goes back as plain data (:mod:`helpers.grading.wire`) or
as a handle. Test cells never come here: they run in the grader's process, so nothing in this
process takes part in a verdict, and hidden tests never reach it, only the arguments of the
calls they make.

Arguments a request brings are decoded here (the grader is trusted, so objects it pickled are
unpickled); after a call, arguments the student's code changed in place (arrays, tensors,
lists, dicts, a model's weights, a generator's state) are sent back, so tests that check
"the input must not change" still see the change.

Started by :mod:`helpers.grading.sandbox` as ``python -I -c BOOT CONFIG_JSON``; speaks
frames on file descriptors moved away from 0/1/2 (``print`` and ``os.write(1, ...)`` are
captured, ``input()`` reads end of file).
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
import signal
import sys
import time
import types

import helpers.grading.wire as wire
from helpers.grading.capture import Capture, read_new_output, strip_ansi
from helpers.grading.shell import (
    Plumbing,
    cap_displays,
    describe_error,
    die_with_parent,
    limit_resources,
    make_shell,
)

PROTOCOL_IN, PROTOCOL_OUT = 1020, 1021
_FRESH = re.compile(r"^_fresh\d+_(.+)$")


class CellTimeout(BaseException):
    """Raised inside student code that ran past its time limit (a BaseException, so that
    ``except Exception`` in student code does not swallow it)."""


class _Unpickler(pickle.Unpickler):
    """Objects from the grader: classes of ``fresh_import`` copies resolve to the real module;
    handles inside them resolve to this process's objects."""

    def __init__(self, data: bytes, kernel):
        super().__init__(io.BytesIO(data))
        self.kernel = kernel

    def find_class(self, module, name):
        fresh = _FRESH.match(module)
        return super().find_class(fresh.group(1) if fresh else module, name)

    def persistent_load(self, pid):
        return self.kernel.objects[int(pid)]


def _qualname(t) -> str:
    module = getattr(t, "__module__", "") or ""
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")
    return f"{module}.{name}" if module not in ("builtins", "") else str(name)


class Kernel:
    def __init__(self, config: dict, reader, writer):
        self.config = config
        self.reader, self.writer = reader, writer
        self.objects: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.next_id = 1
        self.cap = int(config.get("output_bytes", 100_000))
        self.fd_log = ""
        self.fd_seen = 0
        self.shell = None
        self.handles = 0  # handles made for the current reply

    # -- handles and values ---------------------------------------------------------------
    def handle(self, value, buffers):
        if type(value) is _Ref:  # the object itself, whatever it is
            value = value.value
        elif isinstance(value, types.ModuleType):  # the test imports its own copy by name
            return {"$": "module", "name": str(value.__name__)}
        self.handles += 1
        if self.handles > 10_000:
            raise ValueError("too many objects in one result")
        key = id(value)
        hid = self.ids.get(key)
        if hid is None or self.objects.get(hid) is not value:
            hid, self.next_id = self.next_id, self.next_id + 1
            self.objects[hid], self.ids[key] = value, hid
        try:
            text = repr(value)
        except BaseException as error:  # noqa: BLE001 - a broken __repr__ is the student's business
            if isinstance(error, CellTimeout):
                raise
            text = f"<{type(value).__name__} object>"
        return {"$": "h", "id": hid, "type": _qualname(type(value)), "repr": strip_ansi(str(text))[:300],
                "callable": callable(value)}  # fmt: skip

    def encode(self, value, buffers):
        if type(value) is _Ref:
            return self.handle(value, buffers)
        return wire.encode(value, buffers, self.handle)

    def decode(self, obj, buffers):
        def other(tagged):
            if tagged["$"] == "h":
                return self.objects[int(tagged["id"])]
            if tagged["$"] == "pickle":
                return _Unpickler(buffers[int(tagged["b"])], self).load()
            raise wire.ProtocolError(f"unknown value {tagged['$']!r}")

        return wire.decode(obj, buffers, other)

    # -- I/O ------------------------------------------------------------------------------
    def send(self, header: dict, buffers: list[bytes] | None = None) -> None:
        self.writer.write(wire.pack_frame(header, buffers or []))
        self.writer.flush()

    def _alarm(self, seconds: float) -> None:
        signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 0.001))

    # -- requests -------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            frame = wire.read_frame_blocking(self.reader)
            if frame is None:
                return
            request, buffers = frame
            op = request.get("op")
            if op == "end":
                self.send({"id": request.get("id"), "ok": None})
                return
            if op == "release":
                for hid in request.get("ids", []):
                    obj = self.objects.pop(int(hid), None)
                    if obj is not None:
                        self.ids.pop(id(obj), None)
                continue
            self.answer(request, buffers)

    def answer(self, request: dict, buffers: list[bytes]) -> None:
        stdout, stderr = Capture("stdout", self.cap), Capture("stderr", self.cap)
        reply: dict = {"id": request.get("id")}
        out_buffers: list[bytes] = []
        start = time.perf_counter()
        self.handles = 0
        sys.stdout, sys.stderr = stdout, stderr
        self._alarm(request.get("timeout", 120))
        try:
            if request.get("op") == "cell":
                reply.update(self.run_cell(request["source"]))
            else:
                value, copyout = self.dispatch(request, buffers)
                self.plumbing.restore()
                if request.get("op") == "next" and value is _STOP:
                    reply["stop"] = True
                else:
                    reply["ok"] = self.encode(value, out_buffers)
                if copyout:
                    reply["copyout"] = [[key, self.encode(v, out_buffers)] for key, v in copyout]
        except CellTimeout:
            reply["error"] = {"ename": "CellTimeout", "evalue": f"stopped after {request.get('timeout')} s (time limit)",
                              "bases": [], "traceback": []}  # fmt: skip
            reply["timed_out"] = True
            out_buffers = []
        except BaseException as error:  # noqa: BLE001 - every failure of student code is reported
            reply["error"] = describe_error(error)
            out_buffers = []
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.plumbing.restore()
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        reply["seconds"] = round(time.perf_counter() - start, 4)
        outputs = reply.setdefault("outputs", [])
        streams = []
        if stdout.parts or stdout.dropped:
            streams.append({"output_type": "stream", "name": "stdout", "text": stdout.text()})
        fd_text, self.fd_seen = read_new_output(self.fd_log, self.fd_seen, self.cap)
        if fd_text:
            streams.append({"output_type": "stream", "name": "stdout", "text": fd_text})
        if stderr.parts or stderr.dropped:
            streams.append({"output_type": "stream", "name": "stderr", "text": stderr.text()})
        reply["outputs"] = streams + outputs
        try:
            self.send(reply, out_buffers)
        except (TypeError, ValueError):  # a result that JSON refuses (e.g. an int with 10^5 digits)
            self.send({"id": request.get("id"), "outputs": streams, "error": {
                "ename": "ValueError", "evalue": "the result is too large to send", "bases": ["ValueError"], "traceback": []}})

    def dispatch(self, request: dict, buffers: list[bytes]):
        op = request["op"]
        ns = self.shell.user_ns
        if op == "get":
            name = request["name"]
            if name not in ns:
                raise NameError(f"name {name!r} is not defined in the notebook")
            return ns[name], None
        if op == "ref":  # a handle to a value the test read as data (to pass it back as itself)
            name = request["name"]
            return _Ref(ns[name]) if name in ns else None, None
        target = self.decode(request["target"], buffers) if "target" in request else None
        if op == "call":
            raw = list(request.get("args", [])) + [v for _, v in request.get("kwargs", [])]
            keys = list(range(len(request.get("args", [])))) + [str(k) for k, _ in request.get("kwargs", [])]
            values = [self.decode(v, buffers) for v in raw]
            # Arguments the grader sent as data (not handles to this notebook's own objects)
            # are mirrored back when the call changed them in place.
            mirrored = [(key, v) for key, v, r in zip(keys, values, raw, strict=True)
                        if not (type(r) is dict and r.get("$") == "h") and _state(v) is not None]
            before = {key: _snapshot(v) for key, v in mirrored}
            n = len(request.get("args", []))
            value = target(*values[:n], **dict(zip(keys[n:], values[n:], strict=True)))
            changed = [(key, _state(v)) for key, v in mirrored if before[key] is not None and _snapshot(v) != before[key]]
            return value, changed
        if op == "getattr":
            return getattr(target, request["name"]), None
        if op == "setattr":
            setattr(target, request["name"], self.decode(request["value"], buffers))
            return None, None
        if op == "delattr":
            delattr(target, request["name"])
            return None, None
        key = self.decode(request["key"], buffers) if "key" in request else None
        if op == "getitem":
            return target[key], None
        if op == "setitem":
            target[key] = self.decode(request["value"], buffers)
            return None, None
        if op == "delitem":
            del target[key]
            return None, None
        if op == "contains":
            return bool(key in target), None
        if op == "len":
            return int(len(target)), None
        if op == "bool":
            return bool(target), None
        if op == "iter":
            return iter(target), None
        if op == "next":
            try:
                return next(target), None
            except StopIteration:
                return _STOP, None
        if op in ("repr", "str"):
            return strip_ansi((repr if op == "repr" else str)(target))[:10_000], None
        if op == "dir":
            return [str(n) for n in dir(target)][:5000], None
        if op == "describe":
            return _describe(target), None
        raise ValueError(f"unknown request {op!r}")

    # -- cells ----------------------------------------------------------------------------
    def run_cell(self, source: str) -> dict:
        shell = self.shell
        shell.outputs, shell.error = [], None
        timed_out = False
        try:
            result = shell.run_cell(source, store_history=False, silent=False)
            timed_out = isinstance(result.error_in_exec, CellTimeout)
        except CellTimeout:
            timed_out = True
        except BaseException as error:  # noqa: BLE001 - what the shell let through
            shell.error = describe_error(error)
        self.plumbing.restore()
        reply = {"outputs": cap_displays(shell.outputs, self.cap)}
        if timed_out:
            reply["timed_out"] = True
            reply["error"] = {"ename": "CellTimeout", "evalue": "cell stopped: it ran past the time limit", "bases": [], "traceback": []}
        elif shell.error is not None:
            reply["error"] = shell.error
        return reply


_STOP = object()


class _Ref:
    def __init__(self, value):
        self.value = value


def _state(value):
    """What of an argument the grader mirrors: data as it is, a model's weights and modes."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.nn.Module):
        return {"state": dict(value.state_dict()), "training": {n: m.training for n, m in value.named_modules()},
                "requires_grad": {n: p.requires_grad for n, p in value.named_parameters()}}
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return None
    return value


def _snapshot(value):
    state = _state(value)
    buffers: list[bytes] = []
    try:
        return wire.encode(state, buffers), buffers  # compared with ==, element by element
    except (TypeError, ValueError):  # holds something that is not data: not mirrored
        return None


def _describe(obj) -> dict:
    t = obj if isinstance(obj, type) else type(obj)
    target = obj if isinstance(obj, type) else getattr(obj, "__func__", obj)
    code = getattr(target, "__code__", None)
    return {"type": _qualname(type(obj)), "mro": [_qualname(c) for c in t.__mro__], "is_class": isinstance(obj, type),
            "module": str(getattr(obj, "__module__", "") or ""), "file": str(code.co_filename) if code else "",
            "callable": callable(obj)}  # fmt: skip


# -- start-up -------------------------------------------------------------------------------


def main(config: dict) -> None:
    """Boot: preload, restrict, then serve one submission and exit."""
    die_with_parent()
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.dup2(0, PROTOCOL_IN)
    os.dup2(1, PROTOCOL_OUT)
    os.set_inheritable(PROTOCOL_IN, False)
    os.set_inheritable(PROTOCOL_OUT, False)
    reader = os.fdopen(PROTOCOL_IN, "rb", buffering=1 << 16)
    writer = os.fdopen(PROTOCOL_OUT, "wb", buffering=1 << 16)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # until the scratch folder exists, stray output goes nowhere
    sys.stdout = sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    kernel = Kernel(config, reader, writer)
    kernel.shell = make_shell()
    loaded = []
    for name in config.get("preload", []):
        try:
            __import__(name)
            loaded.append(name)
        except BaseException:  # noqa: BLE001 - a module that fails here fails again in its cell
            pass
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
    if config.get("landlock"):
        from helpers.grading.landlock import drop_capabilities, restrict

        restrict(**config["landlock"])
        drop_capabilities()
    kernel.plumbing = Plumbing()
    kernel.send({"ready": True, "pid": os.getpid(), "preloaded": loaded})
    frame = wire.read_frame_blocking(reader)
    if frame is None or frame[0].get("op") != "job":
        os._exit(0)
    job, _ = frame
    scratch = job["scratch"]
    os.makedirs(scratch, exist_ok=True)
    for name, payload in job.get("files", {}).items():
        path = os.path.abspath(os.path.join(scratch, name))
        if os.path.commonpath([scratch, path]) != scratch:
            continue  # no writing outside the scratch folder
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(payload))
    os.chdir(scratch)
    sys.path.insert(0, scratch)  # as in Jupyter: the notebook's folder is importable
    kernel.fd_log = os.path.join(scratch, ".output.log")
    log = os.open(kernel.fd_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    limit_resources(job.get("limits", {}))
    signal.signal(signal.SIGALRM, _on_alarm)
    kernel.send({"started": True})
    kernel.serve()
    writer.flush()
    os._exit(0)


def _on_alarm(signum, frame):
    raise CellTimeout("stopped: time limit")


if __name__ == "__main__":  # pragma: no cover - started through sandbox.BOOT
    main(json.loads(sys.argv[1]))
