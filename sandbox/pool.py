"""The supervisor: a pool of warm workers, a wall-clock watchdog on each, and the public `Sandbox`.

Each worker is a separate Python process (see `worker.py`) that serves one request at a time; the pool hands
idle workers to callers, so `run` is thread-safe and `run_many` runs one snippet per worker concurrently. A
session lives on one worker (its child is that worker's), so its blocks wait for that worker; new sessions go to
the worker with the fewest. The worker enforces the snippet's timeout itself; the supervisor gives it
`timeout + GRACE_S` more and otherwise kills it (and with it, by parent-death signal, its zygote and children) and
starts a fresh one. A worker whose zygote died answers "lost" and is replaced the same way.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from . import uids
from .frames import read_frame, write_frame
from .session import Session
from .types import BASE_LAYERS, LAYERS, RunResult, SandboxError

GRACE_S = 5.0  # how long past the snippet timeout a worker may stay silent before we call it hung
START_TIMEOUT_S = 120.0  # importing sympy on a loaded 2-core CI machine can take a while
DEFAULT_PRELOAD = ("sympy", "math", "cmath", "fractions", "decimal", "itertools", "functools", "collections",
                   "statistics", "random", "re", "string", "operator", "numbers", "heapq", "bisect")
UID_BASE = 65000  # where the search for uid slots starts (see `uids.py`): above the usual ranges of real users
_BOOT = "import sys; sys.path.insert(0, {root!r}); from sandbox.worker import main; main()"
# The worker's whole environment: nothing of the caller's (secrets, proxies) reaches it or its children.
_WORKER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MALLOC_ARENA_MAX": "2", "PYTHONDONTWRITEBYTECODE": "1",
               "LANG": "C.UTF-8"}


class _Worker:
    """One worker process and its frame channel. Used by one thread at a time (taken out of the idle set)."""

    def __init__(self, index: int, config: dict[str, Any], uid_slot: list[int]) -> None:
        self.index = index
        self.closing: list[str] = []  # sessions to end, sent along with the next request to this worker
        root = str(Path(__file__).resolve().parent.parent)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT.format(root=root)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_WORKER_ENV, cwd="/", close_fds=True,
            start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._w, self._r = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        write_frame(self._w, {"config": {**config, "uids": uid_slot}})
        self.layers: dict[str, bool] = {}
        self.problems: list[str] = []

    def wait_ready(self) -> None:
        try:
            msg = read_frame(self._r, time.monotonic() + START_TIMEOUT_S)
        except (EOFError, TimeoutError, ValueError) as e:
            self.kill()
            raise SandboxError(f"worker {self.index} failed to start: {e!r}") from e
        if msg.get("type") != "ready":
            self.kill()
            raise SandboxError(f"worker {self.index} failed to start: {msg.get('error')}")
        self.layers, self.problems = msg["layers"], msg.get("problems", [])

    def request(self, req: dict[str, Any], deadline: float) -> dict[str, Any]:
        if self.closing:
            req = {**req, "close": self.closing}
            self.closing = []
        write_frame(self._w, req)
        return read_frame(self._r, deadline)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.close()

    def close(self, wait_s: float = 2.0) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        try:
            self.proc.wait(wait_s)  # EOF on its stdin makes it exit
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Sandbox:
    """A pool of warm, isolated Python workers for running untrusted snippets.

    Args:
        workers: number of worker processes (snippets run concurrently up to this many).
        timeout: wall-clock seconds per snippet or session block (a snippet's CPU limit is this rounded up, plus 1).
        memory_mb: address-space limit per snippet (and per session), including the ~0.3 GB the warm interpreter
            already maps.
        max_output: cap on stdout+stderr bytes per snippet or block; past it the child is killed ("output_limit").
        strict: refuse to start unless every layer in `layers` is active.
        layers: the optional layers to use (subset of `sandbox.types.LAYERS`); None means all that the machine
            supports. Layers named explicitly are required, like `strict`.
        tmpfs_mb: size of the per-child tmpfs working directory (and the largest file a snippet may write).
        open_files: RLIMIT_NOFILE per child.
        processes: RLIMIT_NPROC per child (threads count; new processes are forbidden by seccomp anyway).
        preload: modules imported by each worker before forking. A child can read only the interpreter's stdlib
            and site-packages, so it can import other modules from there too, but anew for every snippet (slow).
        uid_base: where the search for free uid slots starts (when started as root). Each worker leases a slot
            of 64 uids host-wide (see `sandbox/uids.py`), and every live child of it runs as a uid of its own:
            no two children, of this pool or of another pool on the machine, share a uid.
        prewarm: each child, prepared before its request, runs a small SymPy warm-up (output discarded) while no
            request is waiting, so the pages a typical snippet touches are already copied when the request comes.
        max_sessions: live session children per worker; a session beyond it ends the least recently used one
            (whose next block then replays its history where that is exact, see `Session`). At most 60.
        session_idle_s: a session without a block for this long is ended (like an evicted one).
        session_cpu_s: CPU seconds a session's child may use in all (RLIMIT_CPU; each block is also stopped at
            `timeout` of wall-clock time).

    Example:
        >>> with Sandbox(workers=2, timeout=3.0) as sb:
        ...     sb.run("from sympy import *\\nx = symbols('x')\\nprint(factor(x**2-1))").stdout
        '(x - 1)*(x + 1)\\n'
    """

    def __init__(self, *, workers: int = 2, timeout: float = 3.0, memory_mb: int = 1024, max_output: int = 65536,
                 strict: bool = False, layers: Iterable[str] | None = None, tmpfs_mb: int = 64,
                 open_files: int = 256, processes: int = 64, preload: Sequence[str] = DEFAULT_PRELOAD,
                 uid_base: int = UID_BASE, prewarm: bool = True, max_sessions: int = 16,
                 session_idle_s: float = 300.0, session_cpu_s: float = 60.0) -> None:
        _check_int("workers", workers, 1)
        _check_positive("timeout", timeout)
        _check_int("memory_mb", memory_mb, 256)
        _check_int("max_output", max_output, 1)
        _check_int("tmpfs_mb", tmpfs_mb, 1)
        _check_int("open_files", open_files, 16)
        _check_int("processes", processes, 1)
        _check_int("uid_base", uid_base, 1)
        _check_int("max_sessions", max_sessions, 1)
        if max_sessions > uids.SLOT - 4:  # a slot's uids also serve the running snippet and the spares
            raise ValueError(f"max_sessions must be <= {uids.SLOT - 4}, got {max_sessions}")
        _check_positive("session_idle_s", session_idle_s)
        _check_positive("session_cpu_s", session_cpu_s)
        chosen = list(LAYERS) if layers is None else list(layers)
        unknown = sorted(set(chosen) - set(LAYERS))
        if unknown:
            raise ValueError(f"layers must be a subset of {list(LAYERS)}, got unknown {unknown}")
        if isinstance(preload, str):
            raise ValueError(f"preload must be a sequence of module names, got the string {preload!r}")
        self.timeout = float(timeout)
        self.max_output = max_output
        self.strict = strict
        self._config: dict[str, Any] = {
            "layers": chosen, "required": chosen if (strict or layers is not None) else [],
            "timeout": self.timeout, "memory_mb": memory_mb, "max_output": max_output, "tmpfs_mb": tmpfs_mb,
            "open_files": open_files, "processes": processes, "preload": list(preload), "prewarm": bool(prewarm),
            "max_sessions": max_sessions, "session_idle_s": float(session_idle_s),
            "session_cpu_s": float(session_cpu_s),
        }
        self._uid_base = uid_base
        self._lease: uids.UidLease | None = None
        self._n = workers
        # Idle workers by slot index; an int is a slot whose worker was lost (restarted by its next taker).
        self._idle: dict[int, _Worker | int] = {}
        self._cond = threading.Condition()
        self._sessions_on = [0] * workers  # open sessions per slot, to place new ones
        self._sids = itertools.count()
        self._all: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._state = "new"  # -> "running" (start, or the first run) -> "closed"
        self._start_lock = threading.Lock()
        self.grace_s = GRACE_S
        self.layers: dict[str, bool] = {}
        self.problems: list[str] = []
        # A Sandbox dropped without close() still stops its workers (they also exit when this process does).
        weakref.finalize(self, _close_all, self._all)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start the workers (in parallel) and wait until each is warm. Raises SandboxError on failure.

        Called by `with Sandbox(...)`; otherwise the first run starts the pool.
        """
        with self._start_lock:
            if self._state == "closed":
                raise SandboxError("sandbox is closed")
            if self._state == "new":
                self._start()
        return self

    def _start(self) -> None:
        if os.geteuid() == 0 and "user" in self._config["layers"]:
            self._lease = uids.lease(self._n, self._uid_base)
        started: list[_Worker] = []
        try:
            started += [_Worker(i, self._config, self._slot(i)) for i in range(self._n)]
            for w in started:
                w.wait_ready()
        except BaseException:
            for w in started:
                w.kill()
            if self._lease is not None:
                self._lease.release()
            raise
        self.layers = {**{name: True for name in BASE_LAYERS}, **started[0].layers}
        self.problems = started[0].problems
        for w in started:
            self._all[w.index] = w
            self._idle[w.index] = w
        self._executor = ThreadPoolExecutor(max_workers=self._n, thread_name_prefix="sandbox")
        self._state = "running"

    def close(self) -> None:
        """Stop all workers (and every session's child with them). Idempotent."""
        with self._start_lock:
            if self._state != "running":
                self._state = "closed"
                return
            self._state = "closed"
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        # Wait for runs in flight (each holds its worker outside the idle set) before closing their pipes.
        deadline = time.monotonic() + self.timeout + self.grace_s
        with self._cond:
            while len(self._idle) < self._n and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            _close_all(self._all)
        if self._lease is not None:
            self._lease.release()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._all.values()]

    @property
    def uids(self) -> list[int]:
        """Every uid this pool's children may run as (empty when not started as root)."""
        return self._lease.all_uids if self._lease is not None else []

    def _slot(self, index: int) -> list[int]:
        return self._lease.uids(index) if self._lease is not None else []

    # -- running -------------------------------------------------------------------------------------------

    def run(self, code: str, *, timeout: float | None = None) -> RunResult:
        """Run `code` in a fresh confined child and return how it went. Thread-safe.

        `timeout` may shorten the sandbox's timeout for this call, not lengthen it (the CPU limit is per pool).
        """
        t = self._check_call(code, timeout)
        start = time.monotonic()
        return _result(self._request(None, {"code": code, "timeout": t}, t), start)

    def run_many(self, codes: Iterable[str], *, timeout: float | None = None) -> list[RunResult]:
        """Run several snippets concurrently across the workers; results keep the input order."""
        self.start()
        assert self._executor is not None
        return list(self._executor.map(lambda c: self.run(c, timeout=timeout), list(codes)))

    def session(self) -> Session:
        """A sequence of blocks that share one namespace, in one live child of their own (see `Session`)."""
        return Session(self)

    def _check_call(self, code: str, timeout: float | None) -> float:
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if self._state != "running":
            self.start()
        return min(float(timeout), self.timeout) if timeout is not None else self.timeout

    def _request(self, slot: int | None, req: dict[str, Any], t: float) -> dict[str, Any]:
        """Send `req` to the worker of `slot` (any idle worker when None) and return its reply. A lost worker is
        replaced; the reply is then a made-up result ("killed"/"timeout"), or "gone" for a live session's block."""
        start = time.monotonic()
        block = "session" in req and not req.get("new")
        for attempt in range(2):
            worker = self._take(slot)
            try:
                reply = worker.request(req, time.monotonic() + t + self.grace_s)
            except (EOFError, TimeoutError, OSError, ValueError) as e:
                # The worker died or hung: replace it. The snippet is reported as killed, never retried.
                self._replace(worker)
                status = "timeout" if isinstance(e, TimeoutError) else "killed"
                return _made_up(status, f"sandbox worker lost ({type(e).__name__}); restarted\n",
                                f"its worker was lost ({type(e).__name__}) and restarted")
            if reply.get("type") != "lost":
                break
            # Its zygote died: the worker goes, and a fresh one (with a fresh zygote) takes the slot. A snippet
            # that never reached a child is run once more; one that did is reported as killed.
            self._replace(worker)
            if block:
                return {"type": "gone", "why": f"its worker was lost ({reply.get('error')}) and restarted"}
            if reply.get("ran") or attempt:
                return _made_up("killed", f"sandbox worker lost ({reply.get('error')}); restarted\n",
                                "its worker was lost and restarted", time.monotonic() - start)
        if reply.get("type") not in ("result", "gone", "closed"):
            self._replace(worker)
            raise SandboxError(f"sandbox failed: {reply.get('error')}")
        self._give(worker)
        return reply

    # -- sessions (see session.py) ---------------------------------------------------------------------------

    def _place_session(self) -> tuple[str, int]:
        """A new session id and the slot it will live on: the one with the fewest sessions, idle ones first."""
        if self._state != "running":
            self.start()
        with self._cond:
            slot = min(range(self._n), key=lambda i: (self._sessions_on[i], i not in self._idle, i))
            self._sessions_on[slot] += 1
        return f"{os.getpid()}.{id(self):x}.{next(self._sids)}", slot

    def _worker_of(self, slot: int) -> _Worker | None:
        with self._lock:
            return self._all.get(slot)

    def _end_session(self, sid: str, slot: int, worker: _Worker | None, now: bool = True) -> None:
        """Forget a session; its child ends with the worker's next request, or at once if the worker is idle."""
        with self._cond:
            self._sessions_on[slot] = max(0, self._sessions_on[slot] - 1)
            if worker is None or self._all.get(slot) is not worker:
                return  # never started, or its worker (and the child with it) is gone already
            worker.closing.append(sid)
            if not now or self._state != "running" or self._idle.get(slot) is not worker:
                return
            del self._idle[slot]
        try:
            worker.request({}, time.monotonic() + self.grace_s)
        except (EOFError, TimeoutError, OSError, ValueError):
            self._replace(worker)
            return
        self._give(worker)

    # -- workers ---------------------------------------------------------------------------------------------

    def _take(self, slot: int | None) -> _Worker:
        with self._cond:
            while True:
                if self._state == "closed":
                    raise SandboxError("sandbox is closed")
                if slot is None and self._idle:
                    # Live workers before lost slots: a restart is paid only when no worker is free.
                    index = min(self._idle, key=lambda i: (isinstance(self._idle[i], int), i))
                    break
                if slot is not None and slot in self._idle:
                    index = slot
                    break
                self._cond.wait(0.5)
            item = self._idle.pop(index)
        if isinstance(item, _Worker):
            return item
        try:  # a slot whose worker was lost: start its replacement now
            worker = _Worker(item, self._config, self._slot(item))
            worker.wait_ready()
        except BaseException:
            self._give_slot(item, item)
            raise
        with self._lock:
            self._all[item] = worker
        return worker

    def _give(self, worker: _Worker) -> None:
        self._give_slot(worker.index, worker)

    def _give_slot(self, index: int, item: _Worker | int) -> None:
        with self._cond:
            self._idle[index] = item
            self._cond.notify_all()

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.pop(worker.index, None)
        self._give_slot(worker.index, worker.index)  # restarted lazily by the next caller that takes this slot


def _result(reply: dict[str, Any], start: float) -> RunResult:
    return RunResult(reply["status"], reply["stdout"], reply["stderr"], reply["returncode"], reply["signal"],
                     time.monotonic() - start)


def _made_up(status: str, stderr: str, why: str, wall_s: float = 0.0) -> dict[str, Any]:
    return {"type": "result", "status": status, "stdout": "", "stderr": stderr, "returncode": None,
            "signal": None, "alive": False, "why": why, "wall_s": wall_s}


def _close_all(workers: dict[int, _Worker]) -> None:
    for w in list(workers.values()):
        w.close()
    workers.clear()


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_positive(name: str, value: object) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
