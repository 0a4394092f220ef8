"""Landlock (Linux >= 5.13): an unprivileged file-system sandbox, the fallback without bubblewrap.

A process restricts itself, irrevocably, before running student code: it may then read only
the folders it was given (system libraries, Python, the course package copy), write only its
scratch folder, and, where the kernel's Landlock is recent enough, make no TCP connections
(ABI 4, Linux 6.7) and neither signal nor reach by abstract socket any process outside its
own domain (ABI 6, Linux 6.12). It does not give a process namespace or a private ``/tmp``:
bubblewrap does (see :mod:`helpers.grading.sandbox`).

Kernel interface: ``landlock_create_ruleset`` (444), ``landlock_add_rule`` (445),
``landlock_restrict_self`` (446); documented in the kernel's ``userspace-api/landlock``.
"""

from __future__ import annotations

import ctypes
import os
import struct

__all__ = ["abi_version", "drop_capabilities", "restrict"]

_CREATE, _ADD, _RESTRICT = 444, 445, 446
_RULE_PATH_BENEATH = 1
# access rights by ABI version
_FS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR, _TRUNCATE, _IOCTL_DEV = 1, 2, 4, 8, 1 << 14, 1 << 15
_NET_BIND, _NET_CONNECT = 1, 2
_SCOPE_ABSTRACT, _SCOPE_SIGNAL = 1, 2

_libc = None


def _syscall(number: int, *args) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is not available."""
    try:
        return _syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0


def _fs_rights(abi: int) -> int:
    return _FS[max(k for k in _FS if k <= abi)]


def restrict(read: list[str], write: list[str], devices: list[str] = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")) -> int:
    """Allow this process (and its children) to read ``read``, write ``write``, nothing else.

    Returns the ABI version used. Raises ``OSError`` when Landlock is not available, so that a
    caller that asked for it never runs unrestricted.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available on this kernel (Linux >= 5.13 with landlock in its LSM list)")
    handled = _fs_rights(abi)
    attr = struct.pack("<Q", handled)
    if abi >= 4:
        attr += struct.pack("<Q", _NET_BIND | _NET_CONNECT)  # no rule allows any port: no TCP at all
    if abi >= 6:
        attr += struct.pack("<Q", _SCOPE_ABSTRACT | _SCOPE_SIGNAL)
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _syscall(_CREATE, buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    file_rights = _EXECUTE | _WRITE_FILE | _READ_FILE | (_TRUNCATE if abi >= 3 else 0) | (_IOCTL_DEV if abi >= 5 else 0)
    try:
        for path in read:
            _add(ruleset, path, _EXECUTE | _READ_FILE | _READ_DIR, file_rights)
        for path in write:
            _add(ruleset, path, handled, file_rights)
        for path in devices:
            _add(ruleset, path, _READ_FILE | _WRITE_FILE | (_IOCTL_DEV if abi >= 5 else 0), file_rights)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required by Landlock
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        _syscall(_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return abi


def _add(ruleset: int, path: str, dir_rights: int, file_rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist grants nothing
    try:
        rights = dir_rights if os.path.isdir(path) else dir_rights & file_rights
        attr = struct.pack("<Qi", rights, fd)  # struct landlock_path_beneath_attr (packed)
        buffer = ctypes.create_string_buffer(attr, len(attr))
        _syscall(_ADD, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), buffer, ctypes.c_uint32(0))
    finally:
        os.close(fd)


def drop_capabilities() -> None:
    """Give up every capability, also for programs this process starts (for a grader run as
    root: Landlock limits files, not what capabilities such as CAP_SYS_MODULE allow)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):  # PR_CAPBSET_DROP: empty the bounding set (EINVAL past the last capability)
        if libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break
    libc.prctl(47, 0, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL (PR_CAP_AMBIENT=47, CLEAR_ALL=4 below)
    libc.prctl(47, 4, 0, 0, 0)
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # effective, permitted, inheritable: all zero (two 32-bit words each)
    if libc.capset(ctypes.create_string_buffer(header, 8), ctypes.create_string_buffer(data, 24)) != 0:
        raise OSError(ctypes.get_errno(), "capset failed: capabilities could not be dropped")
