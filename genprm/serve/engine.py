"""What answers the routes: an engine verifies a request's solutions and says how it is doing.

The routes (genprm.serve.routes) know only this interface, so the same routes serve one process (`LocalEngine`, a
verifier fed by the continuous-batching queue) and a Ray Serve deployment (`genprm.serve.ray_app.RayEngine`,
model replicas behind a deployment handle).

Contract of `verify`: results in input order, or an `APIError` (503 + Retry-After when retrying may succeed, 502
when the backend failed); cancelling the awaiting task withdraws the solutions (the client left).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from genprm.serve.api_errors import APIError, retry_later
from genprm.serve.batcher import Batcher, Draining, QueueFull
from genprm.serve.prometheus import MeteredBackend, Metrics
from genprm.serve.server_config import ServeConfig
from genprm.types import Solution, VerificationResult
from genprm.verifier import Verifier


class Engine(Protocol):
    def start(self) -> None: ...

    async def stop(self, timeout: float) -> None: ...

    async def verify(self, solutions: Sequence[Solution]) -> list[VerificationResult]: ...

    async def health(self) -> dict[str, Any]:
        """The setup (model, protocol, mode, aggregation, batch_size) and the load (queued, running)."""
        ...


class LocalEngine:
    """One verifier in this process, fed by the continuous-batching queue.

    The caller's verifier is left as it is: the engine verifies through its own `Verifier` on the same backend
    (wrapped to measure batch sizes) and config, and closes only what it made (a sandbox pool, in code mode).
    """

    def __init__(self, verifier: Verifier, config: ServeConfig, metrics: Metrics) -> None:
        self.verifier = Verifier(MeteredBackend(verifier.backend, metrics), verifier.config)  # type: ignore[arg-type]
        self.config = config
        self.batcher = Batcher(self.verifier, config.max_queue, metrics)

    def start(self) -> None:
        self.batcher.start()

    async def stop(self, timeout: float) -> None:
        await asyncio.to_thread(self.batcher.stop, timeout)
        self.verifier.close_sandbox()

    async def verify(self, solutions: Sequence[Solution]) -> list[VerificationResult]:
        try:
            jobs = self.batcher.submit(solutions, asyncio.get_running_loop())
        except QueueFull as e:
            raise APIError(503, "queue_full", f"{len(solutions)} solutions do not fit in the queue (--max-queue "
                                              f"{self.config.max_queue}); retry later",
                           headers={"Retry-After": str(e.retry_after)}) from None
        except Draining:
            raise retry_later("draining", "the server is shutting down") from None
        try:
            return list(await asyncio.gather(*(job.future for job in jobs)))
        except asyncio.CancelledError:
            self.batcher.cancel(jobs)
            raise
        except Exception as e:  # noqa: BLE001 - the backend failed on a batch holding these solutions
            self.batcher.cancel(jobs)
            for job in jobs:  # the others' errors are this one, said once
                if job.future.done() and not job.future.cancelled():
                    job.future.exception()
            raise APIError(502, "backend", f"the backend failed: {type(e).__name__}: {e}") from None

    async def health(self) -> dict[str, Any]:
        queued, running = self.batcher.depth
        cfg = self.verifier.config
        return {"model": self.verifier.backend.name, "protocol": self.verifier.protocol.name, "mode": cfg.mode,
                "aggregation": cfg.agg, "batch_size": cfg.batch_size, "queued": queued, "running": running}
