"""JupyterLab in a real browser, for the browser tests: a Jupyter server on loopback serving a
scratch copy of course notebooks, and headless Chromium (the system's, driven by Playwright).

Nothing here downloads a browser. Chromium is Debian's ``chromium`` (``apt-get install
chromium``) or whatever ``NEXTWORD_CHROMIUM`` names; without it, or without Playwright, the
browser tests skip and say so, unless ``NEXTWORD_BROWSER_REQUIRED=1`` (set by ``.ci/run``)
makes that a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.course.notebooks import ROOT

SCREENSHOTS = ROOT / "build" / "screenshots"
# Headless Chromium on a closed network: without the background-networking flags it keeps
# trying to reach Google's services, and those connections fail by the dozen.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]  # fmt: skip
# JupyterLab settings for a test: every cell in the page (no virtual scrolling), no autosave
# (a test decides when to save), no news or update checks (no network).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # autoStartDefaultKernel: a notebook whose kernel is gone asks "Select Kernel" in a dialog
    # that blocks Run All (what made tests wait out their time limit); a student would click Select
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False, "autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}
MODEL_NOT_FOUND = "model not found"


def chromium() -> str | None:
    """The system's Chromium, or None."""
    named = os.environ.get("NEXTWORD_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return next((p for p in map(shutil.which, ["chromium", "chromium-browser", "google-chrome"]) if p), None)


def need_browser() -> str:
    """Chromium's path; skip (or fail where CI requires the browser) with what to install."""
    required = os.environ.get("NEXTWORD_BROWSER_REQUIRED") == "1"
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "Playwright is not installed (pip install -e '.[dev]')"
    path = chromium()
    if why is None and path is None:
        why = "no Chromium (apt-get install chromium, or set NEXTWORD_CHROMIUM to a Chromium binary)"
    if why is not None:
        if required:
            pytest.fail(f"browser tests required (NEXTWORD_BROWSER_REQUIRED=1) but {why}")
        pytest.skip(why)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 20) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error is a status, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


@contextlib.contextmanager
def jupyter_server(command: list[str], *, cwd: Path, env: dict, log: Path, base: str, token: str, startup: float = 120):
    """A Jupyter server started by ``command`` (its output in ``log``), once ``/api/status``
    answers; stopped on leaving. A server that does not start fails the test with its log."""
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup
            while server.poll() is None and time.monotonic() < deadline:
                try:
                    if http_get(f"{base}/api/status?token={token}")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            else:
                pytest.fail(f"{command[0]} {' '.join(command[1:3])} did not start:\n" + log.read_text(errors="replace")[-3000:])
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


class JupyterLab:
    """``jupyter lab`` serving ``root`` on a free loopback port, with test settings."""

    def __init__(self, root: Path, scratch: Path):
        self.root, self.scratch = root, scratch
        self.port, self.token = free_port(), "nextword-browser-test"
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = None

    def __enter__(self) -> JupyterLab:
        settings = self.scratch / "lab-settings"
        for name, values in SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(self.scratch / "config"),
               "JUPYTER_RUNTIME_DIR": str(self.scratch / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.scratch / "workspaces")}  # fmt: skip
        env.pop("MPLBACKEND", None)  # plots render inline, as for a student
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}", "--allow-root",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]  # fmt: skip
        self._stack = contextlib.ExitStack()
        self.server = self._stack.enter_context(jupyter_server(command, cwd=self.root, env=env, log=self.scratch / "jupyter.log",
                                                               base=self.base, token=self.token))  # fmt: skip
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def api(self, path: str, method: str = "GET") -> tuple[int, object]:
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
                return response.status, json.loads(body) if body else None
        except urllib.error.HTTPError as error:
            return error.code, None

    def url(self, path: str = "") -> str:
        return f"{self.base}/lab/tree/{path}?token={self.token}" if path else f"{self.base}/lab?token={self.token}"

    def shut_down_kernels(self) -> None:
        """What closing JupyterLab for the day does: every kernel (and its widgets) is gone."""
        for session in self.api("sessions")[1] or []:
            self.api(f"sessions/{session['id']}", method="DELETE")


