"""The trusted side of a submission: requests to its kernel, and the names test cells see.

Test cells run in the grader's process (:mod:`helpers.grading.runner`) with a
:class:`CellNamespace`: a name the test does not define itself, and that is not a builtin, is
looked up in the student's notebook. Plain data comes back as a copy; anything else as a
:class:`~helpers.grading.proxy.NotebookObject`. Each request has a deadline (the current
cell's or test's limit, and the submission's); a kernel that misses it, dies, or sends
something unreadable is killed, and the test sees :class:`NotebookGone`. A value the test read
from the notebook and passes back unchanged goes back as the notebook's own object.
"""

from __future__ import annotations

import builtins
import itertools
import sys
import time
import weakref

import numpy as np

import helpers.grading.wire as wire
from helpers.grading.proxy import (
    FromNotebook,
    NotebookGone,
    NotebookObject,
    NotebookTimeout,
    Pickler,
    describe,
    exception_from,
    mirror,
)

__all__ = ["CellNamespace", "FromNotebook", "MeasuredInTheWrongProcess", "NotebookGone", "NotebookObject", "NotebookSession",
           "NotebookTimeout", "current_session", "describe", "measuring_here"]

MAX_HANDLES_PER_REPLY = 10_000
_current: list = [None]


def current_session():
    """The session of the test cell now running here (None outside ``nextword grade``)."""
    return _current[0]

class MeasuredInTheWrongProcess(RuntimeError):
    """A test measures how the student's code runs (a torch mode, tracemalloc, a profiler)
    in the grader, but the code runs in the notebook: the measurement would see nothing."""


def measuring_here() -> set[str]:
    """What in this process would observe code run here: torch dispatch or function modes,
    tracemalloc, a profile function defined in a test cell (cProfile and friends are not)."""
    found = set()
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch._C._len_torch_dispatch_stack():
            found.add("a torch dispatch mode (e.g. TensorMemory)")
        if torch._C._len_torch_function_stack():
            found.add("a torch function mode")
    tracemalloc = sys.modules.get("tracemalloc")
    if tracemalloc is not None and tracemalloc.is_tracing():
        found.add("tracemalloc")
    profiler = sys.getprofile()
    if str(getattr(getattr(profiler, "__code__", None), "co_filename", "")).startswith(("<test", "<hidden test")):
        found.add("sys.setprofile")
    return found


