"""The instructor commands as an instructor meets them: from a wheel installed into a virtual
environment, outside any checkout (a clear message), with ``--course`` pointing at a course
(it works), from an unactivated virtual environment (nbgrader's helper commands are found next
to the interpreter), and with nbgrader's real error when it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from helpers.course.cli import main
from helpers.course.course_dir import CourseNotFound, find_course, is_course, tool_environment
from helpers.course.notebooks import ROOT

BIN = Path(sys.executable).parent  # the shared virtual environment's scripts (alembic, jupyter)
BARE_PATH = os.pathsep.join(p for p in ("/usr/bin", "/bin") if os.path.isdir(p))


def course_copy(tmp_path: Path, weeks=("week00",)) -> Path:
    """A minimal course: the nbgrader config, the sources and releases of ``weeks``."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for week in weeks:
        shutil.copytree(ROOT / "solutions" / week, course / "solutions" / week)
        shutil.copytree(ROOT / "assignments" / week, course / "assignments" / week)
    return course


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """The course package built as a wheel and installed into a fresh virtual environment whose
    other packages (torch, nbgrader ...) come from the shared one: the wheel's ``helpers`` and
    ``nextword`` script are the only course code it sees."""
    setuptools = pytest.importorskip("setuptools")  # the build backend, offline (--no-build-isolation)
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} cannot build the SPDX licence metadata (needs >= 77)")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src)
    shutil.copytree(ROOT / "helpers", src / "helpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                            "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, env=_env())  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("nextword-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    # the shared environment's packages, after the venv's own (a plain path: its .pth files,
    # among them the editable install of the course, are not run)
    (site / "shared.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                          capture_output=True, text=True, env=_env())  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    where = subprocess.run([str(venv / "bin" / "nextword"), "--version"], capture_output=True, text=True, env=_env(), cwd=tmp)
    assert where.returncode == 0 and where.stdout.startswith("nextword "), where.stderr
    return venv


def test_wheel_install_outside_a_checkout_says_what_is_missing(wheel_venv, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    nextword = str(wheel_venv / "bin" / "nextword")
    located = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", "import helpers; print(helpers.__file__)"],
                             capture_output=True, text=True, cwd=empty, env=_env())  # fmt: skip
    assert str(wheel_venv) in located.stdout, located  # the wheel's package, not the checkout
    for command in (["run", "week00"], ["release"], ["release", "week00"], ["grade", "week00", "subs", "--out", "out"]):
        done = subprocess.run([nextword, *command], capture_output=True, text=True, cwd=empty, env=_env())
        assert done.returncode != 0, (command, done.stdout)
        assert "Traceback" not in done.stderr, done.stderr
        message = done.stderr
        assert f"nextword {command[0]}" in message and "nbgrader_config.py" in message and "--course DIR" in message, message
        assert "git clone" in message, message
    done = subprocess.run([nextword, "release", "--course", str(empty)], capture_output=True, text=True, cwd=empty, env=_env())
    assert done.returncode == 2 and "is not a course folder" in done.stderr and "solutions/" in done.stderr


@pytest.mark.slow
def test_wheel_install_works_on_a_course_given_with_dash_dash_course(wheel_venv, tmp_path):
    course = course_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(course / "assignments" / "week00")
    # nbgrader (from the shared environment) is this environment's: its scripts are on PATH
    env = _env(PATH=os.pathsep.join([str(BIN), BARE_PATH]))
    done = subprocess.run([str(wheel_venv / "bin" / "nextword"), "release", "--course", str(course)],
                          capture_output=True, text=True, cwd=elsewhere, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "released week00 -> assignments/week00" in done.stdout
    released = course / "assignments" / "week00" / "week00.ipynb"
    assert nbformat.read(released, as_version=4).cells == nbformat.read(ROOT / "assignments" / "week00" / "week00.ipynb", as_version=4).cells
    assert (course / "helpers" / "grading" / "visible" / "week00.json").is_file()  # the course's, not the installed package's
    # from inside the course folder (any depth) no --course is needed: grade gets past finding
    # the course and the assignment, to the submissions that are not there
    done = subprocess.run([str(wheel_venv / "bin" / "nextword"), "grade", "week00", "missing", "--no-sandbox", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=course / "solutions" / "week00", env=env)  # fmt: skip
    assert done.returncode == 2 and "nbgrader_config.py" not in done.stderr and "missing" in done.stderr, done.stderr[-3000:]


@pytest.mark.slow
def test_an_unactivated_venv_finds_nbgraders_commands(tmp_path):
    """``/path/venv/bin/nextword release`` with a PATH that lacks the venv: nbgrader's
    ``alembic`` is found next to the interpreter."""
    assert shutil.which("alembic", path=BARE_PATH) is None or not Path(shutil.which("alembic", path=BARE_PATH)).is_relative_to(BIN)
    course = course_copy(tmp_path)
    before = (course / "assignments" / "week00" / "week00.ipynb").read_text()
    done = subprocess.run([str(BIN / "nextword"), "release", "week00"], capture_output=True, text=True, cwd=course,
                          env=_env(PATH=BARE_PATH, PYTHONPATH=str(ROOT)))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "released week00" in done.stdout
    assert nbformat.reads(before, as_version=4).cells == nbformat.read(course / "assignments" / "week00" / "week00.ipynb", as_version=4).cells


@pytest.mark.slow
def test_nbgraders_own_error_is_shown(tmp_path, capsys):
    course = course_copy(tmp_path)
    nb = nbformat.read(course / "solutions" / "week00" / "week00.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = cell.source.replace("### END SOLUTION", "")  # an unterminated solution region
    nbformat.write(nb, course / "solutions" / "week00" / "week00.ipynb")
    assert main(["release", "week00", "--course", str(course)]) == 1
    err = capsys.readouterr().err
    assert "nbgrader generate_assignment week00 failed" in err
    assert "no end solution statement found" in err, err  # nbgrader's own words, not an empty RuntimeError


def test_release_without_a_week_releases_every_week(tmp_path, capsys, monkeypatch):
    import helpers.grading.release as release_module

    course = course_copy(tmp_path, weeks=("week00", "week01"))
    (course / "solutions" / "week02").mkdir()  # no notebook: not an assignment
    calls = []

    def fake_release(week, root=None):
        calls.append((week, root))
        return root / "assignments" / week

    monkeypatch.setattr(release_module, "release", fake_release)
    assert main(["release", "--course", str(course)]) == 0
    assert calls == [("week00", course), ("week01", course)]
    out = capsys.readouterr().out
    assert "released week00" in out and "released week01" in out and "2 assignment(s) released" in out
    empty = tmp_path / "bare"
    (empty / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", empty)
    assert main(["release", "--course", str(empty)]) == 2
    assert "no assignment sources" in capsys.readouterr().err


def test_find_course_walks_up_and_falls_back_to_the_checkout(tmp_path):
    course = course_copy(tmp_path)
    assert is_course(course) and find_course(start=course / "solutions" / "week00") == course
    assert find_course(course=course) == course
    assert find_course(start=tmp_path / "nowhere") == ROOT  # this package runs from a checkout
    with pytest.raises(CourseNotFound, match="no such folder"):
        find_course(course=tmp_path / "nowhere")
    env = tool_environment({"PATH": "/usr/bin"})
    assert env["PATH"].split(os.pathsep) == [str(BIN), "/usr/bin"]
