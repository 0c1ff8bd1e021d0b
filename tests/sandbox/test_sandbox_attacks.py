"""An attack battery against the sandbox. Every test asserts containment by effect (a file still exists, a
listener accepted nothing, a process is still alive, a secret never appears), not by the error message.

Run: .venv/bin/python -m pytest tests/sandbox -q
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import DEFAULT_PRELOAD, LAYERS, RunResult, Sandbox

TIMEOUT = 1.5
MAX_OUTPUT = 65536
SECRET = "s3cr3t-token-5f1e"
# The attack modules are preloaded so that each attack really runs (a confined child cannot import new ones).
PRELOAD = (*DEFAULT_PRELOAD, "ctypes", "ctypes.util", "subprocess", "multiprocessing", "threading", "socket",
           "signal", "resource", "mmap", "pickle", "tempfile", "struct", "json")
SYMPY_OK = "from sympy import *\nx = symbols('x')\nprint(factor(x**2 - 1))"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    os.environ["GENPRM_TEST_SECRET"] = SECRET  # a secret in the supervisor's environment
    try:
        with Sandbox(workers=2, timeout=TIMEOUT, memory_mb=1024, max_output=MAX_OUTPUT, preload=PRELOAD) as box:
            assert all(box.layers[name] for name in LAYERS), box.layers  # the battery tests the full sandbox
            yield box
    finally:
        os.environ.pop("GENPRM_TEST_SECRET", None)


@pytest.fixture
def open_dir(tmp_path: Path) -> Path:
    """A world-writable directory outside the workdir: only the sandbox (not file permissions) protects it."""
    d = tmp_path / "open"
    d.mkdir()
    d.chmod(0o777)
    tmp_path.chmod(0o755)
    return d


def sandbox_pids(sb: Sandbox, settle_s: float = 1.0) -> list[int]:
    """Processes of `sb` running as a sandbox uid that should not be there: orphans, and children of a worker's
    zygote other than its one spare (the newest child, waiting for the next request). There should be none between
    runs; a child that just ended gets `settle_s` to be reaped. Other sandboxes' children are not counted."""
    deadline = time.monotonic() + settle_s
    while True:
        found = _leftovers(sb)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _leftovers(sb: Sandbox) -> list[int]:
    workers = set(sb.worker_pids())
    ours = set(sb.uids)
    zygotes = set()
    for w in workers:
        try:
            zygotes.update(int(p) for p in Path(f"/proc/{w}/task/{w}/children").read_text().split())
        except OSError:
            pass
    by_parent: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                          if ":" in line)
            started = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[19])
        except OSError:
            continue
        uid, ppid = int(status["Uid"].split()[0]), int(status["PPid"])
        if status["State"].split()[0] == "Z":  # dead, runs nothing: waiting for its parent (or init) to reap it
            continue
        if uid in ours and (ppid in workers | zygotes or ppid == 1):
            by_parent.setdefault(ppid, []).append((started, int(entry)))
    pids = []
    for ppid, kids in by_parent.items():
        kids.sort()
        pids += [pid for _, pid in (kids[:-1] if ppid in zygotes else kids)]
    return pids


def assert_alive(sb: Sandbox) -> None:
    r = sb.run("print(1 + 1)")
    assert (r.status, r.stdout) == ("ok", "2\n"), r


# --- CPU and wall-clock -------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "while True:\n    pass",
    "import time\ntime.sleep(100)",
    # Ignores every catchable signal and spins.
    "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP, signal.SIGALRM):\n"
    "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass",
    # Blocks reading stdin forever (it is /dev/null, so this returns at once) and then sleeps in C.
    "import sys, select\nsys.stdin.read()\nselect.select([], [], [], 100)",
])
def test_runaway_is_killed_at_timeout(sb: Sandbox, code: str) -> None:
    r = sb.run(code)
    assert r.status == "timeout", r
    assert r.wall_s < TIMEOUT + 1.0
    assert sandbox_pids(sb) == []


