"""Where is the course? The folder the instructor commands (``nextword run``, ``release``,
``grade``) work on, found the same way from a checkout, an editable install or a wheel.

A course folder is recognised by its marker: ``nbgrader_config.py`` beside ``solutions/`` (the
assignment sources), as in a clone of the course repository. :func:`find_course` takes, in
order, an explicit ``--course DIR``, the current directory or one of its parents, and the
checkout the package itself was imported from (a developer's editable install). A wheel
installed into a virtual environment has no course beside it, so from outside a checkout the
commands stop with a message that says what is missing and what to do.

:func:`tool_environment` is the environment for nbgrader's helper commands (``alembic``,
``jupyter``): the running interpreter's scripts folder first on ``PATH``, so that an
unactivated virtual environment (``/path/venv/bin/nextword``) finds its own tools.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["MARKER", "CourseNotFound", "find_course", "is_course", "tool_environment"]

MARKER = ("nbgrader_config.py", "solutions")


class CourseNotFound(ValueError):
    """No course folder where one was looked for (a ``ValueError``: the CLI prints it, exit 2)."""


def is_course(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds the course: ``nbgrader_config.py`` and a ``solutions/`` folder."""
    path = Path(path)
    return (path / MARKER[0]).is_file() and (path / MARKER[1]).is_dir()


def _missing(path: Path) -> str:
    return " and ".join(name + ("/" if name == "solutions" else "") for name in MARKER
                        if not (path / name).exists())  # fmt: skip


def find_course(course: str | os.PathLike | None = None, start: str | os.PathLike | None = None,
                command: str = "this command") -> Path:  # fmt: skip
    """The course folder: ``course`` if given (it must be one), else ``start`` (default: the
    current directory) or its nearest parent that is one, else the checkout this package lives
    in. Raises :class:`CourseNotFound` naming what is missing."""
    if course is not None:
        path = Path(course).expanduser().resolve()
        if not path.is_dir():
            raise CourseNotFound(f"--course {course}: no such folder")
        if not is_course(path):
            raise CourseNotFound(f"--course {course} is not a course folder: it has no {_missing(path)} "
                                 "(give the root of a clone of the course repository)")  # fmt: skip
        return path
    here = Path(start if start is not None else os.getcwd()).resolve()
    for path in (here, *here.parents):
        if is_course(path):
            return path
    from helpers.course.notebooks import COURSE_REPO, ROOT

    if is_course(ROOT):  # the package runs from a checkout (editable install, PYTHONPATH)
        return ROOT
    raise CourseNotFound(
        f"{command} needs the course's folder (its solutions/, assignments/, notebooks/ and "
        f"nbgrader_config.py), and neither {here} nor a folder above it is one; the installed "
        f"package ({ROOT}) carries only the Python code. Run it inside a clone of the course "
        f"(git clone {COURSE_REPO}), or point at one with --course DIR"
    )


def tool_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with the running interpreter's scripts
    folder first on ``PATH``, where pip put nbgrader's ``alembic`` and ``jupyter`` commands."""
    env = dict(os.environ if env is None else env)
    scripts = str(Path(sys.executable).parent)
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if not parts or parts[0] != scripts:
        env["PATH"] = os.pathsep.join([scripts, *(p for p in parts if p != scripts)])
    return env
