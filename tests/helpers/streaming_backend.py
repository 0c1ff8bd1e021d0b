"""Backends whose answers depend only on the request, for comparing the verifier's two ways of dispatching.

Each problem's text starts "Problem <n>:", and every chain of one problem asks in order (one sample per
solution), so a per-problem counter tells which turn a request is: the answers are the same however requests
from different solutions interleave. `PromptBackend` answers in rounds (like transformers); `StreamingPromptBackend`
answers each request on a thread of its own after a delay, so answers come back out of submission order, and can
hold one problem's generations until told to let them go.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest

# One step in code mode: a claim that opens a code fence, the block, then the end of the critique.
TURNS = ("The step claims a value.\n```python", "\nprint({n} * {k})\n```", "So it holds. Is the step correct (Yes/No)?")


def problem_number(prompt: str) -> int:
    found = re.search(r"Problem (\d+):", prompt)
    assert found, prompt[:200]
    return int(found.group(1))


class PromptBackend:
    name = "prompt-scripted"

    def __init__(self) -> None:
        self.turns: dict[int, int] = defaultdict(int)
        self.verdicts: dict[int, int] = defaultdict(int)
        self.batches: list[tuple[str, int]] = []  # (kind, size) of each call, in order
        self.lock = threading.Lock()

    def chat(self, messages, add_generation_prompt: bool = True) -> str:
        text = "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        self.batches.append(("generate", len(requests)))
        return [self._generation(r) for r in requests]

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        self.batches.append(("score", len(requests)))
        return [self._score(r) for r in requests]

    def _generation(self, request: GenerateRequest) -> Generation:
        n = problem_number(request.prompt)
        with self.lock:
            k = self.turns[n]
            self.turns[n] += 1
        text = TURNS[k % len(TURNS)].format(n=n, k=k)
        hits = [(text.find(s) + len(s), s) for s in request.stop if s in text]
        if hits:
            end, stop = min(hits)
            return Generation(text[:end], "stop", stop, num_tokens=len(text[:end].split()))
        return Generation(text, "eos", None, num_tokens=len(text.split()))

    def _score(self, request: ScoreRequest) -> dict[str, float]:
        n = problem_number(request.prompt)
        with self.lock:
            k = self.verdicts[n]
            self.verdicts[n] += 1
        return {request.candidates[0]: -0.1 * ((n + k) % 7), request.candidates[1]: -0.3}

    def read(self, requests):
        raise NotImplementedError("a generative protocol reads nothing")

    def close(self) -> None:
        pass


class StreamingPromptBackend(PromptBackend):
    """Answers each submitted request on its own thread, problem n after n milliseconds; `hold` problems wait
    for `release` before their generations are answered."""

    def __init__(self, hold: Sequence[int] = ()) -> None:
        super().__init__()
        self.live_chains = 4
        self.hold = set(hold)
        self.release = threading.Event()
        self.in_flight = self.most_in_flight = 0

    def submit(self, request: GenerateRequest | ScoreRequest) -> Future:
        future: Future = Future()
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

        def answer() -> None:
            n = problem_number(request.prompt)
            if n in self.hold and isinstance(request, GenerateRequest):
                self.release.wait(timeout=30)
            time.sleep(0.001 * (n % 5))
            with self.lock:
                self.in_flight -= 1
            try:
                future.set_result(self._generation(request) if isinstance(request, GenerateRequest)
                                  else self._score(request))
            except Exception as e:  # noqa: BLE001 - handed to the caller, as a real backend does
                future.set_exception(e)

        threading.Thread(target=answer, daemon=True).start()
        return future
