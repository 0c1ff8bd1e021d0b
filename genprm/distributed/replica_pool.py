"""A pool of replicas on a Ray cluster: each replica is an actor that starts a job once (loads its model, starts its
sandbox pool) and then turns tasks of rows into results, streamed back one row at a time as each finishes.

Why plain actors and not Ray Data's `map_batches`: the driver already reads the input with genprm's own readers
(bad rows reported, done ids and shards skipped), so Ray Data would only add its streaming executor and Arrow
blocks, which on a 2-core machine cost CPU the replicas need (measured: see bench/ray_scaling.py and the README).
Plain actors also let the driver see each row as it finishes and know exactly which rows a dead replica left
unfinished.

Crash safety, in three places:
- Ray restarts a replica that dies (killed, OOM, node lost) up to `MAX_RESTARTS` times; the rows of its task that
  had not come back are queued again (to any live replica), at most `MAX_ATTEMPTS` times per task.
- The driver is the only writer and yields each id at most once, so a task redone after a partial result cannot
  write a row twice.
- A killed driver loses only rows in flight: the caller writes each row as it comes (genprm.jsonl.JsonlWriter),
  and a rerun skips ids already written.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from genprm.distributed.connect import check_resources, import_ray, join
from genprm.distributed.ray_config import RayConfig
from genprm.errors import GenPRMError
from genprm.types import Solution

MAX_RESTARTS = 4  # per replica
MAX_ATTEMPTS = 3  # replicas that may die on one task before the run stops (a row that kills every replica)
TASKS_PER_REPLICA = 2  # in flight per replica: the next task is queued while one runs, so a replica never idles


class Replica:
    """One actor: a started job, answering tasks."""

    def __init__(self, job: Any) -> None:
        self.job, self.worker, self.error = job, None, None
        try:
            self.worker = job.start()
        except GenPRMError as e:  # the user's mistake (a bad model path): one line on the driver, no restart loop
            self.error = str(e)

    def ready(self) -> str | None:
        """None when started, else the error that stopped the start."""
        return self.error

    def run(self, solutions: Sequence[Solution]) -> Iterator[tuple[str, Any]]:
        yield from self.job.run(self.worker, solutions)

    def stop(self) -> None:
        if self.worker is not None:
            self.job.stop(self.worker)


@dataclass
class _Task:
    rows: list[Solution]
    attempts: int = 0


@dataclass
class PoolStats:
    rows: int = 0
    restarts: int = 0  # replica deaths seen (each restarted by Ray, unless out of restarts)
    redone: int = 0  # rows queued again after their replica died


class ReplicaPool:
    """`config.replicas` actors running `job` (see genprm.distributed.jobs) on a Ray cluster.

    Joins the cluster at `config.address` (or starts a local one) unless Ray is already initialised in this process,
    and leaves it again on `close()` if it joined.
    """

    def __init__(self, job: Any, config: RayConfig, log: Callable[[str], None] | None = None) -> None:
        ray = self.ray = import_ray()
        self.config, self.log = config, log or (lambda message: None)
        self.stats = PoolStats()
        self._joined = join(config.address)
        self.replicas: list[Any] = []
        try:
            check_resources(ray, config.replicas, config.cpus_per_replica, config.gpus_per_replica)
            started = time.perf_counter()
            actor = ray.remote(max_restarts=MAX_RESTARTS, max_task_retries=0)(Replica)
            self.replicas = [actor.options(num_cpus=config.cpus_per_replica, num_gpus=config.gpus_per_replica)
                             .remote(job) for _ in range(config.replicas)]
            for error in ray.get([self._ready(i) for i in range(len(self.replicas))]):
                if error:
                    raise GenPRMError(error)
            self.log(f"ray: {config.replicas} replicas ready in {time.perf_counter() - started:.1f}s")
        except BaseException:
            self.close()
            raise

    def _ready(self, i: int) -> Any:
        # Retried while the replica restarts, so this also waits for a replica to come back after a death.
        return self.replicas[i].ready.options(max_task_retries=-1).remote()

    def map(self, rows: Sequence[Solution]) -> Iterator[Any]:
        """Yield one output per row (completion order), each id once, whatever replicas die on the way."""
        ray = self.ray
        # At most rows_per_task rows a task, and fewer when the input is small, so every replica gets work.
        n = max(1, min(self.config.rows_per_task, -(-len(rows) // (len(self.replicas) * TASKS_PER_REPLICA))))
        todo = deque(_Task(list(rows[i:i + n])) for i in range(0, len(rows), n))
        done: set[str] = set()
        running: dict[Any, tuple[int, _Task]] = {}  # streaming generator -> (replica, task)
        recovering: dict[Any, int] = {}  # ready() ref -> replica
        load = [0] * len(self.replicas)
        alive = set(range(len(self.replicas)))

        def replica_died(i: int, task: _Task, error: Exception) -> None:
            left = [row for row in task.rows if row.id not in done]
            self.stats.redone += len(left)
            if left:
                if task.attempts + 1 >= MAX_ATTEMPTS:
                    raise GenPRMError(f"{MAX_ATTEMPTS} replicas died on the task holding ids {left[0].id!r}.. "
                                      f"{left[-1].id!r} (last: {type(error).__name__}); rerun to retry the rest")
                todo.appendleft(_Task(left, task.attempts + 1))
            if i in alive and i not in recovering.values():
                self.stats.restarts += 1
                self.log(f"ray: replica {i} died ({type(error).__name__}); {len(left)} rows go to another replica")
                recovering[self._ready(i)] = i

        while todo or running:
            for i in sorted(alive - set(recovering.values()), key=lambda i: load[i]):
                while todo and load[i] < TASKS_PER_REPLICA:
                    task = todo.popleft()
                    running[self.replicas[i].run.options(num_returns="streaming").remote(task.rows)] = (i, task)
                    load[i] += 1
            if not running and not recovering:
                raise GenPRMError("every replica died and is out of restarts; rerun to continue")
            ready, _ = ray.wait([*running, *recovering], num_returns=1)
            handle = ready[0]
            if handle in recovering:
                i = recovering.pop(handle)
                try:
                    ray.get(handle)
                except ray.exceptions.RayActorError:
                    alive.discard(i)  # out of restarts: the others carry on
                    self.log(f"ray: replica {i} is out of restarts")
                continue
            i, task = running[handle]
            try:
                key, output = ray.get(next(handle))
            except StopIteration:
                del running[handle]
                load[i] -= 1
                continue
            except ray.exceptions.RayActorError as e:
                del running[handle]
                load[i] -= 1
                replica_died(i, task, e)
                continue
            except ray.exceptions.RayTaskError as e:
                # A bug or a bad row fails as it would locally: the replica's own exception, not Ray's wrapper.
                if isinstance(getattr(e, "cause", None), Exception):
                    raise e.cause from None
                raise
            if key not in done:
                done.add(key)
                self.stats.rows += 1
                yield output

    def close(self) -> None:
        """Stop the replicas (their sandbox pools with them) and leave the cluster if this pool joined it."""
        ray = self.ray
        if self.replicas:
            stops = [r.stop.remote() for r in self.replicas]
            ray.wait(stops, num_returns=len(stops), timeout=10)
            for replica in self.replicas:
                ray.kill(replica)
            self.replicas = []
        if self._joined and ray.is_initialized():
            ray.shutdown()
