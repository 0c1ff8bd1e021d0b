"""Sessions and single snippets: the sandbox pool (every layer on) vs in-process `exec`, side by side in one run.

Run:  .venv/bin/python bench/sandbox_pool.py                 (about a minute on 2 cores)
      .venv/bin/python bench/sandbox_pool.py --breakdown     (adds where a snippet's and a session's CPU goes)

In-process is GenPRM's way: `exec` in the caller's interpreter with stdout redirected, one globals dict per
solution, no isolation at all (and, since `sys.stdout` is process-global, one block at a time).
- Sessions: SOLUTIONS solutions, each a chain of BLOCKS dependent SymPy blocks (each block re-imports SymPy, adds
  a term to the running sum of the earlier blocks and prints it), run the way the verifier runs them: round k
  runs block k of every solution, CLIENTS at a time; one `Sandbox.session()` per solution, opened at its first
  block and closed after its last. Every block's output must equal in-process exec's, or the bench fails.
- Single snippets: one SymPy snippet per request (the same one, and one with a fresh polynomial each time so no
  result comes from a SymPy cache), CLIENTS at a time.
The modes take turns in rounds, so machine noise (other jobs on shared cores) hits them alike: the ratios are the
figures to compare. Goals: sessions >= 1x in-process exec at 8 and 24 blocks; single snippets >= 0.6x.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# -- defaults --------------------------------------------------------------------------------------------------
SNIPPET = "from sympy import *\nx = symbols('x')\nprint(factor(x**2 - 1))"
EXPECTED = "(x - 1)*(x + 1)\n"
VARIED = "from sympy import *\nx, y = symbols('x y')\nprint(factor(x**2 - {k}**2*y**2))"
FIRST_BLOCK = "from sympy import *\nx = symbols('x')\nacc = Integer({c})\nprint(acc)"
NEXT_BLOCK = "from sympy import *\nterm = expand((x + {c} + {k})**2 - x**2)\nacc = acc + term\nprint(factor(acc))"
WORKERS = 2  # pool workers
CLIENTS = 2  # concurrent callers, for every pool mode
SOLUTIONS = 16  # sessions per round of the session modes
BLOCKS = (8, 24)  # dependent blocks per solution
N_SNIPPETS = 600  # single snippets per mode, over all rounds
N_COLD = 10  # snippets through cold subprocesses (each ~0.3 s)
ROUNDS = 3  # the modes take turns this many times
WARMUP = 20  # pool snippets run before timing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sandbox import Sandbox  # noqa: E402


class Mode:
    """Latencies, wall time and CPU time of one mode, accumulated over rounds."""

    def __init__(self, name: str) -> None:
        self.name = name
        # In-process modes count this process only: a pool worker that warms its spare up while idle (during an
        # in-process mode) would otherwise be charged to in-process exec.
        self.own_cpu_only = "in-process" in name
        self.lat: list[float] = []
        self.elapsed = 0.0
        self.cpu = 0.0
        self.beside = 0.0  # CPU of the pool's processes meanwhile (in-process modes: the idle pool's warm-ups)

    def timed(self, body: Callable[[], None]) -> None:
        all0, own0, start = _cpu_seconds(), time.process_time(), time.perf_counter()
        body()
        self.elapsed += time.perf_counter() - start
        every, own = _cpu_seconds() - all0, time.process_time() - own0
        self.cpu += own if self.own_cpu_only else every
        self.beside += every - own if self.own_cpu_only else 0.0

    def row(self) -> str:
        lat = sorted(self.lat)
        n = len(lat)
        return (f"{self.name:<44} {n:>6} {n / self.elapsed:>9.1f} {pct(lat, 0.5):>8.2f} {pct(lat, 0.99):>8.2f}"
                f" {self.cpu / n * 1000:>8.2f}")

    @property
    def rate(self) -> float:
        return len(self.lat) / self.elapsed


def session_blocks(c: int, blocks: int) -> list[str]:
    return [FIRST_BLOCK.format(c=c)] + [NEXT_BLOCK.format(c=c, k=k) for k in range(1, blocks)]


def drive_sessions_pool(m: Mode, sb: Sandbox, chains: list[list[str]], clients: int) -> list[list[str]]:
    """Round k runs block k of every solution, `clients` at a time, each solution in its own session."""
    outs: list[list[str]] = [[] for _ in chains]

    def body() -> None:
        sessions = [sb.session() for _ in chains]
        with ThreadPoolExecutor(clients) as ex:
            for k in range(len(chains[0])):
                def one(i: int, k: int = k) -> None:
                    t = time.perf_counter()
                    r = sessions[i].run(chains[i][k])
                    m.lat.append(time.perf_counter() - t)
                    outs[i].append(r.stdout if r.ok else f"{r.status}: {r.stderr}")
                list(ex.map(one, range(len(chains))))
        for s in sessions:
            s.close()
    m.timed(body)
    return outs


def drive_sessions_inproc(m: Mode, chains: list[list[str]]) -> list[list[str]]:
    """GenPRM's executor: one globals dict per solution, blocks in the same order as the pool runs them."""
    outs: list[list[str]] = [[] for _ in chains]

    def body() -> None:
        namespaces: list[dict[str, object]] = [{"__name__": "__main__"} for _ in chains]
        for k in range(len(chains[0])):
            for i, chain in enumerate(chains):
                t = time.perf_counter()
                outs[i].append(in_process(chain[k], namespaces[i]))
                m.lat.append(time.perf_counter() - t)
    m.timed(body)
    return outs


