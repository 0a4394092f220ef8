"""Where a value comes from: the course package, a fresh copy of it, or the student's process.

:func:`check_own_work` (a cheap first check that an answer was written in the notebook),
:func:`fresh_import` (reference code that a student's patches in the test's process cannot
reach), and, for test cells run by ``nextword grade`` in the grader's process,
:func:`run_in_notebook` and :func:`seed_notebook`, which act in the notebook's own process.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable

import numpy as np

from helpers.grading.checks import _fail, _is_proxy, _isinstance, _remote

__all__ = ["check_own_work", "fresh_import", "run_in_notebook", "seed_notebook"]


def check_own_work(obj, name: str) -> None:
    """``obj`` (a function or class) was written in the notebook, not imported from the course
    package, which holds the reference version of every kernel."""
    if _is_proxy(obj):  # what the notebook's process says; the sandbox hides the references anyway
        info = _remote().describe(obj) or {}
        module, filename = str(info.get("module", "")), str(info.get("file", ""))
    else:
        module = getattr(obj, "__module__", None) or ""
        target = obj if _isinstance(obj, type) else getattr(obj, "__func__", obj)
        code = getattr(target, "__code__", None)
        filename = code.co_filename if code is not None else ""
    if module == "helpers" or module.startswith("helpers.") or module.startswith("_fresh"):
        _fail(f"{name} comes from the course package ({module}); write your own version in the notebook")
    if "/helpers/" in filename.replace("\\", "/"):
        _fail(f"{name} comes from the course package; write your own version in the notebook")


def run_in_notebook(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` run in the notebook's own process; its result as plain data.

    For checks that need the student's objects where they live: gradients through their
    model, a training loop over their parameters. ``fn`` travels to the notebook's process
    (a function of the course package by name, one defined in a test cell with its code: keep
    such helpers in the visible part of a test), so it must import what it uses inside its
    body. Its result can be computed by the student however they like; compare it with a
    reference computed in the test. Outside ``nextword grade`` (students' self-check) it
    simply calls ``fn``.
    """
    session = _remote().current_session()
    if session is None:
        return fn(*args, **kwargs)
    return session.call(fn, args, kwargs)


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def seed_notebook(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators in the notebook's process, so that models
    a test builds there (``ChatBot(...)``) start from the same weights for every student."""
    run_in_notebook(_seed_everything, int(seed))


def fresh_import(module_name: str):
    """A new copy of ``module_name`` loaded from its file, not the one in ``sys.modules``.

    Tests use it for reference code, so that a student who patched the imported module (say
    ``helpers.ngram.NGramLM.prob = ...``) cannot change the reference answers. Modules it
    imports in turn come from ``sys.modules``; the grader restores those before every test.
    """
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or spec.loader is None:
        raise ImportError(f"cannot find module {module_name!r} to import afresh")
    global _fresh_count
    _fresh_count += 1
    fresh_name = f"_fresh{_fresh_count}_{module_name}"
    fresh = importlib.util.spec_from_file_location(fresh_name, spec.origin)
    module = importlib.util.module_from_spec(fresh)
    module.__package__ = spec.parent  # relative imports resolve against the real package
    sys.modules[fresh_name] = module  # dataclasses and pickling look their module up here
    fresh.loader.exec_module(module)
    return module


_fresh_count = 0