# --- memory -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "x = bytearray(10 * 2**30)\nprint('ALLOCATED')",
    "chunks = []\nwhile True:\n    chunks.append(bytearray(2**20))",
    "x = 'a' * (4 * 2**30)\nprint('ALLOCATED')",
    "import mmap\nm = mmap.mmap(-1, 8 * 2**30)\nprint('ALLOCATED')",
])
def test_memory_bombs_are_contained(sb: Sandbox, code: str) -> None:
    r = sb.run(code)
    # Gradual allocation may hit the timeout first on a slow machine (page faults): contained either way.
    assert r.status in ("memory", "error", "timeout"), r
    assert "ALLOCATED" not in r.stdout
    assert r.wall_s < TIMEOUT + 1.0


def test_memory_status_for_allocation(sb: Sandbox) -> None:
    assert sb.run("x = bytearray(10 * 2**30)").status == "memory"


# --- processes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    "import os\nwhile True:\n    if os.fork() == 0:\n        print('CHILD', flush=True)",
    "import subprocess\nprint(subprocess.run(['echo', 'CHILD'], capture_output=True, text=True).stdout)",
    "import os\nos.system('echo CHILD')",
    "import os\nos.posix_spawn('/bin/echo', ['echo', 'CHILD'], {})",
    "import multiprocessing\np = multiprocessing.Process(target=print, args=('CHILD',))\np.start()\np.join()",
    # Raw fork (57) and clone(SIGCHLD) (56) syscalls, bypassing Python and glibc.
    "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nfor nr, args in ((57, ()), (56, (17, 0, 0, 0, 0))):\n"
    "    if libc.syscall(nr, *args) == 0:\n        os.write(1, b'CHILD')\n        os._exit(0)\n"
    "print('attempted', ctypes.get_errno())",
])
def test_no_new_processes(sb: Sandbox, code: str) -> None:
    r = sb.run(code)
    assert "CHILD" not in r.stdout, r
    assert sandbox_pids(sb) == []


def test_threads_are_capped_and_die_with_the_snippet(sb: Sandbox) -> None:
    code = ("import threading, time\nstarted = 0\nfor _ in range(500):\n    try:\n"
            "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n        started += 1\n"
            "    except RuntimeError:\n        break\nprint(started)")
    r = sb.run(code)
    assert r.status in ("ok", "error", "memory"), r
    if r.stdout.strip():
        assert int(r.stdout) < 500  # RLIMIT_NPROC (threads count) stops it
    assert sandbox_pids(sb) == []  # and none of them outlives the snippet


def test_cannot_escape_the_process_group(sb: Sandbox) -> None:
    r = sb.run("import os\nos.setsid()\nprint('ESCAPED')")
    assert "ESCAPED" not in r.stdout


# --- network ------------------------------------------------------------------------------------------------

