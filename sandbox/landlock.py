"""Landlock filesystem (and, where the kernel has it, TCP and signal) confinement, via raw syscalls.

The worker builds one ruleset at start-up (opening each allowed path once); every child only calls
`landlock_restrict_self` on it, which costs a few microseconds. Rules grant access to a directory and everything
beneath it, across mount points, so a rule on the work directory's mount point also covers each fresh tmpfs
mounted there per child.
"""

from __future__ import annotations

import ctypes
import os

from . import linux

# Filesystem access rights, by the ABI version that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2  # ABI >= 4
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1, 2  # ABI >= 6

READ = EXECUTE | READ_FILE | READ_DIR
WRITE = (1 << 16) - 1  # everything; masked down to what the running ABI handles


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    try:
        return linux.syscall(linux.SYS_landlock_create_ruleset, ctypes.c_void_p(0), 0, 1)
    except OSError:
        return 0


def build_ruleset(read_paths: list[str], write_paths: list[str]) -> int:
    """Create a ruleset that allows reading `read_paths` and everything on `write_paths`; return its fd.

    Paths that do not exist are skipped. Under ABI >= 4 all TCP bind/connect is denied too (no rule allows any
    port), and under ABI >= 6 the child cannot signal processes or reach abstract unix sockets outside its domain.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    fs = _FS_BY_ABI.get(abi, (1 << 16) - 1)
    attr = _RulesetAttr(fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = linux.syscall(linux.SYS_landlock_create_ruleset, ctypes.c_void_p(ctypes.addressof(attr)), size, 0)
    try:
        for paths, access in ((read_paths, READ), (write_paths, WRITE)):
            for path in dict.fromkeys(paths):
                _add_path(fd, path, access & fs)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _add_path(ruleset_fd: int, path: str, access: int) -> None:
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY
        rule = _PathBeneath(access, pfd)
        linux.syscall(linux.SYS_landlock_add_rule, ruleset_fd, 1, ctypes.c_void_p(ctypes.addressof(rule)), 0)
    finally:
        os.close(pfd)


def restrict_self(ruleset_fd: int) -> None:
    """Confine the calling process (needs no_new_privs or CAP_SYS_ADMIN); irreversible and inherited."""
    linux.syscall(linux.SYS_landlock_restrict_self, ruleset_fd, 0)
