"""Hide the course's reference implementations from a submission's sandbox.

An assignment asks students to re-implement kernels the course package already has (week 1's
``edits1``, week 4's ``additive_attention``). Its source notebook lists them in its metadata::

    "metadata": {"nextword": {"hidden_references": ["helpers.ngrams.edits", "helpers.seq2seq.attention.masked_softmax",
                                                     "helpers.transformer.gpt.GPT.generate"]}}

Each entry is a module (every function and class in it), a function or class of a module, or
a method of a class. The sandbox does not see the real package: it gets a copy in which each
listed definition is replaced by a stub with the same signature that raises ``RuntimeError``,
so importing the reference, wrapping it or reaching it through another object is not an
answer. Everything else in the package works as before; given code that *calls* a hidden
definition fails, which the round-trip tests (solution = full marks) catch. The trusted test
cells import the real package (``fresh_import``) as before.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import py_compile
import shutil
from pathlib import Path

__all__ = ["course_copy", "resolve_hidden"]

_STUB = "{name} is the course's reference for this assignment and is not available while grading: write your own"


def _package_dir() -> Path:
    import helpers

    return Path(helpers.__file__).resolve().parent


def resolve_hidden(names: list[str]) -> dict[Path, list[list[str]]]:
    """Source file -> the definitions to stub in it (``[]`` = all), for the dotted ``names``."""
    package = _package_dir()
    plan: dict[Path, list[list[str]]] = {}
    for full in names:
        if not isinstance(full, str) or not full.startswith("helpers."):
            raise ValueError(f"hidden reference {full!r} must name something in the course package (helpers....)")
        parts = full.split(".")
        for cut in range(len(parts), 1, -1):  # the longest prefix that is a module
            module = ".".join(parts[:cut])
            try:
                spec = importlib.util.find_spec(module)
            except ModuleNotFoundError:
                spec = None
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                break
        else:
            raise ValueError(f"hidden reference {full!r}: no module of the course package found in it")
        path = Path(spec.origin).resolve()
        if package not in path.parents:
            raise ValueError(f"hidden reference {full!r} is not in the course package at {package}")
        inner = parts[cut:]
        if len(inner) > 2:
            raise ValueError(f"hidden reference {full!r}: name a module, a function or class, or a method")
        entries = plan.setdefault(path, [])
        if not inner:
            entries.clear()
            entries.append([])
        elif [] not in entries:
            entries.append(inner)
    return plan


def _stub_body(name: str, node) -> list:
    message = ast.Constant(_STUB.format(name=name))
    return [ast.Raise(exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()), args=[message], keywords=[]), cause=None)]


def _stub_function(node, name: str):
    node.body = _stub_body(name, node)
    node.returns = None
    for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]:
        if arg is not None:
            arg.annotation = None
    return node


def _stub_class(node, name: str):
    init = ast.parse("def __init__(self, *args, **kwargs):\n    pass").body[0]
    init.body = _stub_body(name, node)
    fields = {"type_params": []} if "type_params" in ast.ClassDef._fields else {}  # Python >= 3.12
    return ast.ClassDef(name=node.name, bases=[], keywords=[], body=[init], decorator_list=[], **fields)


def stub_source(source: str, module: str, targets: list[list[str]], filename: str = "<module>") -> str:
    """``source`` with the ``targets`` (``[]`` = every definition) replaced by stubs."""
    tree = ast.parse(source, filename)
    everything = [] in targets
    found: set[tuple[str, ...]] = set()
    for i, node in enumerate(tree.body):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        full = f"{module}.{node.name}"
        if everything or [node.name] in targets:
            found.add((node.name,))
            tree.body[i] = _stub_class(node, full) if isinstance(node, ast.ClassDef) else _stub_function(node, full)
            continue
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and [node.name, item.name] in targets:
                    found.add((node.name, item.name))
                    _stub_function(item, f"{full}.{item.name}")
    missing = [".".join([module, *t]) for t in targets if t and tuple(t) not in found]
    if missing:
        raise ValueError(f"hidden reference {missing[0]} is not defined in {filename}")
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def course_copy(hidden: list[str], parent: Path) -> Path:
    """A folder holding a copy of the ``helpers`` package with ``hidden`` stubbed (compiled)."""
    package = _package_dir()
    plan = resolve_hidden(hidden)
    digest = hashlib.sha256(repr(sorted((str(k), v) for k, v in plan.items())).encode()).hexdigest()[:12]
    root = Path(parent) / f"course-{digest}"
    if (root / "helpers" / "__init__.py").exists():
        return root
    staging = Path(parent) / f".staging-{digest}"
    shutil.rmtree(staging, ignore_errors=True)
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if "__pycache__" in rel.parts or path.is_dir() or path.suffix in (".pyc", ".pyo"):
            continue
        target = staging / "helpers" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() in plan:
            module = "helpers." + ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            target.write_text(stub_source(path.read_text(encoding="utf-8"), module, plan[path.resolve()], str(path)), encoding="utf-8")
        else:
            shutil.copyfile(path, target)
        if target.suffix == ".py":
            py_compile.compile(str(target), doraise=False, quiet=2)
    staging.rename(root)
    return root
