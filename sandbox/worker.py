"""A warm worker: imports sympy once, sets up the per-worker layers, starts its zygote, then serves requests.

Protocol (length-prefixed JSON on the worker's stdin/stdout, see `frames.py`):
    supervisor -> worker  {"config": {...}}                      once, first
    worker -> supervisor  {"type": "ready", "layers": {...}}     or {"type": "fatal", "error": "..."}
    supervisor -> worker  {"code": "...", "timeout": 3.0}                        one snippet
                          {"code": ..., "timeout": ..., "session": sid, "new": bool}  a session's block
                          any request may carry "close": [sid, ...] (sessions to end first); {"close": [...]} alone
    worker -> supervisor  {"type": "result", "status": ..., "stdout": ..., ...}  (a block's adds "alive", "why")
                          or {"type": "gone", "why": "..."} when a block's session child no longer exists
                          or {"type": "closed"} for a request that only closes sessions
                          or {"type": "fatal", "error": "..."} when a child could not be confined
                          or {"type": "lost", "ran": bool, "error": "..."} when the zygote died (replace me)
The worker never forks a snippet's child itself: its zygote (see `zygote.py`), forked before the first request,
does. One spare child is always being prepared (confined and warmed up) while the current snippet runs, so a
request only has to be written to a waiting child; a new session takes the spare and keeps it (`sessions.py`).
The worker exits when its stdin closes (the supervisor is gone), and its zygote and children die with it.
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

from . import landlock, layers, star
from .child import EXIT_MEMORY, EXIT_NAME, PREWARM_NOW, SNIPPET, ChildPlan, write_request
from .frames import read_frame, write_frame
from .live import Child, Uids, kill
from .seccomp import compile_filter
from .sessions import Sessions, run_block
from .types import LAYERS
from .zygote import Zygote, ZygoteLost

WORK_BASE = "/tmp"  # in the worker's own mount namespace a small tmpfs covers it; the host's /tmp is untouched
WORKDIR = "/tmp/sandbox"  # a child's cwd, as the child sees it
ROOT = "/tmp/root"  # the skeleton root children chroot into (rootfs layer)
SPARE_READY_S = 60.0  # how long a spare child may take to confine itself on a loaded machine
IDLE_BEFORE_PREWARM_S = 0.02  # no request for this long after a reply: the worker is idle, let the spare warm up
WARMUP = """\
from sympy import *
x, y, z = symbols('x y z')
print(factor(x**2 - 1), expand((x + 1)**3), simplify(sin(x)**2 + cos(x)**2), solve(x**2 - 4, x))
print(Rational(1, 3) + Rational(1, 6), sqrt(8), nsimplify(0.5), N(pi, 20), diff(x*sin(x), x))
print(integrate(x**2, x), limit(sin(x)/x, x, 0), Eq(x + 1, 2), simplify((x**2 - 1)/(x - 1)), gcd(12, 18))
"""


def _setup(cfg: dict[str, Any]) -> tuple[ChildPlan, dict[str, bool], list[str]]:
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
    use_tmpfs = bool(attempt("tmpfs", lambda: layers.enter_mountns(WORK_BASE, ("sandbox", "root"))))
    # What a child may read: the interpreter's own library and site-packages (for tracebacks and lazy stdlib
    # imports) and shared libraries; deliberately not sys.path, which holds the project checkout.
    paths = sysconfig.get_paths()
    reads = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    reads += [*site.getsitepackages(), "/usr/lib", "/lib", "/usr/lib64", "/lib64"]
    devices = ["/dev/null", "/dev/urandom"]
    use_root = False
    if "rootfs" in want:
        if use_tmpfs:
            use_root = bool(attempt("rootfs", lambda: layers.build_rootfs(ROOT, reads, devices, WORKDIR)))
        else:
            problems.append("rootfs: needs the tmpfs layer (a private mount namespace)")
    switch_user = False
    if "user" in want:
        if is_root and cfg.get("uids"):
            switch_user = active["user"] = True
        else:
            problems.append("user: not running as root, cannot switch to a separate uid")
    landlock_reads: list[str] | None = [*reads, "/dev/urandom"]
    ruleset_fd = None
    if use_tmpfs:
        # Landlock ignores a rule on a mount point once something is mounted over it, so the write rule for the
        # per-child tmpfs goes on its parent: a read-only tmpfs where nothing else is writable.
        mount_parent = os.path.dirname((ROOT if use_root else "") + WORKDIR)
        writes = [mount_parent, "/dev/null"]
        ruleset_fd = attempt("landlock", lambda: landlock.build_ruleset(landlock_reads or [], writes))
        landlock_reads = None
    elif not attempt("landlock", lambda: os.close(landlock.build_ruleset(landlock_reads, ["/dev/null"]))):
        landlock_reads = None
    limits = None
    snippet_cpu = int(cfg["timeout"]) + 1
    if "rlimits" in want:
        # The CPU limit every child starts with is a session's budget: a spare does not know yet what it will
        # serve; one snippet lowers its own limit to `snippet_cpu` before it runs (see child.main).
        limits = layers.rlimits(cfg["memory_mb"], max(snippet_cpu, int(cfg["session_cpu_s"])), cfg["tmpfs_mb"],
                                cfg["open_files"], cfg["processes"])
        active["rlimits"] = True
    missing = sorted(required - {k for k, v in active.items() if v})
    if missing:
        raise RuntimeError(f"required layers unavailable: {', '.join(missing)}; " + "; ".join(problems))
    plan = ChildPlan(
        workdir=WORKDIR, mount_point=(ROOT + WORKDIR if use_root else WORKDIR) if use_tmpfs else None,
        tmpfs_opts=f"size={cfg['tmpfs_mb']}m,nr_inodes=4096,mode=0700",
        root=ROOT if use_root else None, stdin_fd=os.open("/dev/null", os.O_RDWR), limits=limits,
        snippet_cpu=snippet_cpu, switch_user=switch_user,
        ruleset_fd=ruleset_fd if isinstance(ruleset_fd, int) else None, landlock_reads=landlock_reads,
        seccomp=seccomp_filter if seccomp_filter is not True else None,
        star=star.prepare())
    return plan, active, problems


def _warm(preload: list[str]) -> None:
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    exec(compile(WARMUP, "<warmup>", "exec"), {"__name__": "__warmup__"})
    sys.stdout.flush()


def run_request(zygote: Zygote, uids: Uids, spare: Child, ctl_fd: int, req: dict[str, Any],
                max_output: int) -> tuple[dict[str, Any], Child | None, Child | None]:
    """Hand one snippet to the ready spare child, start preparing the next one, collect the outcome.

    Returns the reply, the next spare, and the child when it is still to be reaped (after the reply is sent: its
    exit is then off the result's path)."""
    ran = False
    try:
        spare.attach(zygote)
        problem = spare.wait_ready(SPARE_READY_S)
        if problem is not None:
            spare.end(zygote, uids)
            return {"type": "fatal", "error": problem}, None, None
        start = time.monotonic()
        ran = True
        try:
            write_request(spare.req_w, SNIPPET, str(req["code"]))  # blocks past 64 KiB until the child read it
        except BrokenPipeError:
            pass  # the child died; its status says how
        os.close(spare.req_w)
        spare.req_w = -1
        next_spare = Child.spawn(zygote, uids)  # its set-up overlaps this snippet
        reply, reaped = _collect(zygote, spare.pid, spare.pidfd, spare.out_r, spare.err_r, ctl_fd, start,
                                 start + float(req["timeout"]), max_output)
        if reaped:
            spare.close_fds()
            uids.give(spare.uid)
            return reply, next_spare, None
        return reply, next_spare, spare
    except ZygoteLost as e:
        return {"type": "lost", "ran": ran, "error": str(e)}, None, None


def serve_block(zygote: Zygote, uids: Uids, sessions: Sessions, spare: Child, ctl_fd: int, req: dict[str, Any],
                max_output: int) -> tuple[dict[str, Any], Child | None]:
    """One block of a session: in its live child, or, for a new session, in the spare (which it keeps)."""
    sid = str(req["session"])
    try:
        if not req.get("new"):
            child = sessions.get(sid)
            if child is None:
                return {"type": "gone", "why": sessions.why_gone(sid)}, spare
            return run_block(sessions, sid, child, False, req, ctl_fd, max_output), spare
        spare.attach(zygote)
        problem = spare.wait_ready(SPARE_READY_S)
        if problem is not None:
            spare.end(zygote, uids)
            return {"type": "fatal", "error": problem}, None
        sessions.open(sid, spare)  # may evict the least recently used session first
        next_spare = Child.spawn(zygote, uids)
        return run_block(sessions, sid, spare, True, req, ctl_fd, max_output), next_spare
    except ZygoteLost as e:
        return {"type": "lost", "ran": True, "error": str(e)}, None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _collect(zygote: Zygote, pid: int, pidfd: int, out_r: int, err_r: int, ctl_fd: int, start: float,
             deadline: float, max_output: int) -> tuple[dict[str, Any], bool]:
    """Pump the child's output until it exits or announces its exit, enforcing the deadline and the output cap.

    Returns the reply and whether the child was reaped already (if not, it announced its exit code and was
    killed; the caller reaps it once the reply is out)."""
    bufs = {out_r: bytearray(), err_r: bytearray()}
    open_fds = {out_r, err_r}
    poller = select.poll()
    for fd in (out_r, err_r, pidfd, ctl_fd):
        poller.register(fd, select.POLLIN)
    timed_out = over = exited = False
    announced: int | None = None
    total = 0
    while open_fds or not exited:
        if not open_fds and not exited:  # both pipes closed: did the child announce its exit code?
            announced = _announced_exit(pid)
            if announced is not None:
                break
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == ctl_fd:  # the supervisor went away (it never writes while waiting): take the child along
                kill(pid, pidfd)
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
        kill(pid, pidfd)
    if announced is not None:
        sig, code = None, announced
    else:
        wstatus = zygote.exit_status(pid, pidfd)
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
    reply = {"type": "result", "status": status, "stdout": bufs[out_r].decode(errors="replace"),
             "stderr": bufs[err_r].decode(errors="replace"), "returncode": code, "signal": sig,
             "wall_s": time.monotonic() - start}
    return reply, announced is None


def _announced_exit(pid: int) -> int | None:
    """The exit code a child put in its name just before exiting (see `child.announce_exit`), if it did."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
    except OSError:
        return None
    if name.startswith(EXIT_NAME) and name[len(EXIT_NAME):].isdigit():
        return int(name[len(EXIT_NAME):])
    return None


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
        plan, active, problems = _setup(cfg)
        os.environ.clear()  # set-up (ldconfig) needed PATH; children inherit an empty environment from here on
        sys.stdout.flush()
        sys.stderr.flush()
        gc.collect()
        gc.freeze()  # move the warm heap out of the collector's reach: children then do not dirty it by scanning
        zygote = Zygote(plan, (ctl_in, ctl_out))  # before any request exists in this process
        uids = Uids(list(cfg.get("uids") or [os.getuid()] * 1024))
        sessions = Sessions(zygote, uids, int(cfg["max_sessions"]), float(cfg["session_idle_s"]))
        spare: Child | None = Child.spawn(zygote, uids)
        problem = spare.wait_ready(SPARE_READY_S)  # the first child proves that every layer can be applied
        if problem is not None:
            raise RuntimeError(problem)
    except Exception as e:
        write_frame(ctl_out, {"type": "fatal", "error": f"{type(e).__name__}: {e}"})
        return
    write_frame(ctl_out, {"type": "ready", "layers": active, "problems": problems, "pid": os.getpid()})
    serve(zygote, uids, sessions, spare, ctl_in, ctl_out, int(cfg["max_output"]), bool(cfg["prewarm"]))


def serve(zygote: Zygote, uids: Uids, sessions: Sessions, spare: Child | None, ctl_in: int, ctl_out: int,
          max_output: int, prewarm: bool) -> None:
    """Answer requests until the supervisor closes the channel; warm the spare up and end idle sessions in
    between."""
    poller = select.poll()
    poller.register(ctl_in, select.POLLIN)
    while spare is not None:
        if prewarm and not spare.extra.get("prewarm") and not poller.poll(IDLE_BEFORE_PREWARM_S * 1000):
            spare.extra["prewarm"] = True  # idle: the spare faults in the usual pages now, not on the next request
            try:
                write_request(spare.req_w, PREWARM_NOW)
            except OSError:
                pass  # it died; the next request finds out
        wait_s = sessions.next_expiry_s()
        if not poller.poll(None if wait_s is None else wait_s * 1000 + 1):
            sessions.expire()
            continue
        try:
            req = read_frame(ctl_in)
        except EOFError:
            break
        pending: list[Child] = []  # killed, to be reaped once the reply is out (see below)
        try:
            for sid in req.get("close") or []:
                sessions.end(str(sid), "closed", later=pending)
            if "session" in req:
                reply, spare = serve_block(zygote, uids, sessions, spare, ctl_in, req, max_output)
            elif "code" in req:
                reply, spare, done = run_request(zygote, uids, spare, ctl_in, req, max_output)
                pending += [done] if done is not None else []
            else:
                reply = {"type": "closed"}
        except ZygoteLost as e:
            reply, spare = {"type": "lost", "ran": False, "error": str(e)}, None
        write_frame(ctl_out, reply)
        # Reaping waits for the kernel to tear the process down (a millisecond or two for a session's child): it
        # happens after the reply, so neither the result nor the caller of `Session.close` waits for it. Each
        # child's uid returns to the slot only once it is reaped.
        for child in pending:
            try:
                child.end(zygote, uids)
            except ZygoteLost:
                pass  # the next request finds out, before its snippet reaches a child (see run_request)
    if spare is not None:
        spare.close_fds()
    zygote.close()


if __name__ == "__main__":
    main()
