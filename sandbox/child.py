"""What runs in each child forked from a worker's zygote: confine itself, warm up, wait for its one request, run
it, exit without cleanup.

A child is forked ahead of its request (a "spare"), from a zygote that has never seen a request, so its memory
holds nothing of any other request; it does all its set-up, and touches the pages of the interpreter and SymPy
that snippets use (copy-on-write faults), before the request exists. The request then arrives on a pipe.

Order matters: setsid and fds first, the mount namespace, tmpfs and chroot while still root, rlimits before
dropping the uid (RLIMIT_NPROC only counts once we are not root), no_new_privs before Landlock and seccomp (they
require it), seccomp last because it forbids setsid/setrlimit used above. Any failure before the snippet starts is
reported on the `ready` pipe and the child exits: a required layer never silently goes missing.
"""

from __future__ import annotations

import ast
import builtins
import gc
import json
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
EXIT_NAME = "sbx-exit-"  # + the exit code: see `announce_exit`
EXIT_MEMORY = 124  # a MemoryError; the worker reports status "memory" and returncode 1 (sys.exit(124) looks alike)
# Run by each spare child before its request, output discarded. It faults in (copy-on-write) pages that almost every
# snippet touches: the SymPy core, the printers, the interpreter's own. Its results are in the zygote's SymPy cache
# (the worker's warm-up made them), so it computes next to nothing. (It avoids `import *`, which would write to
# ~700 pages, one reference count in each exported object: see `star_namespace`.)
PREWARM = """\
import sympy as s
x, y, z = s.symbols('x y z')
print(s.factor(x**2 - 1), s.expand((x + 1)**3), s.Rational(1, 3) + s.Rational(1, 6), s.sqrt(8), s.Eq(x + 1, 2))
print([1.5], {'a': (1, 'b')})
"""


@dataclass
class ChildPlan:
    """Everything a child needs, prepared by the worker before the zygote forks, so a child only applies it."""

    workdir: str  # the child's cwd as it sees it
    mount_point: str | None  # host-side path where the child mounts its tmpfs workdir; None: no tmpfs layer
    tmpfs_opts: str
    root: str | None  # chroot skeleton (host path); None: no rootfs layer
    stdin_fd: int  # /dev/null, opened read-write
    limits: dict[int, int] | None
    uid: int | None  # None: keep the current user
    gid: int | None
    ruleset_fd: int | None  # Landlock, built once by the worker (write access: the workdir's parent, see below)
    landlock_reads: list[str] | None  # without a tmpfs layer: the child builds its own ruleset from these
    seccomp: Filter | None
    prewarm: bool
    star_ns: dict[str, object] | None  # a script's namespace after `from sympy import *`, made by the worker


def confine(plan: ChildPlan, parent_pid: int, workdir: str, out_fd: int, err_fd: int) -> None:
    os.setsid()  # own session and process group
    os.dup2(plan.stdin_fd, 0)
    os.dup2(plan.stdin_fd, 1)  # the warm-up's output goes nowhere; the snippet's pipes come after it
    os.dup2(plan.stdin_fd, 2)
    layers.enter_workdir(plan.mount_point, plan.tmpfs_opts, plan.root, workdir)
    os.environ.clear()  # already empty in the worker; kept so the guarantee does not hinge on it
    if "tempfile" in sys.modules:  # the worker's cached choice (/tmp) is not writable here; the workdir is
        sys.modules["tempfile"].tempdir = workdir
    ruleset = plan.ruleset_fd
    if ruleset is None and plan.landlock_reads is not None:  # a per-child directory needs a per-child rule
        ruleset = landlock.build_ruleset(plan.landlock_reads, [workdir, "/dev/null"])
    if plan.limits is not None:
        layers.set_rlimits(plan.limits)
    if plan.uid is not None and plan.gid is not None:
        layers.drop_user(plan.uid, plan.gid)
    # After the uid change (which clears it): die with the zygote, so no snippet outlives its supervisor.
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        raise OSError("zygote died before the child was confined")
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    if ruleset is not None:
        landlock.restrict_self(ruleset)
    if plan.seccomp is not None:
        plan.seccomp.load()
    if plan.prewarm:
        exec(compile(PREWARM, "<prewarm>", "exec"), {"__name__": "__prewarm__"})
        sys.stdout.flush()
        sys.stderr.flush()
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)


