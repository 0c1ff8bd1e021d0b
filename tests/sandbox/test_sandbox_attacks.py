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
from sandbox.pool import UID_BASE

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


def sandbox_pids(sb: Sandbox) -> list[int]:
    """Live children of `sb`'s workers, or orphans, running as a sandbox uid (there should be none between runs).

    Children of other sandboxes on the machine (another test run, a benchmark) are not counted.
    """
    workers = set(sb.worker_pids())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        uid, ppid = int(status["Uid"].split()[0]), int(status["PPid"])
        if UID_BASE <= uid < UID_BASE + 64 and (ppid in workers or ppid == 1):
            pids.append(int(entry))
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


def test_result_type(sb: Sandbox) -> None:
    r = sb.run(SYMPY_OK)
    assert isinstance(r, RunResult) and r.ok
    with pytest.raises(AttributeError):
        r.status = "error"  # type: ignore[misc]
