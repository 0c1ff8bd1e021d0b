"""Throughput and latency of the sandbox pool vs a cold `python -c` subprocess per snippet.

Run:  .venv/bin/python bench/sandbox_pool.py            (about 20 s on 2 cores)
      .venv/bin/python bench/sandbox_pool.py --pool 2000 --cold 40

Both modes run the same trivial sympy snippet from CLIENTS threads at once; latency is per snippet as a client
sees it (dispatch to result). The pool runs with every isolation layer the machine supports (printed).
Goal: >= 150 snippets/s with all layers on, p99 <= 40 ms, >= 20x the cold subprocess.
"""

from __future__ import annotations

import argparse
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
CLIENTS = 2  # concurrent callers, for both modes
N_POOL = 1000  # snippets through the pool
N_COLD = 20  # snippets through cold subprocesses (each ~0.3 s)
WARMUP = 20  # pool snippets run before timing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sandbox import Sandbox  # noqa: E402


def drive(n: int, clients: int, one: Callable[[], bool]) -> tuple[float, list[float]]:
    """Run `one` n times from `clients` threads; return (snippets/s, sorted latencies in s)."""
    lat: list[float] = []
    lock = threading.Lock()
    left = [n]
    failures = [0]

    def client() -> None:
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            t = time.perf_counter()
            ok = one()
            dt = time.perf_counter() - t
            with lock:
                lat.append(dt)
                failures[0] += not ok
    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    if failures[0]:
        raise SystemExit(f"{failures[0]} of {n} snippets gave the wrong output")
    return n / elapsed, sorted(lat)


def pct(lat: list[float], q: float) -> float:
    return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=N_POOL)
    ap.add_argument("--cold", type=int, default=N_COLD)
    ap.add_argument("--workers", type=int, default=WORKERS)
    ap.add_argument("--clients", type=int, default=CLIENTS)
    args = ap.parse_args()

    with Sandbox(workers=args.workers, timeout=5.0) as sb:
        off = [k for k, v in sb.layers.items() if not v]
        print(f"layers: {', '.join(k for k, v in sb.layers.items() if v)}; off: {', '.join(off) or 'none'}")
        for _ in range(WARMUP):
            sb.run(SNIPPET)
        pool_rate, pool_lat = drive(args.pool, args.clients, lambda: sb.run(SNIPPET).stdout == EXPECTED)
        ks = iter(range(2, 10**9))

        def varied() -> bool:
            k = next(ks)
            return sb.run(VARIED.format(k=k)).stdout == f"(x - {k}*y)*(x + {k}*y)\n"
        var_rate, var_lat = drive(args.pool, args.clients, varied)

    def cold() -> bool:
        p = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=60)
        return p.stdout == EXPECTED
    cold_rate, cold_lat = drive(args.cold, args.clients, cold)

    print(f"{'mode':<34} {'n':>5} {'snippets/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{f'pool ({args.workers} workers, all layers)':<34} {args.pool:>5} {pool_rate:>11.1f} "
          f"{pct(pool_lat, 0.5):>8.1f} {pct(pool_lat, 0.99):>8.1f}")
    print(f"{'pool, varied polynomial':<34} {args.pool:>5} {var_rate:>11.1f} "
          f"{pct(var_lat, 0.5):>8.1f} {pct(var_lat, 0.99):>8.1f}")
    print(f"{'cold python -c per snippet':<34} {args.cold:>5} {cold_rate:>11.1f} "
          f"{pct(cold_lat, 0.5):>8.1f} {pct(cold_lat, 0.99):>8.1f}")
    lat_ratio = statistics.median(cold_lat) / statistics.median(pool_lat)
    print(f"ratio pool/cold: {pool_rate / cold_rate:.1f}x throughput, {lat_ratio:.1f}x lower median latency")


if __name__ == "__main__":
    main()
