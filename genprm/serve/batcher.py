"""Continuous batching: one thread runs the verifier's driver over a queue that HTTP requests feed.

The driver (`Verifier.iter_verify`) keeps about `batch_size` verification chains alive and sends each round's
requests to the backend as one batch. Here its source is a live queue: whenever a chain finishes, the next queued
solution joins the batch at once, whichever client sent it, so 32 clients sending one solution each cost about
what one 32-solution request costs. When the queue is empty but chains are alive the source says "nothing new
right now" (None) and the driver goes on; when nothing is alive it blocks until a solution arrives.

A client that leaves has its queued solutions removed and its running ones dropped from the batch (the driver's
`cancelled`). A backend error ends the driver's run: the solutions in that run fail with the error, the queue is
kept, and a new run starts on it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from genprm.serve.prometheus import Metrics
from genprm.types import Solution, VerificationResult
from genprm.verifier import Verifier


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class Draining(Exception):
    """The server is shutting down: it finishes what it has and takes nothing new."""


@dataclass(eq=False)
class Job:
    """One solution of one HTTP request, and the asyncio future its handler awaits."""

    solution: Solution
    future: asyncio.Future[VerificationResult]
    loop: asyncio.AbstractEventLoop
    cancelled: bool = False

    def settle(self, result: VerificationResult | None = None, error: BaseException | None = None) -> None:
        """Hand the result (or error) over to the event loop's thread."""

        def apply() -> None:
            if not self.future.done():
                self.future.set_exception(error) if error is not None else self.future.set_result(result)

        try:
            self.loop.call_soon_threadsafe(apply)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


class Batcher:
    def __init__(self, verifier: Verifier, max_queue: int, metrics: Metrics) -> None:
        self.verifier, self.max_queue, self.metrics = verifier, max_queue, metrics
        self._queue: deque[Job] = deque()
        self._admitted: dict[int, Job] = {}  # driver index -> job, for solutions inside the running batch
        self._next_index = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._finished: deque[float] = deque(maxlen=64)  # completion times, for Retry-After
        self._thread = threading.Thread(target=self._run, name="genprm-batcher", daemon=True)

    # -- the event loop's side ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, solutions: Sequence[Solution], loop: asyncio.AbstractEventLoop) -> list[Job]:
        """Queue all of a request's solutions, or none: QueueFull when they do not fit, Draining when stopping."""
        with self._cond:
            if self._stopping:
                raise Draining()
            waiting = len(self._queue) + len(self._admitted)
            if waiting + len(solutions) > self.max_queue:
                raise QueueFull(self._retry_after(waiting))
            jobs = [Job(s, loop.create_future(), loop) for s in solutions]
            self._queue.extend(jobs)
            self._update_gauges()
            self._cond.notify()
        return jobs

    def cancel(self, jobs: Sequence[Job]) -> int:
        """Forget these jobs: queued ones leave the queue now, running ones leave the batch next round."""
        # A cancelled future is a handler that stopped waiting, not a finished job.
        live = [j for j in jobs if not j.cancelled and (j.future.cancelled() or not j.future.done())]
        for job in live:
            job.cancelled = True
        with self._cond:
            self._queue = deque(j for j in self._queue if not j.cancelled)
            self._update_gauges()
        self.metrics.cancelled.inc(len(live))
        return len(live)

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is queued and running, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    @property
    def depth(self) -> tuple[int, int]:
        """(queued, running) solutions."""
        with self._cond:
            return len(self._queue), len(self._admitted)

    # -- the batching thread's side -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                for index, result in self.verifier.iter_verify(self._source(), with_index=True,
                                                               cancelled=self._is_cancelled):
                    with self._cond:
                        job = self._admitted.pop(index, None)
                        self._finished.append(time.monotonic())
                        self._update_gauges()
                    self.metrics.solutions.inc()
                    self.metrics.steps.inc(len(result.steps))
                    if job is not None and not job.cancelled:
                        job.settle(result)
                return  # the source ended: stopping, and nothing left
            except Exception as error:  # noqa: BLE001 - a backend error fails the solutions it touched, not us
                with self._cond:
                    touched = list(self._admitted.values())
                    self._admitted.clear()
                    self._update_gauges()
                for job in touched:
                    job.settle(error=error)

    def _source(self) -> Iterator[Solution | None]:
        """What the driver reads. Its indices are positions in this stream, so they restart with each driver run."""
        self._next_index = 0
        while True:
            with self._cond:
                # Jobs whose client left: the driver drops their chains right after this admission step.
                for index in [i for i, job in self._admitted.items() if job.cancelled]:
                    del self._admitted[index]
                while not self._queue and not self._admitted:
                    if self._stopping:
                        return
                    self._cond.wait()
                job = self._queue.popleft() if self._queue else None
                index, self._next_index = self._next_index, self._next_index + 1
                if job is not None:
                    self._admitted[index] = job
                self._update_gauges()
            yield job.solution if job is not None else None

    def _is_cancelled(self, index: int) -> bool:
        job = self._admitted.get(index)
        return job is None or job.cancelled

    def _update_gauges(self) -> None:
        self.metrics.queue_depth.set(len(self._queue))
        self.metrics.in_flight.set(len(self._admitted))

    def _retry_after(self, waiting: int) -> int:
        """Seconds until the queue has likely drained, from the recent completion rate (1 to 60)."""
        if len(self._finished) < 2 or self._finished[-1] <= self._finished[0]:
            return 1
        rate = (len(self._finished) - 1) / (self._finished[-1] - self._finished[0])
        return max(1, min(60, math.ceil(waiting / rate)))
