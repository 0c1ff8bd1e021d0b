"""`genprm serve --ray`: the same app on Ray Serve, with model replicas spread over a cluster.

    HTTP -> Ray Serve proxy (every node) -> Ingress (the routes of genprm.serve.routes, with a RayEngine)
                                              -> VerifierReplica x N (a verifier + its own continuous batching)

The ingress is light (no model, no CPU reserved): it checks auth and limits, parses, and hands each request's
solutions to one replica through a deployment handle, which routes to the less busy of two replicas. A replica is
`LocalEngine`, the single-process server's engine, inside a Ray Serve deployment, so it batches exactly as
`genprm serve` does and gives the same results.

A replica that dies (killed, OOM, node lost) is replaced by Ray Serve. The requests it held are sent to another
replica by the ingress: verifying has no side effect, so a retry can only repeat work, never a result (the client
gets one answer per request). After `LOST_ATTEMPTS` replicas died on one request it gets a JSON 503 with
Retry-After.

Ray is imported only when `--ray` is given; this module is loaded then.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from genprm.errors import GenPRMError

try:
    import ray
    from ray import serve
    from ray.exceptions import ActorUnavailableError, RayActorError
except ImportError:
    raise GenPRMError("genprm serve --ray needs Ray Serve: pip install 'genprm[ray]'") from None

from genprm.distributed.connect import check_resources, gcs_answers, join
from genprm.distributed.jobs import VerifyJob
from genprm.distributed.ray_config import RayConfig
from genprm.serve.api_errors import APIError, retry_later
from genprm.serve.app import build_app
from genprm.serve.engine import LocalEngine
from genprm.serve.lifecycle import host_in_url, say
from genprm.serve.prometheus import Metrics, ReplicaMetrics
from genprm.serve.server_config import ServeConfig
from genprm.types import Solution, VerificationResult

APP = "genprm"
LOST_ATTEMPTS = 3  # replicas that may die under one request before it is answered 503
LOST = (RayActorError, ActorUnavailableError)  # the replica went away (ActorDiedError is a RayActorError)


@serve.deployment
class VerifierReplica:
    """One model: `job` started once, behind the continuous-batching queue."""

    def __init__(self, job: VerifyJob, config: ServeConfig) -> None:
        self.verifier = job.start()
        self.metrics = Metrics(http=False)
        self.engine = LocalEngine(self.verifier, config, self.metrics)
        self.engine.start()
        self.name = serve.get_replica_context().replica_id.unique_id
        self.shutdown_timeout = config.shutdown_timeout

    async def verify(self, solutions: Sequence[Solution]) -> dict[str, Any]:
        """{"results": [...]} or {"error": APIError as data}, with this replica's name, metrics and load."""
        try:
            answer: dict[str, Any] = {"results": await self.engine.verify(solutions)}
        except APIError as e:  # sent as data: Ray would wrap the exception in its own
            answer = {"error": e.to_dict()}
        return {**answer, "replica": self.name, "metrics": self.metrics.render().decode(),
                "depth": self.engine.batcher.depth}

    async def info(self) -> dict[str, Any]:
        return await self.engine.health()

    async def __del__(self) -> None:  # Ray Serve calls it when it stops the replica gracefully
        await self.engine.stop(self.shutdown_timeout)
        self.verifier.close()


class RayEngine:
    """The ingress' engine: each request to one replica, through the deployment handle."""

    def __init__(self, replicas: Any, metrics: Metrics, board: ReplicaMetrics) -> None:
        self.replicas, self.metrics, self.board = replicas, metrics, board
        self.depth: dict[str, tuple[int, int]] = {}
        self.setup: dict[str, Any] | None = None

    def start(self) -> None:
        pass

    async def stop(self, timeout: float) -> None:
        pass

    async def verify(self, solutions: Sequence[Solution]) -> list[VerificationResult]:
        for _ in range(LOST_ATTEMPTS):
            response = self.replicas.verify.remote(list(solutions))
            try:
                answer = await response
            except asyncio.CancelledError:  # the client left: the replica withdraws the solutions
                response.cancel()
                raise
            except LOST:
                self.metrics.resent.inc()
                continue
            except Exception as e:  # noqa: BLE001 - a bug in the replica: one line, not Ray's traceback
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                raise APIError(502, "backend", f"a replica failed: {type(e).__name__}: {first}") from None
            self.board.update(answer["replica"], answer["metrics"])
            self.depth[answer["replica"]] = answer["depth"]
            if "error" in answer:
                raise APIError.from_dict(answer["error"])
            return answer["results"]
        raise retry_later("replica_lost", f"{LOST_ATTEMPTS} replicas died while verifying this request (each is "
                                          "replaced); retry")

    async def health(self) -> dict[str, Any]:
        if self.setup is None:
            self.setup = {k: v for k, v in (await self.replicas.info.remote()).items()
                          if k not in ("queued", "running")}
        # The load as of each replica's last answer.
        return {**self.setup, "queued": sum(q for q, _ in self.depth.values()),
                "running": sum(r for _, r in self.depth.values())}