def test_tcp_listener_accepts_nothing(sb: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(5)
        port = srv.getsockname()[1]
        code = textwrap.dedent(f"""\
            import socket
            for addr in (('127.0.0.1', {port}), ('::1', {port})):
                try:
                    s = socket.create_connection(addr, timeout=1)
                    s.sendall(b'hi')
                    print('CONNECTED')
                except OSError as e:
                    print('no', e.errno)
            """)
        r = sb.run(code)
        srv.settimeout(0.3)
        with pytest.raises(TimeoutError):
            srv.accept()
    assert "CONNECTED" not in r.stdout


def test_udp_reaches_nothing(sb: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        sb.run(f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
               f"s.sendto(b'x', ('127.0.0.1', {port}))")
        srv.settimeout(0.3)
        with pytest.raises(TimeoutError):
            srv.recvfrom(10)


def test_raw_socket_syscall_denied(sb: Sandbox) -> None:
    # socket(AF_INET, SOCK_STREAM, 0) through ctypes, bypassing the Python socket module.
    r = sb.run("import ctypes\nfd = ctypes.CDLL(None).syscall(41, 2, 1, 0)\nprint('FD', fd)")
    assert "FD -1" in r.stdout, r


# --- files --------------------------------------------------------------------------------------------------

def test_cannot_read_etc_passwd(sb: Sandbox) -> None:
    r = sb.run("print(open('/etc/passwd').read())")
    assert "root:" not in r.stdout and r.status == "error"


def test_cannot_read_canary(sb: Sandbox, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-7d2a")
    canary.chmod(0o644)
    tmp_path.chmod(0o755)
    r = sb.run(f"print(open({str(canary)!r}).read())\nimport os\nprint(os.listdir({str(tmp_path)!r}))")
    assert "CANARY-7d2a" not in r.stdout + r.stderr
    assert canary.read_text() == "CANARY-7d2a"


def test_cannot_read_the_project_checkout(sb: Sandbox) -> None:
    marker = "def test_cannot_read_the_project_checkout"  # a line of this very file
    r = sb.run(f"print(open({__file__!r}).read())\nimport os\nprint(os.listdir({str(Path(__file__).parents[2])!r}))")
    assert marker not in r.stdout and "pyproject.toml" not in r.stdout, r


def test_cannot_list_root_or_home(sb: Sandbox) -> None:
    r = sb.run("import os\nfor d in ('/', '/root', '/etc', '/home', '/tmp', '..'):\n    try:\n"
               "        print(d, os.listdir(d))\n    except OSError:\n        pass")
    assert "etc" not in r.stdout and "passwd" not in r.stdout, r


def test_environment_is_empty_and_secret_unreachable(sb: Sandbox) -> None:
    code = ("import os\nprint(dict(os.environ))\nfor p in ('/proc/self/environ', f'/proc/{os.getppid()}/environ',"
            f" '/proc/{os.getpid()}/environ', '/proc/1/environ'):\n    try:\n        print(open(p, 'rb').read())\n"
            "    except OSError as e:\n        print(p, e.errno)")
    r = sb.run(code)
    assert r.stdout.startswith("{}\n"), r
    assert SECRET not in r.stdout + r.stderr


def test_cannot_read_supervisor_proc(sb: Sandbox) -> None:
    me = os.getpid()
    r = sb.run(f"for f in ('environ', 'cmdline', 'maps', 'mem'):\n    try:\n"
               f"        print(open('/proc/{me}/' + f, 'rb').read(200))\n    except OSError:\n        pass")
    assert SECRET not in r.stdout and "python" not in r.stdout, r


def test_cannot_write_or_delete_outside_workdir(sb: Sandbox, open_dir: Path) -> None:
    victim = open_dir / "victim.txt"
    victim.write_text("keep")
    victim.chmod(0o666)
    code = (f"import os\nd = {str(open_dir)!r}\n"
            "for f in (lambda: open(d + '/new.txt', 'w').write('x'), lambda: os.remove(d + '/victim.txt'),"
            " lambda: open(d + '/victim.txt', 'w').write('pwned'), lambda: os.mkdir(d + '/sub'),"
            " lambda: os.rename(d + '/victim.txt', d + '/moved.txt'), lambda: open('/tmp/pwned', 'w'),"
            " lambda: os.truncate(d + '/victim.txt', 0)):\n"
            "    try:\n        f()\n    except OSError:\n        pass")
    sb.run(code)
    assert sorted(p.name for p in open_dir.iterdir()) == ["victim.txt"]
    assert victim.read_text() == "keep"
    assert not Path("/tmp/pwned").exists()


def test_symlink_and_hardlink_escape(sb: Sandbox, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-LINK")
    canary.chmod(0o666)
    tmp_path.chmod(0o755)
    code = (f"import os\nfor make in (os.symlink, os.link):\n    try:\n        make({str(canary)!r}, 'l')\n"
            "        print(open('l').read())\n    except OSError:\n        pass\n"
            "    try:\n        os.remove('l')\n    except OSError:\n        pass\n"
            "os.symlink('/', 'root')\ntry:\n    print(os.listdir('root/etc'))\nexcept OSError:\n    pass")
    r = sb.run(code)
    assert "CANARY-LINK" not in r.stdout and "passwd" not in r.stdout, r
    assert canary.read_text() == "CANARY-LINK"


def test_cannot_modify_the_interpreter_or_sympy(sb: Sandbox) -> None:
    import sympy

    init = Path(sympy.__file__)
    before = init.stat().st_mtime_ns
    sb.run(f"open({str(init)!r}, 'a').write('PWNED = 1')")
    assert init.stat().st_mtime_ns == before
    assert "PWNED" not in init.read_text()


def test_disk_fill_is_capped(sb: Sandbox) -> None:
    before = shutil.disk_usage("/").used
    r = sb.run("chunk = b'x' * 2**20\nwith open('big', 'wb') as f:\n    while True:\n        f.write(chunk)")
    r2 = sb.run("import os\ni = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'x' * 4096)\n    i += 1")
    assert r.status == "error" and r2.status == "error", (r, r2)
    assert r.wall_s < TIMEOUT and r2.wall_s < TIMEOUT + 0.5
    assert shutil.disk_usage("/").used - before < 64 << 20


def test_workdir_is_fresh_per_snippet(sb: Sandbox) -> None:
    for _ in range(2):  # both workers
        sb.run_many(["open('left_behind', 'w').write('x')"] * 2)
    r = sb.run_many(["import os\nprint(os.listdir('.'))"] * 2)
    assert [x.stdout for x in r] == ["[]\n", "[]\n"]


def test_dev_shm_and_tmp_unreachable(sb: Sandbox) -> None:
    sb.run("for p in ('/dev/shm/pwned', '/tmp/pwned', '/var/tmp/pwned'):\n    try:\n"
           "        open(p, 'w').write('x')\n    except OSError:\n        pass")
    assert not any(Path(p).exists() for p in ("/dev/shm/pwned", "/tmp/pwned", "/var/tmp/pwned"))


# --- signals, ptrace, privileges ----------------------------------------------------------------------------

def test_cannot_kill_parent_or_everyone(sb: Sandbox) -> None:
    workers = sb.worker_pids()
    me = os.getpid()
    for code in (f"import os, signal\nos.kill({me}, signal.SIGKILL)",
                 "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                 "import os, signal\nos.kill(-1, signal.SIGKILL)",
                 "import os, signal\nos.killpg(0, signal.SIGKILL)\nprint('survived')",
                 *(f"import os, signal\nos.kill({w}, signal.SIGSTOP)" for w in workers)):
        sb.run(code)
    for pid in workers:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("State:"))
        assert "stopped" not in state and "zombie" not in state, state
    assert sorted(sb.worker_pids()) == sorted(workers)  # none died and was replaced
    assert_alive(sb)


def test_ptrace_denied(sb: Sandbox) -> None:
    workers = sb.worker_pids()
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.ptrace(16, os.getppid(), 0, 0), libc.ptrace(0, 0, 0, 0))\n"
            + "".join(f"print(libc.ptrace(16, {w}, 0, 0))\n" for w in workers))
    r = sb.run(code)
    assert r.stdout.split() == ["-1"] * (2 + len(workers)), r
    for pid in workers:
        tracer = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if line.startswith("TracerPid:"))
        assert tracer.split()[1] == "0"


