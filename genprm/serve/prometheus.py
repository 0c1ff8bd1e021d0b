"""What `GET /metrics` reports, in Prometheus' text format (prometheus_client), one registry per server.

Two parts: the HTTP side (requests, errors, latency; counted where requests arrive) and the batching side (queue,
batch sizes, solutions, steps; counted where the model runs). A single-process server has both in one registry. On
Ray Serve the ingress has the HTTP side and shows each model replica's batching side with a `replica` label
(`sum without (replica) (...)` adds them up).

steps/s and solutions/s are counters (`rate(genprm_steps_total[1m])`), as Prometheus expects; the batch sizes are
those of the backend calls, observed by wrapping the backend, so they show what continuous batching achieves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from genprm.backends.base import Backend, GenerateRequest, Generation, ScoreRequest

ERROR_KINDS = ("bad_request", "too_large", "unauthorized", "queue_full", "backend", "cancelled", "draining",
               "replica_lost")
ENDPOINTS = ("/v1/verify", "/get_reward", "/health", "/metrics")


class Metrics:
    def __init__(self, http: bool = True, batching: bool = True) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        if http:
            self.requests = Counter("genprm_requests", "HTTP requests by endpoint and status.",
                                    ["endpoint", "status"], registry=r)
            self.errors = Counter("genprm_errors", "Failed requests by kind.", ["kind"], registry=r)
            for kind in ERROR_KINDS:
                self.errors.labels(kind)
            self.resent = Counter("genprm_resent_requests", "Requests sent to another replica because theirs died "
                                  "(genprm serve --ray).", registry=r)
            self.latency = Histogram("genprm_request_seconds", "Request latency by endpoint.", ["endpoint"],
                                     registry=r, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        if batching:
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


class ReplicaMetrics:
    """A Prometheus collector: the latest batching metrics each model replica sent, labelled with the replica.

    Replicas send theirs along with every answer, so the figures are as of each replica's last answer; a replica
    that died keeps its last figures (its counters stop; Prometheus' rate() sees that as a reset when it is
    replaced by one starting from zero under a new label).
    """

    def __init__(self) -> None:
        self.snapshots: dict[str, str] = {}

    def update(self, replica: str, text: str) -> None:
        self.snapshots[replica] = text

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for replica, text in sorted(self.snapshots.items()):
            for family in text_string_to_metric_families(text):
                merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for s in family.samples:
                    merged.add_sample(s.name, {**s.labels, "replica": replica}, s.value, s.timestamp)
        yield from families.values()


class Measure:
    """ASGI middleware counting requests by endpoint and status, and timing them (a plain ASGI one: starlette's
    BaseHTTPMiddleware would stand between the handler and the client's disconnect message)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500
        endpoint = scope["path"] if scope["path"] in ENDPOINTS else "other"

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


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
