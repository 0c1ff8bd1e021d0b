"""`python -m sandbox check [--strict]`: print which isolation layers are active here and run a short self-test.

Exit status: 0 when every self-test passes (and, with --strict, every layer is active); 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .pool import Sandbox
from .types import RunResult, SandboxError

# Run first: leaves a canary in its request, its output and its objects for `_SCAN` to look for in later children.
_CANARY = "print('chk-' + 'canary-' + 'c3a1')\nkeep = ['chk-canary-c3a1']"
_SCAN = ("import gc\nn = ''.join(['canary-', 'c3a1'])  # not a constant: the code holds no canary\n"
         "print(sum(isinstance(v, str) and n in v and v is not n for o in gc.get_objects()\n"
         "          for v in (o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ())))")

# (name, snippet, what a contained run looks like)
SELF_TEST: list[tuple[str, str, Callable[[RunResult], bool]]] = [
    ("sympy works", "from sympy import *\nx = symbols('x')\nprint(factor(x**2 - 1))",
     lambda r: r.stdout == "(x - 1)*(x + 1)\n"),
    ("infinite loop times out", "while True:\n    pass", lambda r: r.status == "timeout"),
    ("10 GB allocation fails", "x = bytearray(10 * 2**30)", lambda r: r.status == "memory"),
    ("fork denied", "import os\nprint(os.fork())", lambda r: r.status == "error" and "Permission" in r.stderr),
    ("no network", "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\nprint('connected')",
     lambda r: "connected" not in r.stdout),
    ("/etc/passwd unreadable", "print(open('/etc/passwd').read())", lambda r: "root:" not in r.stdout),
    ("empty environment", "import os\nprint(len(os.environ))", lambda r: r.stdout == "0\n"),
    ("output capped", "print('x' * 10**7)", lambda r: r.status == "output_limit"),
    # Shared use: each of these is one class of escape, closed by the layer named in the comment.
    ("no earlier request in memory", _SCAN, lambda r: r.stdout == "0\n"),  # zygote
    ("no UNIX sockets", "import socket\nsocket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)",  # seccomp
     lambda r: r.status == "error" and "Permission" in r.stderr),
    ("no memfd", "import os\nos.memfd_create('m')", lambda r: r.status == "error" and "Permission" in r.stderr),
    ("no io_uring", "import ctypes\nprint(ctypes.CDLL(None).syscall(425, 8, ctypes.create_string_buffer(120)))",
     lambda r: r.stdout == "-1\n"),  # seccomp
    ("no host paths, no /proc", "import os\nprint(os.path.lexists('/etc'), os.path.lexists('/proc'))",
     lambda r: r.stdout == "False False\n"),  # rootfs
    ("no rescheduling of others", "import os\nos.sched_setaffinity(1, {0})",  # seccomp, and a uid of its own
     lambda r: r.status == "error" and "Permission" in r.stderr),
    ("pool still answers", "print(1 + 1)", lambda r: r.stdout == "2\n"),
]


def check(strict: bool, workers: int) -> int:
    try:
        sb = Sandbox(workers=workers, timeout=1.0, strict=strict).start()
    except SandboxError as e:
        print(f"sandbox failed to start: {e}")
        return 1
    with sb:
        print("layers:")
        for name, on in sb.layers.items():
            print(f"  {name:<11} {'on' if on else 'OFF'}")
        for problem in sb.problems:
            print(f"  ! {problem}")
        print("self-test:")
        sb.run_many([_CANARY] * len(sb.worker_pids()))
        failed = 0
        for name, code, contained in SELF_TEST:
            r = sb.run(code)
            ok = contained(r)
            failed += not ok
            print(f"  {'pass' if ok else 'FAIL'}  {name:<30} ({r.status}, {r.wall_s * 1000:.0f} ms)")
    missing = [k for k, v in sb.layers.items() if not v]
    print(f"{len(SELF_TEST) - failed}/{len(SELF_TEST)} passed; layers off: {', '.join(missing) or 'none'}")
    return 1 if failed or (strict and missing) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="print active layers and run a self-test")
    p.add_argument("--strict", action="store_true", help="fail unless every isolation layer is active")
    p.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    return check(args.strict, args.workers)


if __name__ == "__main__":
    sys.exit(main())
