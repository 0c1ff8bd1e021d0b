"""A warm worker: imports sympy once, sets up the per-worker layers, then forks one child per request.

Protocol (length-prefixed JSON on the worker's stdin/stdout, see `frames.py`):
    supervisor -> worker  {"config": {...}}                      once, first
    worker -> supervisor  {"type": "ready", "layers": {...}}     or {"type": "fatal", "error": "..."}
    supervisor -> worker  {"code": "...", "prelude": [...], "timeout": 3.0}
    worker -> supervisor  {"type": "result", "status": ..., "stdout": ..., ...}
                          or {"type": "fatal", "error": "..."} when a child could not be confined
The worker exits when its stdin closes (the supervisor is gone), killing any running child first.
"""

from __future__ import annotations

import gc
import importlib
import os
import select
import signal
import site
import sys
import sysconfig
import time
from typing import Any

from . import landlock, layers
from .child import EXIT_MEMORY, ChildPlan
from .frames import read_frame, write_frame
from .seccomp import compile_filter
from .types import LAYERS

WORK_BASE = "/tmp"  # in the worker's own mount namespace a small tmpfs covers it; the host's /tmp is untouched
WARMUP = """\
from sympy import *
x, y, z = symbols('x y z')
print(factor(x**2 - 1), expand((x + 1)**3), simplify(sin(x)**2 + cos(x)**2), solve(x**2 - 4, x))
print(Rational(1, 3) + Rational(1, 6), sqrt(8), nsimplify(0.5), N(pi, 20), diff(x*sin(x), x))
print(integrate(x**2, x), limit(sin(x)/x, x, 0), Eq(x + 1, 2), simplify((x**2 - 1)/(x - 1)), gcd(12, 18))
"""


def _setup(cfg: dict[str, Any]) -> tuple[ChildPlan, layers.Workdir, dict[str, bool], list[str]]:
    """Apply worker-level layers and prepare the child plan. Returns what is active and what failed (why)."""
    want = set(cfg["layers"])
    required = set(cfg["required"])
    active: dict[str, bool] = {name: False for name in LAYERS}
    problems: list[str] = []
    is_root = os.geteuid() == 0

    def attempt(name: str, fn: Any) -> Any:
        if name not in want:
            return None
        try:
            out = fn()
            active[name] = True
            return out if out is not None else True
        except Exception as e:  # a missing kernel feature shows up as OSError, ImportError, ...
            problems.append(f"{name}: {type(e).__name__}: {e}")
            return None

    seccomp_filter = attempt("seccomp", compile_filter)  # before Landlock: pyseccomp runs ldconfig at import
    attempt("netns", layers.enter_netns)
    attempt("ipcns", layers.enter_ipcns)
    use_tmpfs = bool(attempt("tmpfs", lambda: layers.enter_mountns(WORK_BASE)))
    uid = gid = None
    if "user" in want:
        if is_root:
            uid = gid = int(cfg["uid"])
            active["user"] = True
        else:
            problems.append("user: not running as root, cannot switch to a separate uid")
    workdir = layers.Workdir(os.path.join(WORK_BASE, "sandbox") if use_tmpfs else None, cfg["tmpfs_mb"],
                             uid if uid is not None else os.getuid(), gid if gid is not None else os.getgid(),
                             use_tmpfs)

    def ruleset() -> int:
        # The interpreter's own library and site-packages (for tracebacks and lazy stdlib imports) and shared
        # libraries; deliberately not sys.path, which holds the project checkout (and whatever sits beside it).
        paths = sysconfig.get_paths()
        reads = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
        reads += [*site.getsitepackages(), "/usr/lib", "/lib", "/usr/lib64", "/lib64", "/dev/urandom"]
        return landlock.build_ruleset(reads, [workdir.landlock_path, "/dev/null"])

    ruleset_fd = attempt("landlock", ruleset)
    limits = None
    if "rlimits" in want:
        limits = layers.rlimits(cfg["memory_mb"], int(cfg["timeout"]) + 1, cfg["tmpfs_mb"], cfg["open_files"],
                                cfg["processes"])
        active["rlimits"] = True
    missing = sorted(required - {k for k, v in active.items() if v})
    if missing:
        raise RuntimeError(f"required layers unavailable: {', '.join(missing)}; " + "; ".join(problems))
    stdin_fd = os.open("/dev/null", os.O_RDWR)
    plan = ChildPlan(workdir.path, stdin_fd, limits, uid, gid, ruleset_fd if isinstance(ruleset_fd, int) else None,
                     seccomp_filter if seccomp_filter is not True else None, os.getpid())
    return plan, workdir, active, problems


