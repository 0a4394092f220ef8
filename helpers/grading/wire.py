"""The grader's wire format: what may cross between a student's sandbox and the trusted grader.

A message is one frame: a JSON header and a list of binary buffers. Values inside it are
**plain data** only: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``,
lists, tuples (named ones keep their field names), dicts (``Counter``, ``OrderedDict`` and
``defaultdict`` of a builtin type keep their kind), sets, slices, NumPy arrays and scalars,
PyTorch tensors, dtypes, devices and generators. Arrays and tensors travel as ``.npy`` bytes,
read back with ``allow_pickle=False``; object arrays are refused. Anything else the student's
side holds travels as a *handle* (an id, its type name and a short repr), never as the object.

The trusted side may also send objects that are not data (a course model, a test's helper
class) to the student's side pickled; the trusted side itself never unpickles anything.

Frame layout: ``<II`` (JSON length, number of buffers), the JSON bytes, then for each buffer
``<Q`` (its length) and its bytes.
"""

from __future__ import annotations

import collections
import io
import json
import keyword
import os
import select
import struct
import time

import numpy as np

__all__ = ["FrameReader", "ProtocolError", "decode", "encode", "pack_frame", "read_frame_blocking", "resolve_global"]

MAX_DEPTH = 60
_HEAD = struct.Struct("<II")
_LEN = struct.Struct("<Q")


class ProtocolError(RuntimeError):
    """A frame or value that does not follow the format (or is over a size limit)."""


# -- frames ------------------------------------------------------------------------------


def pack_frame(header: dict, buffers: list[bytes]) -> bytes:
    text = json.dumps(header, separators=(",", ":"), allow_nan=True).encode("utf-8")
    parts = [_HEAD.pack(len(text), len(buffers)), text]
    for buffer in buffers:
        parts += [_LEN.pack(len(buffer)), buffer]
    return b"".join(parts)


def _parse_header(text: bytes):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # also: ints over Python's digit limit
        raise ProtocolError(f"unreadable message ({type(error).__name__})") from None


