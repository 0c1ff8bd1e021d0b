"""Live sessions, worker side: each session's blocks run in one child that stays alive between blocks.

A new session takes the worker's ready spare (already confined and warm, forked from the zygote like any child,
with its own uid, tmpfs workdir and limits) and keeps it; each block is written to it as a frame and answered by a
DONE marker on its ctl pipe once the block's output is in the pipes (see `child.serve_session`). No replay: the
namespace simply lives on. Bounds, per worker:
- at most `max_sessions` live session children; a new one evicts the least recently used;
- a session idle for `idle_s` is ended;
- each child keeps the snippet limits (address space, files, threads), with a CPU budget for the whole session.
A session that is gone (evicted, idle, died, closed) is answered with the reason, so the supervisor can restore it
(replay, where that is exact) or say what happened.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections import OrderedDict
from typing import Any

from .child import DONE, KIND_MEMORY, KIND_TIMEOUT, SESSION_FIRST, SESSION_NEXT, write_request
from .live import Child, Uids, kill
from .zygote import Zygote

SESSION_GRACE_S = 0.5  # past a block's timeout, a child that did not stop at SIGALRM is killed
_REMEMBER = 4096  # reasons kept for sessions that are gone


class Sessions:
    """The worker's live session children, least recently used first."""

    def __init__(self, zygote: Zygote, uids: Uids, max_sessions: int, idle_s: float) -> None:
        self.zygote, self.uids = zygote, uids
        self.max_sessions, self.idle_s = max_sessions, idle_s
        self.live: OrderedDict[str, tuple[Child, float]] = OrderedDict()  # sid -> (child, last used)
        self.gone: OrderedDict[str, str] = OrderedDict()  # sid -> why it is gone

    def open(self, sid: str, child: Child) -> None:
        while len(self.live) >= self.max_sessions:
            old = next(iter(self.live))
            self.end(old, f"evicted: its worker holds at most {self.max_sessions} live sessions and this was the "
                          "least recently used")
        self.live[sid] = (child, time.monotonic())

    def get(self, sid: str) -> Child | None:
        entry = self.live.get(sid)
        if entry is None:
            return None
        self.live[sid] = (entry[0], time.monotonic())
        self.live.move_to_end(sid)
        return entry[0]

    def end(self, sid: str, why: str, later: list[Child] | None = None) -> None:
        """End a session's child; with `later`, kill it now and leave it there for the caller to reap."""
        entry = self.live.pop(sid, None)
        if entry is not None and later is not None:
            entry[0].attach(self.zygote)
            entry[0].kill()
            later.append(entry[0])
        elif entry is not None:
            entry[0].end(self.zygote, self.uids)
        self.forget(sid, why)

    def forget(self, sid: str, why: str) -> None:
        self.gone[sid] = why
        while len(self.gone) > _REMEMBER:
            self.gone.popitem(last=False)

    def why_gone(self, sid: str) -> str:
        return self.gone.get(sid, "unknown to its worker")

    def next_expiry_s(self) -> float | None:
        if not self.live:
            return None
        _, used = next(iter(self.live.values()))
        return max(0.0, used + self.idle_s - time.monotonic())

    def expire(self) -> None:
        now = time.monotonic()
        for sid, (_, used) in list(self.live.items()):
            if now - used >= self.idle_s:
                self.end(sid, f"idle for more than {self.idle_s:g} s")

    def close_all(self) -> None:
        for sid in list(self.live):
            self.end(sid, "its worker stopped")


def run_block(sessions: Sessions, sid: str, child: Child, first: bool, req: dict[str, Any], ctl_fd: int,
              max_output: int) -> dict[str, Any]:
    """Send one block to the session's child and collect its outcome. The reply says whether the child lives on."""
    timeout = float(req["timeout"])
    start = time.monotonic()
    # Died between blocks (a thread of an earlier block, say)?
    if not first and select.select([child.pidfd], [], [], 0)[0]:
        status = child_status(sessions, sid)
        why = f"its process died between blocks ({status})"
        sessions.forget(sid, why)
        return {"type": "gone", "why": why}
    try:
        write_request(child.req_w, SESSION_FIRST if first else SESSION_NEXT, str(req["code"]), timeout)
    except (BrokenPipeError, OSError):
        pass  # it died; the pidfd says so below
    reply, alive, why = _collect(child, ctl_fd, start, start + timeout, start + timeout + SESSION_GRACE_S,
                                 max_output)
    if not alive:
        sessions.live.pop(sid, None)
        status = child.end(sessions.zygote, sessions.uids)
        if why is None:  # it died by itself: its wait status says how
            reply.update(_died(status))
            why = f"its process died during a block ({_describe(status)})"
        sessions.forget(sid, why)
        reply["why"] = why
    reply.update(alive=alive, wall_s=time.monotonic() - start)
    return reply


