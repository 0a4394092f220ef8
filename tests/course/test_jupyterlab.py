"""Lecturers start in JupyterLab: it serves the course notebooks with the nbgrader extension."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers.course.notebooks import ROOT

pytest.importorskip("jupyterlab")
pytest.importorskip("nbgrader")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_jupyter_lab_serves_the_course(tmp_path):
    port, token = _free_port(), "nextword-smoke-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}", "--allow-root"]  # fmt: skip
    log = open(tmp_path / "jupyter.log", "wb")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, _ = _get(f"{base}/api/status?token={token}")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not start within 90 s:\n" + (tmp_path / "jupyter.log").read_text()[-3000:])
        status, body = _get(f"{base}/api/contents/notebooks?token={token}")
        names = {item["name"] for item in json.loads(body)["content"]}
        assert status == 200 and "week00_setup.ipynb" in names
        status, body = _get(f"{base}/api/contents/notebooks/week00_setup.ipynb?token={token}")
        assert status == 200 and json.loads(body)["content"]["nbformat"] == 4
        status, body = _get(f"{base}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in body
        assert b"@jupyter/nbgrader" in body  # the lab extension is in the page's federated extensions
        assert _get(f"{base}/formgrader?token={token}")[0] in (200, 302)  # nbgrader's server extension
        assert _get(f"{base}/api/contents/notebooks?token=wrong")[0] == 403
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