class Notebook:
    """A notebook open in JupyterLab, in one Playwright page."""

    def __init__(self, page, lab: JupyterLab, path: str):
        self.page, self.lab, self.path = page, lab, path

    def open(self, timeout: float = 120) -> Notebook:
        self.page.goto(self.lab.url(self.path), timeout=timeout * 1000)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout * 1000)
        self.wait_idle(timeout)
        return self

    @property
    def panel(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def wait_idle(self, timeout: float = 120) -> None:
        self.page.wait_for_selector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]',
                                    timeout=timeout * 1000)  # fmt: skip

    def menu(self, top: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()

    def prompts(self) -> list[str]:
        return self.panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()

    def run_all(self, timeout: float, while_running=None) -> None:
        """Run > Run All Cells; wait until every cell has run or one failed (then fail).
        ``while_running()`` is called about twice a second meanwhile."""
        deadline = time.monotonic() + timeout
        self._start_run_all(deadline)
        settled = 0
        while time.monotonic() < deadline:
            if while_running is not None:
                while_running()
            prompts = self.prompts()
            busy = any("*" in p for p in prompts)
            status = self.panel.locator(".jp-Notebook-ExecutionIndicator").get_attribute("data-status")
            settled = settled + 1 if not busy and status == "idle" and prompts and re.search(r"\d", prompts[0]) else 0
            if settled >= 3:
                break
            self.page.wait_for_timeout(500)
        else:
            self.screenshot(self.panel, f"timeout-{Path(self.path).stem}")
            pytest.fail(f"{self.path}: still running after {timeout:.0f} s; prompts {self.prompts()}")
        errors = self.errors()
        assert not errors, f"{self.path}: error outputs in the browser: {errors[:2]}"
        unrun = [i for i, p in enumerate(self.prompts()) if not re.search(r"\d", p)]
        assert not unrun, f"{self.path}: code cells {unrun} did not run"

    def _start_run_all(self, deadline: float, tries: int = 4) -> None:
        """Run > Run All Cells, until a cell is seen running. A click that lands while the
        notebook is still settling (a freshly started kernel, a menu not yet enabled) runs
        nothing and leaves every prompt empty: the test would then wait for the whole limit."""
        for _ in range(tries):
            self.accept_kernel_dialog()
            self.menu("Run", "Run All Cells")
            self.page.wait_for_timeout(500)
            self.accept_kernel_dialog()
            started = time.monotonic() + min(20, max(1, deadline - time.monotonic()))
            while time.monotonic() < started:
                if any(re.search(r"[*\d]", p) for p in self.prompts()):
                    return
                self.page.wait_for_timeout(250)
            self.page.keyboard.press("Escape")  # close a menu left open
        self.screenshot(self.panel, f"not-started-{Path(self.path).stem}")
        pytest.fail(f"{self.path}: Run All Cells ran no cell ({tries} tries, 20 s each); prompts {self.prompts()}")

    def accept_kernel_dialog(self) -> bool:
        """Click Select in a "Select Kernel" dialog, if one is shown (the preferred kernel)."""
        dialog = self.page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count() and dialog.first.is_visible():
            dialog.first.locator(".jp-mod-accept").click()
            self.page.wait_for_timeout(500)
            return True
        return False

    def errors(self) -> list[str]:
        """Text of the error outputs (tracebacks) shown."""
        texts = self.panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        return [t[-400:] for t in texts if re.search(r"Traceback|Error\b.*\n|^\w+Error", t, re.M)]

    def cell(self, marker: str):
        """The code cell whose source contains ``marker``."""
        for i, text in enumerate(self.panel.locator(".jp-CodeCell .jp-InputArea-editor").all_inner_texts()):
            if marker in text:
                return self.panel.locator(".jp-CodeCell").nth(i)
        raise AssertionError(f"{self.path}: no code cell contains {marker!r}")

    def save(self) -> None:
        self.menu("File", "Save Notebook")
        self.page.wait_for_timeout(1000)
        self.page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty", state="detached", timeout=30_000)

    def screenshot(self, locator, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        try:
            locator.scroll_into_view_if_needed(timeout=10_000)
            locator.screenshot(path=str(path), timeout=30_000)
        except Exception:  # noqa: BLE001 - a failed screenshot must not hide the real failure
            self.page.screenshot(path=str(path))
        return path


def rendered_images(locator) -> list[int]:
    """Natural widths of the images in ``locator`` (0 for one that did not load)."""
    return locator.locator("img").evaluate_all("(imgs) => imgs.map(i => i.complete ? i.naturalWidth : 0)")
