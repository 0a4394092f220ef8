"""What a sandboxed kernel may see: system folders, Python, the grader's parsed corpora; and the
environment it gets (an allow-list: nothing of the grader's environment reaches student code).
"""

from __future__ import annotations

import os
import sys

__all__ = ["SYSTEM", "data_cache_files", "environment", "folder_size", "inside", "readable_paths"]

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf", "passwd", "group",
        "hosts", "host.conf", "ssl", "ca-certificates", "alternatives", "fonts", "mime.types", "os-release", "matplotlibrc")  # fmt: skip


def environment(home: str, tmp: str, threads: int) -> dict[str, str]:
    """The allow-list: nothing of the grader's environment reaches student code."""
    n = str(threads)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(home, ".matplotlib"), "NEXTWORD_CACHE": os.path.join(home, "cache"),
        "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NEXTWORD_GRADING": "1",
    }  # fmt: skip


def _python_paths() -> list[str]:
    paths = []
    for path in {sys.prefix, sys.base_prefix, sys.exec_prefix, *[p for p in sys.path if p and "site-packages" in p]}:
        for candidate in {path, os.path.realpath(path)}:
            if os.path.isdir(candidate):
                paths.append(candidate)
    executable = os.path.dirname(os.path.realpath(sys.executable))
    return sorted({*paths, os.path.dirname(executable)})


def inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def readable_paths(hide: list[str]) -> list[str]:
    """What a sandboxed kernel may read: system, /etc allow-list, Python (minus ``hide``)."""
    paths = [p for p in SYSTEM if os.path.isdir(p) and not os.path.islink(p)]
    paths += [os.path.join("/etc", name) for name in _ETC if os.path.exists(os.path.join("/etc", name))]
    for path in _python_paths():  # Python may live inside a hidden folder (pyenv in home): only it is shown
        inner = [h for h in hide if inside(h, path) and h != path]
        paths += _split_around(path, inner) if inner else [path]
    return paths


def _split_around(path: str, holes: list[str]) -> list[str]:
    """The children of ``path`` that are not, and do not contain, one of ``holes`` (recursively)."""
    kept = []
    try:
        children = sorted(os.listdir(path))
    except OSError:
        return []
    for name in children:
        child = os.path.join(path, name)
        if any(child == h for h in holes):
            continue
        inner = [h for h in holes if inside(h, child)]
        kept += _split_around(child, inner) if inner else [child]
    return kept


def folder_size(root: str, stop: int) -> int:
    """Bytes in the files under ``root`` (counting stops once past ``stop``)."""
    total, stack = 0, [root]
    while stack and total <= stop:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
    return total


def data_cache_files(limit_mb: int = 64) -> dict[str, str]:
    """The course's parsed public corpora in the grader's data cache (``helpers.data``), which a
    sandbox may read instead of parsing them again for every submission."""
    try:
        from helpers.data import cache_dir

        folder = cache_dir()
    except Exception:  # noqa: BLE001 - no cache: every sandbox parses for itself
        return {}
    files, total = {}, 0
    for path in sorted(folder.glob("*-v*.json.gz")):
        size = path.stat().st_size
        if path.is_file() and not path.is_symlink() and total + size <= limit_mb * 2**20:
            files[path.name], total = str(path), total + size
    return files
