"""What runs in each child forked from a worker's zygote: confine itself, warm up, wait for its request, run it.

A child serves either one snippet (then exits without cleanup) or a whole session: its blocks one after another in
one namespace, each answered with a done marker on the `ctl` pipe (see `serve_session`), until the worker closes
the request pipe or kills it.

A child is forked ahead of its request (a "spare"), from a zygote that has never seen a request, so its memory
holds nothing of any other request; it does all its set-up, and touches the pages of the interpreter and SymPy
that snippets use (copy-on-write faults), before the request exists. The request then arrives on a pipe.

Order matters: setsid and fds first, the mount namespace, tmpfs and chroot while still root, rlimits before
dropping the uid (RLIMIT_NPROC only counts once we are not root), no_new_privs before Landlock and seccomp (they
require it), seccomp last because it forbids setsid/setrlimit used above. Any failure before the snippet starts is
reported on the `ctl` pipe and the child exits: a required layer never silently goes missing.
"""

from __future__ import annotations

import _signal
import builtins
import fcntl
import gc
import linecache
import os
import resource
import select
import signal
import struct
import sys
import traceback
from dataclasses import dataclass
from typing import NoReturn

from . import landlock, layers, linux
from .seccomp import Filter
from .star import Star
from .star import source as star_source

EXIT_SETUP_FAILED = 125
EXIT_NAME = "sbx-exit-"  # + the exit code: see `announce_exit`
EXIT_MEMORY = 124  # a MemoryError; the worker reports status "memory" and returncode 1 (sys.exit(124) looks alike)
# A session block's outcome, written on the ctl pipe once its output is flushed: b"D", kind, exit code.
DONE = struct.Struct("=cBi")
KIND_EXIT, KIND_MEMORY, KIND_TIMEOUT = 0, 1, 2  # exit: code 0 ok, else error (an exception is 1)
REQ_FD, CTL_FD = 3, 4  # where a session child keeps its request and ctl pipes
# A request, worker -> child: this header (the code's length in bytes, the timeout, what it is), then the code as
# UTF-8. Not JSON: a child pays for every page of the interpreter it touches (copy-on-write), and decoding JSON
# touches ~90 pages of the json module (~0.25 ms of CPU) where this touches a few. Only the worker writes it.
REQUEST = struct.Struct("=IdB")
SNIPPET, SESSION_FIRST, SESSION_NEXT, PREWARM_NOW = 0, 1, 2, 3  # what a request is
# Run by each spare child before its request, output discarded. It faults in (copy-on-write) pages that almost every
# snippet touches: the SymPy core, the printers, the interpreter's own. Its results are in the zygote's SymPy cache
# (the worker's warm-up made them), so it computes next to nothing. (It avoids `import *`, which would write to
# ~700 pages, one reference count in each exported object: see `star_namespace`.)
# Run only when the worker is idle, one statement at a time, stopping when a request comes (see `prewarm`).
PREWARM = (
    "import sympy as s",
    "x, y, z = s.symbols('x y z')",
    "print(s.factor(x**2 - 1), s.expand((x + 1)**3))",
    "print(s.Rational(1, 3) + s.Rational(1, 6), s.sqrt(8), s.Eq(x + 1, 2))",
    "print([1.5], {'a': (1, 'b')})",
)


@dataclass
class ChildPlan:
    """Everything a child needs, prepared by the worker before the zygote forks, so a child only applies it."""

    workdir: str  # the child's cwd as it sees it
    mount_point: str | None  # host-side path where the child mounts its tmpfs workdir; None: no tmpfs layer
    tmpfs_opts: str  # without uid/gid: each child adds its own
    root: str | None  # chroot skeleton (host path); None: no rootfs layer
    stdin_fd: int  # /dev/null, opened read-write
    limits: dict[int, int] | None  # RLIMIT_CPU here is a session's budget; one snippet lowers it to `snippet_cpu`
    snippet_cpu: int
    switch_user: bool  # False: keep the current user (each child's uid comes from its worker)
    ruleset_fd: int | None  # Landlock, built once by the worker (write access: the workdir's parent, see below)
    landlock_reads: list[str] | None  # without a tmpfs layer: the child builds its own ruleset from these
    seccomp: Filter | None
    star: Star | None  # a script's namespace after `from sympy import *`, made by the worker (see star.py)


