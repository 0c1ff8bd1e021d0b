"""Tenants cannot touch each other: no snippet changes the priority, scheduling policy, CPU affinity, I/O priority
or resource limits of any process but its own (the spare that will run the next request, another session's live
child, a child of a second pool, the worker, the zygote), and two pools never share a uid. Checked by effect: the
victims' state in /proc (and ioprio_get) before and after, with a control showing the attack code did run."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import DEFAULT_PRELOAD, Sandbox

PRELOAD = (*DEFAULT_PRELOAD, "ctypes", "resource")
PID = "import os\nprint(os.getpid())"
_libc = ctypes.CDLL(None, use_errno=True)
SYS_IOPRIO_GET = 252  # x86_64


@pytest.fixture(scope="module")
def pools() -> Iterator[tuple[Sandbox, Sandbox]]:
    with Sandbox(workers=1, timeout=2.0, preload=PRELOAD) as a, Sandbox(workers=1, timeout=2.0) as b:
        yield a, b


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _zygote_and_children(sb: Sandbox, want: int = 0, settle_s: float = 10.0) -> tuple[int, list[int]]:
    """The zygote of `sb`'s one worker and its children (at least `want` of them: the worker asks for the next
    spare as a request starts, and the zygote forks it when it next runs), once each child has confined itself (a
    spare forked just now is still root, setting its limits, for a moment)."""
    (worker,) = sb.worker_pids()
    (zygote,) = _children(worker)
    deadline = time.monotonic() + settle_s
    while True:
        kids = _children(zygote)
        if (len(kids) >= want and all(_uid(k) in sb.uids for k in kids)) or time.monotonic() > deadline:
            return zygote, kids
        time.sleep(0.02)


def _state(pid: int) -> tuple[object, ...]:
    """What an attack would change: nice, scheduling policy, affinity, I/O priority, resource limits."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = Path(f"/proc/{pid}/status").read_text()
    affinity = next(line.split()[1] for line in status.splitlines() if line.startswith("Cpus_allowed_list"))
    ioprio = _libc.syscall(SYS_IOPRIO_GET, 1, pid)
    return int(fields[16]), int(fields[38]), affinity, ioprio, Path(f"/proc/{pid}/limits").read_text()


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))


# Every way to reach another process's scheduling, priority, affinity, I/O priority and limits: through the os
# module and raw syscalls, by pid, by process group and by user.
ATTACK = textwrap.dedent("""\
    import ctypes, os, resource
    libc = ctypes.CDLL(None, use_errno=True)
    targets = {targets!r}
    uids = {uids!r}
    done = 0
    def attempt(f):
        global done
        try:
            f()
            done += 1
        except (OSError, ValueError):
            pass
        done += 0
    mask = (ctypes.c_ulong * 16)(1)
    param = ctypes.c_int(0)
    attr = (ctypes.c_uint32 * 14)(56, 5)  # struct sched_attr: size 56, SCHED_IDLE
    lim = (ctypes.c_ulong * 2)(16, 16)
    for t in targets:
        attempt(lambda: os.setpriority(os.PRIO_PROCESS, t, 19))
        attempt(lambda: os.setpriority(os.PRIO_PGRP, t, 19))
        attempt(lambda: os.sched_setscheduler(t, os.SCHED_IDLE, os.sched_param(0)))
        attempt(lambda: os.sched_setaffinity(t, {{0}}))
        attempt(lambda: resource.prlimit(t, resource.RLIMIT_NOFILE, (16, 16)))
        attempt(lambda: resource.prlimit(t, resource.RLIMIT_CPU, (1, 1)))
        for nr, args in ((141, (0, t, 19)), (141, (1, t, 19)), (144, (t, 5, ctypes.byref(param))),
                         (142, (t, ctypes.byref(param))), (203, (t, 128, mask)), (314, (t, attr, 0)),
                         (251, (1, t, (3 << 13) | 7)), (251, (2, t, (3 << 13) | 7)),
                         (302, (t, 7, lim, None)), (302, (t, 0, lim, None))):
            libc.syscall(nr, *args)
    for u in uids:
        attempt(lambda: os.setpriority(os.PRIO_USER, u, 19))
        libc.syscall(251, 3, u, (3 << 13) | 7)  # ioprio_set(IOPRIO_WHO_USER)
    attempt(lambda: os.setpriority(os.PRIO_USER, 0, 19))
    attempt(lambda: os.setpriority(os.PRIO_PGRP, 0, 19))
    # Control: the same calls on itself work, so the attack really ran.
    os.setpriority(os.PRIO_PROCESS, 0, 5)
    os.sched_setaffinity(0, {{0}})
    print('ran', os.getpriority(os.PRIO_PROCESS, 0), sorted(os.sched_getaffinity(0)))
    """)


def test_no_snippet_reschedules_another_process(pools: tuple[Sandbox, Sandbox]) -> None:
    a, b = pools
    with a.session() as victim, a.session() as attacker, b.session() as other_pool:
        v = int(victim.run(PID).stdout)
        me = int(attacker.run(PID).stdout)
        w = int(other_pool.run(PID).stdout)
        zygote_a, kids_a = _zygote_and_children(a, want=3)  # two sessions and the spare
        zygote_b, kids_b = _zygote_and_children(b, want=2)
        spare_a = [p for p in kids_a if p not in (v, me)]
        spare_b = [p for p in kids_b if p != w]
        assert len(spare_a) == 1 and len(spare_b) == 1, (kids_a, kids_b)  # the next request's child, waiting
        targets = [v, *spare_a, w, *spare_b, zygote_a, zygote_b, *a.worker_pids(), *b.worker_pids()]
        before = {t: _state(t) for t in targets}
        uids = sorted({_uid(t) for t in targets})
        r = attacker.run(ATTACK.format(targets=targets, uids=uids))
        assert r.stdout == "ran 5 [0]\n", r
        assert {t: _state(t) for t in targets} == before
        assert _state(me)[:3] == (5, 0, "0")  # the attacker changed itself, as it may
        # And the victims still serve requests at full priority.
        assert victim.run("import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))").stdout == "0\n"
        assert a.run("import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))").stdout == "0\n"


def test_every_live_child_has_its_own_uid(pools: tuple[Sandbox, Sandbox]) -> None:
    a, b = pools
    assert a.uids and b.uids and not set(a.uids) & set(b.uids)
    with a.session() as s1, a.session() as s2:
        s1.run("x = 1")
        s2.run("x = 2")
        deadline = time.monotonic() + 20  # the spare warms up once its worker has been idle a moment
        while len(kids := _zygote_and_children(a)[1]) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        live = [_uid(p) for p in kids]
        assert len(kids) == 3 and len(set(live)) == 3, live  # two sessions and the spare
        assert set(live) <= set(a.uids)


def test_pools_in_two_processes_never_share_a_uid(pools: tuple[Sandbox, Sandbox]) -> None:
    a, b = pools
    root = str(Path(__file__).resolve().parents[2])
    code = (f"import json, sys; sys.path.insert(0, {root!r}); from sandbox import Sandbox\n"
            "sb = Sandbox(workers=2).start()\nprint(json.dumps(sb.uids), flush=True)\nsys.stdin.read()\nsb.close()")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        theirs = set(json.loads(p.stdout.readline()))
        assert len(theirs) == 128 and not theirs & (set(a.uids) | set(b.uids))
    finally:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(30)
