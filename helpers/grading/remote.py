"""The trusted side of a submission: requests to its kernel, and the proxies test cells use.

Test cells run in the grader's process (:mod:`helpers.grading.runner`) with a
:class:`CellNamespace`: a name the test does not define itself, and that is not a builtin, is
looked up in the student's notebook. Plain data comes back as a copy; anything else (a
function, a class, a model) as a :class:`NotebookObject`, a proxy whose calls, attributes and
items are requests to the student's process, each with a deadline, each answered with plain
data or another proxy. What the test passes to a student function goes over as data (arrays,
tensors, lists ...) or, for other objects (a course model, a helper class of the test),
pickled; arguments the student's code changed in place are updated here afterwards.

Nothing from the student's side is ever unpickled here, and no proxy gives the trusted side's
libraries anything to execute: dunder attributes other than names and docs are refused, so
NumPy or torch probing a proxy (``__array_interface__``, ...) find nothing.
"""

from __future__ import annotations

import builtins
import importlib
import io
import itertools
import re
import sys
import time
import types
import weakref

import numpy as np

from helpers.grading import wire

__all__ = ["FromNotebook", "NotebookGone", "NotebookObject", "NotebookSession", "NotebookTimeout", "CellNamespace",
           "current_session"]

_current: list = [None]


def current_session():
    """The session of the test cell now running here (None outside ``nextword grade``)."""
    return _current[0]

_REMOTE_DUNDERS = {"__module__", "__name__", "__qualname__", "__doc__", "__mro__", "__bases__", "__func__", "__self__", "__wrapped__"}
_SLOTS = {"_nb_session", "_nb_id", "_nb_type", "_nb_repr", "_nb_callable"}
MAX_HANDLES_PER_REPLY = 10_000
_FRESH = re.compile(r"^_fresh\d+_(.+)$")


class NotebookGone(RuntimeError):
    """The submission's process is no longer there (it died, or was stopped at a limit)."""


class NotebookTimeout(RuntimeError):
    """The student's code ran past its time limit (it was interrupted; the process lives on)."""


class FromNotebook:
    """Mixed into exceptions re-raised here for an exception of the student's code."""

    notebook_traceback: list = []
    notebook_ename: str = ""


_EXCEPTION_CLASSES: dict = {}


def _exception_from(error: dict) -> BaseException:
    """A trusted exception of the same builtin kind (``KeyError`` ...) as the student's."""
    base = Exception
    for name in error.get("bases", []) if isinstance(error.get("bases"), list) else []:
        candidate = getattr(builtins, str(name), None)
        if isinstance(candidate, type) and issubclass(candidate, Exception) and candidate is not Exception:
            base = candidate
            break
    cls = _EXCEPTION_CLASSES.get(base)
    if cls is None:
        try:
            cls = type(base.__name__, (base, FromNotebook), {"__module__": "notebook"})
        except TypeError:  # a builtin that cannot be subclassed
            cls = type("NotebookError", (Exception, FromNotebook), {"__module__": "notebook"})
        _EXCEPTION_CLASSES[base] = cls
    text = str(error.get("evalue", ""))[:2000]
    exception = cls(text) if base is not KeyError else cls(text.strip("'\"") if text.startswith(("'", '"')) else text)
    exception.notebook_ename = str(error.get("ename", base.__name__))[:100]
    exception.notebook_traceback = [str(line)[:2000] for line in error.get("traceback", [])][-30:] if isinstance(error.get("traceback"), list) else []
    return exception


class NotebookObject:
    """A proxy for an object that lives in the student's process."""

    __slots__ = ("_nb_session", "_nb_id", "_nb_type", "_nb_repr", "_nb_callable", "__weakref__")

    def __getattribute__(self, name):
        if name in _SLOTS or name in ("__class__", "__slots__"):
            return object.__getattribute__(self, name)
        if name.startswith("__") and name.endswith("__") and name not in _REMOTE_DUNDERS:
            return object.__getattribute__(self, name)  # the proxy's own methods, never the student's
        return object.__getattribute__(self, "_nb_session").request("getattr", target=self, name=name)

    def __setattr__(self, name, value):
        if name in _SLOTS:
            object.__setattr__(self, name, value)
        else:
            self._nb_session.request("setattr", target=self, name=name, value=value)

    def __delattr__(self, name):
        self._nb_session.request("delattr", target=self, name=name)

    def __call__(self, *args, **kwargs):
        return self._nb_session.call(self, args, kwargs)

    def __getitem__(self, key):
        return self._nb_session.request("getitem", target=self, key=key)

    def __setitem__(self, key, value):
        self._nb_session.request("setitem", target=self, key=key, value=value)

    def __delitem__(self, key):
        self._nb_session.request("delitem", target=self, key=key)

    def __contains__(self, key):
        return self._nb_session.request("contains", target=self, key=key) is True

    def __len__(self):
        n = self._nb_session.request("len", target=self)
        if type(n) is not int or n < 0:
            raise TypeError("len() of an object in the notebook did not give a count")
        return n

    def __bool__(self):
        return self._nb_session.request("bool", target=self) is True

    def __iter__(self):
        return self._nb_session.request("iter", target=self)

    def __next__(self):
        return self._nb_session.request("next", target=self)

    def __dir__(self):
        names = self._nb_session.request("dir", target=self)
        return [n for n in names if type(n) is str] if type(names) is list else []

    def __repr__(self):
        return self._nb_repr

    def __str__(self):
        try:
            text = self._nb_session.request("str", target=self)
        except Exception:  # noqa: BLE001 - a message must not fail because of the student's __str__
            return self._nb_repr
        return text if type(text) is str else self._nb_repr

    def __reduce_ex__(self, protocol):
        raise TypeError("objects of the notebook cannot be copied or pickled by tests")


