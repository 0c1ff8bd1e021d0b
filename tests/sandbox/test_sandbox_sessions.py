"""Live sessions: one child per session for all its blocks (no replay), bounded (LRU, idle), never shared, and a
clear result when the child is gone. Checked by effect: files a block appends to, pids, names, /proc."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox

PID = "import os\nprint(os.getpid())"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # One worker, so every session of this module competes for the same two live slots.
    with Sandbox(workers=1, timeout=1.5, max_sessions=2) as box:
        yield box


def _gone(pid: int, settle_s: float = 2.0) -> bool:
    deadline = time.monotonic() + settle_s
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_blocks_run_once_in_one_live_child(sb: Sandbox) -> None:
    with sb.session() as s:
        pids = {s.run(PID).stdout for _ in range(3)}
        # Each block appends to a file in the session's workdir: a replay of earlier blocks would append again.
        for _ in range(5):
            assert s.run("open('log', 'a').write('x')").ok
        assert s.run("print(open('log').read())").stdout == "xxxxx\n"
        assert len(pids) == 1 and s.replays == 0
        pid = int(pids.pop())
    assert _gone(pid)  # closing the session ends its child


def test_sessions_never_share_process_names_or_files(sb: Sandbox) -> None:
    probe = "import os\nprint(os.getpid(), os.getuid(), sorted(os.listdir('.')))"
    with sb.session() as s1, sb.session() as s2:
        s1.run("secret = 41\nopen('s1-file', 'w').write('mine')")
        assert "NameError" in s2.run("print(secret)").stderr
        r1, r2 = s1.run(probe).stdout.split(maxsplit=2), s2.run(probe).stdout.split(maxsplit=2)
        assert r1[0] != r2[0] and r1[1] != r2[1], (r1, r2)  # another process, another uid
        assert r1[2] == "['s1-file']\n" and r2[2] == "[]\n"  # another working directory
        assert s1.run("print(secret + 1)").stdout == "42\n"
        assert s1.replays == s2.replays == 0


def test_eviction_replays_exactly(sb: Sandbox) -> None:
    with sb.session() as old, sb.session() as b, sb.session() as c:
        old.run("from sympy import *\nx = symbols('x')\ne = (x + 2)**2")
        b.run("v = 1")
        c.run("v = 2")  # a third live session on a worker that holds two: the least recently used goes
        r = old.run("print(expand(e))")
        assert (r.status, r.stdout) == ("ok", "x**2 + 4*x + 4\n"), r
        assert old.replays == 1 and old.lost is not None and "evicted" in old.lost


def test_inexact_replay_is_reported_not_faked(sb: Sandbox) -> None:
    with sb.session() as s, sb.session() as b, sb.session() as c:
        s.run("import random\nr = random.random()\nprint(r)")  # a replay would print another number
        b.run("v = 1")
        c.run("v = 2")
        r = s.run("print(r)")
        assert r.status == "killed" and "sandbox session lost: evicted" in r.stderr, r
        assert "different result" in r.stderr, r
        r = s.run("print(r)")  # the session started over, empty
        assert r.status == "error" and "NameError" in r.stderr, r


def test_a_block_that_kills_its_child(sb: Sandbox) -> None:
    with sb.session() as s:
        s.run("a = 7")
        r = s.run("import ctypes\nctypes.string_at(0)")
        assert (r.status, r.signal) == ("killed", 11) and "session ended" in r.stderr, r
        assert s.run("print(a * 6)").stdout == "42\n" and s.replays == 1  # earlier blocks replayed, exactly
        # A block that ignores the timeout's SIGALRM is killed with its child; one that honours it is interrupted.
        r = s.run("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass", timeout=0.3)
        assert r.status == "timeout" and r.wall_s < 1.5, r
        assert s.run("print(a)").stdout == "7\n" and s.replays == 2


def test_idle_sessions_end() -> None:
    with Sandbox(workers=1, timeout=1.0, session_idle_s=0.3) as box, box.session() as s, box.session() as t:
        s.run("n = 3")
        pid = int(t.run(PID).stdout)
        assert _gone(pid, settle_s=3.0)  # ended by its worker while no request came
        assert s.run("print(n)").stdout == "3\n" and s.replays == 1 and "idle" in str(s.lost)


def test_bad_input_gives_a_result(sb: Sandbox) -> None:
    with sb.session() as s:
        assert "SyntaxError" in s.run("def (:").stderr
        assert s.run("print('\\udcff'.encode('utf-8', 'surrogateescape'))").ok
        with pytest.raises(TypeError):
            s.run(b"print(1)")  # type: ignore[arg-type]
        assert s.run("print(1)").stdout == "1\n"
    with pytest.raises(Exception, match="closed"):
        s.run("print(1)")
    assert os.getpid() > 0 and sb.run("print(2)").stdout == "2\n"