def read_request(req_fd: int) -> tuple[str, list[str]]:
    """The request, written by the worker once it has one: JSON {"code": ..., "prelude": [...]} up to EOF."""
    chunks = []
    while chunk := os.read(req_fd, 1 << 20):
        chunks.append(chunk)
    if not chunks:  # the worker closed the pipe without a request: it is going away
        os._exit(0)
    req = json.loads(b"".join(chunks))
    return req["code"], req.get("prelude") or []


def _write_err(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BaseException:
        os.write(2, text.encode(errors="replace")[-4096:])


def _exec_block(code: str, filename: str, ns: dict[str, object], tree: ast.Module | None = None) -> None:
    lines = code.splitlines(keepends=True)
    linecache.cache[filename] = (len(code), None, lines, filename)  # tracebacks show snippet lines, no file read
    exec(compile(tree if tree is not None else code, filename, "exec"), ns)


def star_namespace(first_block: str, star_ns: dict[str, object] | None) -> tuple[dict[str, object], ast.Module | None]:
    """The namespace a script starts in, and the first block's syntax tree if it was changed.

    Most snippets open with `from sympy import *`, which increments the reference count of ~1,000 objects spread
    over ~700 pages of the shared heap: ~700 copy-on-write faults, a third of a small snippet's cost. When the
    first statements of the first block are exactly that, they become `pass` and the script starts in
    `star_ns`, the namespace the worker made by running that very import (this child's private copy of it): the
    same names bound to the same objects, without touching them. Anything else runs as written.
    """
    fresh: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}
    if star_ns is None or "sympy import" not in first_block:
        return fresh, None
    try:
        tree = ast.parse(first_block)
    except SyntaxError:
        return fresh, None  # compile() raises it again, from the snippet
    leading = 0
    for stmt in tree.body:
        if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "sympy" and not stmt.level
                and [a.name for a in stmt.names] == ["*"]):
            break
        leading += 1
    if not leading:
        return fresh, None
    for i in range(leading):
        tree.body[i] = ast.copy_location(ast.Pass(), tree.body[i])
    return star_ns, tree


def _replay(prelude: list[str], ns: dict[str, object], first_tree: ast.Module | None) -> None:
    """Re-run earlier session blocks with their output discarded; errors are ignored (see Session)."""
    saved_out, saved_err = os.dup(1), os.dup(2)
    os.dup2(0, 1)  # fd 0 is /dev/null opened read-write
    os.dup2(0, 2)
    try:
        for i, block in enumerate(prelude):
            try:
                _exec_block(block, f"<block {i + 1}>", ns, first_tree if i == 0 else None)
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


def run(code: str, prelude: list[str], star_ns: dict[str, object] | None = None) -> NoReturn:
    """Execute `code` like a script (after replaying `prelude`) and `_exit` with a meaningful code."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    sys.argv = ["<snippet>"]
    exit_code = 0
    ns, first_tree = star_namespace(prelude[0] if prelude else code, star_ns)
    try:
        if prelude:
            _replay(prelude, ns, first_tree)
        _exec_block(code, "<snippet>", ns, None if prelude else first_tree)
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
    announce_exit(exit_code & 0xFF)
    os._exit(exit_code & 0xFF)  # no interpreter teardown: it is slow and the process dies anyway


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


def main(plan: ChildPlan, parent_pid: int, workdir: str, req_fd: int, out_fd: int, err_fd: int,
         ready_fd: int) -> NoReturn:
    """Confine and warm up, report readiness on `ready_fd`, wait for the request, run it. Never returns."""
    try:
        try:
            confine(plan, parent_pid, workdir, out_fd, err_fd)
            os.write(ready_fd, b"K")
        except BaseException as e:
            os.write(ready_fd, f"{type(e).__name__}: {e}".encode()[:4000])
            os._exit(EXIT_SETUP_FAILED)
        code, prelude = read_request(req_fd)
        os.closerange(3, 2**31 - 1)  # no inherited fds: the request and ready pipes, anything of the zygote's
        run(code, prelude, plan.star_ns)
    finally:
        os._exit(EXIT_SETUP_FAILED)