def describe(obj) -> dict | None:
    """What the student's side says about a proxy (type, MRO, module, code file), else None."""
    if type(obj) is not NotebookObject:
        return None
    info = obj._nb_session.request("describe", target=obj)
    return info if type(info) is dict else None


def _mirror(old, new) -> object:
    """Make ``old`` (a trusted argument) hold ``new`` (its state after the student's call)."""
    torch = sys.modules.get("torch")
    if isinstance(old, np.ndarray):
        if isinstance(new, np.ndarray) and new.shape == old.shape and old.flags.writeable:
            old[...] = new
        return old
    if torch is not None and isinstance(old, torch.Tensor):
        if isinstance(new, torch.Tensor) and tuple(new.shape) == tuple(old.shape):
            with torch.no_grad():
                old.copy_(new.to(old.dtype))
        return old
    if torch is not None and isinstance(old, torch.nn.Module):
        if isinstance(new, dict) and isinstance(new.get("state"), dict):
            mine = old.state_dict()
            state = new["state"]
            if list(state) == list(mine) and all(tuple(getattr(state[k], "shape", ())) == tuple(v.shape) for k, v in mine.items()):
                with torch.no_grad():
                    old.load_state_dict({k: v.to(mine[k].dtype) for k, v in state.items()})
            modes = new.get("training")
            if isinstance(modes, dict):
                for name, module in old.named_modules():
                    if type(modes.get(name)) is bool:
                        module.training = modes[name]
        return old
    if torch is not None and isinstance(old, torch.Generator):
        if isinstance(new, torch.Generator):
            old.set_state(new.get_state())
        return old
    if isinstance(old, list) and isinstance(new, list):
        for i in range(min(len(old), len(new))):
            list.__setitem__(old, i, _mirror(old[i], new[i]))
        if len(new) != len(old):
            list.__setitem__(old, slice(None), list(old[: len(new)]) + new[len(old):])
        return old
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        for a, b in zip(old, new, strict=True):
            _mirror(a, b)
        return old
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            dict.__delitem__(old, key)
        for key, value in new.items():
            dict.__setitem__(old, key, _mirror(old[key], value) if key in old else value)
        return old
    if isinstance(old, set) and isinstance(new, set):
        old.clear()
        old.update(new)
        return old
    return new


class _Pickler:
    """Pickles trusted objects for the student's side (cloudpickle: classes of a test cell go
    by value); proxies inside them travel as references to the student's own objects."""

    def __init__(self, session):
        self.session = session

    def dumps(self, value) -> bytes:
        import cloudpickle

        session = self.session
        out = io.BytesIO()

        class Pickler(cloudpickle.Pickler):
            def reducer_override(self, obj):
                # classes and functions of fresh_import copies: by name, from the real module
                if isinstance(obj, types.ModuleType) and _FRESH.match(obj.__name__):  # a fresh_import copy itself
                    return importlib.import_module, (_FRESH.match(obj.__name__).group(1),)
                module = getattr(obj, "__module__", None) if isinstance(obj, type) or callable(obj) else None
                if isinstance(module, str) and _FRESH.match(module) and getattr(obj, "__qualname__", None):
                    return wire.resolve_global, (_FRESH.match(module).group(1), obj.__qualname__)
                return super().reducer_override(obj)

            def persistent_id(self, obj):
                if type(obj) is NotebookObject:
                    if obj._nb_session is not session:
                        raise ValueError("an object of another notebook cannot be passed here")
                    return str(obj._nb_id)
                return None

        Pickler(out, protocol=5).dump(value)
        return out.getvalue()


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
        self._pickler = _Pickler(self)
        self._origin: dict[int, tuple] = {}  # id of data read from the notebook -> (value, name, handle)

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
            raise _exception_from(error)
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
                    _mirror(args[key], new)
                elif type(key) is str and key in kwargs:
                    _mirror(kwargs[key], new)
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
