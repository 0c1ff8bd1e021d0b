"""The zygote: a process forked from the warm worker before the worker receives any request, whose only job is to
fork children. Children are copies of the zygote, so they carry nothing of any request: not the code of other
snippets or sessions, not their output, not even freed heap that once held them (the worker, which does see
requests, never forks a child itself).

The worker talks to it over a SOCK_SEQPACKET pair, and only ever sends it file descriptors and pids, never request
data:
    worker -> zygote  b"S" uid + [req_r, out_w, err_w, ctl_w] fork a child, running as `uid`, on these pipes
    zygote -> worker  b"P" pid + [pidfd]                      the child exists (the pidfd kills it and sees it exit)
    worker -> zygote  b"R" pid                                reap that exited child (the worker read its status)
    worker -> zygote  b"W" pid                                reap it and tell me its status (no /proc here) ...
    zygote -> worker  b"X" pid wait-status                    ... which is this
The worker reads an exited child's status from /proc while it is a zombie, so the zygote, and one more process
wake-up, stays off the path of every result. The zygote dies with its worker (parent-death signal, or EOF on the
socket), and its children die with it.
"""

from __future__ import annotations

import ctypes
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import NoReturn

from . import child, linux
from .child import ChildPlan

_PID = struct.Struct("=i")
_EXIT = struct.Struct("=ii")


class ZygoteLost(Exception):
    """The zygote died or its channel broke; the worker must be replaced."""


class Zygote:
    """The worker's handle on its zygote."""

    def __init__(self, plan: ChildPlan, keep_fds: tuple[int, ...]) -> None:
        worker_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the zygote
            worker_end.close()
            for fd in keep_fds:  # the worker's channel to the supervisor is none of the zygote's business
                os.close(fd)
            # Huge pages for its heap, copied now so they are the zygote's own (a write to a huge page shared with
            # the worker would split it again): a child's fork and exit then handle far fewer page-table entries.
            linux.collapse_heap()
            _serve(plan, zygote_end)
        zygote_end.close()
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self._sock = worker_end
        self._exits: dict[int, int] = {}  # statuses that arrived while we waited for something else
        self._spawned: dict[int, int] = {}  # pid -> pidfd, likewise

    def spawn(self, fds: list[int], uid: int) -> None:
        """Ask for a child using `fds` (req_r, out_w, err_w, ctl_w) and running as `uid` (when the plan switches
        users); its pid comes later from `spawned()`."""
        try:
            socket.send_fds(self._sock, [b"S" + _PID.pack(uid)], fds)
        except OSError as e:
            raise ZygoteLost(f"zygote channel: {e}") from e

    def spawned(self) -> tuple[int, int]:
        """(pid, pidfd) of the oldest child asked for and not yet returned here."""
        while not self._spawned:
            self._receive()
        pid = next(iter(self._spawned))
        return pid, self._spawned.pop(pid)

    def exit_status(self, pid: int, pidfd: int) -> int:
        """The wait status of child `pid` (blocks until it has exited); the zygote then reaps it."""
        select.select([pidfd], [], [])
        status = _zombie_status(pid)
        if status is not None:
            self._send(b"R" + _PID.pack(pid))
            return status
        self._send(b"W" + _PID.pack(pid))
        while pid not in self._exits:
            self._receive()
        return self._exits.pop(pid)

    def _send(self, msg: bytes) -> None:
        try:
            self._sock.send(msg)
        except OSError as e:
            raise ZygoteLost(f"zygote channel: {e}") from e

    def _receive(self) -> None:
        try:
            msg, fds, _, _ = socket.recv_fds(self._sock, 64, 1)
        except OSError as e:
            raise ZygoteLost(f"zygote channel: {e}") from e
        if not msg:
            raise ZygoteLost("the zygote exited")
        if msg[:1] == b"P" and fds:
            (pid,) = _PID.unpack(msg[1:])
            self._spawned[pid] = fds[0]
        elif msg[:1] == b"X":
            pid, status = _EXIT.unpack(msg[1:])
            self._exits[pid] = status
        else:
            raise ZygoteLost(f"unexpected message from the zygote: {msg[:16]!r}")

    def close(self) -> None:
        self._sock.close()  # EOF: the zygote exits, and its children with it
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.pidfd)


def _zombie_status(pid: int) -> int | None:
    """The wait status of an exited, not yet reaped child (field 52 of /proc/PID/stat), None if unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[49]) if fields[0] == "Z" and len(fields) > 49 else None


def _serve(plan: ChildPlan, sock: socket.socket) -> NoReturn:
    """The zygote's loop: fork on request, report each child's pid, reap children when told."""
    try:
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        fork = _raw_fork()
        children: dict[int, str | None] = {}  # pid -> temporary workdir to remove once it is reaped
        while True:
            msg, fds, _, _ = socket.recv_fds(sock, 16, 4)
            kind = msg[:1]
            if kind == b"S" and len(fds) == 4 and len(msg) == 1 + _PID.size:
                (uid,) = _PID.unpack(msg[1:])
                pidfd, pid, tmp = _fork_child(plan, sock, fds, uid, fork)
                children[pid] = tmp
                socket.send_fds(sock, [b"P" + _PID.pack(pid)], [pidfd])
                os.close(pidfd)
            elif kind in (b"R", b"W") and len(msg) == 1 + _PID.size and not fds:
                (pid,) = _PID.unpack(msg[1:])
                if pid not in children:
                    os._exit(1)  # not ours: the worker is confused
                _, status = os.waitpid(pid, 0)
                tmp = children.pop(pid)
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
                if kind == b"W":
                    sock.send(b"X" + _EXIT.pack(pid, status))
            else:
                os._exit(0)  # EOF (the worker is gone) or nonsense: children die with us
    except BaseException:
        os._exit(1)
    os._exit(0)


def _fork_child(plan: ChildPlan, sock: socket.socket, fds: list[int], uid: int,
                fork: Callable[[], int] | None) -> tuple[int, int, str | None]:
    # Without a tmpfs layer each child gets a fresh directory of its own, removed when it is reaped.
    tmp = None if plan.mount_point is not None else tempfile.mkdtemp(prefix="sandbox-")
    if tmp is not None and plan.switch_user:
        os.chown(tmp, uid, uid)
    me = os.getpid()
    pid = os.fork() if fork is None else _checked(fork())
    if pid == 0:
        if fork is not None and "random" in sys.modules:
            # What os.fork's child hooks do that a snippet can see: a fresh seed (else every child draws the same).
            sys.modules["random"].seed()
        os.close(sock.fileno())
        child.main(plan, me, tmp or plan.workdir, uid, *fds)
    for fd in fds:
        os.close(fd)
    return os.pidfd_open(pid), pid, tmp


def _raw_fork() -> Callable[[], int] | None:
    """libc's fork() itself, called with the GIL held (PyDLL), or None where it is not safe to use.

    `os.fork()` also runs CPython's at-fork work in the child: it re-creates the locks and thread states that other
    threads may have held at the fork (there are none here) and runs the Python hooks of `threading` and `random`.
    In a child of the warm interpreter that costs ~0.7 ms of CPU and ~200 copy-on-write faults, a tenth of a small
    snippet. The zygote has a single thread and forks only from its own loop, between calls, so nothing that work
    repairs can be broken; the child redoes the one hook whose effect a snippet can see (see `_fork_child`).
    """
    if threading.active_count() != 1 or len(os.listdir(f"/proc/{os.getpid()}/task")) != 1:
        return None
    try:
        fork = ctypes.PyDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return None
    fork.restype, fork.argtypes = ctypes.c_int, []
    return fork


def _checked(pid: int) -> int:
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return pid