class NotebookSession:
    """Requests to one submission's kernel process (a :class:`~helpers.grading.sandbox.StudentProcess`)."""

    def __init__(self, process, deadline: float, grace: float = 5.0, max_reply_bytes: int = 256 * 2**20):
        self.process, self.deadline, self.grace = process, deadline, grace
        self.process.reader.limit = max_reply_bytes
        self.limit_at = deadline  # the current cell's or test segment's deadline
        self.alive = True
        self.gone_reason = ""
        self.timed_out = False  # some student code was interrupted at a time limit
        self.sink = None  # callable(output dict) for what student code prints during a request
        self.hidden_outputs = 0
        self._ids = itertools.count(1)
        self._proxies: dict[int, weakref.ref] = {}
        self._release: list[int] = []
        self._pickler = Pickler(self)
        self._origin: dict[int, tuple] = {}  # id of data read from the notebook -> (value, name, handle)
        self.measuring_before: set[str] = set()  # what was already observing the grader when the test began

    # -- values ---------------------------------------------------------------------------
    def _encode(self, value, buffers):
        def other(obj, bufs):
            if type(obj) is NotebookObject:
                if obj._nb_session is not self:
                    raise ValueError("an object of another notebook cannot be passed here")
                return {"$": "h", "id": obj._nb_id}
            bufs.append(self._pickler.dumps(obj))
            return {"$": "pickle", "b": len(bufs) - 1}

        return wire.encode(value, buffers, other)

    def _decode(self, obj, buffers):
        count = [0]

        def other(tagged):
            if tagged["$"] == "h":
                count[0] += 1
                if count[0] > MAX_HANDLES_PER_REPLY:
                    raise wire.ProtocolError("too many objects in one reply")
                return self._proxy(tagged)
            if tagged["$"] == "module":
                module = sys.modules.get(str(tagged.get("name")))
                if module is None:
                    raise NameError(f"the notebook's module {tagged.get('name')!r} is not imported by the test: import it in the test cell")
                return module
            raise wire.ProtocolError(f"unexpected {tagged['$']!r} from the notebook")

        return wire.decode(obj, buffers, other)

    def _proxy(self, tagged: dict) -> NotebookObject:
        hid = tagged.get("id")
        if type(hid) is not int:
            raise wire.ProtocolError("malformed handle")
        ref = self._proxies.get(hid)
        proxy = ref() if ref is not None else None
        if proxy is None:
            proxy = object.__new__(NotebookObject)
            object.__setattr__(proxy, "_nb_session", self)
            object.__setattr__(proxy, "_nb_id", hid)
            object.__setattr__(proxy, "_nb_type", str(tagged.get("type", "object"))[:200])
            object.__setattr__(proxy, "_nb_repr", str(tagged.get("repr", "<object>"))[:300])
            object.__setattr__(proxy, "_nb_callable", tagged.get("callable") is True)
            self._proxies[hid] = weakref.ref(proxy, lambda _, hid=hid: self._release.append(hid))
        return proxy

    # -- requests -------------------------------------------------------------------------
    def kill(self, reason: str) -> None:
        if self.alive:
            self.alive, self.gone_reason = False, reason
            self.process.kill()

    def _round_trip(self, header: dict, buffers: list[bytes]) -> tuple[dict, list[bytes]]:
        if not self.alive:
            raise NotebookGone(self.gone_reason)
        if header.get("op") != "cell":
            wrong = measuring_here() - self.measuring_before
            if wrong:
                raise MeasuredInTheWrongProcess(
                    f"this test measures the student's code with {' and '.join(sorted(wrong))} in the grader, but the "
                    "code runs in the notebook's process, where the measurement sees nothing: measure it there with "
                    "run_in_notebook (see CONTRIBUTING.md, 'Porting a test cell')")  # fmt: skip
        now = time.monotonic()
        limit = min(self.limit_at, self.deadline)
        if limit - now <= 0:
            raise NotebookTimeout("the time limit had passed before this call")
        header["id"] = request_id = next(self._ids)
        header["timeout"] = round(limit - now, 3)
        try:
            if self._release:
                ids, self._release[:] = list(self._release), []
                self.process.send({"op": "release", "ids": ids}, deadline=limit + self.grace)
            self.process.send(header, buffers, deadline=limit + self.grace)
            while True:
                reply, reply_buffers = self.process.read(limit + self.grace)
                if reply.get("id") == request_id:
                    return reply, reply_buffers
        except TimeoutError:
            self.timed_out = True
            over = self.deadline <= limit
            self.kill("the notebook ran past its time limit for the submission" if over else
                      "its code ran past the time limit and could not be interrupted")  # fmt: skip
            raise NotebookGone(self.gone_reason) from None
        except EOFError as error:
            self.kill(f"the notebook's process died ({error})")
            raise NotebookGone(self.gone_reason) from None
        except wire.ProtocolError as error:
            self.kill(f"the notebook's process sent something unreadable ({error})")
            raise NotebookGone(self.gone_reason) from None
        except BaseException:  # interrupted here (the test's own time limit): the reply is lost
            self.kill("stopped while it was running code for a test")
            raise

    def _outputs(self, reply: dict) -> None:
        outputs = reply.get("outputs")
        if not isinstance(outputs, list) or self.sink is None:
            return
        for output in outputs[:50]:
            if isinstance(output, dict):
                self.sink(output)

    def request(self, op: str, target=None, **fields):
        header = {"op": op}
        buffers: list[bytes] = []
        if target is not None:
            header["target"] = self._encode(target, buffers)
        for name in ("key", "value"):
            if name in fields:
                header[name] = self._encode(fields.pop(name), buffers)
        header.update(fields)
        reply, reply_buffers = self._round_trip(header, buffers)
        self._outputs(reply)
        return self._result(reply, reply_buffers)

    def _result(self, reply: dict, buffers: list[bytes]):
        error = reply.get("error")
        if isinstance(error, dict):
            if reply.get("timed_out"):
                self.timed_out = True
                raise NotebookTimeout("your code ran past the time limit and was stopped")
            raise exception_from(error)
        if reply.get("stop") is True:
            raise StopIteration
        try:
            return self._decode(reply.get("ok"), buffers)
        except (wire.ProtocolError, NameError) as problem:
            if isinstance(problem, NameError):
                raise
            self.kill(f"the notebook's process sent something unreadable ({problem})")
            raise NotebookGone(self.gone_reason) from None

    def call(self, target, args: tuple, kwargs: dict):
        buffers: list[bytes] = []
        header = {"op": "call", "target": self._encode(target, buffers),
                  "args": [self._encode(self._as_sent(a), buffers) for a in args],
                  "kwargs": [[str(k), self._encode(self._as_sent(v), buffers)] for k, v in kwargs.items()]}  # fmt: skip
        reply, reply_buffers = self._round_trip(header, buffers)
        self._outputs(reply)
        result = self._result(reply, reply_buffers)
        copyout = reply.get("copyout")
        if isinstance(copyout, list):
            for item in copyout:
                if not (isinstance(item, list) and len(item) == 2):
                    continue
                key, encoded = item
                try:
                    new = self._decode(encoded, reply_buffers)
                except (wire.ProtocolError, NameError):
                    continue
                if type(key) is int and 0 <= key < len(args):
                    mirror(args[key], new)
                elif type(key) is str and key in kwargs:
                    mirror(kwargs[key], new)
        return result

    def fetch(self, name: str):
        value = self.request("get", name=name)
        if isinstance(value, (list, dict, set, np.ndarray)) or type(value).__module__ == "torch":
            self._origin[id(value)] = (value, name, None)
        return value

    def _as_sent(self, value):
        """A value read from the notebook, passed back unchanged in identity, goes back as the
        notebook's own object (a handle): no copy each call, and the same object as in Jupyter."""
        origin = self._origin.get(id(value))
        if origin is None or origin[0] is not value:
            return value
        if origin[2] is None:
            ref = self.request("ref", name=origin[1])
            if type(ref) is not NotebookObject:
                return value
            self._origin[id(value)] = origin = (value, origin[1], ref)
        return origin[2]

    def run_cell(self, source: str) -> dict:
        """Run one of the notebook's own cells; its reply (outputs, error) as plain data."""
        reply, _ = self._round_trip({"op": "cell", "source": source}, [])
        if reply.get("timed_out"):
            self.timed_out = True
        return {"outputs": [o for o in reply.get("outputs", []) if isinstance(o, dict)][:200],
                "error": reply.get("error") if isinstance(reply.get("error"), dict) else None,
                "timed_out": reply.get("timed_out") is True, "seconds": reply.get("seconds")}  # fmt: skip

    def close(self) -> None:
        if self.alive:
            try:
                self.process.send({"op": "end", "id": 0}, deadline=time.monotonic() + 1)
            except (EOFError, TimeoutError):
                pass
        self.alive = False
        self.process.kill()


class CellNamespace(dict):
    """Globals of a test cell: its own names, then the trusted builtins, then the notebook's."""

    def __init__(self, session: NotebookSession | None, name: str = "__test__"):
        super().__init__(__name__=name, __builtins__=builtins)
        self.session = session

    def __missing__(self, name):
        if hasattr(builtins, name) or self.session is None or name.startswith("__"):
            raise KeyError(name)
        value = self.session.fetch(name)
        self[name] = value
        return value
