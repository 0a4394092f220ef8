"""The student's side, set up: its IPython shell, its limits, the plumbing it must not break.

Used by :mod:`helpers.grading.kernel`, inside the sandbox.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import traceback

from helpers.grading.capture import strip_ansi

__all__ = ["Plumbing", "cap_displays", "describe_error", "die_with_parent", "limit_resources", "make_shell"]

_MISSING = object()


class Plumbing:
    """The modules this kernel's own code uses, as they were before student code ran.

    Not a security measure (verdicts are not made here): it keeps a notebook that rebinds
    ``builtins.isinstance`` or ``json.dumps`` from breaking the channel its results travel on.
    """

    MODULES = ("builtins", "json", "struct", "io", "os", "sys", "signal", "time", "traceback", "types", "re",
               "pickle", "base64", "numpy", "numpy.lib.format", "helpers.grading.wire", "helpers.grading.kernel",
               "helpers.grading.capture", "helpers.grading.shell")  # fmt: skip

    def __init__(self):
        self.saved = [(vars(sys.modules[n]), dict(vars(sys.modules[n]))) for n in self.MODULES if n in sys.modules]
        self.modules = {n: sys.modules[n] for n in self.MODULES if n in sys.modules}

    def restore(self) -> None:
        for namespace, snapshot in self.saved:
            for key, value in dict.items(snapshot):
                if dict.get(namespace, key, _MISSING) is not value:
                    dict.__setitem__(namespace, key, value)
        for name, module in self.modules.items():
            if dict.get(sys.modules, name) is not module:
                dict.__setitem__(sys.modules, name, module)


def describe_error(error: BaseException) -> dict:
    try:
        value = str(error)
    except BaseException:  # noqa: BLE001 - an exception whose __str__ fails
        value = "<unprintable exception>"
    bases = [c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins"]
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return {"ename": type(error).__name__, "evalue": value[:2000], "bases": bases,
            "traceback": [strip_ansi(line)[:2000] for line in lines][-30:]}  # fmt: skip


def cap_displays(outputs: list, cap: int) -> list:
    kept, total = [], 0
    for output in outputs:
        size = sum(len(v) for v in output.get("data", {}).values())
        if total + size > max(cap, 2_000_000):
            kept.append({"output_type": "stream", "name": "stdout", "text": "[... further display outputs dropped: size limit ...]\n"})
            break
        kept.append(output)
        total += size
    return kept


def make_shell():
    """An IPython shell whose outputs and errors are recorded instead of printed."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class RecordingHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            self.shell.outputs.append({"output_type": "execute_result", "data": _keep(format_dict)})

        def finish_displayhook(self):
            pass

    class RecordingPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            self.shell.outputs.append({"output_type": "display_data", "data": _keep(data)})

        def clear_output(self, wait=False):
            pass

    class GradingShell(InteractiveShell):
        outputs: list = []
        error: dict | None = None

        def _showtraceback(self, etype, evalue, stb):
            self.error = describe_error(evalue) if isinstance(evalue, BaseException) else {
                "ename": getattr(etype, "__name__", "Error"), "evalue": "", "bases": [], "traceback": []}
            self.error["traceback"] = [strip_ansi(line)[:2000] for line in stb][-30:]

    shell = GradingShell.instance(colors="nocolor", displayhook_class=RecordingHook, display_pub_class=RecordingPublisher,
                                  history_length=0)  # fmt: skip
    shell.history_manager.enabled = False
    return shell


def _keep(data: dict) -> dict:
    """The text and PNG representations of an output, each at most 1 MB."""
    kept = {}
    text = data.get("text/plain")
    if isinstance(text, str):
        kept["text/plain"] = text if len(text) <= 100_000 else text[:100_000] + "\n[... truncated ...]"
    png = data.get("image/png")
    if isinstance(png, str) and len(png) <= 1_000_000:
        kept["image/png"] = png
    return kept


def limit_resources(limits: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing
    file_bytes = int(limits.get("file_mb", 256)) * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    if limits.get("processes") and os.geteuid() != 0:  # root ignores RLIMIT_NPROC
        n = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    if limits.get("memory_mb"):
        limit = _vm_data_bytes() + int(limits["memory_mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _vm_data_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