def test_cannot_regain_privileges(sb: Sandbox) -> None:
    code = ("import os\nfor f in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.setgroups([0])):\n"
            "    try:\n        f()\n    except OSError:\n        pass\nprint(os.getuid(), os.geteuid(), os.getgid())")
    r = sb.run(code)
    assert r.status == "ok" and "0" not in r.stdout.split(), r


def test_cannot_raise_rlimits(sb: Sandbox) -> None:
    code = ("import resource\nfor res in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NPROC):\n"
            "    try:\n        resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
            "        print('RAISED')\n    except (ValueError, OSError):\n        pass\n"
            "x = bytearray(3 * 2**30)\nprint('ALLOCATED')")
    r = sb.run(code)
    assert "RAISED" not in r.stdout and "ALLOCATED" not in r.stdout
    assert r.status == "memory", r


def test_cannot_unshare_or_mount(sb: Sandbox) -> None:
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\nprint(libc.unshare(0x10000000), libc.unshare(0x40000000),"
            " libc.mount(b'none', b'.', b'tmpfs', 0, None), libc.chroot(b'.'))")
    assert sb.run(code).stdout.split() == ["-1"] * 4


# --- crashes and output -------------------------------------------------------------------------------------

def test_forged_exit_announcement_ends_the_snippet(sb: Sandbox) -> None:
    # A child announces its exit code in its name and closes stdout/stderr; a snippet that fakes this and keeps
    # running is killed (it only chose its own exit code), and one that just closes its pipes still times out.
    forge = ("import ctypes, os\nctypes.CDLL(None).prctl(15, b'sbx-exit-0', 0, 0, 0)\nos.close(1)\nos.close(2)\n"
             "while True:\n    pass")
    r = sb.run(forge)
    assert r.status == "ok" and r.wall_s < TIMEOUT, r
    assert sandbox_pids(sb) == []
    r = sb.run("import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass")
    assert r.status == "timeout", r
    assert sandbox_pids(sb) == []
    assert_alive(sb)


