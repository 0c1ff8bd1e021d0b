"""The worker's handle on one forked child (a spare, a snippet's child or a session's), and the uids it hands out.

A child is asked of the zygote with four pipes (request, stdout, stderr, ctl) and a uid of its own; the worker keeps
the other ends. Its pid and pidfd arrive later (`attach`), in the order the children were asked for.
"""

from __future__ import annotations

import os
import select
import signal
from dataclasses import dataclass, field

from .zygote import Zygote


class Uids:
    """The uids of one worker's slot (see `uids.py`): every live child gets one that no other live child holds, so
    no two children, of any session or snippet, can renice, signal or count threads against each other."""

    def __init__(self, uids: list[int]) -> None:
        self._free = list(reversed(uids))
        self._all = set(uids)

    def take(self) -> int:
        if not self._free:
            raise RuntimeError("no free uid in this worker's slot (more live children than the slot holds)")
        return self._free.pop()

    def give(self, uid: int) -> None:
        if uid in self._all:
            self._free.append(uid)


@dataclass
class Child:
    """A child forked by the zygote: the worker's ends of its pipes, and its pid/pidfd once known."""

    req_w: int
    out_r: int
    err_r: int
    ctl_r: int
    uid: int
    ready: bool = False
    pid: int = -1
    pidfd: int = -1
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def spawn(cls, zygote: Zygote, uids: Uids) -> Child:
        req_r, req_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        uid = uids.take()
        try:
            zygote.spawn([req_r, out_w, err_w, ctl_w], uid)
        except BaseException:
            uids.give(uid)
            for fd in (req_w, out_r, err_r, ctl_r):
                os.close(fd)
            raise
        finally:
            for fd in (req_r, out_w, err_w, ctl_w):
                os.close(fd)
        return cls(req_w, out_r, err_r, ctl_r, uid)

    def attach(self, zygote: Zygote) -> None:
        """Learn our pid and pidfd (the zygote reports children in the order they were asked for)."""
        if self.pid < 0:
            self.pid, self.pidfd = zygote.spawned()

    def wait_ready(self, timeout_s: float) -> str | None:
        """None once the child is confined, else why it is not."""
        if self.ready:
            return None
        if not select.select([self.ctl_r], [], [], timeout_s)[0]:
            return f"not ready after {timeout_s:.0f} s"
        ready = os.read(self.ctl_r, 4096)
        self.ready = ready == b"K"
        return None if self.ready else "child confinement failed: " + (ready.decode(errors="replace") or "EOF")

    def kill(self) -> None:
        kill(self.pid, self.pidfd)

    def close_fds(self) -> None:
        for name in ("req_w", "out_r", "err_r", "ctl_r", "pidfd"):
            fd = getattr(self, name)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)

    def end(self, zygote: Zygote, uids: Uids) -> int | None:
        """Kill the child if it still runs, reap it, free its fds and uid; return its wait status if known."""
        status = None
        try:
            self.attach(zygote)
            self.kill()
            status = zygote.exit_status(self.pid, self.pidfd)
        finally:
            self.close_fds()
            uids.give(self.uid)
        return status


def kill(pid: int, pidfd: int) -> None:
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except (ProcessLookupError, OSError):
        pass
    try:  # and its process group, should it have forked (possible only with seccomp off)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
