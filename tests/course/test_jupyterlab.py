"""Lecturers start in JupyterLab: it serves the course notebooks with the nbgrader extension."""

from __future__ import annotations

import json
import os
import sys

import pytest

from helpers.course.notebooks import ROOT
from tests.course.lab import free_port, http_get, jupyter_server

pytest.importorskip("jupyterlab")
pytest.importorskip("nbgrader")


def test_jupyter_lab_serves_the_course(tmp_path):
    port, token = free_port(), "nextword-smoke-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}", "--allow-root"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with jupyter_server(command, cwd=ROOT, env=env, log=tmp_path / "jupyter.log", base=base, token=token, startup=90):
        status, body = http_get(f"{base}/api/contents/notebooks?token={token}")
        names = {item["name"] for item in json.loads(body)["content"]}
        assert status == 200 and "week00_setup.ipynb" in names
        status, body = http_get(f"{base}/api/contents/notebooks/week00_setup.ipynb?token={token}")
        assert status == 200 and json.loads(body)["content"]["nbformat"] == 4
        status, body = http_get(f"{base}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in body
        assert b"@jupyter/nbgrader" in body  # the lab extension is in the page's federated extensions
        assert http_get(f"{base}/formgrader?token={token}")[0] in (200, 302)  # nbgrader's server extension
        assert http_get(f"{base}/api/contents/notebooks?token=wrong")[0] == 403