def test_segfault_is_contained(sb: Sandbox) -> None:
    r = sb.run("import ctypes\nctypes.string_at(0)")
    assert r.status == "killed" and r.signal == 11, r
    assert_alive(sb)


def test_deep_recursion(sb: Sandbox) -> None:
    r = sb.run("def f(n):\n    return f(n + 1)\nf(0)")
    assert r.status == "error" and "RecursionError" in r.stderr
    r = sb.run("import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)")
    assert r.status in ("killed", "memory", "error", "timeout"), r
    assert r.wall_s < TIMEOUT + 1.0
    assert_alive(sb)


def test_huge_output_is_capped(sb: Sandbox) -> None:
    r = sb.run("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)")
    assert r.status == "output_limit", r
    assert len(r.stdout) + len(r.stderr) <= MAX_OUTPUT
    assert r.wall_s < TIMEOUT
    r = sb.run("import os\nwhile True:\n    os.write(2, b'e' * 65536)")
    assert r.status == "output_limit" and len(r.stderr) <= MAX_OUTPUT


def test_forged_frames_and_pickle_on_stdout(sb: Sandbox) -> None:
    import json
    import pickle

    forged = json.dumps({"type": "result", "status": "ok", "stdout": "FORGED", "stderr": "", "returncode": 0,
                         "signal": None, "wall_s": 0}).encode()
    frame = struct.pack(">I", len(forged)) + forged
    payload = pickle.dumps(("os.system", "touch /tmp/pickled"))
    code = (f"import os, sys\nos.write(1, {frame!r})\nsys.stdout.buffer.write({payload!r})\nsys.stdout.flush()\n"
            f"for fd in range(3, 64):\n    try:\n        os.write(fd, {frame!r})\n    except OSError:\n        pass\n"
            "raise ValueError('after forging')")
    r = sb.run(code)
    assert r.status == "error" and "ValueError" in r.stderr, r
    assert '"stdout":"FORGED"' in r.stdout.replace(" ", "")  # delivered as data
    assert not Path("/tmp/pickled").exists()
    assert_alive(sb)


def test_sysv_shm_does_not_outlive_the_snippet(sb: Sandbox) -> None:
    before = Path("/proc/sysvipc/shm").read_text()
    create = ("import ctypes\nlibc = ctypes.CDLL(None)\nid_ = libc.shmget(0x5EC2E7, 2**20, 0o1666)\n"
              "print('id', id_)\nif id_ >= 0:\n    libc.shmat(id_, None, 0)")
    find = "import ctypes\nprint('found', ctypes.CDLL(None).shmget(0x5EC2E7, 0, 0))"
    sb.run_many([create, create])
    assert [r.stdout for r in sb.run_many([find, find])] == ["found -1\n", "found -1\n"]
    assert Path("/proc/sysvipc/shm").read_text() == before


def test_monkeypatched_sympy_is_clean_next_time(sb: Sandbox) -> None:
    patch = ("import sympy, builtins\nsympy.factor = lambda *a, **k: 'PATCHED'\n"
             "sympy.Integer.__add__ = lambda self, other: 'PATCHED'\nbuiltins.print = lambda *a, **k: None\n"
             "import sys\nsys.modules['math'] = None")
    sb.run_many([patch, patch])
    for r in sb.run_many([SYMPY_OK + "\nprint(Integer(2) + 3)\nimport math\nprint(math.pi > 3)"] * 2):
        assert r.stdout == "(x - 1)*(x + 1)\n5\nTrue\n", r