class FrameReader:
    """Reads frames from a file descriptor with a deadline, refusing frames over ``limit`` bytes."""

    def __init__(self, fd: int, limit: int):
        self.fd, self.limit = fd, limit
        self._buffer = bytearray()

    def _fill(self, size: int, deadline: float) -> None:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply before the deadline")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                raise TimeoutError("no reply before the deadline")
            chunk = os.read(self.fd, max(1 << 16, min(size - len(self._buffer), 1 << 22)))
            if not chunk:
                raise EOFError("the other side closed the connection")
            self._buffer += chunk

    def _take(self, size: int, deadline: float) -> bytes:
        self._fill(size, deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read(self, deadline: float) -> tuple[dict, list[bytes]]:
        length, count = _HEAD.unpack(self._take(_HEAD.size, deadline))
        total = length
        if length > self.limit or count > 100_000:
            raise ProtocolError(f"message too large ({length:,} bytes of header, {count} buffers)")
        header = _parse_header(self._take(length, deadline))
        buffers = []
        for _ in range(count):
            (size,) = _LEN.unpack(self._take(_LEN.size, deadline))
            total += size
            if total > self.limit:
                raise ProtocolError(f"message over the {self.limit:,}-byte limit")
            buffers.append(self._take(size, deadline))
        if not isinstance(header, dict):
            raise ProtocolError("a message must be a JSON object")
        return header, buffers


def read_frame_blocking(stream) -> tuple[dict, list[bytes]] | None:
    """The next frame from a binary stream (the student's side, which trusts its sender)."""
    head = stream.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    length, count = _HEAD.unpack(head)
    header = json.loads(stream.read(length))
    buffers = []
    for _ in range(count):
        (size,) = _LEN.unpack(stream.read(_LEN.size))
        buffers.append(stream.read(size))
    return header, buffers


# -- values --------------------------------------------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(array, order="C"), allow_pickle=False)  # (ascontiguousarray makes 0-d arrays 1-d)
    return out.getvalue()


def _from_npy(data: bytes) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # noqa: BLE001 - any malformed buffer is a protocol error
        raise ProtocolError(f"unreadable array ({type(error).__name__}: {str(error)[:100]})") from None
    if not isinstance(array, np.ndarray) or array.dtype.hasobject:
        raise ProtocolError("arrays of Python objects cannot be sent")
    return array


_TORCH_NPY = {"bfloat16": "float32"}  # dtypes NumPy cannot hold travel widened
_ATOMS = frozenset({str, int, float, bool, type(None)})


def encode(value, buffers: list[bytes], other=None, depth: int = 0):
    """``value`` as JSON-able data, its arrays appended to ``buffers``.

    ``other(value, buffers)`` encodes what is not plain data (a handle or, from the trusted
    side only, a pickle); without it such a value is a :class:`TypeError`.
    """
    if depth > MAX_DEPTH:
        raise ValueError(f"a value nested more than {MAX_DEPTH} levels deep cannot be sent")
    t = type(value)
    if t in _ATOMS:  # JSON carries these as they are (Python's json also NaN and infinities)
        return value
    torch = _torch()
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, np.generic):
        if isinstance(value, np.object_):
            raise TypeError("a NumPy object scalar cannot be sent")
        buffers.append(_npy(np.asarray(value)))
        return {"$": "npscalar", "b": len(buffers) - 1}
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return encode(float.__float__(value), buffers)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return {"$": "complex", "v": [encode(value.real, buffers), encode(value.imag, buffers)]}
    if isinstance(value, (bytes, bytearray, memoryview)):
        buffers.append(bytes(value))
        return {"$": "bytes", "b": len(buffers) - 1}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("a NumPy array of Python objects cannot be sent; use numbers")
        buffers.append(_npy(np.ndarray.view(value, np.ndarray)))
        return {"$": "nd", "b": len(buffers) - 1}
    if torch is not None:
        if isinstance(value, torch.Tensor):
            return _encode_tensor(value, buffers, torch)
        if isinstance(value, torch.dtype):
            return {"$": "dtype", "v": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"$": "device", "v": str(value)}
        if isinstance(value, torch.Generator):
            buffers.append(_npy(value.get_state().numpy()))
            return {"$": "generator", "b": len(buffers) - 1, "device": str(value.device)}
    if isinstance(value, slice):
        return {"$": "slice", "v": [encode(x, buffers, other, depth + 1) for x in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"$": "ellipsis"}
    if isinstance(value, range):
        return {"$": "range", "v": [value.start, value.stop, value.step]}
    if isinstance(value, list):
        return [x if type(x) in _ATOMS else encode(x, buffers, other, depth + 1) for x in list.__iter__(value)]
    if isinstance(value, tuple):
        items = [x if type(x) in _ATOMS else encode(x, buffers, other, depth + 1) for x in tuple.__iter__(value)]
        fields = getattr(t, "_fields", None)
        if isinstance(fields, tuple) and len(fields) == len(items) and all(type(f) is str for f in fields):
            return {"$": "ntuple", "name": t.__name__, "fields": list(fields), "v": items}
        return {"$": "tuple", "v": items}
    if isinstance(value, dict):
        atoms, d = _ATOMS, depth + 1
        pairs = [[k if type(k) in atoms else encode(k, buffers, other, d), v if type(v) in atoms else encode(v, buffers, other, d)]
                 for k, v in dict.items(value)]
        kind = "dict"
        if isinstance(value, collections.Counter):
            kind = "Counter"
        elif isinstance(value, collections.defaultdict):
            factory = value.default_factory
            kind = f"defaultdict:{factory.__name__}" if factory in (int, float, list, set, dict, str) else "dict"
        elif isinstance(value, collections.OrderedDict):
            kind = "OrderedDict"
        return {"$": kind, "v": pairs}
    if isinstance(value, (set, frozenset)):
        iterate = set.__iter__ if isinstance(value, set) else frozenset.__iter__
        items = [x if type(x) in _ATOMS else encode(x, buffers, other, depth + 1) for x in iterate(value)]
        return {"$": "set" if isinstance(value, set) else "frozenset", "v": items}
    if other is None:
        raise TypeError(f"a {t.__module__}.{t.__qualname__} is not plain data")
    return other(value, buffers)


def _encode_tensor(tensor, buffers, torch) -> dict:
    base = torch.Tensor
    with torch._C.DisableTorchFunction():  # read through the base class: subclass hooks are off
        if tensor.is_sparse or tensor.layout != torch.strided:
            raise TypeError("sparse tensors cannot be sent; call .to_dense()")
        data = base.detach(tensor)
        if data.device.type != "cpu":
            data = base.cpu(data)
        dtype = str(data.dtype).removeprefix("torch.")
        if dtype in _TORCH_NPY:
            data = base.float(data)
        if data.is_conj():
            data = data.resolve_conj()
        array = base.numpy(data)
        grad = bool(base.requires_grad.__get__(tensor))
    buffers.append(_npy(array))
    return {"$": "tensor", "b": len(buffers) - 1, "dtype": dtype, "grad": grad}


_torch_module = None


def _torch():
    """PyTorch if it is already imported (the wire never imports it by itself)."""
    global _torch_module
    if _torch_module is None:
        import sys

        _torch_module = sys.modules.get("torch")
    return _torch_module


def _identifier(name) -> bool:
    return type(name) is str and name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


_NTUPLES: dict = {}


def _ntuple(name, fields):
    """A named-tuple class made here for the field names (a plain tuple where they cannot be)."""
    if not isinstance(fields, list) or not all(_identifier(f) for f in fields) or len(set(fields)) != len(fields):
        return lambda *items: tuple(items)
    key = (name, tuple(fields))
    if key not in _NTUPLES:
        _NTUPLES[key] = collections.namedtuple(name if _identifier(name) else "NamedTuple", fields)
    return _NTUPLES[key]


def decode(obj, buffers: list[bytes], other=None, depth: int = 0):
    """The value ``encode`` wrote; ``other(tag_dict)`` decodes handles and pickles."""
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if type(obj) in _ATOMS:
        return obj
    if type(obj) is list:
        return [x if type(x) in _ATOMS else decode(x, buffers, other, depth + 1) for x in obj]
    if type(obj) is not dict or type(obj.get("$")) is not str:
        raise ProtocolError("malformed value")
    tag, v = obj["$"], obj.get("v")

    def items():
        if type(v) is not list:
            raise ProtocolError(f"malformed {tag}")
        atoms = _ATOMS
        return [x if type(x) in atoms else decode(x, buffers, other, depth + 1) for x in v]

    def buffer():
        index = obj.get("b")
        if type(index) is not int or not 0 <= index < len(buffers):
            raise ProtocolError("a value refers to a missing buffer")
        return buffers[index]

    try:
        if tag == "tuple":
            return tuple(items())
        if tag == "ntuple":
            return _ntuple(obj.get("name"), obj.get("fields") or [])(*items())
        if tag in ("dict", "Counter", "OrderedDict") or tag.startswith("defaultdict:"):
            if type(v) is not list or not all(type(p) is list and len(p) == 2 for p in v):
                raise ProtocolError("malformed dict")
            atoms, d = _ATOMS, depth + 1
            pairs = [(k if type(k) in atoms else decode(k, buffers, other, d), x if type(x) in atoms else decode(x, buffers, other, d))
                     for k, x in v]
            if tag == "Counter":
                return collections.Counter(dict(pairs))
            if tag == "OrderedDict":
                return collections.OrderedDict(pairs)
            if tag.startswith("defaultdict:"):
                factory = {"int": int, "float": float, "list": list, "set": set, "dict": dict, "str": str}.get(tag[12:])
                if factory is None:
                    raise ProtocolError("malformed defaultdict")
                return collections.defaultdict(factory, pairs)
            return dict(pairs)
        if tag == "set":
            return set(items())
        if tag == "frozenset":
            return frozenset(items())
        if tag == "complex":
            re_, im = items()
            return complex(re_, im)
        if tag == "bytes":
            return buffer()
        if tag == "nd":
            return _from_npy(buffer())
        if tag == "npscalar":
            return _from_npy(buffer())[()]
        if tag == "slice":
            return slice(*items())
        if tag == "ellipsis":
            return Ellipsis
        if tag == "range":
            if type(v) is not list or len(v) != 3 or not all(type(x) is int for x in v):
                raise ProtocolError("malformed range")
            return range(*v)
        if tag in ("tensor", "dtype", "device", "generator"):
            return _decode_torch(tag, obj, v, buffer)
    except ProtocolError:
        raise
    except (TypeError, ValueError, OverflowError) as error:
        raise ProtocolError(f"malformed {tag} ({error})") from None
    if other is None:
        raise ProtocolError(f"unexpected {tag!r} value")
    return other(obj)


def _decode_torch(tag, obj, v, buffer):
    import torch

    if tag == "dtype":
        dtype = getattr(torch, str(v), None)
        if not isinstance(dtype, torch.dtype):
            raise ProtocolError("unknown dtype")
        return dtype
    if tag == "device":
        return torch.device(str(v))
    if tag == "generator":
        state = _from_npy(buffer())
        device = str(obj.get("device", "cpu"))
        generator = torch.Generator(device=device if device == "cpu" else "cpu")
        generator.set_state(torch.from_numpy(np.asarray(state, dtype=np.uint8).copy()))
        return generator
    array = _from_npy(buffer())
    dtype = getattr(torch, str(obj.get("dtype")), None)
    tensor = torch.from_numpy(array.copy()) if array.ndim else torch.tensor(array[()])
    if isinstance(dtype, torch.dtype) and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    if obj.get("grad") is True and (tensor.is_floating_point() or tensor.is_complex()):
        tensor.requires_grad_(True)
    return tensor


def resolve_global(module: str, qualname: str):
    """``module.qualname`` (how the student's side finds a class of a ``fresh_import`` copy)."""
    import importlib

    value = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value
