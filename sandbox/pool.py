"""The supervisor: a pool of warm workers, a wall-clock watchdog on each, and the public `Sandbox`/`Session`.

Each worker is a separate Python process (see `worker.py`) that serves one request at a time; the pool hands
idle workers to callers through a queue, so `run` is thread-safe and `run_many` runs one snippet per worker
concurrently. The worker enforces the snippet's timeout itself; the supervisor gives it `timeout + GRACE_S`
more and otherwise kills it (and with it, by parent-death signal, its zygote and child) and starts a fresh one.
A worker whose zygote died answers "lost" and is replaced the same way.
"""

from __future__ import annotations

import os
import queue
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

from .frames import read_frame, write_frame
from .types import BASE_LAYERS, LAYERS, RunResult, SandboxError

GRACE_S = 5.0  # how long past the snippet timeout a worker may stay silent before we call it hung
START_TIMEOUT_S = 120.0  # importing sympy on a loaded 2-core CI machine can take a while
DEFAULT_PRELOAD = ("sympy", "math", "cmath", "fractions", "decimal", "itertools", "functools", "collections",
                   "statistics", "random", "re", "string", "operator", "numbers", "heapq", "bisect")
UID_BASE = 65000  # child uid = UID_BASE + worker index: distinct from root, from nobody and from each other
_BOOT = "import sys; sys.path.insert(0, {root!r}); from sandbox.worker import main; main()"
# The worker's whole environment: nothing of the caller's (secrets, proxies) reaches it or its children.
_WORKER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MALLOC_ARENA_MAX": "2", "PYTHONDONTWRITEBYTECODE": "1",
               "LANG": "C.UTF-8"}


