"""A backend around another that counts the work it passes on and, on request, never does the same work twice.

Two users: search verifies many solutions that share their first steps, so it memoises answers (`memo=True`:
verifying a prefix re-asks the questions about its earlier steps, and with greedy critiques or seeds that depend on
the problem only, those requests equal the ones asked for the parent prefix); the server reports how many
requests it sends the model at once (`on_batch`, a Prometheus histogram). Both read the same counters.

Requests are frozen dataclasses, so a request is its own memo key. A sampled generation without a seed is never
memoised (its answer is not a function of the request). A streaming inner backend stays streaming (`record` gives
the wrapper a `submit`), so wrapping never turns continuous batching back into rounds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from genprm.backends.base import (
    Answer,
    Backend,
    GenerateRequest,
    Generation,
    ReadRequest,
    Request,
    ScoreRequest,
    StreamingBackend,
)

OnBatch = Callable[[str, int], None]
"""Told (kind, size) for every batch passed on: kind is "generate", "score" or "read"; a streaming backend's size
is the number of its requests in flight once the new one is sent."""

_KINDS = {GenerateRequest: "generate", ScoreRequest: "score", ReadRequest: "read"}
_STREAMING = ("submit", "live_chains")


class RecordedBackend:
    """See the module docstring; build one with `record`."""

    def __init__(self, inner: Backend, memo: bool = False, on_batch: OnBatch | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.memo = memo
        self.on_batch = on_batch
        self.generated_tokens = 0
        """Tokens the inner backend generated for this wrapper's requests."""
        self.verdicts = 0
        """Verdict scores (`ScoreRequest`s) the inner backend answered."""
        self.reads = 0
        """Forward passes read at step marks (`ReadRequest`s, discriminative PRMs) the inner backend answered."""
        self._answers: dict[Request, Answer] = {}
        self._lock = threading.Lock()  # counters and memo are updated from the backend's threads when streaming

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.inner.chat(messages, add_generation_prompt)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return self._batch("generate", requests)  # type: ignore[return-value]

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        return self._batch("score", requests)  # type: ignore[return-value]

    def read(self, requests: Sequence[ReadRequest]) -> list[list[list[float]]]:
        return self._batch("read", requests)  # type: ignore[return-value]

    def forget(self) -> None:
        """Drop the memo."""
        with self._lock:
            self._answers.clear()

    def close(self) -> None:
        """Drop the memo; the inner backend is its owner's to close."""
        self.forget()

    def __getattr__(self, name: str) -> Any:  # score_source, dtype, tokenizer and other backend extras
        # Not the streaming surface: only `StreamingRecordedBackend` has one, so that a plain wrapper answers in
        # rounds and every request passes through its counters.
        if name in _STREAMING:
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- internals -----------------------------------------------------------------------------------------

    def _batch(self, kind: str, requests: Sequence[Any]) -> list[Answer]:
        # With the memo, a memoisable request is asked once, and only when not seen before; any other request
        # (an unseeded sample: two equal ones are two draws) is asked each time.
        with self._lock:
            once = list(dict.fromkeys(r for r in requests if self._memo_key(r) and r not in self._answers))
        each = [i for i, r in enumerate(requests) if not self._memo_key(r)]
        todo = [*once, *(requests[i] for i in each)]
        outs = []
        if todo:
            if self.on_batch is not None:
                self.on_batch(kind, len(todo))
            outs = getattr(self.inner, kind)(todo)
            for request, answer in zip(todo, outs, strict=True):
                self._record(request, answer)
        fresh = dict(zip(each, outs[len(once):], strict=True))
        with self._lock:
            return [fresh[i] if i in fresh else self._answers[r] for i, r in enumerate(requests)]

    def _memo_key(self, request: Request) -> bool:
        return self.memo and _memoisable(request)

    def _known(self, request: Request) -> bool:
        return self._memo_key(request) and request in self._answers

    def _record(self, request: Request, answer: Answer) -> None:
        with self._lock:
            if isinstance(request, GenerateRequest):
                self.generated_tokens += answer.num_tokens  # type: ignore[union-attr]
            elif isinstance(request, ScoreRequest):
                self.verdicts += 1
            else:
                self.reads += 1
            if self._memo_key(request):
                self._answers[request] = answer


class StreamingRecordedBackend(RecordedBackend):
    """A `RecordedBackend` around a `StreamingBackend`: requests pass on one at a time, as they come."""

    def __init__(self, inner: StreamingBackend, memo: bool = False, on_batch: OnBatch | None = None) -> None:
        super().__init__(inner, memo, on_batch)
        self.live_chains = inner.live_chains
        self._in_flight = 0

    def submit(self, request: Request) -> Future[Answer]:
        with self._lock:
            if self._known(request):
                done: Future[Answer] = Future()
                done.set_result(self._answers[request])
                return done
            self._in_flight += 1
            in_flight = self._in_flight
        if self.on_batch is not None:
            self.on_batch(_KINDS[type(request)], in_flight)
        future = self.inner.submit(request)  # type: ignore[attr-defined]
        future.add_done_callback(lambda f: self._landed(request, f))
        return future

    def _landed(self, request: Request, future: Future[Answer]) -> None:
        with self._lock:
            self._in_flight -= 1
        if not future.cancelled() and future.exception() is None:
            self._record(request, future.result())


def record(inner: Backend, memo: bool = False, on_batch: OnBatch | None = None) -> RecordedBackend:
    """Wrap `inner` (see the module docstring); a streaming backend stays streaming."""
    if isinstance(inner, StreamingBackend):
        return StreamingRecordedBackend(inner, memo, on_batch)
    return RecordedBackend(inner, memo, on_batch)


def _memoisable(request: Request) -> bool:
    """Whether the answer is a function of the request: anything but a sampled generation without a seed."""
    return not isinstance(request, GenerateRequest) or request.temperature == 0 or request.seed is not None
