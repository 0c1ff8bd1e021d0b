"""The few Linux calls Python 3.11's `os` lacks (unshare, mount, prctl, raw syscalls), through ctypes on libc."""

from __future__ import annotations

import ctypes
import os
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

# Landlock's syscall numbers are the same on every architecture (added after the syscall table unification).
SYS_landlock_create_ruleset = 444
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446


def _check(res: int) -> int:
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return res


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)))


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)))


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)))


def prctl(option: int, arg2: int | ctypes.c_void_p = 0, arg3: int = 0) -> None:
    _check(_libc.prctl(ctypes.c_int(option), arg2 if isinstance(arg2, ctypes.c_void_p) else ctypes.c_ulong(arg2),
                       ctypes.c_ulong(arg3), ctypes.c_ulong(0), ctypes.c_ulong(0)))


def set_name(name: str) -> None:
    """This thread's name as /proc/PID/comm shows it (at most 15 bytes)."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    prctl(PR_SET_NAME, ctypes.c_void_p(ctypes.addressof(buf)))


def syscall(number: int, *args: int | ctypes.c_void_p) -> int:
    cargs = [a if isinstance(a, ctypes.c_void_p) else ctypes.c_long(a) for a in args]
    return _check(_libc.syscall(ctypes.c_long(number), *cargs))


MADV_COLLAPSE = 25
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_HUGE = 1 << 21


def collapse_heap() -> int:
    """Back this process's anonymous read-write memory with 2 MiB transparent huge pages where the kernel can
    (MADV_COLLAPSE, Linux >= 6.1), and return how many bytes were asked for.

    Done once in the zygote: `fork` then copies one page-table entry per 2 MiB instead of 512, and a child's exit
    frees as few. (A child's first write to such a page still copies only 4 KiB: the kernel splits a shared huge
    page on write, in the writer only.) Best effort: any failure leaves the memory as it was.
    """
    asked = 0
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if parts[1] != "rw-p" or (len(parts) > 5 and parts[5] != "[heap]"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            lo, hi = (lo + _HUGE - 1) & ~(_HUGE - 1), hi & ~(_HUGE - 1)
            if hi > lo and _libc.madvise(lo, hi - lo, MADV_COLLAPSE) == 0:
                asked += hi - lo
    return asked


def is_x86_64() -> bool:
    return platform.machine() in ("x86_64", "AMD64")
