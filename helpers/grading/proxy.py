"""Proxies for the objects of a student's notebook, and what crosses with them.

A :class:`NotebookObject` stands for an object that lives in the student's process; every
operation on it is a request through its session (:mod:`helpers.grading.remote`). Dunder
attributes other than names and docs resolve on the proxy class itself, never on the
student's object, so trusted libraries probing a proxy (NumPy's ``__array_interface__``,
torch's ``__torch_function__``) find nothing of the student's. Exceptions of the student's
code come back as trusted exceptions of the same builtin kind (so ``check_raises(KeyError,
...)`` works) marked with :class:`FromNotebook`. Trusted objects travel to the student's side
pickled (:class:`Pickler`); changes a call made to data arguments are mirrored back
(:func:`mirror`).
"""

from __future__ import annotations

import builtins
import dis
import importlib
import io
import re
import sys
import types

import numpy as np

import helpers.grading.wire as wire

__all__ = ["FromNotebook", "NotebookGone", "NotebookObject", "NotebookTimeout", "Pickler", "describe", "exception_from", "mirror"]

_REMOTE_DUNDERS = {"__module__", "__name__", "__qualname__", "__doc__", "__mro__", "__bases__", "__func__", "__self__", "__wrapped__"}
_SLOTS = {"_nb_session", "_nb_id", "_nb_type", "_nb_repr", "_nb_callable"}
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


def exception_from(error: dict) -> BaseException:
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


def mirror(old, new) -> object:
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
            modes, grads = new.get("training"), new.get("requires_grad")
            if isinstance(modes, dict):
                for name, module in old.named_modules():
                    if type(modes.get(name)) is bool:
                        module.training = modes[name]
            if isinstance(grads, dict):  # frozen or unfrozen parameters (fine-tuning)
                for name, parameter in old.named_parameters():
                    if type(grads.get(name)) is bool:
                        parameter.requires_grad_(grads[name])
        return old
    if torch is not None and isinstance(old, torch.Generator):
        if isinstance(new, torch.Generator):
            old.set_state(new.get_state())
        return old
    if isinstance(old, list) and isinstance(new, list):
        for i in range(min(len(old), len(new))):
            list.__setitem__(old, i, mirror(old[i], new[i]))
        if len(new) != len(old):
            list.__setitem__(old, slice(None), list(old[: len(new)]) + new[len(old):])
        return old
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        for a, b in zip(old, new, strict=True):
            mirror(a, b)
        return old
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            dict.__delitem__(old, key)
        for key, value in new.items():
            dict.__setitem__(old, key, mirror(old[key], value) if key in old else value)
        return old
    if isinstance(old, set) and isinstance(new, set):
        old.clear()
        old.update(new)
        return old
    return new


_GLOBAL_LOADS = {"LOAD_GLOBAL", "LOAD_NAME"}


def _fetch_names(fn) -> None:
    """Look up, in a test cell's namespace, the global names ``fn``'s code (and the code of
    the functions and lambdas nested in it) reads, so that the namespace, which fetches from
    the notebook only on demand, holds them when ``fn`` is pickled: a test's helper or lambda
    that runs in the notebook (``bytes_per_token(text, lambda t: encode(t, merges))``) takes
    the notebook's ``encode`` (as a reference to the notebook's own object) and ``merges``
    along, and finds them there as in Jupyter."""
    namespace, stack, seen = fn.__globals__, [fn.__code__], set()
    while stack:
        code = stack.pop()
        for instruction in dis.get_instructions(code):
            name = instruction.argval
            if instruction.opname not in _GLOBAL_LOADS or type(name) is not str or name in seen:
                continue
            seen.add(name)
            if name in namespace or hasattr(builtins, name):
                continue
            try:
                namespace[name]
            except Exception:  # noqa: BLE001 - not a name of the notebook either: a NameError when it runs
                pass
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


class Pickler:
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
                if isinstance(obj, types.FunctionType) and hasattr(obj.__globals__, "session"):
                    _fetch_names(obj)  # a test's function: take along the notebook's names it uses
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