class _Worker:
    """One worker process and its frame channel. Used by one thread at a time (it sits in the idle queue)."""

    def __init__(self, index: int, config: dict[str, Any]) -> None:
        self.index = index
        root = str(Path(__file__).resolve().parent.parent)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT.format(root=root)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_WORKER_ENV, cwd="/", close_fds=True,
            start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._w, self._r = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        write_frame(self._w, {"config": {**config, "uid": config["uid_base"] + index}})
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
        timeout: wall-clock seconds per snippet (the CPU-time limit is this rounded up, plus 1).
        memory_mb: address-space limit per snippet, including the ~0.3 GB the warm interpreter already maps.
        max_output: cap on stdout+stderr bytes per snippet; past it the snippet is killed ("output_limit").
        strict: refuse to start unless every layer in `layers` is active.
        layers: the optional layers to use (subset of `sandbox.types.LAYERS`); None means all that the machine
            supports. Layers named explicitly are required, like `strict`.
        tmpfs_mb: size of the per-snippet tmpfs working directory (and the largest file a snippet may write).
        open_files: RLIMIT_NOFILE per snippet.
        processes: RLIMIT_NPROC per snippet (threads count; new processes are forbidden by seccomp anyway).
        preload: modules imported by each worker before forking. A child can read only the interpreter's stdlib
            and site-packages, so it can import other modules from there too, but anew for every snippet (slow).
        uid_base: children of worker i run as uid/gid ``uid_base + i`` (when started as root). Give concurrent
            sandboxes on one machine distinct ranges so their children share no uid (signals, RLIMIT_NPROC).
        prewarm: each child, prepared before its request, first runs a small SymPy warm-up (output discarded),
            so the pages a typical snippet touches are already copied when the request comes: lower latency
            when the machine has a spare moment between requests, a little more CPU per snippet in total.

    Example:
        >>> with Sandbox(workers=2, timeout=3.0) as sb:
        ...     sb.run("from sympy import *\\nx = symbols('x')\\nprint(factor(x**2-1))").stdout
        '(x - 1)*(x + 1)\\n'
    """

    def __init__(self, *, workers: int = 2, timeout: float = 3.0, memory_mb: int = 1024, max_output: int = 65536,
                 strict: bool = False, layers: Iterable[str] | None = None, tmpfs_mb: int = 64,
                 open_files: int = 256, processes: int = 64, preload: Sequence[str] = DEFAULT_PRELOAD,
                 uid_base: int = UID_BASE, prewarm: bool = True) -> None:
        _check_int("workers", workers, 1)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        _check_int("memory_mb", memory_mb, 256)
        _check_int("max_output", max_output, 1)
        _check_int("tmpfs_mb", tmpfs_mb, 1)
        _check_int("open_files", open_files, 16)
        _check_int("processes", processes, 1)
        _check_int("uid_base", uid_base, 1)
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
            "open_files": open_files, "processes": processes, "preload": list(preload), "uid_base": uid_base,
            "prewarm": bool(prewarm),
        }
        self._n = workers
        self._idle: queue.Queue[_Worker | int] = queue.Queue()
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
        started = [_Worker(i, self._config) for i in range(self._n)]
        try:
            for w in started:
                w.wait_ready()
        except SandboxError:
            for w in started:
                w.kill()
            raise
        self.layers = {**{name: True for name in BASE_LAYERS}, **started[0].layers}
        self.problems = started[0].problems
        for w in started:
            self._all[w.index] = w
            self._idle.put(w)
        self._executor = ThreadPoolExecutor(max_workers=self._n, thread_name_prefix="sandbox")
        self._state = "running"

    def close(self) -> None:
        """Stop all workers. Idempotent."""
        with self._start_lock:
            if self._state != "running":
                self._state = "closed"
                return
            self._state = "closed"
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        # Wait for runs in flight (each holds its worker outside the idle queue) before closing their pipes.
        deadline = time.monotonic() + self.timeout + self.grace_s
        for _ in range(self._n):
            try:
                self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        with self._lock:
            _close_all(self._all)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._all.values()]

    # -- running -------------------------------------------------------------------------------------------

    def run(self, code: str, *, timeout: float | None = None) -> RunResult:
        """Run `code` in a fresh confined child and return how it went. Thread-safe.

        `timeout` may shorten the sandbox's timeout for this call, not lengthen it (the CPU limit is per pool).
        """
        return self._run(code, [], timeout)

    def run_many(self, codes: Iterable[str], *, timeout: float | None = None) -> list[RunResult]:
        """Run several snippets concurrently across the workers; results keep the input order."""
        self.start()
        assert self._executor is not None
        return list(self._executor.map(lambda c: self._run(c, [], timeout), list(codes)))

    def session(self) -> Session:
        """A sequence of blocks where later blocks see earlier definitions (see `Session`)."""
        return Session(self)

    def _run(self, code: str, prelude: list[str], timeout: float | None) -> RunResult:
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if self._state != "running":
            self.start()
        t = min(float(timeout), self.timeout) if timeout is not None else self.timeout
        start = time.monotonic()
        for attempt in range(2):
            worker = self._take()
            try:
                reply = worker.request({"code": code, "prelude": prelude, "timeout": t},
                                       time.monotonic() + t + self.grace_s)
            except (EOFError, TimeoutError, OSError, ValueError) as e:
                # The worker died or hung: replace it. The snippet is reported as killed, never retried.
                self._replace(worker)
                status = "timeout" if isinstance(e, TimeoutError) else "killed"
                return RunResult(status, stderr=f"sandbox worker lost ({type(e).__name__}); restarted\n",
                                 wall_s=time.monotonic() - start)
            if reply.get("type") != "lost":
                break
            # Its zygote died: the worker goes, and a fresh one (with a fresh zygote) takes the slot. A snippet
            # that never reached a child is run once more; one that did is reported as killed.
            self._replace(worker)
            if reply.get("ran") or attempt:
                return RunResult("killed", stderr=f"sandbox worker lost ({reply.get('error')}); restarted\n",
                                 wall_s=time.monotonic() - start)
        if reply.get("type") != "result":
            self._replace(worker)
            raise SandboxError(f"sandbox failed: {reply.get('error')}")
        self._idle.put(worker)
        return RunResult(reply["status"], reply["stdout"], reply["stderr"], reply["returncode"], reply["signal"],
                         time.monotonic() - start)

    def _take(self) -> _Worker:
        while True:
            try:
                item = self._idle.get(timeout=0.5)
                break
            except queue.Empty:
                if self._state == "closed":
                    raise SandboxError("sandbox is closed") from None
        if self._state == "closed":
            self._idle.put(item)
            raise SandboxError("sandbox is closed")
        if isinstance(item, _Worker):
            return item
        try:  # a slot whose worker was lost: start its replacement now
            worker = _Worker(item, self._config)
            worker.wait_ready()
        except BaseException:
            self._idle.put(item)
            raise
        with self._lock:
            self._all[item] = worker
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.pop(worker.index, None)
        self._idle.put(worker.index)  # restarted lazily by the next caller that takes this slot


class Session:
    """Blocks run one after another where each sees the definitions of the earlier ones.

    Each block runs in a fresh child that first replays the earlier blocks with their output discarded, so the
    returned stdout is only this block's, and nothing is shared with other sessions or snippets. Blocks that
    finished (`ok`) or raised (`error`) are replayed; a raising block's effects up to the exception are thus
    reproduced, as in a notebook, and its exception is ignored on replay. Blocks stopped by a limit (timeout,
    memory, output, signal) are not replayed. Replays count against each block's timeout, and code whose
    result is not deterministic (random numbers, time) may differ on replay.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox
        self._blocks: list[str] = []
        self._lock = threading.Lock()

    def run(self, code: str, *, timeout: float | None = None) -> RunResult:
        with self._lock:
            result = self._sb._run(code, list(self._blocks), timeout)
            if result.status in ("ok", "error"):
                self._blocks.append(code)
            return result

    @property
    def blocks(self) -> list[str]:
        return list(self._blocks)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._blocks.clear()


def _close_all(workers: dict[int, _Worker]) -> None:
    for w in list(workers.values()):
        w.close()
    workers.clear()


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
