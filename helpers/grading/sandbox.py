"""One sandbox per submission: start the student's kernel, talk to it, kill it whole.

Three kinds, best first (:func:`detect_sandbox` picks):

``bubblewrap``
    ``bwrap`` with a new user namespace (also when the grader runs as root) and new pid,
    network, IPC and UTS namespaces; every capability dropped, no nested user namespaces; a
    cleared environment (an allow-list); a size-limited private ``/tmp``; read-only views of
    the system libraries, Python and a copy of the course package with the week's reference
    implementations stubbed (:mod:`helpers.grading.references`). ``solutions/``, the
    submissions, the output folder and the home folder are simply not there. When the
    submission ends its pid namespace dies with it: nothing it started survives.
``landlock``
    Without bubblewrap, the kernel process restricts itself with Landlock before any student
    code runs (:mod:`helpers.grading.landlock`): the same read-only paths, writes only in its
    own scratch folder, no TCP where the kernel supports it. No process namespace: the grader
    kills its process group and sweeps up orphans.
``none``
    Only with ``--no-sandbox``: a separate process, scratch folder and rlimits; student code
    can read and write whatever the grader can.

In every kind a submission gets a fresh process (no state from another student), its own
pipes, a cgroup for its whole process tree where the machine allows (:mod:`helpers.grading.budget`)
and rlimits otherwise.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import helpers.grading.wire as wire
from helpers.grading.budget import make_budget
from helpers.grading.paths import (
    SYSTEM,
    data_cache_files,
    environment,
    folder_size,
    readable_paths,
)

__all__ = ["KINDS", "Limits", "SandboxInfo", "StudentProcess", "data_cache_files", "detect_sandbox", "reap_orphans", "sandbox_available"]

KINDS = ("bubblewrap", "landlock", "none")
_COURSE_IN_SANDBOX = "/nextword/course"
BOOT = "import json, sys; sys.path.insert(0, sys.argv[2]); from helpers.grading.kernel import main; main(json.loads(sys.argv[1]))"


@dataclass
class Limits:
    """Budget of one submission. Defaults: nbgrader's 120 s per cell and a laptop's memory."""

    memory_mb: int = 4096  # on top of the preloaded libraries; whole process tree where cgroups exist
    disk_mb: int = 512  # the sandbox's private /tmp (bubblewrap); per-file size elsewhere
    processes: int = 64
    file_mb: int = 256
    output_bytes: int = 100_000  # per stream per cell


@dataclass
class SandboxInfo:
    kind: str | None  # "bubblewrap", "landlock", or None: no usable sandbox
    detail: str
    bwrap_flags: list[str] = field(default_factory=list)
    sized_tmp: bool = False  # this bwrap can limit the size of its /tmp (--size, bubblewrap >= 0.5)


def _bwrap_probe(flags: list[str]) -> bool:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    binds = []
    for path in SYSTEM:
        if os.path.islink(path):
            binds += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds += ["--ro-bind", path, path]
    try:
        done = subprocess.run([bwrap, *flags, "--dev", "/dev", "--proc", "/proc", *binds, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.lru_cache(maxsize=1)
def detect_sandbox() -> SandboxInfo:
    """The best sandbox this machine can give (cached for the process)."""
    base = ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session"]  # fmt: skip
    why = "bubblewrap is not installed (apt install bubblewrap)"
    if shutil.which("bwrap"):
        for extra in (["--disable-userns", "--size", "1048576", "--tmpfs", "/tmp"], ["--size", "1048576", "--tmpfs", "/tmp"], ["--tmpfs", "/tmp"]):
            if _bwrap_probe(base + extra):
                flags = [f for f in extra if f in ("--disable-userns", "--size")]
                detail = "bubblewrap: new user, pid, network and IPC namespaces, no capabilities, read-only system"
                if "--size" not in flags:
                    detail += " (this bwrap cannot limit the size of /tmp: upgrade to >= 0.5)"
                return SandboxInfo("bubblewrap", detail, base + [f for f in flags if f == "--disable-userns"], "--size" in flags)
        why = "bubblewrap is installed but cannot create a user namespace here (kernel.unprivileged_userns_clone, AppArmor?)"
    from helpers.grading.landlock import abi_version

    abi = abi_version()
    if abi >= 1:
        net = "no TCP" if abi >= 4 else "network NOT isolated (Landlock ABI < 4)"
        return SandboxInfo("landlock", f"Landlock ABI {abi}: read-only system, writes only to its scratch folder, {net}; "
                                       f"no process isolation ({why})")  # fmt: skip
    return SandboxInfo(None, why + "; Landlock is not available either")


def sandbox_available() -> bool:
    """Whether the full (bubblewrap) sandbox works here."""
    return detect_sandbox().kind == "bubblewrap"


class StudentProcess:
    """The kernel process of one submission, in a sandbox of its own."""

    def __init__(self, kind: str, course_root: Path, preload: list[str], limits: Limits, workdir: Path,
                 hide: list[Path] | None = None, threads: int = 1, info: SandboxInfo | None = None,
                 data_files: dict[str, str] | None = None):  # fmt: skip
        if kind not in KINDS:
            raise ValueError(f"sandbox kind {kind!r}: choose one of {', '.join(KINDS)}")
        self.kind, self.course_root, self.preload, self.limits = kind, Path(course_root), list(preload), limits
        self.workdir, self.threads = Path(workdir), threads
        self.hide = [os.path.realpath(p) for p in (hide or [])]
        self.info = info or detect_sandbox()
        self.data_files = dict(data_files or {})  # name -> path: parsed corpora, shown read-only
        self.process: subprocess.Popen | None = None
        self.budget = None
        self.scratch_host: str | None = None
        self.reader: wire.FrameReader | None = None
        self.started_at = 0.0
        self.over_disk = False

    # -- start ----------------------------------------------------------------------------
    def start(self) -> StudentProcess:
        import helpers

        real_package = os.path.dirname(os.path.realpath(helpers.__file__))
        hide = sorted({*self.hide, real_package, os.path.realpath(str(Path.home()))})
        config = {"preload": self.preload, "output_bytes": self.limits.output_bytes}
        if self.kind == "bubblewrap":
            scratch, home, tmp, course = "/tmp/work", "/tmp/home", "/tmp", _COURSE_IN_SANDBOX
        else:
            self.scratch_host = tempfile.mkdtemp(prefix="submission-", dir=self.workdir)
            os.chmod(self.scratch_host, 0o700)
            scratch = os.path.join(self.scratch_host, "work")
            home, tmp, course = os.path.join(self.scratch_host, "home"), os.path.join(self.scratch_host, "tmp"), str(self.course_root)
            for folder in (scratch, home, tmp, os.path.join(home, "cache")):
                os.makedirs(folder)
            for name, path in self.data_files.items():
                shutil.copyfile(path, os.path.join(home, "cache", name))
            if self.kind == "landlock":
                config["landlock"] = {"read": [*readable_paths(hide), str(self.course_root), "/proc", "/sys"],
                                      "write": [self.scratch_host]}  # fmt: skip
        self.scratch = scratch
        python = [sys.executable, "-I", "-c", BOOT, json.dumps(config), course]
        if self.kind == "bubblewrap":
            command = self._bwrap(hide) + ["--", *python]
        else:
            command = python
        memory = (self.limits.memory_mb + 1024 + self.limits.disk_mb) * 2**20  # + preloaded libraries, + /tmp (in memory)
        self.budget = make_budget(memory, self.limits.processes)
        if self.budget is not None:  # join the groups before bubblewrap forks anything
            command = ["/bin/sh", "-c", 'for p; do [ "$p" = -- ] && break; echo $$ > "$p" || exit 97; done; '
                       'while [ "$1" != -- ]; do shift; done; shift; exec "$@"', "sh", *self.budget.procs, "--", *command]  # fmt: skip
        self._stderr = tempfile.TemporaryFile(dir=self.workdir)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                        env=environment(home, tmp, self.threads), cwd="/", start_new_session=True)  # fmt: skip
        os.set_blocking(self.process.stdin.fileno(), False)
        self.reader = wire.FrameReader(self.process.stdout.fileno(), limit=512 * 2**20)
        if self.scratch_host:  # no private size-limited /tmp here: watch the scratch folder instead
            self._watch = threading.Thread(target=self._watch_disk, daemon=True)
            self._watch.start()
        self.started_at = time.monotonic()
        return self

    def _bwrap(self, hide: list[str]) -> list[str]:
        size = ["--size", str(self.limits.disk_mb * 2**20)] if self.info.sized_tmp else []
        command = [shutil.which("bwrap") or "bwrap", *self.info.bwrap_flags, "--hostname", "grading",
                   *size, "--tmpfs", "/tmp", "--dir", "/tmp/work", "--dir", "/tmp/home",
                   "--dev", "/dev", "--proc", "/proc"]  # fmt: skip
        for path in SYSTEM:
            if os.path.islink(path):
                command += ["--symlink", os.readlink(path), path]
        for path in readable_paths(hide):
            command += ["--ro-bind", path, path]
        command += ["--ro-bind", str(self.course_root), _COURSE_IN_SANDBOX, "--dir", "/tmp/home/cache"]
        for name, path in self.data_files.items():
            command += ["--ro-bind", path, f"/tmp/home/cache/{name}"]
        command += ["--chdir", "/tmp/work"]
        return command

    def wait_ready(self, timeout: float = 180.0) -> dict:
        header, _ = self.read(time.monotonic() + timeout)
        if not header.get("ready"):
            raise RuntimeError(f"the grading kernel did not start: {header}")
        return header

    def begin(self, files: dict[str, str], limits: dict, timeout: float = 60.0) -> None:
        """Hand the kernel its submission (files as base64) and wait until it is set up."""
        self.send({"op": "job", "scratch": self.scratch, "files": files, "limits": limits})
        header, _ = self.read(time.monotonic() + timeout)
        if not header.get("started"):
            raise RuntimeError(f"the submission's process did not start: {header}")

    # -- I/O ------------------------------------------------------------------------------
    def send(self, header: dict, buffers: list[bytes] | None = None, deadline: float | None = None) -> None:
        """Write a frame, giving up at ``deadline`` (a kernel that stops reading cannot block us)."""
        data = memoryview(wire.pack_frame(header, buffers or []))
        fd = self.process.stdin.fileno()
        deadline = deadline if deadline is not None else time.monotonic() + 60
        try:
            while data:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                    raise TimeoutError("the notebook's process stopped reading")
                data = data[os.write(fd, data[: 1 << 16]):]
        except (BrokenPipeError, OSError, ValueError) as error:
            raise EOFError(f"the notebook's process is gone ({error})") from None

    def read(self, deadline: float) -> tuple[dict, list[bytes]]:
        try:
            return self.reader.read(deadline)
        except EOFError:
            raise EOFError(self.death_reason()) from None

    def _watch_disk(self) -> None:
        limit, root, process = self.limits.disk_mb * 2**20, self.scratch_host, self.process
        while process.poll() is None and self.scratch_host == root:
            if folder_size(root, limit) > limit:
                self.over_disk = True
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                return
            time.sleep(0.25)

    def death_reason(self) -> str:
        code = self.process.poll() if self.process else None
        if code is None:
            try:
                code = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        if self.budget is not None and self.budget.memory_exceeded():
            return "it ran out of its memory budget"
        if self.over_disk:
            return f"it wrote more than its {self.limits.disk_mb} MB of files"
        if code is not None and code < 0:
            return f"killed by signal {signal.Signals(-code).name}" if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        if code is not None:
            return f"it exited with status {code}"
        return "it closed its connection"

    def stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read()[-3000:].decode("utf-8", "replace")
        except (OSError, ValueError, AttributeError):
            return ""

    # -- stop -----------------------------------------------------------------------------
    def kill(self) -> None:
        """Kill the whole submission: its process group, its cgroups, its scratch folder."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
                pass
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self.budget is not None:
            self.budget.kill()
            self.budget = None
        if self.scratch_host:
            shutil.rmtree(self.scratch_host, ignore_errors=True)
            self.scratch_host = None
        try:
            self._stderr.close()
        except (OSError, AttributeError):
            pass


def become_subreaper() -> None:
    """Orphans of student code (``setsid`` helpers) become this process's children."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def reap_orphans(keep: set[int]) -> int:
    """Kill and reap this process's children that are not in ``keep``; returns how many."""
    me, killed = os.getpid(), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            try:
                os.kill(int(entry), signal.SIGKILL)
                os.waitpid(int(entry), 0)
                killed += 1
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass
    return killed
