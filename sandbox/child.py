"""What runs in each child forked from a warm worker: confine itself, run the code, exit without cleanup.

Order matters: setsid and fds first (cheap, needed by everything after), rlimits before dropping the uid
(RLIMIT_NPROC only counts once we are not root), no_new_privs before Landlock and seccomp (they require it),
seccomp last because it forbids setsid/setrlimit used above. Any failure before the snippet starts is reported
on the `ready` pipe and the child exits: a required layer never silently goes missing.
"""

from __future__ import annotations

import builtins
import gc
import linecache
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from typing import NoReturn

from . import landlock, layers, linux
from .seccomp import Filter

EXIT_SETUP_FAILED = 125
EXIT_MEMORY = 124  # a MemoryError; the worker reports status "memory" and returncode 1 (sys.exit(124) looks alike)


@dataclass
class ChildPlan:
    """Everything a child needs, prepared by the worker before fork so the child does no set-up work itself."""

    workdir: str
    stdin_fd: int  # /dev/null, opened read-write
    limits: dict[int, int] | None
    uid: int | None  # None: keep the current user
    gid: int | None
    ruleset_fd: int | None  # Landlock
    seccomp: Filter | None
    worker_pid: int


def confine(plan: ChildPlan, out_fd: int, err_fd: int, ready_fd: int) -> None:
    os.setsid()  # own session and process group: the worker kills the whole group
    os.dup2(plan.stdin_fd, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.chdir(plan.workdir)
    os.environ.clear()  # already empty in the worker; kept so the guarantee does not hinge on it
    if "tempfile" in sys.modules:  # the worker's cached choice (/tmp) is not writable here; the workdir is
        sys.modules["tempfile"].tempdir = plan.workdir
    if plan.limits is not None:
        layers.set_rlimits(plan.limits)
    if plan.uid is not None and plan.gid is not None:
        layers.drop_user(plan.uid, plan.gid)
    # After the uid change (which clears it): die with the worker, so no snippet outlives its supervisor.
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != plan.worker_pid:
        raise OSError("worker died before the child was confined")
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    if plan.ruleset_fd is not None:
        landlock.restrict_self(plan.ruleset_fd)
    if plan.seccomp is not None:
        plan.seccomp.load()
    os.write(ready_fd, b"K")
    os.closerange(3, 2**31 - 1)  # no inherited fds: the worker's channel, the ruleset, the ready pipe


def _write_err(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BaseException:
        os.write(2, text.encode(errors="replace")[-4096:])


def _exec_block(code: str, filename: str, ns: dict[str, object]) -> None:
    lines = code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)  # tracebacks show snippet lines, no file read
    exec(compile(code, filename, "exec"), ns)


def _replay(prelude: list[str], ns: dict[str, object]) -> None:
    """Re-run earlier session blocks with their output discarded; errors are ignored (see Session)."""
    saved_out, saved_err = os.dup(1), os.dup(2)
    os.dup2(0, 1)  # fd 0 is /dev/null opened read-write
    os.dup2(0, 2)
    try:
        for i, block in enumerate(prelude):
            try:
                _exec_block(block, f"<block {i + 1}>", ns)
            except BaseException:
                pass
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)


def run(code: str, prelude: list[str]) -> NoReturn:
    """Execute `code` like a script (after replaying `prelude`) and `_exit` with a meaningful code."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    sys.argv = ["<snippet>"]
    ns: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}
    exit_code = 0
    try:
        if prelude:
            _replay(prelude, ns)
        _exec_block(code, "<snippet>", ns)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            exit_code = e.code or 0
        else:
            _write_err(f"{e.code}\n")
            exit_code = 1
    except MemoryError:
        ns.clear()  # free what the snippet held so the traceback can be formatted
        gc.collect()
        _write_err("MemoryError: the snippet exceeded its memory limit\n")
        exit_code = EXIT_MEMORY
    except BaseException as e:
        # Skip our own frames: the traceback starts in the snippet.
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        _write_err("".join(traceback.format_exception(type(e), e, tb)))
        exit_code = 1
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(exit_code & 0xFF)  # no interpreter teardown: it is slow and the process dies anyway


def main(plan: ChildPlan, out_fd: int, err_fd: int, ready_fd: int, code: str, prelude: list[str]) -> NoReturn:
    """Confine, report readiness on `ready_fd`, run the code. Never returns."""
    try:
        try:
            confine(plan, out_fd, err_fd, ready_fd)
        except BaseException as e:
            os.write(ready_fd, f"{type(e).__name__}: {e}".encode()[:4000])
            os._exit(EXIT_SETUP_FAILED)
        run(code, prelude)
    finally:
        os._exit(EXIT_SETUP_FAILED)
