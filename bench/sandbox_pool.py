"""Throughput and latency of the sandbox pool vs in-process `exec` and a cold `python -c` per snippet.

Run:  .venv/bin/python bench/sandbox_pool.py            (about 30 s on 2 cores)
      .venv/bin/python bench/sandbox_pool.py --pool 2000 --cold 40

Every mode runs the same sympy snippet from CLIENTS threads at once; latency is per snippet as a client sees it
(dispatch to result). The pool runs with every isolation layer the machine supports (printed). In-process is
GenPRM's way: `exec` in the caller's interpreter with stdout redirected, no isolation at all (and, since
`sys.stdout` is process-global, one snippet at a time). The modes run interleaved in rounds, so machine noise
(other jobs on shared cores) hits them alike; the ratios are the figures to compare.
Goal: the pool, every layer on, at least as fast as in-process exec; >= 20x the cold subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

# -- defaults --------------------------------------------------------------------------------------------------
SNIPPET = "from sympy import *\nx = symbols('x')\nprint(factor(x**2 - 1))"
EXPECTED = "(x - 1)*(x + 1)\n"
# The same work with a different polynomial each time, so no result comes from the sympy cache that the
# worker's warm-up (or an earlier snippet's parent state) filled: the honest figure for real verifier code.
VARIED = "from sympy import *\nx, y = symbols('x y')\nprint(factor(x**2 - {k}**2*y**2))"
WORKERS = 2  # pool workers
CLIENTS = 2  # concurrent callers, for every mode
N_POOL = 1000  # snippets per pool mode (and per in-process mode)
N_COLD = 20  # snippets through cold subprocesses (each ~0.3 s)
ROUNDS = 5  # the modes take turns this many times
WARMUP = 20  # pool snippets run before timing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sandbox import Sandbox  # noqa: E402


class Mode:
    """Latencies and busy time of one mode, accumulated over rounds."""

    def __init__(self, name: str, run: Callable[[str], str], varied: bool) -> None:
        self.name, self.run, self.varied = name, run, varied
        self.lat: list[float] = []
        self.elapsed = 0.0
        self.cpu = 0.0

    def one(self, k: int) -> bool:
        if self.varied:
            return self.run(VARIED.format(k=k)) == f"(x - {k}*y)*(x + {k}*y)\n"
        return self.run(SNIPPET) == EXPECTED

    def drive(self, n: int, clients: int, ks: itertools.count) -> None:
        """Run n snippets from `clients` threads; add latencies, wall time and CPU time (ours + children's)."""
        lock = threading.Lock()
        left = [n]
        failures = [0]

        def client() -> None:
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                    k = next(ks)
                t = time.perf_counter()
                ok = self.one(k)
                dt = time.perf_counter() - t
                with lock:
                    self.lat.append(dt)
                    failures[0] += not ok
        threads = [threading.Thread(target=client) for _ in range(clients)]
        cpu0 = _cpu_seconds()
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.elapsed += time.perf_counter() - start
        self.cpu += _cpu_seconds() - cpu0
        if failures[0]:
            raise SystemExit(f"{self.name}: {failures[0]} of {n} snippets gave the wrong output")

    def row(self) -> str:
        lat = sorted(self.lat)
        n = len(lat)
        return (f"{self.name:<36} {n:>5} {n / self.elapsed:>11.1f} {pct(lat, 0.5):>8.1f} {pct(lat, 0.99):>8.1f}"
                f" {self.cpu / n * 1000:>8.1f}")

    @property
    def rate(self) -> float:
        return len(self.lat) / self.elapsed


def _cpu_seconds() -> float:
    """CPU time of every process on the machine that is ours: this one and its descendants (workers, children).

    Read from /proc so that still-running workers count (getrusage only sees reaped children).
    """
    me = os.getpid()
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    total = 0
    for pid, t in ticks.items():
        p = pid
        while p > 1 and p != me:
            p = parents.get(p, 0)
        if p == me:
            total += t
    return total / os.sysconf("SC_CLK_TCK")


def pct(lat: list[float], q: float) -> float:
    return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000


def in_process(code: str) -> str:
    """GenPRM's way: exec in this interpreter, stdout captured, no isolation (one at a time: stdout is global)."""
    buf = io.StringIO()
    with _EXEC_LOCK, contextlib.redirect_stdout(buf):
        exec(compile(code, "<snippet>", "exec"), {"__name__": "__main__"})
    return buf.getvalue()


_EXEC_LOCK = threading.Lock()


def cold(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout


def cpu_name() -> str:
    try:
        line = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name"))
        return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except (OSError, StopIteration):
        return f"{os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=N_POOL)
    ap.add_argument("--cold", type=int, default=N_COLD)
    ap.add_argument("--workers", type=int, default=WORKERS)
    ap.add_argument("--clients", type=int, default=CLIENTS)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()

    print(f"cpu: {cpu_name()}; load average before: {os.getloadavg()[0]:.1f}")
    in_process(SNIPPET)  # import sympy here too, outside the timing
    ks = itertools.count(2)
    with Sandbox(workers=args.workers, timeout=5.0) as sb:
        off = [k for k, v in sb.layers.items() if not v]
        print(f"layers: {', '.join(k for k, v in sb.layers.items() if v)}; off: {', '.join(off) or 'none'}")
        for _ in range(WARMUP):
            sb.run(SNIPPET)

        def pool(code: str) -> str:
            return sb.run(code).stdout
        modes = [Mode(f"pool ({args.workers} workers, all layers)", pool, False),
                 Mode("in-process exec (no isolation)", in_process, False),
                 Mode("pool, varied polynomial", pool, True),
                 Mode("in-process exec, varied polynomial", in_process, True)]
        cold_mode = Mode("cold python -c per snippet", cold, False)
        for _ in range(args.rounds):
            for m in modes:
                m.drive(args.pool // args.rounds, args.clients, ks)
            cold_mode.drive(args.cold // args.rounds, args.clients, ks)

    print(f"{'mode':<36} {'n':>5} {'snippets/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>8}")
    for m in [*modes, cold_mode]:
        print(m.row())
    print("(cpu ms: CPU time per snippet of this process and all its descendants, from /proc)")
    pool_m, inproc_m, pool_v, inproc_v = modes
    for a, b in ((pool_m, inproc_m), (pool_v, inproc_v)):
        print(f"ratio {a.name} / {b.name}: {a.rate / b.rate:.2f}x throughput, "
              f"{statistics.median(b.lat) / statistics.median(a.lat):.2f}x lower median latency")
    print(f"ratio pool / cold: {pool_m.rate / cold_mode.rate:.1f}x throughput, "
          f"{statistics.median(cold_mode.lat) / statistics.median(pool_m.lat):.1f}x lower median latency")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