def child_status(sessions: Sessions, sid: str) -> str:
    entry = sessions.live.pop(sid, None)
    if entry is None:
        return "unknown"
    return _describe(entry[0].end(sessions.zygote, sessions.uids))


def _describe(status: int | None) -> str:
    if status is None:
        return "status unknown"
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"


def _died(status: int | None) -> dict[str, Any]:
    sig = os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None
    state = "timeout" if sig == signal.SIGXCPU else "killed" if sig is not None else "ok" if code == 0 else "error"
    return {"status": state, "returncode": code, "signal": sig}


def _collect(child: Child, ctl_fd: int, start: float, soft: float, hard: float,
             max_output: int) -> tuple[dict[str, Any], bool, str | None]:
    """Pump the block's output until its DONE marker (alive), the child's death, the hard deadline or the output cap
    (the child is then killed). Returns (reply, alive, why it was killed: None when it died by itself)."""
    bufs = {child.out_r: bytearray(), child.err_r: bytearray()}
    poller = select.poll()
    for fd in (child.out_r, child.err_r, child.ctl_r, child.pidfd, ctl_fd):
        poller.register(fd, select.POLLIN)
    total = 0
    marker = b""
    died = over = False
    while True:
        left = hard - time.monotonic()
        if left <= 0:
            kill(child.pid, child.pidfd)
            reply = _reply("timeout", bufs, child, None, signal.SIGKILL)
            return reply, False, f"a block did not stop at its timeout ({soft - start:g} s) and was killed"
        for fd, _ in poller.poll(left * 1000):
            if fd == ctl_fd:  # the supervisor went away (it never writes while waiting): take the child along
                kill(child.pid, child.pidfd)
                os._exit(0)
            if fd == child.pidfd:
                died = True
                continue
            chunk = os.read(fd, 65536) if fd != child.ctl_r else os.read(fd, DONE.size - len(marker))
            if fd == child.ctl_r:
                marker += chunk
                if not chunk and not marker:  # ctl closed: it is exiting; the pidfd will say how
                    poller.unregister(fd)
                    continue
                if marker[:1] != b"D" or not chunk:
                    kill(child.pid, child.pidfd)
                    return (_reply("killed", bufs, child, None, signal.SIGKILL), False,
                            "its process broke the session protocol and was killed")
                continue
            if not chunk:
                poller.unregister(fd)
                continue
            keep = max(0, min(len(chunk), max_output - total))
            bufs[fd] += chunk[:keep]
            total += len(chunk)
            over = total > max_output
        if over:
            kill(child.pid, child.pidfd)
            return (_reply("output_limit", bufs, child, None, signal.SIGKILL), False,
                    "a block exceeded max_output and was killed")
        if len(marker) == DONE.size:
            total = _drain(child, bufs, total, max_output)
            if total > max_output:
                kill(child.pid, child.pidfd)
                return (_reply("output_limit", bufs, child, None, signal.SIGKILL), False,
                        "a block exceeded max_output and was killed")
            _, kind, code = DONE.unpack(marker)
            if kind == KIND_TIMEOUT:
                return _reply("timeout", bufs, child, None, signal.SIGALRM), True, None
            if kind == KIND_MEMORY:
                return _reply("memory", bufs, child, 1, None), True, None
            return _reply("ok" if code == 0 else "error", bufs, child, code, None), True, None
        if died:
            _drain(child, bufs, total, max_output)
            return _reply("killed", bufs, child, None, None), False, None


def _drain(child: Child, bufs: dict[int, bytearray], total: int, max_output: int) -> int:
    """Read what is already in the output pipes (written before the marker, or before the child died)."""
    for fd in (child.out_r, child.err_r):
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            bufs[fd] += chunk[: max(0, max_output - total)]
            total += len(chunk)
            if total > max_output:
                return total
    return total


def _reply(status: str, bufs: dict[int, bytearray], child: Child, code: int | None,
           sig: int | None) -> dict[str, Any]:
    return {"type": "result", "status": status, "stdout": bufs[child.out_r].decode(errors="replace"),
            "stderr": bufs[child.err_r].decode(errors="replace"), "returncode": code, "signal": sig}
