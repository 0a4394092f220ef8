"""The nextword command as users type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.course.cli import main


def test_doctor_reports_every_group(capsys):
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    for line in ("[OK]   torch", "[OK]   Wikipedia sample: 106 articles", "Device", "All good."):
        assert line in out


def test_run_prints_a_table(tmp_path, capsys):
    assert main(["run", "week00", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "week00_setup.ipynb" in out and "ok" in out and "peak MB" in out
    assert (tmp_path / "week00_setup.ipynb").exists()


def test_bad_input_is_a_clear_message(capsys):
    assert main(["run"]) == 2
    assert "nextword run week01" in capsys.readouterr().err
    assert main(["run", "weekly"]) == 2
    assert "not a week number" in capsys.readouterr().err
    assert main(["run", "week42"]) == 2
    assert "no lecture notebook matches 'week42'" in capsys.readouterr().err


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "helpers.course.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "grade" in done.stdout and "release" in done.stdout


def test_version_and_python_dash_m_are_the_same_command():
    from importlib.metadata import version

    done = subprocess.run([sys.executable, "-m", "helpers", "--version"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"nextword {version('nextword')}"
    done = subprocess.run([sys.executable, "-m", "helpers", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "grade" in done.stdout


def test_package_metadata_follows_the_conventions():
    from importlib.metadata import metadata

    import helpers

    meta = metadata("nextword")
    assert helpers.__version__ == meta["Version"]  # one place: the package reads its metadata
    assert meta.get("License-Expression") == "MIT"
    assert any(url.startswith("Source, ") for url in meta.get_all("Project-URL"))
    assert (Path(helpers.__file__).parent / "py.typed").is_file()