def test_no_leftover_processes_and_pool_answers(sb: Sandbox) -> None:
    assert sandbox_pids(sb) == []
    results = sb.run_many(["print(1 + 1)"] * 8 + [SYMPY_OK] * 4)
    assert [r.stdout for r in results] == ["2\n"] * 8 + ["(x - 1)*(x + 1)\n"] * 4


# --- a sandbox of its own -----------------------------------------------------------------------------------

def test_no_inherited_fds(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("FD-SECRET")
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    srv = socket.socket()
    srv.set_inheritable(True)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    try:
        with Sandbox(workers=1, timeout=TIMEOUT) as box:
            code = textwrap.dedent("""\
                import os
                fds = []
                for fd in range(1024):
                    try:
                        os.fstat(fd)
                        fds.append(fd)
                    except OSError:
                        pass
                print(fds)
                for fd in fds:
                    try:
                        os.lseek(fd, 0, 0)
                        print(os.read(fd, 100))
                    except OSError:
                        pass
                """)
            r = box.run(code)
    finally:
        os.close(fd)
        srv.close()
    assert r.stdout.splitlines()[0] == "[0, 1, 2]", r
    assert "FD-SECRET" not in r.stdout


def test_dead_or_hung_worker_is_replaced() -> None:
    import signal

    with Sandbox(workers=1, timeout=0.5) as box:
        box.grace_s = 0.5
        (pid,) = box.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        r = box.run("print(1)")
        assert r.status == "killed"  # the snippet that met the dead worker is reported, not retried
        assert_alive(box)
        (pid2,) = box.worker_pids()
        assert pid2 != pid
        os.kill(pid2, signal.SIGSTOP)  # a hung worker
        r = box.run("print(1)")
        assert r.status == "timeout" and r.wall_s < 2.5, r
        assert_alive(box)
        # A dead zygote: its worker is replaced (and with it the zygote); a snippet that never reached a child
        # runs on the fresh worker.
        (pid3,) = box.worker_pids()
        (zygote,) = (int(p) for p in Path(f"/proc/{pid3}/task/{pid3}/children").read_text().split())
        os.kill(zygote, signal.SIGKILL)
        time.sleep(0.1)
        r = box.run("print(1)")
        assert r.status in ("ok", "killed"), r
        assert_alive(box)
        (pid4,) = box.worker_pids()
        assert pid4 != pid3


def test_result_type(sb: Sandbox) -> None:
    r = sb.run(SYMPY_OK)
    assert isinstance(r, RunResult) and r.ok
    with pytest.raises(AttributeError):
        r.status = "error"  # type: ignore[misc]


# --- shared use: nothing of earlier requests, no host IPC, memory caps that hold, no host metadata -----------

# Scans the snippet's own process for `mem-canary-` followed by 16 hex digits: live objects (what the gc tracks,
# and the strings they hold) and raw memory (every readable page of the Python heap's 1 MiB regions and of the
# malloc heap, probed with write() into a pipe so an unreadable page gives EFAULT, never a crash). It plants one
# canary of its own, built at run time, to prove the scan can see what is there.
SCAN_MEMORY = textwrap.dedent("""\
    import ctypes, gc, os, re
    own = 'mem-canary-' + 'feedfacefeedface'[:8] + '00000000'
    pat = re.compile(rb'mem-canary-([0-9a-f]{16})')
    found = set()
    for o in gc.get_objects():
        items = o.items() if isinstance(o, dict) else o if isinstance(o, (list, tuple, set)) else ()
        for it in items:
            for v in (it if isinstance(it, tuple) else (it,)):
                if isinstance(v, (str, bytes)) and len(v) < 10**6:
                    b = v.encode(errors='replace') if isinstance(v, str) else v
                    found.update(m.decode() for m in pat.findall(b))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    libc.sbrk.restype = ctypes.c_void_p
    r, w = os.pipe()
    P = 4096
    def page(a):
        if libc.write(w, a, P) != P:
            return None
        return os.read(r, P)
    regions = {(id(o) >> 20) << 20 for o in gc.get_objects()}
    top = libc.sbrk(0) or 0
    lo = top & ~(P - 1)
    while lo > P and page(lo - P) is not None and top - lo < 2**30:
        lo -= P
    spans = [(b, b + 2**20) for b in regions] + [(lo, top & ~(P - 1))]
    pages = 0
    for a, b in spans:
        prev = b''
        for addr in range(a, b, P):
            data = page(addr)
            if data is None:
                prev = b''
                continue
            pages += 1
            found.update(m.decode() for m in pat.findall(prev[-40:] + data))
            prev = data
    print('pages', pages)
    print('found', sorted(found))
    """)


def test_no_memory_of_earlier_requests(sb: Sandbox) -> None:
    import secrets

    plain, in_session = secrets.token_hex(8), secrets.token_hex(8)
    code = f"s = 'mem-canary-{plain}'\nprint(s)\nkeep = {{'k': [s, s.encode()]}}"
    for _ in range(2):  # every worker sees the request, its output and a session's blocks
        assert all(r.stdout == f"mem-canary-{plain}\n" for r in sb.run_many([code, code]))
    with sb.session() as s:
        s.run(f"note = 'mem-canary-{in_session}'")
        s.run("print(note)")
        scans = sb.run_many([SCAN_MEMORY] * 4)  # while the session is open, and after
    scans += sb.run_many([SCAN_MEMORY] * 2)
    for r in scans:
        assert r.status == "ok", r
        assert "feedface00000000" in r.stdout, r  # the scan sees its own canary
        assert int(r.stdout.split()[1]) > 1000, r  # and read a real heap
        assert plain not in r.stdout and in_session not in r.stdout, r


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A world-readable directory on the host's disk (not under /tmp, which the workers' namespace covers)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="sandbox-canary-", dir="/var/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unix_sockets_on_the_host_receive_nothing(sb: Sandbox, host_dir: Path) -> None:
    tmp_path = host_dir
    dgram_path = str(tmp_path / "dgram.sock")
    stream_path = str(tmp_path / "stream.sock")
    abstract = "\0sandbox-canary-" + os.urandom(4).hex()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dgram, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract_dgram, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
        dgram.bind(dgram_path)
        abstract_dgram.bind(abstract)
        stream.bind(stream_path)
        stream.listen(5)
        for p in (dgram_path, stream_path):
            os.chmod(p, 0o777)
        code = textwrap.dedent(f"""\
            import ctypes, os, socket, struct, sys
            libc = ctypes.CDLL(None, use_errno=True)
            targets = [{dgram_path!r}.encode(), {abstract!r}.encode(), {stream_path!r}.encode()]
            def addr(p):
                return struct.pack('H', socket.AF_UNIX) + p + b'\\0' * (108 - len(p))
            tries = [
                lambda t: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)[0].sendto(b'PWN', t),
                lambda t: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'PWN', t),
                lambda t: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(t),
            ]
            for t in targets:
                for f in tries:
                    try:
                        f(t.decode() if not t.startswith(b'\\0') else t)
                        print('SENT')
                    except OSError as e:
                        print('no', e.errno)
                # raw syscalls: socketpair (53), then sendto (44)
                sv = (ctypes.c_int * 2)(-1, -1)
                if libc.syscall(53, 1, 2, 0, sv) == 0:
                    a = addr(t)
                    if libc.syscall(44, sv[0], b'PWN', 3, 0, a, len(a)) == 3:
                        print('SENT')
                print('raw done')
            # Last, as it may end the process: socket (41) through the x32 ABI's syscall numbers, then sendto.
            sys.stdout.flush()
            fd = libc.syscall(0x40000000 | 41, 1, 2, 0)
            for t in targets:
                a = addr(t)
                if fd >= 0 and libc.syscall(0x40000000 | 44, fd, b'PWN', 3, 0, a, len(a)) == 3:
                    print('SENT')
            """)
        r = sb.run(code)
        for s in (dgram, abstract_dgram, stream):
            s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            dgram.recvfrom(10)
        with pytest.raises(TimeoutError):
            abstract_dgram.recvfrom(10)
        with pytest.raises(TimeoutError):
            stream.accept()
    assert "SENT" not in r.stdout, r
    assert r.stdout.count("no ") == 9 and r.stdout.count("raw done") == 3, r  # every attempt was made


