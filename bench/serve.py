"""Does continuous batching make a served verifier as fast as an offline batch? Measured side by side in one run.

    python bench/serve.py                         # starts `genprm serve` itself (direct mode, fp32, batch 32)
    python bench/serve.py --url http://127.0.0.1:8000 --api-key KEY   # a server you started with the same flags
    python bench/serve.py --ray                   # also `genprm serve --ray`: 1 and 2 replicas, 32 clients
    python bench/serve.py --ray --ray-layouts 2x1 # only some layouts (REPLICASxCPUS)

1. 1, 8 and 32 concurrent clients, each sending one solution per request, one after another (a closed loop):
   solutions/s, p50/p99 request latency, errors.
2. The same solutions through `Verifier.verify_many` in this process (same model, mode and batch size): the offline
   throughput. Goal: 32 clients >= 0.8 x offline (they should cost about one 32-solution batch).
3. Overload, bounded: many more clients at once than the queue holds (--max-queue); each sends one request, no
   retries. The server should answer the excess with 503 + Retry-After at once and keep serving the rest.

4. With --ray: the same 32 clients against `genprm serve --ray` (a local Ray cluster it starts per layout), by
   default 1 replica holding every core (1xC), then 1 and 2 replicas holding half each (1xC/2, 2xC/2). 2xC/2 / 1xC/2
   is what a second replica adds on a machine with more cores than one replica uses (goal > 1); 1xC / plain is the
   cost of Ray Serve's hops (proxy -> ingress -> replica) at the same thread count as the plain server (which takes
   the idle cores: all of them on an idle machine).

Numbers from a shared machine are noisy: every row says the load average (1 min) before and after it, and the
ratios, measured in the same run, are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from genprm import Solution, Verifier, VerifierConfig, read_solutions

# -- defaults -----------------------------------------------------------------------------------------------------
DATA = Path(__file__).parent / "data" / "gsm8k_real_labelled.jsonl"  # real GSM8K solutions (evaluation-only set)
N = 64  # solutions per run (the first N of DATA); 1 client gets N // 4
STEPS = 2  # keep each solution's first STEPS steps: small, so the run stays within minutes on 2 cores
CLIENTS = [1, 8, 32]
BATCH_SIZE = 32  # the server's and the offline verifier's --batch-size
MAX_QUEUE = 48  # the server's --max-queue when this script starts it; the overload run sends 4x that
DTYPE = "float32"  # bf16 matmuls are ~70x slower on AVX2-only CPUs


def load(n: int, steps: int) -> list[Solution]:
    rows = list(read_solutions(DATA))[:n]
    return [Solution(problem=s.problem, steps=s.steps[:steps], id=s.id) for s in rows]


RAY_CLIENTS = 32


def ray_layouts(cores: float) -> list[str]:
    """REPLICASxCPUS: one replica on every core (vs the plain server), then one and two on half each (scaling)."""
    half = f"{cores / 2:g}"
    return [f"1x{cores:g}", f"1x{half}", f"2x{half}"]


def load_average() -> float:
    return os.getloadavg()[0]


def start_server(batch_size: int, max_queue: int, *flags: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "genprm.cli", "serve", "--mode", "direct", "--dtype", DTYPE, "--port", "0",
               "--batch-size", str(batch_size), "--max-queue", str(max_queue), "--max-solutions", str(max_queue),
               *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    while not (match := re.search(r"serving on (\S+)", line := process.stdout.readline())):
        if not line and process.poll() is not None:
            raise SystemExit(f"genprm serve exited with {process.returncode}")
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, match.group(1)


def body(s: Solution) -> dict:
    return {"id": s.id, "problem": s.problem, "steps": list(s.steps)}


async def closed_loop(url: str, headers: dict, solutions: list[Solution], clients: int) -> dict:
    """`clients` workers share the solutions; each sends one at a time and waits for its result."""
    todo = list(solutions)
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while todo:
            s = todo.pop()
            started = time.perf_counter()
            r = await client.post("/v1/verify", json=body(s))
            latencies.append(time.perf_counter() - started)
            errors += r.status_code != 200

    limits = httpx.Limits(max_connections=clients + 4)
    load_before = load_average()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=3600, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - started
    served = len(solutions) - errors  # only verified solutions count towards throughput
    return {"clients": clients, "solutions": len(solutions), "wall_s": wall, "per_s": served / wall,
            "p50": statistics.median(latencies), "p99": quantile(latencies, 0.99), "errors": errors,
            "load": [load_before, load_average()]}


async def overload(url: str, headers: dict, solutions: list[Solution], clients: int) -> dict:
    """`clients` requests at once, one solution each, no retries: how many are served, how many refused, how fast."""
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=3600,
                                 limits=httpx.Limits(max_connections=clients + 4)) as client:
        async def one(s: Solution) -> tuple[int, float, str | None]:
            started = time.perf_counter()
            r = await client.post("/v1/verify", json=body(s))
            return r.status_code, time.perf_counter() - started, r.headers.get("retry-after")

        started = time.perf_counter()
        answers = await asyncio.gather(*(one(solutions[i % len(solutions)]) for i in range(clients)))
        wall = time.perf_counter() - started
        healthy = (await client.get("/health")).status_code == 200
    served = [t for status, t, _ in answers if status == 200]
    refused = [t for status, t, _ in answers if status == 503]
    return {"clients": clients, "served": len(served), "refused_503": len(refused),
            "other": len(answers) - len(served) - len(refused), "wall_s": wall,
            "refusal_p99_s": quantile(refused, 0.99) if refused else None,
            "served_p99_s": quantile(served, 0.99) if served else None,
            "retry_after": sorted({ra for status, _, ra in answers if status == 503}), "healthy_after": healthy}


def loads(row: dict) -> str:
    return f" [load {row['load'][0]:.1f} -> {row['load'][1]:.1f}]"


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running `genprm serve` (default: start one)")
    parser.add_argument("--api-key")
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--max-queue", type=int, default=MAX_QUEUE)
    parser.add_argument("--clients", type=int, nargs="+", default=CLIENTS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--ray", action="store_true", help="also measure `genprm serve --ray` (1 and 2 replicas)")
    parser.add_argument("--cores", type=float, default=os.cpu_count(), help="CPUs the Ray replicas share")
    parser.add_argument("--ray-layouts", nargs="+", metavar="RxC",
                        help="Ray layouts, REPLICASxCPUS_EACH (default: 1xCORES 1xCORES/2 2xCORES/2)")
    args = parser.parse_args()
    solutions = load(args.n, args.steps)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    # The closed-loop runs must fit in the queue (each client has one solution queued or running at a time).
    queue = max(args.max_queue, *args.clients)
    process, url = (None, args.url) if args.url else start_server(args.batch_size, queue)
    figures: dict = {"n": len(solutions), "steps_per_solution": args.steps, "batch_size": args.batch_size}
    try:
        httpx.post(f"{url}/v1/verify", json={"solutions": [body(s) for s in solutions[:4]]}, headers=headers,
                   timeout=3600)  # warm-up, untimed
        figures["served"] = []
        for clients in args.clients:
            subset = solutions if clients > 1 else solutions[: max(4, len(solutions) // 4)]
            row = asyncio.run(closed_loop(url, headers, subset, clients))
            figures["served"].append(row)
            print(f"{clients:>3} clients: {row['per_s']:.2f} solutions/s, p50 {row['p50']:.2f} s, "
                  f"p99 {row['p99']:.2f} s, {row['errors']} errors ({row['solutions']} solutions){loads(row)}",
                  flush=True)
        row = asyncio.run(overload(url, headers, solutions, 4 * queue))
        figures["overload"] = row
        print(f"overload: {row['clients']} requests at once -> {row['served']} served, {row['refused_503']} "
              f"refused with 503 (p99 {row['refusal_p99_s']} s, Retry-After {row['retry_after']}), {row['other']} "
              f"other; healthy after: {row['healthy_after']}", flush=True)
    finally:
        if process is not None:
            process.terminate()
            process.wait()
    if args.ray:
        figures["ray"] = []
        for layout in args.ray_layouts or ray_layouts(args.cores):
            replicas, cpus = layout.split("x")
            flags = ("--ray", "--replicas", replicas, "--cpus-per-replica", cpus)
            process, url = start_server(args.batch_size, queue, *flags)
            try:
                httpx.post(f"{url}/v1/verify", json={"solutions": [body(s) for s in solutions[:4]]},
                           timeout=3600)  # warm-up (every replica gets some of it), untimed
                row = {"layout": layout, "replicas": int(replicas), "cpus_per_replica": float(cpus),
                       **asyncio.run(closed_loop(url, {}, solutions, RAY_CLIENTS))}
            finally:
                process.terminate()
                process.wait()
            figures["ray"].append(row)
            print(f"ray {layout} ({replicas} replicas x {cpus} CPUs), {RAY_CLIENTS} clients: "
                  f"{row['per_s']:.2f} solutions/s, p50 {row['p50']:.2f} s, p99 {row['p99']:.2f} s, "
                  f"{row['errors']} errors{loads(row)}", flush=True)
    # Offline, after the server has gone: the same model, mode and batch size in this process.
    config = VerifierConfig(mode="direct", batch_size=args.batch_size)
    with Verifier.from_pretrained(config=config, dtype=DTYPE) as verifier:
        verifier.verify_many(solutions[:4])  # warm-up, untimed
        load_before, started = load_average(), time.perf_counter()
        verifier.verify_many(solutions)
        offline = len(solutions) / (time.perf_counter() - started)
    figures["offline_per_s"], figures["offline_load"] = offline, [load_before, load_average()]
    best = max(figures["served"], key=lambda r: r["clients"])
    figures["ratio"] = best["per_s"] / offline
    print(f"offline verify_many: {offline:.2f} solutions/s{loads({'load': figures['offline_load']})}; "
          f"{best['clients']} clients / offline = {figures['ratio']:.2f} (goal >= 0.8)")
    plain = next((r for r in figures["served"] if r["clients"] == RAY_CLIENTS), None)
    for row in figures.get("ray", []):
        vs_plain = f", / plain server at {RAY_CLIENTS} clients = {row['per_s'] / plain['per_s']:.2f}" if plain else ""
        print(f"ray {row['layout']} / offline = {row['per_s'] / offline:.2f}{vs_plain}")
    by_cpus: dict[float, dict[int, float]] = {}
    for row in figures.get("ray", []):
        by_cpus.setdefault(row["cpus_per_replica"], {})[row["replicas"]] = row["per_s"]
    for cpus, rates in by_cpus.items():
        if 1 in rates and 2 in rates:  # what a second replica adds (goal > 1 where cores are left over)
            figures.setdefault("ray_scaling", {})[f"{cpus:g}"] = rates[2] / rates[1]
            print(f"ray 2x{cpus:g} / 1x{cpus:g} = {rates[2] / rates[1]:.2f} (goal > 1)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