def confine(plan: ChildPlan, parent_pid: int, workdir: str, uid: int) -> None:
    os.setsid()  # own session and process group
    os.dup2(plan.stdin_fd, 0)
    os.dup2(plan.stdin_fd, 1)  # the warm-up's output goes nowhere; the snippet's pipes come after it
    os.dup2(plan.stdin_fd, 2)
    owner = uid if plan.switch_user else os.getuid()
    layers.enter_workdir(plan.mount_point, f"{plan.tmpfs_opts},uid={owner},gid={owner}", plan.root, workdir)
    os.environ.clear()  # already empty in the worker; kept so the guarantee does not hinge on it
    if "tempfile" in sys.modules:  # the worker's cached choice (/tmp) is not writable here; the workdir is
        sys.modules["tempfile"].tempdir = workdir
    ruleset = plan.ruleset_fd
    if ruleset is None and plan.landlock_reads is not None:  # a per-child directory needs a per-child rule
        ruleset = landlock.build_ruleset(plan.landlock_reads, [workdir, "/dev/null"])
    if plan.limits is not None:
        layers.set_rlimits(plan.limits)
    if plan.switch_user:  # a uid of its own: no other live child of any pool shares it (see `uids.py`)
        layers.drop_user(uid, uid)
    # After the uid change (which clears it): die with the zygote, so no snippet outlives its supervisor.
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        raise OSError("zygote died before the child was confined")
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    if ruleset is not None:
        landlock.restrict_self(ruleset)
    if plan.seccomp is not None:
        plan.seccomp.load()


def prewarm(req_fd: int) -> None:
    """Fault in the pages most snippets touch, one statement at a time, stopping as soon as a request is waiting.

    The worker asks for it only when it has had no request for a moment (see `worker.IDLE_BEFORE_PREWARM_S`): the
    copy-on-write faults then move off the next request's path. Under load it never runs: it costs ~6 ms of CPU,
    of which a SymPy snippet would have paid only ~2 ms itself."""
    poller = select.poll()
    poller.register(req_fd, select.POLLIN)
    ns: dict[str, object] = {"__name__": "__prewarm__"}
    for stmt in PREWARM:
        if poller.poll(0):
            break
        exec(compile(stmt, "<prewarm>", "exec"), ns)
    sys.stdout.flush()
    sys.stderr.flush()


def _write_err(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BaseException:
        os.write(2, text.encode(errors="replace")[-4096:])


def _exec_block(code: str, filename: str, ns: dict[str, object], source: str | None = None) -> None:
    """Run `code` in `ns`; `source`, when given, is what to compile instead (the same lines, see `star_namespace`)."""
    lines = code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)  # tracebacks show snippet lines, no file read
    exec(compile(source if source is not None else code, filename, "exec"), ns)


def star_namespace(first_block: str, star: Star | None) -> tuple[dict[str, object], str | None]:
    """The namespace a script starts in, and the source to compile for its first block if that was changed: a
    block opening with `from sympy import *` starts in the worker's namespace made by that very import (see
    `star.py`), those lines made `pass`."""
    fresh: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}
    changed = star_source(first_block) if star is not None else None
    if star is None or changed is None:
        return fresh, None
    return star.ns, changed