def _warm(preload: list[str]) -> None:
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    exec(compile(WARMUP, "<warmup>", "exec"), {"__name__": "__warmup__"})
    sys.stdout.flush()


def _kill(pid: int) -> None:
    for target in (-pid, pid):  # the child's process group, then the child itself
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_child(plan: ChildPlan, workdir: layers.Workdir, ctl_fd: int, req: dict[str, Any],
              max_output: int) -> dict[str, Any]:
    """Fork a child from this warm process, let it confine itself and run the request, collect the outcome.

    (Forking a spare child ahead of time was measured slower: while a child shares our pages, every page the
    worker touches for its own bookkeeping is copied, so forking on demand wins on a busy 2-core machine.)
    """
    from . import child  # already imported; here for readability

    workdir.prepare()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ready_r, ready_w = os.pipe()
    sys.stdout.flush()  # a buffered byte here would be printed again by the child
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        for fd in (out_r, err_r, ready_r):
            os.close(fd)
        child.main(plan, out_w, err_w, ready_w, req["code"], req.get("prelude") or [])
    for fd in (out_w, err_w, ready_w):
        os.close(fd)
    try:
        ready = os.read(ready_r, 4096)
        os.close(ready_r)
        if ready != b"K":
            _kill(pid)
            os.waitpid(pid, 0)
            for fd in (out_r, err_r):
                os.close(fd)
            return {"type": "fatal", "error": "child confinement failed: " + ready.decode(errors="replace")}
        return _collect(pid, out_r, err_r, ctl_fd, start, start + float(req["timeout"]), max_output)
    finally:
        workdir.cleanup()


def _collect(pid: int, out_r: int, err_r: int, ctl_fd: int, start: float, deadline: float,
             max_output: int) -> dict[str, Any]:
    """Pump the child's output until it exits, enforcing the deadline and the output cap."""
    pidfd = os.pidfd_open(pid)
    bufs = {out_r: bytearray(), err_r: bytearray()}
    open_fds = {out_r, err_r}
    poller = select.poll()
    for fd in (out_r, err_r, pidfd, ctl_fd):
        poller.register(fd, select.POLLIN)
    timed_out = over = exited = False
    total = 0
    while open_fds or not exited:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == ctl_fd:  # the supervisor went away (it never writes while waiting): take the child along
                _kill(pid)
                os._exit(0)
            if fd == pidfd:
                exited = True
                poller.unregister(pidfd)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                poller.unregister(fd)
                continue
            keep = max(0, min(len(chunk), max_output - total))
            bufs[fd] += chunk[:keep]
            total += len(chunk)
            if total > max_output:
                over = True
        if over:
            break
    if timed_out or over or not exited:
        _kill(pid)
    _, wstatus = os.waitpid(pid, 0)
    for fd in (out_r, err_r, pidfd):
        os.close(fd)
    sig = os.WTERMSIG(wstatus) if os.WIFSIGNALED(wstatus) else None
    code = os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else None
    if timed_out:
        status = "timeout"
    elif over:
        status = "output_limit"
    elif sig is not None:
        status = "timeout" if sig == signal.SIGXCPU else "killed"
    elif code == EXIT_MEMORY:
        status, code = "memory", 1
    else:
        status = "ok" if code == 0 else "error"
    return {"type": "result", "status": status, "stdout": bufs[out_r].decode(errors="replace"),
            "stderr": bufs[err_r].decode(errors="replace"), "returncode": code, "signal": sig,
            "wall_s": time.monotonic() - start}


def main() -> None:
    # Our channel moves off fds 0/1 so that nothing printed by imports or warm-up can corrupt it.
    ctl_in, ctl_out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    cfg = read_frame(ctl_in)["config"]
    try:
        _warm(cfg["preload"])
        plan, workdir, active, problems = _setup(cfg)
        os.environ.clear()  # set-up (ldconfig) needed PATH; children inherit an empty environment from here on
        gc.collect()
        gc.freeze()  # move the warm heap out of the collector's reach: children then do not dirty it by scanning
    except Exception as e:
        write_frame(ctl_out, {"type": "fatal", "error": f"{type(e).__name__}: {e}"})
        return
    write_frame(ctl_out, {"type": "ready", "layers": active, "problems": problems, "pid": os.getpid()})
    while True:
        try:
            req = read_frame(ctl_in)
        except EOFError:
            return
        reply = run_child(plan, workdir, ctl_in, req, int(cfg["max_output"]))
        write_frame(ctl_out, reply)
        if reply["type"] == "fatal":
            return

if __name__ == "__main__":
    main()
