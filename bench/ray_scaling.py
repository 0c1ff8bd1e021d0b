"""Does `genprm verify --ray` cost anything over a local run, and does it scale? Measured side by side in one run.

    python bench/ray_scaling.py                      # 200 GSM8K-test model solutions, direct mode, default model
    python bench/ray_scaling.py --n 40 --no-ray-data # smaller, without the Ray Data comparison

Verifies the same solutions (evaluation-only GSM8K test solutions from ../shared/data) with the same config, in
rounds: each slice of the input goes through all three in turn, so drifting load on a shared machine hits them alike:
  local         one `Verifier` in this process, --threads torch threads
  ray x1        genprm.distributed on a local cluster of 2 CPUs: 1 replica of --threads CPUs (so as many threads)
  ray x2        2 replicas of one CPU each
  ray data x1   (for comparison) Ray Data's `map_batches` over an actor pool of 1 verifier, --threads CPUs
and prints rows/s of each, and the overhead ratio ray-x1 time / local time (goal <= 1.15 in direct mode). Rates are
timed from the moment the model(s) are loaded to the last result; start-up (cluster, replicas loading the model) is
printed apart. Ray Data's executor starts its actors inside the run, so it is timed end to end, next to the replica
pool's end to end (start-up included).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from genprm import Solution, Verifier, VerifierConfig, read_solutions
from genprm.backends.base import BackendConfig

# -- defaults -----------------------------------------------------------------------------------------------------
# ../shared from the repo (../../shared from a worktree); 4 solutions per GSM8K test problem
_SHARED = next((p / "shared" for p in Path(__file__).resolve().parents[2:4] if (p / "shared").is_dir()), Path("shared"))
DATA = _SHARED / "data" / "gsm8k" / "model_solutions.jsonl"
N = 200  # solutions (the first N of DATA)
MODE = "direct"  # one verdict per step: the cheapest mode, so Ray's own overhead weighs the most
BATCH_SIZE = 8
DTYPE = "float32"  # bf16 matmuls are ~70x slower than fp32 on an AVX2-only CPU
ROWS_PER_TASK = 16
ROUNDS = 4  # slices of the input, each timed on local, ray x1 and ray x2 in turn
CLUSTER_CPUS = 2  # the local Ray cluster: room for two one-CPU replicas
THREADS = 1  # torch threads of the local run and CPUs of the 1-replica runs: on a shared 2-core machine one thread
# per process was measured up to 10x faster than two (OpenMP threads wait at barriers while the other core is busy)


def load(path: Path, n: int) -> list[Solution]:
    return [s for s in itertools.islice(read_solutions(path), n) if isinstance(s, Solution)][:n]


def timed(results) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    for _ in results:
        n += 1
    return n, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--rows-per-task", type=int, default=ROWS_PER_TASK)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--ray-data", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    import ray
    import torch

    from genprm.distributed import RayConfig, RayVerifier

    solutions = load(args.data, args.n)
    torch.set_num_threads(args.threads)
    config = VerifierConfig(mode=MODE, batch_size=args.batch_size)
    print(f"{len(solutions)} solutions ({sum(len(s.steps) for s in solutions)} steps), mode {MODE}, {DTYPE}, "
          f"{os.cpu_count()} cores, {args.threads} threads, load average {os.getloadavg()[0]:.1f} at start")
    rows: list[tuple[str, int, float, float]] = []  # (name, rows, seconds, start-up seconds)
    header = f"{'run':<14} {'rows':>5} {'rows/s':>8} {'seconds':>8} {'start-up s':>11} {'time / local':>13}"

    # All three verifiers stay loaded, and each round times them one after another on the same slice of rows: on a
    # shared machine the load drifts over minutes, and interleaving spreads the drift evenly over the three.
    start = time.perf_counter()
    local = Verifier.from_pretrained(None, dtype=DTYPE, config=config)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    ray.init(num_cpus=CLUSTER_CPUS + args.threads, include_dashboard=False, log_to_driver=False,
             object_store_memory=200 * 1024**2)  # room for both pools; the idle one uses no CPU
    print(f"ray cluster started in {time.perf_counter() - start:.1f}s", flush=True)
    runners: dict[str, Any] = {"local": local}
    setup = {"local": loaded}
    for replicas in (1, 2):
        cpus = args.threads if replicas == 1 else CLUSTER_CPUS / replicas
        ray_config = RayConfig(replicas=replicas, cpus_per_replica=cpus, rows_per_task=args.rows_per_task)
        start = time.perf_counter()
        runners[f"ray x{replicas}"] = RayVerifier(BackendConfig(dtype=DTYPE), config, ray_config)
        setup[f"ray x{replicas}"] = time.perf_counter() - start
    totals = {name: [0, 0.0] for name in runners}
    size = -(-len(solutions) // args.rounds)
    for k in range(args.rounds):
        part = solutions[k * size:(k + 1) * size]
        for name, runner in runners.items():
            n, wall = timed(runner.iter_verify(part))
            totals[name][0] += n
            totals[name][1] += wall
        print(f"round {k + 1}/{args.rounds}: " + ", ".join(f"{name} {n} rows {wall:.1f}s"
                                                          for name, (n, wall) in totals.items()), flush=True)
    for runner in runners.values():
        runner.close()
    rows = [(name, n, wall, setup[name]) for name, (n, wall) in totals.items()]

    if args.ray_data:
        rows.append(ray_data_run(solutions, config, args.threads, args.rows_per_task))
        report(rows[-1], rows[0])
    ray.shutdown()

    print("\n" + header)
    for row in rows:
        report(row, rows[0])
    ray1 = rows[1][2] / rows[0][2]
    print(f"\noverhead ratio ray x1 / local: {ray1:.3f} (goal <= 1.15: {'met' if ray1 <= 1.15 else 'NOT met'})")
    if args.ray_data:
        pool = rows[1][2] + rows[1][3]
        print(f"end to end, start-up included: replica pool x1 {pool:.1f}s, ray data x1 {rows[-1][2]:.1f}s "
              f"(ratio {rows[-1][2] / pool:.2f})")
    print(f"load average at end {os.getloadavg()[0]:.1f} (the machine is shared: compare ratios, not absolutes)")


def report(row: tuple[str, int, float, float], local: tuple[str, int, float, float]) -> None:
    name, n, wall, setup = row
    print(f"{name:<14} {n:>5} {n / wall:>8.2f} {wall:>8.1f} {setup:>11.1f} {wall / local[2]:>13.2f}", flush=True)


class _DataVerifier:
    """Ray Data's callable class: one verifier per actor, a batch of JSON rows in, their results out."""

    def __init__(self, config: VerifierConfig) -> None:
        self.verifier = Verifier.from_pretrained(None, dtype=DTYPE, config=config)

    def __call__(self, batch: dict) -> dict:
        solutions = [Solution.from_dict(json.loads(row)) for row in batch["row"]]
        return {"result": [r.to_json() for r in self.verifier.verify_many(solutions)]}


def ray_data_run(solutions: list[Solution], config: VerifierConfig, cpus: int,
                 rows_per_task: int) -> tuple[str, int, float, float]:
    import ray

    start = time.perf_counter()
    dataset = ray.data.from_items([{"row": json.dumps(s.to_dict())} for s in solutions])
    mapped = dataset.map_batches(_DataVerifier, fn_constructor_kwargs={"config": config}, batch_size=rows_per_task,
                                 concurrency=1, num_cpus=cpus)
    n = sum(1 for _ in mapped.iter_rows())
    return "ray data x1", n, time.perf_counter() - start, 0.0


if __name__ == "__main__":
    main()