def drive_snippets(m: Mode, run: Callable[[str], str], n: int, clients: int, ks: itertools.count,
                   varied: bool) -> None:
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
            if varied:
                ok = run(VARIED.format(k=k)) == f"(x - {k}*y)*(x + {k}*y)\n"
            else:
                ok = run(SNIPPET) == EXPECTED
            dt = time.perf_counter() - t
            with lock:
                m.lat.append(dt)
                failures[0] += not ok

    def body() -> None:
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    m.timed(body)
    if failures[0]:
        raise SystemExit(f"{m.name}: {failures[0]} of {n} snippets gave the wrong output")


def _cpu_seconds() -> float:
    """CPU time of this process and all its descendants (workers, zygotes, children), from /proc, so that
    still-running workers count (getrusage only sees reaped children)."""
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


_EXEC_LOCK = threading.Lock()


def in_process(code: str, ns: dict[str, object] | None = None) -> str:
    """GenPRM's way: exec in this interpreter, stdout captured, no isolation (one at a time: stdout is global)."""
    buf = io.StringIO()
    with _EXEC_LOCK, contextlib.redirect_stdout(buf):
        exec(compile(code, "<snippet>", "exec"), ns if ns is not None else {"__name__": "__main__"})
    return buf.getvalue()


def cold(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout


def cpu_name() -> str:
    try:
        line = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name"))
        return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except (OSError, StopIteration):
        return f"{os.cpu_count()} cores"


def _ticks(pid: int) -> tuple[float, float]:
    """CPU seconds of `pid` itself, and of its children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / hz, (int(fields[13]) + int(fields[14])) / hz


def _by_process(sb: Sandbox) -> dict[str, float]:
    """CPU seconds so far of this process (the supervisor), the workers, the zygotes (their own: the forks) and
    the children the zygotes reaped (confinement, the code with its copy-on-write faults, the exit)."""
    me = resource.getrusage(resource.RUSAGE_SELF)  # finer than /proc's ticks
    out = {"supervisor": me.ru_utime + me.ru_stime, "workers": 0.0, "zygotes": 0.0, "children": 0.0}
    for w in sb.worker_pids():
        out["workers"] += _ticks(w)[0]
        for z in (int(p) for p in Path(f"/proc/{w}/task/{w}/children").read_text().split()):
            own, reaped = _ticks(z)
            out["zygotes"] += own
            out["children"] += reaped
    return out


def _row(label: str, before: dict[str, float], after: dict[str, float], n: int) -> str:
    parts = {k: (after[k] - before[k]) / n * 1000 for k in before}
    detail = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
    return f"  {label:<44} {sum(parts.values()):6.2f}  ({detail})"


def breakdown(n: int, sessions: int) -> None:
    """Where the CPU time goes, one client, in ms: a single snippet (the same SymPy work in-process, in a bare fork
    of this warm interpreter, with and without the snippet, then the pool by process) and a session of 8 blocks."""
    import builtins
    import ctypes

    star: dict[str, object] = {"__builtins__": builtins}
    exec("from sympy import *", star)
    body = compile("x = symbols('x')\nprint(factor(x**2 - 1))", "<snippet>", "exec")
    raw_fork = ctypes.PyDLL(None).fork  # as the zygote forks (see sandbox/zygote.py)

    def cpu() -> float:
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    def forked(run: bool) -> tuple[float, float]:
        c0, faults = cpu(), 0
        for _ in range(n):
            r, w = os.pipe()
            pid = raw_fork()
            if pid == 0:
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                if run:
                    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                    exec(body, dict(star))
                    sys.stdout.flush()
                os.write(w, str(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0).encode())
                os._exit(0)
            os.close(w)
            faults += int(os.read(r, 100))
            os.close(r)
            os.waitpid(pid, 0)
        return (cpu() - c0) / n * 1000, faults / n

    c0 = cpu()
    for _ in range(n):
        in_process("x = symbols('x')\nprint(factor(x**2 - 1))", dict(star))
    print("where a single snippet's CPU time goes (ms per snippet, one client, same SymPy work):")
    print(f"  in-process exec                              {(cpu() - c0) / n * 1000:6.2f}")
    bare, bare_faults = forked(False)
    print(f"  fork + exit of this warm interpreter         {bare:6.2f}  ({bare_faults:.0f} page faults in the child)")
    full, full_faults = forked(True)
    print(f"  fork + the snippet in the child + exit       {full:6.2f}  ({full_faults:.0f} page faults: "
          "copy-on-write)")
    for label, kwargs in (("pool, no optional layer, no warm-up", {"layers": [], "prewarm": False}),
                          ("pool, every layer, no warm-up", {"prewarm": False}),
                          ("pool, every layer, warm-up while idle", {})):
        with Sandbox(workers=1, timeout=5.0, **kwargs) as sb:  # type: ignore[arg-type]
            for _ in range(WARMUP):
                sb.run(SNIPPET)
            before = _by_process(sb)
            for _ in range(n):
                sb.run(SNIPPET)
            time.sleep(0.1)  # the last child reaped
            print(_row(label, before, _by_process(sb), n))
    print("where a session's CPU time goes (ms per session of 8 dependent blocks, one client, every layer):")
    inproc = 0.0
    with Sandbox(workers=1, timeout=5.0, prewarm=False) as sb:
        for _ in range(WARMUP):
            sb.run(SNIPPET)
        before = _by_process(sb)
        for i in range(sessions):
            chain = session_blocks(7000 + i, 8)
            c0 = time.process_time()
            ns: dict[str, object] = {"__name__": "__main__"}
            for block in chain:
                in_process(block, ns)
            inproc += time.process_time() - c0
            with sb.session() as s:
                for block in chain:
                    s.run(block)
        time.sleep(0.1)
        after = _by_process(sb)
        after["supervisor"] -= inproc  # the in-process runs happened in this process too
    print(f"  in-process exec                              {inproc / sessions * 1000:6.2f}")
    print(_row("pool", before, after, sessions))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snippets", type=int, default=N_SNIPPETS)
    ap.add_argument("--solutions", type=int, default=SOLUTIONS)
    ap.add_argument("--cold", type=int, default=N_COLD)
    ap.add_argument("--workers", type=int, default=WORKERS)
    ap.add_argument("--clients", type=int, default=CLIENTS)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--breakdown", action="store_true", help="also measure where a snippet's and a session's time goes")
    args = ap.parse_args()

    print(f"cpu: {cpu_name()}; load average before: {os.getloadavg()[0]:.1f}")
    in_process(SNIPPET)  # import sympy here too, outside the timing
    ks = itertools.count(2)
    cs = itertools.count(1)
    session_modes = {b: (Mode(f"sessions, {b} blocks: pool"), Mode(f"sessions, {b} blocks: in-process exec"))
                     for b in BLOCKS}
    snippet_modes = [Mode(f"snippet: pool ({args.workers} workers)"), Mode("snippet: in-process exec"),
                     Mode("snippet, varied: pool"), Mode("snippet, varied: in-process exec")]
    cold_mode = Mode("snippet: cold python -c")
    mismatches = 0
    with Sandbox(workers=args.workers, timeout=5.0) as sb:
        off = [k for k, v in sb.layers.items() if not v]
        print(f"layers: {', '.join(k for k, v in sb.layers.items() if v)}; off: {', '.join(off) or 'none'}")
        for _ in range(WARMUP):
            sb.run(SNIPPET)

        def pool(code: str) -> str:
            return sb.run(code).stdout
        per_round = args.snippets // args.rounds
        for _ in range(args.rounds):
            for blocks, (pool_m, inproc_m) in session_modes.items():
                chains = [session_blocks(next(cs) * 1000, blocks) for _ in range(args.solutions)]
                got = drive_sessions_pool(pool_m, sb, chains, args.clients)
                want = drive_sessions_inproc(inproc_m, chains)
                mismatches += sum(a != b for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True))
            for m, run, varied in zip(snippet_modes, (pool, in_process, pool, in_process), (False, False, True, True),
                                      strict=True):
                drive_snippets(m, run, per_round, args.clients if run is pool else 1, ks, varied)
            if args.cold:
                drive_snippets(cold_mode, cold, max(1, args.cold // args.rounds), args.clients, ks, False)

    print(f"{'mode':<44} {'n':>6} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>8}")
    for pool_m, inproc_m in session_modes.values():
        print(pool_m.row())
        print(inproc_m.row())
    for m in [*snippet_modes, *([cold_mode] if cold_mode.lat else [])]:
        print(m.row())
    print("(n: blocks or snippets; cpu ms: CPU time per block/snippet of this process and all its descendants)")
    print(f"outputs differing from in-process exec: {mismatches}")
    idle = sum(m.beside for m in [*(b for _, b in session_modes.values()), *snippet_modes])
    print(f"CPU of the idle pool during the in-process modes (spares warming up), charged to no mode: about "
          f"{idle * 1000:.0f} ms in all (/proc counts ticks: +-10 ms a mode)")
    # Measured side by side, and what the CPU time per block allows: in-process exec uses one core (one block at
    # a time), the pool up to min(workers, cores). On a shared machine the measured ratio drifts from the bound
    # (more runnable processes get more of the contended cores), so both are printed.
    lanes = min(args.workers, os.cpu_count() or 1)
    pairs = [*session_modes.values(), tuple(snippet_modes[:2]), tuple(snippet_modes[2:])]
    for a, b in pairs:
        print(f"ratio {a.name} / in-process exec: {a.rate / b.rate:.2f}x measured, "
              f"{lanes * (b.cpu / len(b.lat)) / (a.cpu / len(a.lat)):.2f}x by CPU time ({lanes} cores)")
    if cold_mode.lat:
        print(f"ratio snippet pool / cold: {snippet_modes[0].rate / cold_mode.rate:.1f}x throughput")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.breakdown:
        breakdown(200, 30)
    if mismatches:
        raise SystemExit("the pool's outputs differ from in-process exec")


if __name__ == "__main__":
    main()
