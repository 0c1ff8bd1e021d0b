"""`genprm verify --ray`: the part of the `Verifier` API a batch run uses, served by replicas on a Ray cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from genprm.backends.base import BackendConfig
from genprm.config import VerifierConfig
from genprm.distributed.jobs import VerifyJob
from genprm.distributed.ray_config import RayConfig
from genprm.distributed.replica_pool import ReplicaPool
from genprm.registry import resolve
from genprm.types import Solution, VerificationResult


class RayVerifier:
    """`Verifier.from_pretrained(backend, config, **backend_options)` on each of `ray_config.replicas` actors.

    Example:
        >>> v = RayVerifier(BackendConfig(), VerifierConfig(mode="direct"), RayConfig(replicas=2))
        >>> for result in v.iter_verify(solutions):  # completion order, each id once
        ...     writer.write(result)
        >>> v.close()
    """

    def __init__(self, backend: BackendConfig | None = None, config: VerifierConfig | None = None,
                 ray_config: RayConfig | None = None, log: Callable[[str], None] | None = None,
                 **backend_options: Any) -> None:
        backend = backend or BackendConfig()
        # Resolved once, here: a bad --protocol fails before any replica starts, and replicas take it as given.
        self.config = resolve(backend.model, config)
        self.pool = ReplicaPool(VerifyJob(backend, self.config, backend_options), ray_config or RayConfig(), log)

    def iter_verify(self, solutions: Iterable[Solution]) -> Iterator[VerificationResult]:
        """Yield each result as soon as a replica finishes it (completion order). Ids must be unique."""
        yield from self.pool.map(list(solutions))

    def verify_many(self, solutions: Iterable[Solution]) -> list[VerificationResult]:
        solutions = list(solutions)
        by_id = {r.id: r for r in self.iter_verify(solutions)}
        return [by_id[s.id] for s in solutions]

    def close(self) -> None:
        stats = self.pool.stats
        if stats.restarts:
            self.pool.log(f"ray: {stats.restarts} replica deaths survived; {stats.redone} rows redone")
        self.pool.close()

    def __enter__(self) -> RayVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
