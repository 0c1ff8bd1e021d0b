"""How the verifier's requests reach the backend and the sandbox: as soon as a chain is ready, or in rounds.

A verification chain asks one thing at a time: a generation, a verdict score, a forward pass read at step marks
(`ReadRequest`), or a code run. `Dispatcher.submit` takes a chain's request; `Dispatcher.wait` blocks until some
answers are in and returns them, so the driver resumes those chains and submits their next requests at once.

- A `StreamingBackend` (vLLM's engine loop, concurrent HTTP requests) gets each request the moment it is submitted
  and `wait` returns whatever is done first: a chain that finished its critique does not wait for the longest
  critique of the round, and code runs in the sandbox while other chains keep generating.
- Any other backend (transformers, scripted test backends) answers in rounds: `wait` sends every queued request in
  one call per kind (`generate`, `score`, `read`) and waits for the round's code runs too. Its batches are then the
  same as before continuous batching, and so are its scores (a padded batch's numerics depend on its members).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from genprm.backends.base import Backend, GenerateRequest, ReadRequest, ScoreRequest, StreamingBackend
from genprm.protocols.chain import RunCode

# What a round sends to a round-based backend, per kind of request.
_ROUND_CALLS = {GenerateRequest: "generate", ScoreRequest: "score", ReadRequest: "read"}


class Dispatcher:
    """Answers chains' requests; see the module docstring.

    Args:
        backend: the model.
        run_code: runs one chain's code block (given the chain's key, an int, and the request) and returns its
            `CodeRun`; called on worker threads, `code_workers` at a time.
    """

    def __init__(self, backend: Backend, run_code: Callable[[int, RunCode], Any], code_workers: int = 4) -> None:
        self.backend = backend
        self.streaming = isinstance(backend, StreamingBackend)
        self.run_code = run_code
        self.pool = ThreadPoolExecutor(max_workers=code_workers, thread_name_prefix="genprm-code")
        self.in_flight: dict[Future[Any], int] = {}
        self.queued: list[tuple[int, Any]] = []  # round-based backends: the next round's model requests

    def submit(self, key: int, request: Any) -> None:
        if isinstance(request, RunCode):
            self.in_flight[self.pool.submit(self.run_code, key, request)] = key
        elif self.streaming:
            self.in_flight[self.backend.submit(request)] = key  # type: ignore[attr-defined]
        else:
            self.queued.append((key, request))

    def pending(self) -> bool:
        return bool(self.in_flight or self.queued)

    def wait(self) -> list[tuple[int, Any]]:
        """Some answers, at least one, as (key, answer); a failed request raises its error here."""
        answers = self._round() if self.queued else []
        if not self.in_flight:
            return answers
        # A round waits for all of its code runs, so the next round batches the same chains as it always has.
        done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED if self.streaming else ALL_COMPLETED)
        answers += sorted((self.in_flight.pop(future), future.result()) for future in done)
        return answers

    def forget(self, key: int) -> None:
        """Drop a cancelled chain's request: its answer, when it comes, is thrown away."""
        self.queued = [(k, r) for k, r in self.queued if k != key]
        for future in [f for f, k in self.in_flight.items() if k == key]:
            future.cancel()
            del self.in_flight[future]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _round(self) -> list[tuple[int, Any]]:
        answers: list[tuple[int, Any]] = []
        queued, self.queued = self.queued, []
        for kind, call in _ROUND_CALLS.items():
            batch = sorted(((key, request) for key, request in queued if isinstance(request, kind)),
                           key=lambda item: item[0])
            if batch:
                outs = getattr(self.backend, call)([request for _, request in batch])
                answers += zip([key for key, _ in batch], outs, strict=True)
        return answers
