"""Checks that every assignment's test cells use, so that grades can be trusted.

A bare ``assert f(x) == 7`` can be fooled: ``f`` may return an object whose ``__eq__`` is
always true, whose ``__sub__``/``__abs__``/``__lt__`` make any tolerance test pass, or a
subclass of ``float`` that lies in ``__float__``. These helpers first turn the student's value
into a *plain* value (exact ``bool``/``int``/``float``/``str``, ``list``/``tuple``/``dict`` of
those, or a fresh ``float64``/``int64`` NumPy array) using the base types' own methods, and only
then compare. Anything else is refused with a message that says what was expected.

Failures raise :class:`GradingFailure` (an ``AssertionError``) whose message helps the student.
With ``reveal=False`` (hidden tests) it names what was checked and where it differs, but prints
neither the expected value nor the student's, so feedback cannot carry a hidden test's data.

When ``nextword grade`` runs a test cell, the cell runs in the grader's process and the
notebook's objects are proxies (:mod:`helpers.grading.remote`): these checks accept the plain
data that calls on proxies return, refuse the proxies themselves, and read types and origins
of proxies from the student's side (:func:`check_type`, :func:`check_own_work`). Code that has
to run next to the student's objects (autograd through their model, a training loop) goes
through :func:`run_in_notebook`; :func:`seed_notebook` seeds the notebook's random generators.

>>> check_close([0.1 + 0.2], [0.3])
>>> check_equal(("a", 1), ("a", 1))
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "GradingFailure",
    "as_array",
    "as_float",
    "as_int",
    "as_str",
    "check_callable",
    "check_close",
    "check_equal",
    "check_raises",
    "check_shape",
    "check_true",
    "check_type",
    "is_instance",
    "plain",
    "type_name",
]

# Bound at import time: a student who rebinds numpy's functions later does not reach these.
_np_array = np.array
_np_isclose = np.isclose
_np_isfinite = np.isfinite
_np_argwhere = np.argwhere
_ndarray = np.ndarray
_generic = np.generic
_isinstance = isinstance
_type = type


class GradingFailure(AssertionError):
    """A check failed; the message is written for the student."""


def _fail(message: str) -> None:
    raise GradingFailure(message)


def _proxy_class():
    remote = sys.modules.get("helpers.grading.remote")
    return remote.NotebookObject if remote is not None else None


def _is_proxy(value) -> bool:
    proxy = _proxy_class()
    return proxy is not None and _type(value) is proxy


def _unfresh(name: str) -> str:
    """``_fresh3_helpers.transformer.gpt.GPT`` -> ``helpers.transformer.gpt.GPT`` (classes of :func:`fresh_import` copies)."""
    return re.sub(r"^_fresh\d+_", "", name)


def type_name(value) -> str:
    """The qualified name of ``value``'s type (for a notebook proxy: of the object it stands for)."""
    if _is_proxy(value):
        return _unfresh(object.__getattribute__(value, "_nb_type"))
    t = _type(value)
    return _unfresh(t.__qualname__ if t.__module__ in ("builtins", "__main__") else f"{t.__module__}.{t.__qualname__}")


def _describe(value) -> str:
    name = type_name(value)
    if _is_proxy(value):
        return f"{name.rsplit('.', 1)[-1]} (an object of the notebook)"
    return name


