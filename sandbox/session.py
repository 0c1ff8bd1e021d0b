"""`Session`, supervisor side: a sequence of blocks that share one namespace in one live child.

The child (see `sessions.py` in the worker and `child.serve_session`) keeps the namespace between blocks, so a
block costs what it runs, not a replay of everything before it. The child can go away: evicted (its worker holds
at most `max_sessions`), idle past `session_idle_s`, killed by a block (a hard timeout, the output cap, a crash),
or with its worker. The next block then restores the namespace by replaying the earlier blocks in a fresh child,
but only where that is exact: no block was interrupted at its timeout (its partial effects cannot be re-run), and
every replayed block gives the very result it gave the first time (so code that reads time or random numbers and
prints what it got is caught). Otherwise the block is answered with status "killed" and a message saying what
happened, and the session starts over, empty, with the block after it.
"""

from __future__ import annotations

import threading
import time
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .types import RunResult, SandboxError

if TYPE_CHECKING:
    from .pool import Sandbox, _Worker


class _Place:
    """Where the session's child lives; shared with the finalizer, which ends it if the session is dropped."""

    def __init__(self) -> None:
        self.sid: str | None = None
        self.slot = -1
        self.worker: _Worker | None = None


class Session:
    """Blocks run one after another in one namespace, in a live child of their own; each returns only its output.

    Nothing is shared with other sessions or snippets: not the process, the namespace or the working directory.
    A block stopped at its timeout is interrupted (its effects until then stay, as in a notebook); one that does
    not stop, or that crashes or floods its output, ends the child, and the next block restores the earlier ones
    (see the module docstring for when that is exact, and what happens when it is not).

    Attributes:
        replays: how often the history was replayed into a fresh child (0 in the normal path).
        lost: why the session's child last went away, or None.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox
        self._lock = threading.Lock()
        self._place = _Place()
        self._live = False  # a child holds our namespace, as far as we know
        self._history: list[tuple[str, float, RunResult]] = []  # the blocks that made the live namespace
        self._inexact: str | None = None  # why replaying the history would not reproduce the namespace
        self._closed = False
        self.replays = 0
        self.lost: str | None = None
        weakref.finalize(self, _drop, sandbox, self._place)

    def run(self, code: str, *, timeout: float | None = None) -> RunResult:
        """Run one block in the session's namespace and return its own output. Thread-safe (blocks serialize)."""
        t = self._sb._check_call(code, timeout)
        with self._lock:
            if self._closed:
                raise SandboxError("session is closed")
            start = time.monotonic()
            if self._live:
                reply = self._block(code, t, new=False)
                if reply["type"] != "gone":
                    return self._record(code, t, reply, start)
                self._gone(str(reply["why"]))
            if self._history:
                problem = self._restore()
                if problem is not None:
                    why = self.lost
                    self._reset()
                    return RunResult("killed", stderr=(
                        f"sandbox session lost: {why}; {problem}. The names defined by earlier blocks are gone; "
                        "the next block starts an empty session.\n"), wall_s=time.monotonic() - start)
            return self._record(code, t, self._block(code, t, new=not self._live), start)

    @property
    def blocks(self) -> list[str]:
        """The blocks the live namespace went through (those that ended its child are not among them)."""
        return [code for code, _, _ in self._history]

    def close(self) -> None:
        """End the session's child. Idempotent; `with sb.session() as s:` calls it."""
        with self._lock:
            self._closed = True
            self._reset()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------------------

    def _block(self, code: str, t: float, new: bool) -> dict[str, Any]:
        place = self._place
        if new:
            self._unplace()
            place.sid, place.slot = self._sb._place_session()
        elif self._sb._worker_of(place.slot) is not place.worker:
            return {"type": "gone", "why": "its worker was lost and restarted"}
        reply = self._sb._request(place.slot, {"code": code, "timeout": t, "session": place.sid, "new": new}, t)
        if new:
            place.worker = self._sb._worker_of(place.slot)
            self._live = reply["type"] == "result"
        return reply

    def _record(self, code: str, t: float, reply: dict[str, Any], start: float) -> RunResult:
        stderr = reply["stderr"]
        if not reply.get("alive", True):
            self._gone(str(reply.get("why")))
            stderr += f"sandbox: the session ended: {self.lost}; the next block replays the earlier ones if exact\n"
        r = RunResult(reply["status"], reply["stdout"], stderr, reply["returncode"], reply["signal"],
                      time.monotonic() - start)
        if self._live:
            self._history.append((code, t, r))
            if r.status == "timeout" and self._inexact is None:
                self._inexact = f"block {len(self._history)} was interrupted at its timeout"
        return r

    def _gone(self, why: str) -> None:
        """The child is gone (the worker forgot it already)."""
        self.lost = why
        self._live = False
        self._unplace(end_child=False)

    def _restore(self) -> str | None:
        """Replay the history into a fresh child; None when it reproduced every block, else why not."""
        if self._inexact is not None:
            return f"{self._inexact}, so replaying the earlier blocks would not be exact"
        history, self._history = self._history, []
        for i, (code, t, first) in enumerate(history):
            reply = self._block(code, t, new=i == 0)
            if reply["type"] != "result" or not reply.get("alive", True):
                return f"replaying block {i + 1} did not finish ({reply.get('why')})"
            again = (reply["status"], reply["stdout"], reply["stderr"], reply["returncode"])
            if again != (first.status, first.stdout, first.stderr, first.returncode):
                return (f"replaying block {i + 1} gave a different result than its first run (does it read the "
                        "time or random numbers?), so the replay would not be exact")
            self._history.append((code, t, first))
        self.replays += 1
        return None

    def _reset(self) -> None:
        self._unplace(end_child=self._live)
        self._live = False
        self._history = []
        self._inexact = None

    def _unplace(self, end_child: bool = True) -> None:
        place = self._place
        if place.sid is not None:
            self._sb._end_session(place.sid, place.slot, place.worker if end_child else None)
        place.sid, place.worker = None, None


def _drop(sandbox: Sandbox, place: _Place) -> None:
    """A session dropped without close(): its child ends with its worker's next request (never blocks here)."""
    if place.sid is not None:
        sandbox._end_session(place.sid, place.slot, place.worker, now=False)
