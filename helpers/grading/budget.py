"""A whole-submission budget of memory and processes, with cgroups where this machine lets us.

``rlimit`` values hold per process, so a student's code that forks multiplies its memory; a
control group holds them for the submission's whole process tree, and can kill that tree at
once. This module creates one group per submission below the grader's own group: cgroup v2
(``memory.max``, ``pids.max``, ``cgroup.kill``) or the v1 ``memory`` and ``pids`` hierarchies,
whichever is mounted and writable (typically when grading as root, or in a delegated systemd
slice). Where neither is, :func:`make_budget` returns ``None`` and the per-process rlimits set
by the kernel (:mod:`helpers.grading.kernel`) are the only limit.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

__all__ = ["Budget", "make_budget"]

_counter = itertools.count()


def _own_groups() -> dict[str, str]:
    """hierarchy ("" for v2, else the controller) -> this process's group path."""
    groups = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                groups[name] = path
    except (OSError, ValueError):
        pass
    return groups


def _mounts() -> dict[str, Path]:
    """hierarchy -> mount point, from /proc/self/mountinfo."""
    found: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, info = left.split(), right.split()
        if len(fields) < 5 or len(info) < 3:
            continue
        if info[0] == "cgroup2":
            found.setdefault("", Path(fields[4]))
        elif info[0] == "cgroup":
            for option in info[2].split(","):
                if option in ("memory", "pids"):
                    found.setdefault(option, Path(fields[4]))
    return found


class Budget:
    """One submission's control groups; ``procs`` are the files a process joins them by."""

    def __init__(self, dirs: list[Path], version: int):
        self.dirs, self.version = dirs, version

    @property
    def procs(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        found = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def memory_exceeded(self) -> bool:
        for d in self.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                try:
                    for line in (d / name).read_text().splitlines():
                        if line.startswith(key + " ") and int(line.split()[1]) > 0:
                            return True
                except (OSError, ValueError):
                    continue
        return False

    def kill(self) -> None:
        """Kill every process in the groups (their whole tree), then remove the groups."""
        if self.version == 2:
            try:
                (self.dirs[0] / "cgroup.kill").write_text("1")
            except OSError:
                pass
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.02)
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still emptying
                    time.sleep(0.02)


def make_budget(memory_bytes: int, processes: int) -> Budget | None:
    """Fresh control groups for one submission, or ``None`` where they cannot be made."""
    own, mounts = _own_groups(), _mounts()
    name = f"nextword-{os.getpid()}-{next(_counter)}"
    if "" in mounts and "" in own and not {"memory", "pids"} & set(mounts):
        parent = mounts[""] / own[""].lstrip("/")
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            enabled = []
        if {"memory", "pids"} <= set(enabled):
            group = parent / name
            try:
                group.mkdir()
                (group / "memory.max").write_text(str(memory_bytes))
                if (group / "memory.swap.max").exists():
                    (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(str(processes))
                return Budget([group], 2)
            except OSError:
                Budget([group], 2).kill()
        return None
    made: list[Path] = []
    try:
        for controller, limits in (("memory", {"memory.limit_in_bytes": memory_bytes}), ("pids", {"pids.max": processes})):
            if controller not in mounts:
                return _undo(made)
            group = mounts[controller] / own.get(controller, "/").lstrip("/") / name
            group.mkdir()
            made.append(group)
            for key, value in limits.items():
                (group / key).write_text(str(value))
    except OSError:
        return _undo(made)
    return Budget(made, 1)


def _undo(made: list[Path]) -> None:
    Budget(made, 1).kill()
    return None


def remove_groups_of(pid: int) -> None:
    """Kill and remove the groups a (now dead) grading worker ``pid`` had made."""
    mounts, own = _mounts(), _own_groups()
    for hierarchy, mount in mounts.items():
        parent = mount / own.get(hierarchy, "/").lstrip("/")
        try:
            groups = [p for p in parent.glob(f"nextword-{pid}-*") if p.is_dir()]
        except OSError:
            continue
        for group in groups:
            Budget([group], 2 if hierarchy == "" else 1).kill()
