"""nbgrader's JupyterLab panels work or are switched off with a reason: the Assignment and
Course List panels need an exchange the course does not have (it collects LMS zips), so the
course's Jupyter configuration (jupyter_config/) switches them off; Formgrader needs nbgrader's
``alembic`` on PATH, which ``nextword lab`` provides even from an unactivated venv.
``nextword doctor --instructor`` reports both."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from helpers.course import doctor
from helpers.course.cli import main
from helpers.course.doctor import PANELS, panel_checks
from helpers.course.notebooks import ROOT
from tests.course.lab import free_port, http_get, jupyter_server

pytest.importorskip("nbgrader")
BIN = Path(sys.executable).parent


def _course(tmp_path: Path, config: bool = True, exchange: Path | None = None) -> Path:
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    text = (ROOT / "nbgrader_config.py").read_text()
    text += f"\nc.Exchange.root = {str(exchange or tmp_path / 'no-exchange')!r}\n"
    (course / "nbgrader_config.py").write_text(text)
    if config:
        shutil.copytree(ROOT / "jupyter_config", course / "jupyter_config")
    return course


def _by_name(checks):
    return {c.name: c for c in checks}


def test_the_course_switches_the_exchange_panels_off_with_a_reason():
    checks = _by_name(panel_checks(ROOT))
    for name in PANELS:
        assert checks[name].status == "OK" and "switched off" in checks[name].detail and "LMS" in checks[name].detail
    readme = (ROOT / "jupyter_config" / "README.md").read_text()
    assert "exchange" in readme and "LMS" in readme and "nextword lab" in readme
    page = json.loads((ROOT / "jupyter_config" / "labconfig" / "page_config.json").read_text())
    assert set(page["disabledExtensions"]) == {lab for lab, _ in PANELS.values()}


def test_panels_on_without_an_exchange_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user"))  # nothing of this machine's user config
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    course = _course(tmp_path, config=False)
    checks = _by_name(panel_checks(course))  # the lab extension is on unless switched off
    for name in PANELS:
        assert checks[name].status == "FAIL" and "no exchange at" in checks[name].detail and "jupyter_config" in checks[name].detail
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    checks = _by_name(panel_checks(_course(tmp_path / "with", config=False, exchange=exchange)))
    assert checks["Assignment List"].status == "OK" and str(exchange) in checks["Assignment List"].detail


def test_formgrader_check_knows_where_alembic_is(monkeypatch, tmp_path):
    assert _by_name(panel_checks(ROOT, env={"PATH": os.pathsep.join([str(BIN), "/usr/bin"])}))["Formgrader"].status == "OK"
    unactivated = _by_name(panel_checks(ROOT, env={"PATH": "/usr/bin:/bin"}))["Formgrader"]
    assert unactivated.status == "OK" and "nextword lab" in unactivated.detail and "activated" in unactivated.detail
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    missing = _by_name(panel_checks(ROOT, env={"PATH": "/usr/bin:/bin"}))["Formgrader"]
    assert missing.status == "FAIL" and "alembic" in missing.detail


def test_doctor_instructor_reports_the_panels(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "_data_checks", lambda: [])
    code = main(["doctor", "--instructor"])
    out = capsys.readouterr().out
    assert "JupyterLab (nbgrader panels)" in out and "Assignment List" in out and "Formgrader" in out, out
    assert code == (0 if "[FAIL]" not in out else 1)


@pytest.mark.slow
def test_nextword_lab_from_an_unactivated_venv(tmp_path):
    """JupyterLab started by ``/path/venv/bin/nextword lab`` with a PATH that lacks the venv: the
    exchange panels are off (page and server), Formgrader's API answers (alembic was found)."""
    course = _course(tmp_path)
    port = free_port()
    token = "nextword-panels"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "JUPYTER_CONFIG_PATH")}
    env.update(PATH="/usr/bin:/bin", PYTHONPATH=str(ROOT), JUPYTER_CONFIG_DIR=str(tmp_path / "user"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))  # fmt: skip
    command = [str(BIN / "nextword"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
               "--allow-root", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with jupyter_server(command, cwd=course / "solutions", env=env, log=tmp_path / "jupyter.log", base=base, token=token):
        status, body = http_get(f"{base}/lab?token={token}")
        assert status == 200
        config = json.loads(re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S).group(1))
        disabled = config.get("disabledExtensions", [])
        assert "@jupyter/nbgrader:assignment-list" in disabled and "@jupyter/nbgrader:course-list" in disabled, disabled
        assert "@jupyter/nbgrader:formgrader" not in disabled
        assert http_get(f"{base}/assignments?course_id=&token={token}")[0] == 404  # the exchange's server extension is off
        status, body = http_get(f"{base}/formgrader/api/assignments?token={token}")
        assert status == 200, (tmp_path / "jupyter.log").read_text()[-3000:]  # the gradebook was set up: alembic found
        assert isinstance(json.loads(body), list)