class BlockTimeout(BaseException):
    """Raised in a session block by SIGALRM at its timeout (a BaseException: `except Exception` does not stop it)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise BlockTimeout


def _execute(code: str, ns: dict[str, object], source: str | None, timeout: float | None,
             keep_ns: bool) -> tuple[int, int]:
    """Run one block like a script; return (kind, exit code). `timeout`: interrupt it (SIGALRM) after that long."""
    kind, exit_code = KIND_EXIT, 0
    try:
        if timeout is not None:
            # Again each block: an earlier one may have replaced it. (`_signal`, not `signal`: the latter's wrapper
            # converts the old handler to an enum, through a ValueError, ~60 pages touched per call.)
            _signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            _exec_block(code, "<snippet>", ns, source)
        finally:
            if timeout is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except BlockTimeout:
        _write_err("TimeoutError: the block was interrupted at its timeout\n")
        kind, exit_code = KIND_TIMEOUT, 1
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            exit_code = e.code or 0
        else:
            _write_err(f"{e.code}\n")
            exit_code = 1
    except MemoryError:
        if not keep_ns:
            ns.clear()  # free what the snippet held so the traceback can be formatted
        gc.collect()
        _write_err("MemoryError: the snippet exceeded its memory limit\n")
        kind, exit_code = KIND_MEMORY, 1
    except BaseException as e:
        # Skip our own frames: the traceback starts in the snippet.
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        _write_err("".join(traceback.format_exception(type(e), e, tb)))
        exit_code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return kind, exit_code & 0xFF


def run(code: str, star: Star | None = None) -> NoReturn:
    """Execute `code` like a script and `_exit` with a meaningful code."""
    _script_signals()
    ns, source = star_namespace(code, star)
    kind, exit_code = _execute(code, ns, source, None, keep_ns=False)
    exit_code = EXIT_MEMORY if kind == KIND_MEMORY else exit_code
    announce_exit(exit_code)
    os._exit(exit_code)  # no interpreter teardown: it is slow and the process dies anyway


def serve_session(code: str, timeout: float, star: Star | None) -> NoReturn:
    """Run a session's blocks in one namespace, each as it arrives on REQ_FD, until the worker closes it.

    After each block its output is flushed, then DONE (kind, exit code) goes out on CTL_FD: the worker, seeing the
    marker, has all of the block's output already in the pipes. A block is interrupted at its timeout by SIGALRM
    (the session lives on, with what the block did until then, as in a notebook); one that does not stop is killed
    by the worker, and the session with it.
    """
    _script_signals()
    ns, source = star_namespace(code, star)
    while True:
        kind, exit_code = _execute(code, ns, source, timeout, keep_ns=True)
        os.write(CTL_FD, DONE.pack(b"D", kind, exit_code))
        try:
            _, code, timeout = read_request(REQ_FD)
        except EOFError:
            os._exit(0)
        # A later block that opens with `from sympy import *` skips it where that changes nothing (see star.py).
        source = star_source(code) if star is not None and star.exact else None
        if source is not None and star is not None and not star.unchanged(ns):
            source = None


def write_request(fd: int, what: int, code: str = "", timeout: float = 0.0) -> None:
    """Worker side: send one request (see REQUEST). Blocks past the pipe's 64 KiB until the child has read it."""
    data = code.encode(errors="surrogatepass")
    view = memoryview(REQUEST.pack(len(data), timeout, what) + data)
    while view:
        view = view[os.write(fd, view):]


def read_request(fd: int) -> tuple[int, str, float]:
    """Child side: (what, code, timeout) of the next request; EOFError when the worker closed the pipe."""
    head = _read_exact(fd, REQUEST.size)
    size, timeout, what = REQUEST.unpack(head)
    return what, _read_exact(fd, size).decode(errors="surrogatepass"), timeout


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, min(n - len(data), 1 << 20))
        if not chunk:
            raise EOFError("the worker closed the request pipe")
        data += chunk
    return data


def _script_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
        _signal.signal(sig, _signal.SIG_DFL)  # `_signal`: see `_execute`
    sys.argv = ["<snippet>"]


def announce_exit(code: int) -> None:
    """Tell the worker our exit code before the kernel tears the process down (about a millisecond for a process
    this size): the code goes into our name (/proc/PID/comm), then stdout and stderr close, and the worker, seeing
    both at EOF and the name, answers at once. (A snippet can forge this only to end itself with a code of its
    choice, which `sys.exit` already allows.)"""
    try:
        linux.set_name(f"{EXIT_NAME}{code}")
        os.close(1)
        os.close(2)
    except OSError:
        pass


def main(plan: ChildPlan, parent_pid: int, workdir: str, uid: int, req_fd: int, out_fd: int, err_fd: int,
         ctl_fd: int) -> NoReturn:
    """Confine, report readiness on `ctl_fd`, warm up while idle, wait for the request, serve it. Never returns."""
    try:
        try:
            confine(plan, parent_pid, workdir, uid)
            os.write(ctl_fd, b"K")
        except BaseException as e:
            os.write(ctl_fd, f"{type(e).__name__}: {e}".encode()[:4000])
            os._exit(EXIT_SETUP_FAILED)
        while True:
            try:
                what, code, timeout = read_request(req_fd)
            except EOFError:  # the worker closed the pipe without a request: it is going away
                os._exit(0)
            if what != PREWARM_NOW:
                break
            prewarm(req_fd)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        if what == SESSION_FIRST:
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (req_fd, ctl_fd)]  # out of 3 and 4's way
            os.dup2(high[0], REQ_FD)
            os.dup2(high[1], CTL_FD)
            os.closerange(CTL_FD + 1, 2**31 - 1)  # nothing else inherited: anything of the zygote's
            serve_session(code, timeout, plan.star)
        os.closerange(3, 2**31 - 1)  # no inherited fds: the request and ctl pipes, anything of the zygote's
        if plan.limits is not None:  # one snippet: its own CPU limit, not a session's budget (soft = hard - 1)
            resource.setrlimit(resource.RLIMIT_CPU, (plan.snippet_cpu, plan.snippet_cpu + 1))
        run(code, plan.star)
    finally:
        os._exit(EXIT_SETUP_FAILED)
