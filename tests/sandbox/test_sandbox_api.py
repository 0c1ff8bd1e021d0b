"""The sandbox's public surface: results, sessions, concurrency, validation, layers and the check command."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import LAYERS, Sandbox, SandboxError

SYMPY_OK = "from sympy import *\nx = symbols('x')\nprint(factor(x**2 - 1))"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(workers=2, timeout=2.0) as box:
        yield box


def test_ok_and_fields(sb: Sandbox) -> None:
    r = sb.run(SYMPY_OK)
    assert (r.status, r.stdout, r.stderr, r.returncode, r.signal) == ("ok", "(x - 1)*(x + 1)\n", "", 0, None)
    assert 0 < r.wall_s < 2.0


def test_script_semantics(sb: Sandbox) -> None:
    assert sb.run("1 + 1").stdout == ""  # the last expression is not echoed
    r = sb.run("import sys\nprint('a')\nprint('b', file=sys.stderr)")
    assert (r.stdout, r.stderr) == ("a\n", "b\n")
    assert sb.run("import sys\nsys.exit(0)").status == "ok"
    r = sb.run("import sys\nsys.exit(3)")
    assert (r.status, r.returncode) == ("error", 3)
    r = sb.run("import sys\nsys.exit('bye')")
    assert (r.status, r.stderr) == ("error", "bye\n")
    assert sb.run("print(__name__)").stdout == "__main__\n"


def test_sympy_star_import_means_what_it_says(sb: Sandbox) -> None:
    # A leading `from sympy import *` starts the snippet in a namespace prepared by the worker: it must be exactly
    # what the import makes, and any other snippet must start empty.
    check = ("import sympy\nprint(sorted(globals()) == sorted(['__name__', '__builtins__', 'sympy', *sympy.__all__]),"
             " all(globals()[n] is getattr(sympy, n) for n in sympy.__all__))")
    assert sb.run("from sympy import *\n" + check).stdout == "True True\n"
    assert sb.run("print(sorted(globals()))").stdout == "['__builtins__', '__name__']\n"
    assert sb.run("N = 3\nfrom sympy import *\nprint(N is not 3)").stdout == "True\n"  # the import shadows N
    r = sb.run("from sympy import *\nx = symbols('x')\n1 / 0")
    assert 'File "<snippet>", line 3' in r.stderr, r  # line numbers unchanged
    with sb.session() as s:
        s.run("from sympy import *\nN = 5")
        assert s.run("print(N)").stdout == "5\n"
        assert s.run("from sympy import *\nprint(N is not 5)").stdout == "True\n"


def test_error_traceback_is_short(sb: Sandbox) -> None:
    r = sb.run("x = 1\n1 / 0")
    assert r.status == "error" and r.returncode == 1
    assert "ZeroDivisionError" in r.stderr and 'File "<snippet>", line 2' in r.stderr
    assert "sandbox" not in r.stderr.replace("<snippet>", "")  # no supervisor internals
    r = sb.run("def f(:\n    pass")
    assert r.status == "error" and "SyntaxError" in r.stderr and "sandbox" not in r.stderr.replace("<snippet>", "")


def test_tempfile_and_workdir_usable(sb: Sandbox) -> None:
    code = ("import tempfile, os\nwith tempfile.NamedTemporaryFile('w', delete=False) as f:\n    f.write('hi')\n"
            "print(open(f.name).read())\nopen('local.txt', 'w').write('ok')\nprint(open('local.txt').read())")
    assert sb.run(code).stdout == "hi\nok\n"


def test_run_many_keeps_order_and_is_concurrent(sb: Sandbox) -> None:
    codes = [f"print({i} * {i})" for i in range(20)]
    assert [r.stdout for r in sb.run_many(codes)] == [f"{i * i}\n" for i in range(20)]
    # Two 0.5 s sleeps on two workers overlap.
    rs = sb.run_many(["import time\ntime.sleep(0.5)"] * 2)
    assert all(r.ok for r in rs) and max(r.wall_s for r in rs) < 0.9


def test_thread_safe(sb: Sandbox) -> None:
    errors: list[str] = []

    def client(k: int) -> None:
        for i in range(10):
            r = sb.run(f"print({k}, {i})")
            if r.stdout != f"{k} {i}\n":
                errors.append(repr(r))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_per_call_timeout(sb: Sandbox) -> None:
    r = sb.run("while True: pass", timeout=0.3)
    assert r.status == "timeout" and r.wall_s < 1.0


def test_session_sees_earlier_definitions(sb: Sandbox) -> None:
    with sb.session() as s:
        assert s.run("a = 3\nprint('defined')").stdout == "defined\n"
        assert s.run("print(a * 2)").stdout == "6\n"  # only this block's output
        assert s.run("from sympy import *\nx = symbols('x')\ne = (x + a)**2").status == "ok"
        assert s.run("print(expand(e))").stdout == "x**2 + 6*x + 9\n"


def test_sessions_are_isolated(sb: Sandbox) -> None:
    with sb.session() as s1, sb.session() as s2:
        s1.run("secret = 42")
        r = s2.run("print(secret)")
        assert r.status == "error" and "NameError" in r.stderr
        assert sb.run("print(secret)").status == "error"
        assert s1.run("print(secret)").stdout == "42\n"


def test_session_error_and_limit_blocks(sb: Sandbox) -> None:
    with sb.session() as s:
        r = s.run("b = 1\nraise ValueError('x')\nc = 2")
        assert r.status == "error"
        # A raising block keeps its effects up to its exception (as in a notebook).
        r = s.run("print(b)\nprint('c' in dir())")
        assert (r.stdout, r.stderr) == ("1\nFalse\n", "")
        r = s.run("d = 5\nwhile True: pass", timeout=0.3)
        assert r.status == "timeout" and r.wall_s < 1.0, r
        r = s.run("print('d' in dir(), b)")  # interrupted, not killed: the session lives on, with d
        assert r.stdout == "True 1\n" and s.replays == 0
        assert len(s.blocks) == 4


def test_large_code_and_session(sb: Sandbox) -> None:
    big = "xs = [\n" + "    1,\n" * 60_000 + "]\nprint(len(xs))"  # ~400 KB, past any pipe buffer
    assert sb.run(big).stdout == "60000\n"
    with sb.session() as s:
        s.run(big)
        assert s.run("print(sum(xs))").stdout == "60000\n"


def test_session_mutation_survives_replay(sb: Sandbox) -> None:
    with sb.session() as s:
        s.run("xs = []")
        for i in range(3):
            s.run(f"xs.append({i})")
        assert s.run("print(xs)").stdout == "[0, 1, 2]\n"


def test_layers_reported(sb: Sandbox) -> None:
    assert set(LAYERS) <= set(sb.layers)
    assert all(isinstance(v, bool) for v in sb.layers.values())
    assert sb.layers["session"] and sb.layers["close_fds"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"workers": 0}, "workers"), ({"timeout": -1}, "timeout"), ({"timeout": 0}, "timeout"),
    ({"memory_mb": 10}, "memory_mb"), ({"max_output": 0}, "max_output"), ({"layers": ["nope"]}, "layers"),
    ({"tmpfs_mb": 0}, "tmpfs_mb"), ({"preload": "sympy"}, "preload"),
])
def test_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Sandbox(**kwargs)  # type: ignore[arg-type]


def test_timeout_message() -> None:
    with pytest.raises(ValueError, match=r"timeout must be > 0, got -1"):
        Sandbox(timeout=-1)


def test_explicit_layers_and_lazy_start() -> None:
    box = Sandbox(workers=1, layers=["rlimits", "seccomp"])  # started by the first run
    try:
        r = box.run("import os\nprint(os.fork())")
        assert r.status == "error" and "PermissionError" in r.stderr
        assert box.layers["seccomp"] and box.layers["rlimits"] and not box.layers["netns"]
    finally:
        box.close()
    with pytest.raises(SandboxError):
        box.run("print(1)")


def test_check_command() -> None:
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-m", "sandbox", "check"], capture_output=True, text=True, cwd=root,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "seccomp" in p.stdout and "self-test" in p.stdout
    for layer in ("zygote", "rootfs"):  # the layers for shared use, and their self-tests
        assert layer in p.stdout
    assert "no earlier request in memory" in p.stdout and "no io_uring" in p.stdout


def test_strict_mode_has_every_layer() -> None:
    # On this project's machines (root, Landlock, seccomp) strict mode starts; where a layer is missing it raises.
    try:
        with Sandbox(workers=1, strict=True) as box:
            assert all(box.layers.values()), box.layers
            assert box.run("print('strict')").stdout == "strict\n"
    except SandboxError as e:
        assert "required layers unavailable" in str(e)