# Grows one kind of memory in 64 MiB files (each within RLIMIT_FSIZE) up to 1.25 GiB, past the 1 GiB cap (harmless
# for a 24 GB host if the sandbox were missing), and prints how far it got.
GROW = textwrap.dedent("""\
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    chunk = b'm' * (64 << 20)
    def grow(make):
        fds = []
        for i in range(20):
            fd = make()
            if fd < 0:
                raise OSError(ctypes.get_errno(), 'no fd')
            fds.append(fd)
            if os.write(fd, chunk) != len(chunk):
                break
            print('MB', (i + 1) * 64, flush=True)
    """)


@pytest.mark.parametrize("make", [
    "os.memfd_create('grow')",
    "libc.syscall(319, b'grow', 0)",  # memfd_create, raw
    "libc.syscall(447, 0)",  # memfd_secret
    "os.open('/dev/shm/sandbox-canary-' + os.urandom(6).hex(), os.O_CREAT | os.O_RDWR, 0o600)",
    "os.open('.', os.O_TMPFILE | os.O_RDWR, 0o600)",  # unnamed files in the workdir tmpfs
])
def test_memory_outside_the_address_space_is_capped(sb: Sandbox, make: str) -> None:
    try:
        r = sb.run(GROW + f"grow(lambda: {make})")
    finally:
        for leftover in Path("/dev/shm").glob("sandbox-canary-*"):
            leftover.unlink()
    reached = max([int(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("MB")] or [0])
    assert reached <= 64, r  # the workdir tmpfs holds 64 MiB; nothing else grows at all
    assert_alive(sb)


def test_host_metadata_is_unreadable(sb: Sandbox, host_dir: Path) -> None:
    tmp_path = host_dir
    target = tmp_path / "target.txt"
    target.write_text("x" * 4321)
    target.chmod(0o644)
    os.setxattr(target, "user.canary", b"XATTR-CANARY-4d2e")
    link = tmp_path / "link"
    link.symlink_to("LINK-TARGET-CANARY-91b3")
    code = textwrap.dedent(f"""\
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        t, l = {str(target)!r}, {str(link)!r}
        buf = ctypes.create_string_buffer(256)
        tries = [lambda: os.readlink(l), lambda: os.getxattr(t, 'user.canary'), lambda: os.listxattr(t),
                 lambda: os.getxattr(l, 'user.canary', follow_symlinks=False), lambda: os.stat(t).st_size,
                 lambda: os.lstat(l), lambda: os.listdir(os.path.dirname(t)), lambda: os.path.exists(t),
                 lambda: libc.syscall(191, t.encode(), b'user.canary', buf, 256) and buf.raw,
                 lambda: libc.syscall(89, l.encode(), buf, 256) and buf.raw]
        for f in tries:
            try:
                print(f())
            except OSError as e:
                print('no', e.errno)
        """)
    r = sb.run(code)
    assert r.status == "ok", r
    out = r.stdout
    assert "LINK-TARGET-CANARY" not in out and "XATTR-CANARY" not in out and "4321" not in out, r
    assert "target.txt" not in out and "True" not in out, r


def test_io_uring_and_aio_unavailable(sb: Sandbox) -> None:
    code = textwrap.dedent("""\
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        params = ctypes.create_string_buffer(120)
        fd = libc.syscall(425, 8, params)  # io_uring_setup
        print('ring', fd, ctypes.get_errno())
        ctx = ctypes.c_ulong(0)
        print('aio', libc.syscall(206, 8, ctypes.byref(ctx)), ctx.value)  # io_setup
        for fd in range(3, 64):
            try:
                os.fstat(fd)
                print('OPEN', fd)
            except OSError:
                pass
        """)
    r = sb.run(code)
    assert r.status == "ok", r
    assert "ring -1" in r.stdout and "aio -1 0" in r.stdout and "OPEN" not in r.stdout, r
