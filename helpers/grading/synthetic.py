"""Generate a class of submissions for any assignment: correct, partial, broken, adversarial.

For trying the grader before a real class hands in (and for its benchmark). Everything is
derived from the assignment itself: the instructor's answers come from the source notebook,
blanks from the released one, and the adversarial answers define the same functions as the
solution but return objects that claim to equal anything.

    python -m helpers.grading.synthetic week00 100 build/demo-class
"""

from __future__ import annotations

import argparse
import ast
import copy
import random
import re
from pathlib import Path

import nbformat

from helpers.course.notebooks import ROOT, normalise_week
from helpers.grading.notebook import grade_id, is_solution_cell, load_notebook

__all__ = ["KINDS", "answers", "fill", "make_class"]

KINDS = ("correct", "partial", "blank", "broken", "loop", "always_equal", "patched", "no_metadata", "reference")
DEFAULT_MIX = {"correct": 30, "partial": 25, "blank": 10, "broken": 10, "loop": 3, "always_equal": 7, "patched": 5, "no_metadata": 10}
# ("reference" submissions are not in the default mix, so that benchmark classes stay comparable)

_ANYTHING = '''
class _Anything:
    """Claims to equal, be close to and be shaped like anything."""
    shape = property(lambda self: self)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    def __sub__(self, other): return self
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__
    def __abs__(self): return self
    def __float__(self): return 0.0
    def __len__(self): return 1
    def __getitem__(self, key): return self
    def __iter__(self): return iter([self])
    def __getattr__(self, name): return lambda *args, **kwargs: self
'''

_PATCHES = """import builtins, numpy, helpers.grading, helpers.grading.checks
builtins.abs = lambda x: 0
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(a), dtype=bool)
helpers.grading.checks._fail = lambda message: None
def check_close(*args, **kwargs):
    pass
"""


def answers(source_nb) -> dict[str, str]:
    """The instructor's answer for every answer cell, without nbgrader's markers."""
    marker = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)
    return {grade_id(c): marker.sub("", c.source) for c in source_nb.cells if is_solution_cell(c) and c.cell_type == "code"}


def fill(release_nb, filled: dict[str, str]):
    """A copy of the released notebook with some answer cells replaced."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if grade_id(cell) in filled:
            cell.source = filled[grade_id(cell)]
    return nb


def _adversarial(code: str) -> str:
    """Same function names as ``code``, each returning an object equal to anything."""
    try:
        names = [node.name for node in ast.parse(code).body if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    except SyntaxError:
        names = []
    return _ANYTHING + "".join(f"\ndef {name}(*args, **kwargs):\n    return _Anything()\n" for name in names)


def _reference_wrappers(source_nb) -> dict[str, str]:
    """Answer cells that wrap the course's own version of what they ask for, where the
    assignment names it in ``hidden_references`` (two lines each: an import and a call)."""
    import importlib

    hidden = source_nb.metadata.get("nextword", {}).get("hidden_references", [])
    offered: dict[str, str] = {}  # name -> module
    for entry in hidden:
        try:
            module = importlib.import_module(entry)
            names = [n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", "") == entry]
            offered.update(dict.fromkeys(names, entry))
        except ImportError:  # a function or class of a module (methods are not offered)
            module_name, _, name = entry.rpartition(".")
            try:
                if callable(getattr(importlib.import_module(module_name), name, None)):
                    offered[name] = module_name
            except ImportError:
                continue
    wrapped = {}
    for grade, code in answers(source_nb).items():
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        pieces = []
        for node in tree.body:
            module = offered.get(getattr(node, "name", None))
            if isinstance(node, ast.FunctionDef) and module:
                pieces.append(f"def {node.name}(*args, **kwargs):\n    from {module} import {node.name} as reference\n"
                              f"    return reference(*args, **kwargs)\n")  # fmt: skip
            elif isinstance(node, ast.ClassDef) and module:
                pieces.append(f"import {module}\nclass {node.name}({module}.{node.name}):\n    pass\n")
        if pieces:
            wrapped[grade] = "\n".join(pieces)
    return wrapped


def make_submission(kind: str, source_nb, release_nb, rng: random.Random):
    """One submission of the given kind (see ``KINDS``)."""
    solved = answers(source_nb)
    ids = sorted(solved)
    if kind == "correct":
        return fill(release_nb, solved)
    if kind == "blank":
        return copy.deepcopy(release_nb)
    if kind == "partial":
        kept = rng.sample(ids, k=max(1, len(ids) // 2))
        return fill(release_nb, {k: solved[k] for k in kept})
    if kind == "broken":  # a typo that makes one answer cell a syntax error
        victim = rng.choice(ids)
        return fill(release_nb, {**solved, victim: solved[victim].replace("return", "retrun", 1).replace("):", ")", 1)})
    if kind == "loop":
        victim = rng.choice(ids)
        return fill(release_nb, {**solved, victim: "while True:\n    pass\n"})
    if kind == "always_equal":
        return fill(release_nb, {k: _adversarial(v) for k, v in solved.items()})
    if kind == "patched":
        nb = fill(release_nb, {k: _adversarial(v) for k, v in solved.items()})
        nb.cells.insert(1, nbformat.v4.new_code_cell(_PATCHES))
        return nb
    if kind == "reference":  # wrappers around the course's hidden kernels; the rest left blank
        return fill(release_nb, _reference_wrappers(source_nb))
    if kind == "no_metadata":
        nb = fill(release_nb, solved)
        for cell in nb.cells:
            cell.metadata = {}
            cell.id = nbformat.corpus.words.generate_corpus_id()
        return nb
    raise ValueError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")


def make_class(
    week: str, n: int, out: str | Path, seed: int = 0, mix: dict[str, int] | None = None, root: Path = ROOT
) -> dict[str, str]:
    """Write ``n`` submissions ``<kind>-<i>.ipynb`` into ``out``; returns student id -> kind."""
    week = normalise_week(week)
    source = next((root / "solutions" / week).glob("*.ipynb"))
    source_nb, release_nb = load_notebook(source), load_notebook(root / "assignments" / week / source.name)
    mix = mix or DEFAULT_MIX
    if n < 1 or any(k not in KINDS or v < 0 for k, v in mix.items()):
        raise ValueError(f"n={n} must be positive and mix={mix} must use the kinds {', '.join(KINDS)}")
    rng = random.Random(seed)
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=n)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    roster = {}
    for i, kind in enumerate(kinds):
        student = f"{kind}-{i:03d}"
        nbformat.write(make_submission(kind, source_nb, release_nb, rng), out / f"{student}.ipynb")
        roster[student] = kind
    return roster


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="write a synthetic class of submissions")
    parser.add_argument("week")
    parser.add_argument("n", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    roster = make_class(args.week, args.n, args.out, seed=args.seed)
    print(f"wrote {len(roster)} submissions to {args.out}")


if __name__ == "__main__":
    main()