def plain(value, name: str = "value"):
    """Turn ``value`` into plain Python/NumPy data, refusing objects of unknown types.

    Subclasses of ``int``/``float``/``str``/``list``/``tuple``/``dict`` are read through the
    base type's own methods, so overriding ``__eq__``, ``__float__`` or ``__iter__`` changes
    nothing. NumPy arrays, NumPy scalars and PyTorch tensors become NumPy arrays (a copy).
    """
    t = _type(value)
    if value is None or t is bool:
        return value
    if _isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if _isinstance(value, _generic):  # NumPy scalar (np.float64 is also a float subclass)
        return _from_numpy(_np_array(value), name).item()
    if _isinstance(value, int):
        return int.__int__(value) if t is not int else value
    if _isinstance(value, float):
        return float.__float__(value) if t is not float else value
    if _isinstance(value, complex):
        return complex(complex.__getattribute__(value, "real"), complex.__getattribute__(value, "imag"))
    if _isinstance(value, str):
        return str.__str__(value) if t is not str else value
    if _isinstance(value, bytes):
        return bytes(memoryview(value))
    if _isinstance(value, _ndarray):
        return _from_numpy(_ndarray.view(value, _ndarray), name)
    torch = sys.modules.get("torch")
    if torch is not None and _isinstance(value, torch.Tensor):
        return _from_torch(value, torch, name)
    if _isinstance(value, (list, tuple)):
        items = list.__iter__(value) if _isinstance(value, list) else tuple.__iter__(value)
        converted = [plain(item, f"{name}[{i}]") for i, item in enumerate(items)]
        return converted if _isinstance(value, list) else tuple(converted)
    if _isinstance(value, dict):
        return {plain(k, f"{name} key"): plain(v, f"{name}[{k!r}]") for k, v in dict.items(value)}
    if _isinstance(value, (set, frozenset)):
        items = set.__iter__(value) if _isinstance(value, set) else frozenset.__iter__(value)
        return frozenset(plain(item, f"{name} item") for item in items)
    _fail(
        f"{name} should be a number, string, list, tuple, dict, NumPy array or tensor, "
        f"but it is a {_describe(value)}"
    )


def _remote():
    import helpers.grading.remote as remote

    return remote


