"""What `GET /metrics` reports, in Prometheus' text format (prometheus_client), one registry per server.

steps/s and solutions/s are counters (`rate(genprm_steps_total[1m])`), as Prometheus expects; the batch sizes are
those of the backend calls, observed by wrapping the backend, so they show what continuous batching achieves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from genprm.backends.base import Backend, GenerateRequest, Generation, ScoreRequest

ERROR_KINDS = ("bad_request", "too_large", "unauthorized", "queue_full", "backend", "cancelled", "draining")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("genprm_requests", "HTTP requests by endpoint and status.", ["endpoint", "status"],
                                registry=r)
        self.errors = Counter("genprm_errors", "Failed requests by kind.", ["kind"], registry=r)
        for kind in ERROR_KINDS:
            self.errors.labels(kind)
        self.latency = Histogram("genprm_request_seconds", "Request latency by endpoint.", ["endpoint"], registry=r,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        self.queue_depth = Gauge("genprm_queue_depth", "Solutions waiting to enter the batch.", registry=r)
        self.in_flight = Gauge("genprm_in_flight", "Solutions being verified now.", registry=r)
        self.batch_size = Histogram("genprm_batch_size", "Requests per backend call, by kind.", ["kind"],
                                    registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.solutions = Counter("genprm_solutions", "Solutions verified.", registry=r)
        self.steps = Counter("genprm_steps", "Steps verified (rate() of it is steps/s).", registry=r)
        self.cancelled = Counter("genprm_cancelled_solutions", "Solutions dropped because their client left.",
                                 registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeteredBackend:
    """A `Backend` that records the size of every batch it is asked to run, and passes everything through."""

    def __init__(self, backend: Backend, metrics: Metrics) -> None:
        self.inner, self.metrics = backend, metrics
        self.name = backend.name

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.inner.chat(messages, add_generation_prompt)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        self.metrics.batch_size.labels("generate").observe(len(requests))
        return self.inner.generate(requests)

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        self.metrics.batch_size.labels("score").observe(len(requests))
        return self.inner.score(requests)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # score_source and other backend extras
        return getattr(self.inner, name)
