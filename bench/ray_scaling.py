"""Does `genprm verify --ray` cost anything over a local run, and does it scale? Measured side by side in one run.

    python bench/ray_scaling.py                      # 200 GSM8K-test model solutions, direct mode, default model
    python bench/ray_scaling.py --n 40 --no-ray-data # smaller, without the Ray Data comparison

Verifies the same solutions (evaluation-only GSM8K test solutions from ../shared/data) with the same config:
  local         one `Verifier` in this process, torch's default threads (all cores)
  ray x1        genprm.distributed, 1 replica with all cores (--cpus-per-replica = cores)
  ray x2        2 replicas with half the cores each
  ray data x1   (for comparison) Ray Data's `map_batches` over an actor pool of 1 verifier, all cores
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

from genprm import Solution, Verifier, VerifierConfig, read_solutions

# -- defaults -----------------------------------------------------------------------------------------------------
# ../shared from the repo (../../shared from a worktree); 4 solutions per GSM8K test problem
_SHARED = next((p / "shared" for p in Path(__file__).resolve().parents[2:4] if (p / "shared").is_dir()), Path("shared"))
DATA = _SHARED / "data" / "gsm8k" / "model_solutions.jsonl"
N = 200  # solutions (the first N of DATA)
MODE = "direct"  # one verdict per step: the cheapest mode, so Ray's own overhead weighs the most
BATCH_SIZE = 8
DTYPE = "float32"  # bf16 matmuls are ~70x slower than fp32 on an AVX2-only CPU
ROWS_PER_TASK = 16


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
    parser.add_argument("--ray-data", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    import ray

    from genprm.distributed import RayConfig, RayVerifier

    solutions = load(args.data, args.n)
    cores = os.cpu_count() or 1
    config = VerifierConfig(mode=MODE, batch_size=args.batch_size)
    print(f"{len(solutions)} solutions ({sum(len(s.steps) for s in solutions)} steps), mode {MODE}, {DTYPE}, "
          f"{cores} cores, load average {os.getloadavg()[0]:.1f} at start")
    rows: list[tuple[str, int, float, float]] = []  # (name, rows, seconds, start-up seconds)

    start = time.perf_counter()
    with Verifier.from_pretrained(None, dtype=DTYPE, config=config) as verifier:
        loaded = time.perf_counter() - start
        n, wall = timed(verifier.iter_verify(solutions))
    rows.append(("local", n, wall, loaded))

    start = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 1024**2)
    print(f"ray cluster started in {time.perf_counter() - start:.1f}s")
    for replicas in (1, 2):
        ray_config = RayConfig(replicas=replicas, cpus_per_replica=cores / replicas, rows_per_task=args.rows_per_task)
        start = time.perf_counter()
        with RayVerifier(None, "hf", config, ray_config, dtype=DTYPE) as verifier:
            ready = time.perf_counter() - start
            n, wall = timed(verifier.iter_verify(solutions))
        rows.append((f"ray x{replicas}", n, wall, ready))

    if args.ray_data:
        rows.append(ray_data_run(solutions, config, cores, args.rows_per_task))
    ray.shutdown()

    local = rows[0][2]
    print(f"\n{'run':<14} {'rows':>5} {'rows/s':>8} {'seconds':>8} {'start-up s':>11} {'time / local':>13}")
    for name, n, wall, setup in rows:
        print(f"{name:<14} {n:>5} {n / wall:>8.2f} {wall:>8.1f} {setup:>11.1f} {wall / local:>13.2f}")
    ray1 = rows[1][2] / local
    print(f"\noverhead ratio ray x1 / local: {ray1:.3f} (goal <= 1.15: {'met' if ray1 <= 1.15 else 'NOT met'})")
    if args.ray_data:
        pool = rows[1][2] + rows[1][3]
        print(f"end to end, start-up included: replica pool x1 {pool:.1f}s, ray data x1 {rows[-1][2]:.1f}s "
              f"(ratio {rows[-1][2] / pool:.2f})")
    print(f"load average at end {os.getloadavg()[0]:.1f} (the machine is shared: compare ratios, not absolutes)")


class _DataVerifier:
    """Ray Data's callable class: one verifier per actor, a batch of JSON rows in, their results out."""

    def __init__(self, config: VerifierConfig) -> None:
        self.verifier = Verifier.from_pretrained(None, dtype=DTYPE, config=config)

    def __call__(self, batch: dict) -> dict:
        solutions = [Solution.from_dict(json.loads(row)) for row in batch["row"]]
        return {"result": [r.to_json() for r in self.verifier.verify_many(solutions)]}


def ray_data_run(solutions: list[Solution], config: VerifierConfig, cores: int,
                 rows_per_task: int) -> tuple[str, int, float, float]:
    import ray

    start = time.perf_counter()
    dataset = ray.data.from_items([{"row": json.dumps(s.to_dict())} for s in solutions])
    mapped = dataset.map_batches(_DataVerifier, fn_constructor_kwargs={"config": config}, batch_size=rows_per_task,
                                 concurrency=1, num_cpus=cores)
    n = sum(1 for _ in mapped.iter_rows())
    return "ray data x1", n, time.perf_counter() - start, 0.0


if __name__ == "__main__":
    main()