@serve.deployment
@serve.ingress()
class Ingress:
    """The routes of `genprm serve`, in front of the replicas."""

    def __init__(self, replicas: Any, config: ServeConfig) -> None:
        self.replicas, self.config = replicas, config

    def __serve_build_asgi_app__(self) -> Any:
        metrics, board = Metrics(batching=False), ReplicaMetrics()
        metrics.registry.register(board)  # type: ignore[arg-type]
        return build_app(RayEngine(self.replicas, metrics, board), self.config, metrics)


def serve_on_ray(job: VerifyJob, config: ServeConfig, ray_config: RayConfig,
                 log: Callable[[str], None] = say) -> None:
    """Deploy the app on the cluster, print `genprm: serving on URL`, and serve until SIGTERM/SIGINT; then
    remove the app (replicas finish what they hold, up to --shutdown-timeout)."""
    joined = join(ray_config.address)
    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # its start-up notices: we say the one that matters
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # after ray.init, which installs its own (exit at once)
        signal.signal(sig, lambda *_: stop.set())
    try:
        first = ray_config.min_replicas or ray_config.replicas
        check_resources(ray, first, ray_config.cpus_per_replica, ray_config.gpus_per_replica)
        port = config.port or free_port(config.host)
        serve.start(http_options={"host": config.host, "port": port})
        scaling: dict[str, Any] = {"num_replicas": ray_config.replicas}
        if ray_config.min_replicas is not None:
            # A replica is busy with one batch in flight: more than that waiting is a reason to add one.
            scaling = {"autoscaling_config": {"min_replicas": ray_config.min_replicas,
                                              "max_replicas": ray_config.max_replicas,
                                              "target_ongoing_requests": job.config.batch_size}}
        replicas = VerifierReplica.options(  # type: ignore[attr-defined]
            **scaling, max_ongoing_requests=config.max_queue, graceful_shutdown_timeout_s=config.shutdown_timeout,
            ray_actor_options={"num_cpus": ray_config.cpus_per_replica, "num_gpus": ray_config.gpus_per_replica},
        ).bind(job, config)
        ingress = Ingress.options(  # type: ignore[attr-defined]
            max_ongoing_requests=100_000, graceful_shutdown_timeout_s=config.shutdown_timeout,
            ray_actor_options={"num_cpus": 0},
        ).bind(replicas, config)
        serve.run(ingress, name=APP, route_prefix="/")
        log(f"ray: {first} replicas ready" + (f" (autoscaling to {ray_config.max_replicas})"
                                              if ray_config.max_replicas else ""))
        log(f"serving on http://{host_in_url(config.host)}:{port}")
        while not stop.wait(1.0):
            pass
        if not cluster_alive():
            # SIGTERM sent to the whole process group (`timeout`, systemd, `kill -- -PGID`) also reaches the local
            # cluster's processes; asking a dead cluster to drain would hang for a minute, then print Ray's errors.
            log("stopped: the Ray cluster went down with the signal (a local cluster gets a signal sent to this "
                "process group), so requests in flight were lost; signal this process alone to drain them")
            return
        log("stopping: replicas finish what they hold")
        serve.delete(APP)  # Ray Serve itself stays up on a shared cluster; a local one ends with ray.shutdown()
    finally:
        if joined:
            ray.shutdown()


def cluster_alive(settle_s: float = 0.5) -> bool:
    """Whether the cluster's head (its GCS) still answers, asked after `settle_s`: a signal that stopped this
    process may be ending the head's processes at the same moment."""
    time.sleep(settle_s)
    return gcs_answers(ray.get_runtime_context().gcs_address)


def free_port(host: str) -> int:
    """A port free now (Ray Serve's proxy cannot be asked to pick one and say which)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