def _from_numpy(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == object:
        _fail(f"{name} is a NumPy array of Python objects; return numbers (dtype float or int)")
    return _np_array(array, copy=True)


def _from_torch(tensor, torch, name: str) -> np.ndarray:
    base = torch.Tensor
    # Read through the base class with subclass hooks (__torch_function__) switched off.
    with torch._C.DisableTorchFunction():
        data = base.detach(tensor)
        if data.device.type != "cpu":
            data = base.cpu(data)
        if data.dtype in (torch.bfloat16, torch.float16):
            data = base.float(data)
        array = base.numpy(data)
    return _np_array(array, copy=True)


def as_float(value, name: str = "value") -> float:
    """A single real number (a Python/NumPy number or a one-element array/tensor)."""
    result = plain(value, name)
    if _isinstance(result, _ndarray):
        if result.size != 1:
            _fail(f"{name} should be a single number, but it has shape {tuple(result.shape)}")
        result = result.reshape(-1)[0].item()
    if _type(result) is bool or _type(result) not in (int, float):
        _fail(f"{name} should be a number, but it is a {_describe(value)}")
    return float(result)


def as_int(value, name: str = "value") -> int:
    """A single integer (floats are accepted only when they are whole numbers)."""
    result = plain(value, name)
    if _type(result) is int:
        return result
    number = as_float(result, name)
    if not number.is_integer():
        _fail(f"{name} should be a whole number, but it is {number!r}")
    return int(number)


def as_str(value, name: str = "value") -> str:
    """A string (read through ``str``'s own methods)."""
    result = plain(value, name)
    if _type(result) is not str:
        _fail(f"{name} should be a string, but it is a {_describe(value)}")
    return result


def as_array(value, name: str = "value", shape: Sequence[int | None] | None = None, dtype=np.float64) -> np.ndarray:
    """A NumPy array (a copy) from an array, tensor, number or nested list of numbers."""
    result = plain(value, name)
    if _has_text(result):
        _fail(f"{name} should hold numbers, but it holds text: {_short(result)}")
    try:
        array = _np_array(result, dtype=dtype)
    except (TypeError, ValueError) as error:
        _fail(f"{name} cannot be read as an array of numbers ({error})")
    if shape is not None:
        check_shape(array, shape, name)
    return array


def _has_text(value) -> bool:
    if _type(value) in (str, bytes):
        return True
    if _isinstance(value, _ndarray):
        return value.dtype.kind in "USO"
    if _type(value) in (list, tuple):
        return any(_has_text(item) for item in value)
    return False


def _qualified(t) -> str:
    return _unfresh(t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}")


def is_instance(value, types) -> bool:
    """``isinstance`` for test cells: true when ``value`` is an instance of one of ``types``.

    Works where ``isinstance`` cannot: on a notebook object in ``nextword grade`` (a proxy:
    decided by the names of the classes the object has in the notebook) and with a class of
    the notebook (``is_instance(m, LoRA)`` for the modules of a student's model). A class of a
    :func:`fresh_import` copy (``FT.SequenceClassifier``) stands for the course's class of the
    same name, in the grader and in a student's ``check()``.
    """
    types = types if _isinstance(types, tuple) else (types,)
    names = [_qualified(t) for t in types]  # a class of the notebook answers with its own names
    if _is_proxy(value):
        info = _remote().describe(value) or {}
        mro = {_unfresh(str(n)) for n in info.get("mro", []) if _isinstance(n, str)}
        return any(n in mro for n in names)
    local = [t for t in types if not _is_proxy(t)]  # an object here is never of a notebook class
    if any(issubclass(_type(value), t) for t in local):
        return True
    # a course class and its fresh_import copy stand for each other (names compared only then)
    mro = {_qualified(c): c.__module__.startswith("_fresh") for c in _type(value).__mro__}
    return any(_qualified(t) in mro and (t.__module__.startswith("_fresh") or mro[_qualified(t)]) for t in local)


def check_type(value, types: type | tuple[type, ...], name: str = "value") -> None:
    """``value`` is an instance of ``types`` (checked on the real class, not ``__class__``;
    see :func:`is_instance` for notebook objects and ``fresh_import`` classes)."""
    types = types if _isinstance(types, tuple) else (types,)
    if not is_instance(value, types):
        wanted = " or ".join(str(t.__name__) for t in types)
        _fail(f"{name} should be a {wanted}, but it is a {_describe(value)}")


def check_shape(value, shape: Sequence[int | None], name: str = "value") -> None:
    """The array/tensor ``value`` has ``shape``; ``None`` in ``shape`` matches any size."""
    actual = tuple(as_array(value, name, dtype=None).shape) if not _isinstance(value, _ndarray) else tuple(value.shape)
    expected = tuple(shape)
    if len(actual) != len(expected) or any(e is not None and a != e for a, e in zip(actual, expected, strict=False)):
        pretty = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        _fail(f"{name} should have shape {pretty}, but it has shape {actual}")


def check_close(
    actual,
    expected,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    name: str = "value",
    reveal: bool = True,
) -> None:
    """``actual`` equals ``expected`` elementwise within ``|a - e| <= atol + rtol * |e|``.

    Shapes must match exactly (no broadcasting); NaN equals NaN only where both are NaN.
    """
    a = as_array(actual, name)
    e = as_array(expected, "expected value")
    if a.shape != e.shape:
        _fail(f"{name} should have shape {tuple(e.shape)}, but it has shape {tuple(a.shape)}")
    if a.size == 0:
        return
    ok = _np_isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(ok.all()):
        return
    bad = [tuple(int(i) for i in index) for index in _np_argwhere(~ok)]
    where = bad[0]
    got, want = a[where].item(), e[where].item()
    location = f" at index {where}" if a.ndim else ""
    message = f"{name} is wrong{location}"
    if reveal:
        message += f": got {got!r}, expected {want!r}"
    if not math.isfinite(got):
        message += " (not a finite number)"
    elif reveal:
        message += f" (|difference| = {abs(got - want):.3g}, tolerance {atol + rtol * abs(want):.3g})"
    if len(bad) > 1:
        message += f"; {len(bad)} of {a.size} entries differ"
    _fail(message)


def check_equal(actual, expected, *, name: str = "value", reveal: bool = True) -> None:
    """``actual`` equals ``expected`` exactly, after both are made plain.

    Lists and tuples are interchangeable (``[1, 2]`` equals ``(1, 2)``); arrays must match in
    shape and every entry; floats are compared exactly: use :func:`check_close` for those.
    """
    a, e = plain(actual, name), plain(expected, "expected value")
    problem = _difference(a, e, name, reveal)
    if problem is not None:
        _fail(problem + (f"; expected {e!r}" if reveal and len(repr(e)) < 300 else ""))


def _difference(a, e, path: str, reveal: bool = True) -> str | None:
    """Where two plain values differ, as a sentence, or None if they are equal."""
    if _isinstance(e, _ndarray) or _isinstance(a, _ndarray):
        try:
            a_arr, e_arr = _np_array(a), _np_array(e)
        except (TypeError, ValueError):
            return f"{path} is not an array like the expected value"
        if a_arr.shape != e_arr.shape:
            return f"{path} has shape {a_arr.shape}, expected shape {e_arr.shape}"
        same = a_arr == e_arr
        if not bool(_np_array(same).all()):
            index = tuple(int(i) for i in _np_argwhere(~same)[0])
            return f"{path} differs at index {index}" + (f": got {a_arr[index].item()!r}" if reveal else "")
        return None
    if _isinstance(e, (list, tuple)):
        if not _isinstance(a, (list, tuple)):
            return f"{path} should be a sequence, but it is a {_type(a).__name__}" + (f": {_short(a)}" if reveal else "")
        if len(a) != len(e):
            return f"{path} has {len(a)} items, expected {len(e)}"
        for i, (x, y) in enumerate(zip(a, e, strict=True)):
            problem = _difference(x, y, f"{path}[{i}]", reveal)
            if problem:
                return problem
        return None
    if _isinstance(e, dict):
        if not _isinstance(a, dict):
            return f"{path} should be a dict, but it is a {_type(a).__name__}"
        missing, extra = [k for k in e if k not in a], [k for k in a if k not in e]
        if missing or extra:
            if not reveal:
                return f"{path} keys differ: {len(missing)} missing, {len(extra)} unexpected"
            return f"{path} keys differ: missing {_short(missing)}, unexpected {_short(extra)}"
        for key in e:
            problem = _difference(a[key], e[key], f"{path}[{key!r}]" if reveal else f"{path}[...]", reveal)
            if problem:
                return problem
        return None
    numbers = (int, float)
    if _type(e) in numbers and _type(a) in numbers and _type(a) is not bool and _type(e) is not bool:
        return None if a == e else f"{path} is {_short(a)}" if reveal else f"{path} is wrong"
    if _type(a) is not _type(e):
        return f"{path} should be a {_type(e).__name__}, but it is a {_type(a).__name__}" + (f": {_short(a)}" if reveal else "")
    return None if a == e else f"{path} is {_short(a)}" if reveal else f"{path} is wrong"


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_true(condition, message: str) -> None:
    """``condition`` is a real ``True`` (a ``bool`` or NumPy bool), not merely truthy."""
    try:
        value = plain(condition, "condition")
    except GradingFailure:
        value = condition
    if _isinstance(value, _ndarray) and value.shape == () and value.dtype == bool:
        value = bool(value)
    if _type(value) is not bool:
        _fail(f"{message} (the check produced a {_describe(condition)}, not True/False)")
    if not value:
        _fail(message)


def check_callable(obj, name: str) -> None:
    """``obj`` is a function (or other callable) the student defined."""
    if _is_proxy(obj):
        if object.__getattribute__(obj, "_nb_callable") is not True:
            _fail(f"{name} should be a function, but it is a {_describe(obj)}")
        return
    if not callable(obj):
        _fail(f"{name} should be a function, but it is a {_describe(obj)}")


def check_raises(expected: type | tuple[type, ...], fn: Callable, *args, name: str | None = None, **kwargs) -> BaseException:
    """Calling ``fn(*args, **kwargs)`` raises one of ``expected``; returns the exception."""
    label = name or getattr(fn, "__name__", "the function")
    try:
        fn(*args, **kwargs)
    except expected as error:
        return error
    except Exception as error:  # a different exception is a failure with a clear message
        wanted = expected.__name__ if _isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        _fail(f"{label} should raise {wanted}, but it raised {_type(error).__name__}: {error}")
    wanted = expected.__name__ if _isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
    _fail(f"{label} should raise {wanted}, but it returned normally")


