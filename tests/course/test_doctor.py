"""The two ways to install (pip, conda) list the same packages, and CI runs the README's command."""

from __future__ import annotations

import re

import tomllib

from helpers.course.notebooks import ROOT

CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _requirement(spec: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*(>=\s*[\w.]+)?\s*", spec)
    assert match, f"cannot read requirement {spec!r}"
    name = re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")
    return name, (match.group(2) or "").replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for items in project["optional-dependencies"].values():
        specs += [s for s in items if not s.startswith("nextword")]
    return dict(_requirement(s) for s in specs)


def _environment() -> dict[str, str]:
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            specs += [s for s in item["pip"] if not s.startswith("-e")]
        elif not item.startswith(("python", "pip")) or item.startswith("pip-"):
            specs.append(item)
    pairs = dict(_requirement(s.split("#")[0]) for s in specs)
    return {CONDA_NAMES.get(name, name): bound for name, bound in pairs.items()}


def test_pyproject_and_environment_yml_agree():
    pip, conda = _pyproject(), _environment()
    assert set(pip) == set(conda), f"only in pyproject: {set(pip) - set(conda)}; only in environment.yml: {set(conda) - set(pip)}"
    assert pip == conda, {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}


def test_torch_is_not_pinned():
    assert _pyproject()["torch"].startswith(">="), "Colab brings its own torch: a lower bound only"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.M)
    assert command, ".ci/run must define TEST_COMMAND='...'"
    assert command.group(1) in readme, "the README's test command and .ci/run differ"
