"""The repository reads like the syllabus: one topic name per week, used everywhere, and the
package's modules import each other in layers, never in a circle."""

from __future__ import annotations

import ast
import re

from helpers.course.notebooks import ROOT, find_notebooks

TOPIC = re.compile(r"week(\d\d)_([a-z0-9]+)\.ipynb")
SHARED = {"data", "course", "grading"}  # the packages beside the weeks' topics


def _topics() -> dict[str, str]:
    """{"week01": "ngrams", ...} for every lecture after week 0 (week 0 is the setup)."""
    found = {}
    for path in find_notebooks(kind="notebooks"):
        match = TOPIC.fullmatch(path.name)
        assert match, f"{path.name}: lecture notebooks are named weekNN_<topic>.ipynb"
        if match.group(1) != "00":
            found[f"week{match.group(1)}"] = match.group(2)
    return found


def test_every_week_uses_one_topic_name_everywhere():
    topics = _topics()
    assert topics, "no lecture notebooks found"
    for week, topic in topics.items():
        assert (ROOT / "helpers" / topic / "__init__.py").is_file(), f"{week}_{topic}: kernels belong in helpers/{topic}/"
        assert (ROOT / "tests" / topic).is_dir(), f"{week}_{topic}: reference checks belong in tests/{topic}/"
        assert (ROOT / "solutions" / week).is_dir(), f"{week}_{topic}: its assignment belongs in solutions/{week}/"
    assert len(set(topics.values())) == len(topics), "two weeks share a topic name"


def test_the_package_has_no_loose_modules():
    """Every module lives in a week's topic package or in data/, course/ or grading/."""
    topics = set(_topics().values())
    loose = sorted(p.name for p in (ROOT / "helpers").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not loose, f"helpers/{loose[0]}: put it in a topic package or in helpers/data, course or grading"
    packages = {p.name for p in (ROOT / "helpers").iterdir() if (p / "__init__.py").is_file()}
    assert packages <= topics | SHARED, f"packages without a week: {sorted(packages - topics - SHARED)}"


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the helpers modules it imports when it is imported (module level only:
    imports inside functions run later and cannot make an import circle)."""
    modules = {_module_name(p): p for p in (ROOT / "helpers").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("helpers"))
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycle(graph) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle():
    graph = _import_graph()
    # a submodule importing its own package's __init__ would be a circle through the package
    for name, deps in graph.items():
        parent = name.rsplit(".", 1)[0]
        assert parent == "helpers" or parent not in deps or name == parent, f"{name} imports its own package {parent}: import the submodule instead"
    cycle = _cycle({k: {d for d in v if not k.startswith(d + ".")} for k, v in graph.items()})
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
