"""`genprm distill synth --ray`: the same critiques as `genprm.distill.stages.synth_file`, written by teacher
replicas on a Ray cluster; records are appended as they come, and a rerun skips ids already written."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genprm.distill.stages import load_labelled
from genprm.distributed.jobs import SynthJob
from genprm.distributed.ray_config import RayConfig
from genprm.distributed.replica_pool import ReplicaPool
from genprm.jsonl import done_ids, write_rows
from genprm.protocols import load

PROGRESS_EVERY_S = 10.0


def synth_on_ray(path: str | Path, out: str | Path, job: SynthJob, ray_config: RayConfig, limit: int | None = None,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Critique every solution of `path` not yet in `out` with `job`'s teacher, on `ray_config.replicas` replicas."""
    load(job.protocol)
    solutions = load_labelled(path)[:limit]
    skip = done_ids(Path(out))
    todo = [s for s in solutions if s.id not in skip]
    summary: dict[str, Any] = {"skipped_done": len(solutions) - len(todo), "written": 0}
    if todo:
        pool = ReplicaPool(job, ray_config, log)
        started = last = time.perf_counter()
        try:
            for record in pool.map(todo):
                summary["written"] += write_rows(out, [record], append=True)
                now = time.perf_counter()
                if now - last >= PROGRESS_EVERY_S or summary["written"] == len(todo):
                    last = now
                    log(progress_line("synth", summary["written"], len(todo), now - started))
        finally:
            pool.close()
        summary.update(seconds=round(time.perf_counter() - started, 1), restarts=pool.stats.restarts,
                       redone=pool.stats.redone)
    log(f"synth ({job.teacher}, ray): {summary}")
    return summary


def progress_line(what: str, done: int, total: int, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate else float("nan")
    return f"{what}: {done}/{total} ({rate:.2f} rows/s, ETA {eta:.0f}s)"
