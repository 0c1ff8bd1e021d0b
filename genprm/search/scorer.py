"""The verifier behind a small scoring interface: step scores of (problem, steps) pairs, with no work done twice.

Search verifies many solutions that share their first steps (a beam's children, a refined solution's kept steps).
Two memos keep that cheap while using only the verifier's public API:
  - results per (problem, steps): a prefix proposed twice is verified once;
  - the verifier's backend answers per request (`MemoBackend`): verifying a prefix re-asks the questions about
    its earlier steps, and with one critique per step (greedy) or seeds that depend on the problem only, those
    requests are identical to the ones asked for the parent prefix, so they are answered from the memo and only
    the new step costs model work. The hf backend's prefix cache then encodes only the new step's turn.
Tokens are counted on real backend calls only, so they measure the work done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genprm.backends.base import Backend, GenerateRequest, Generation, ScoreRequest
from genprm.search.problems import Problem
from genprm.types import Solution, VerificationResult
from genprm.verifier import Verifier


class MemoBackend:
    """A `Backend` that answers a request it has seen before from memory and counts the work of the others.

    Requests are frozen dataclasses, so a request is its own key. A sampled request without a seed is never
    memoised (its answer is not a function of the request).
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.generated_tokens = 0
        self.verdicts = 0
        self._generations: dict[GenerateRequest, Generation] = {}
        self._scores: dict[ScoreRequest, dict[str, float]] = {}

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.inner.chat(messages, add_generation_prompt)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        # Each unseeded sample is its own call; the others are asked once, and only when not seen before.
        fresh = [i for i, r in enumerate(requests) if not _memoisable(r)]
        todo = list(dict.fromkeys(r for r in requests if _memoisable(r) and r not in self._generations))
        outs = self.inner.generate([*todo, *(requests[i] for i in fresh)]) if todo or fresh else []
        self.generated_tokens += sum(o.num_tokens for o in outs)
        self._generations.update(zip(todo, outs, strict=False))
        answers = dict(zip(fresh, outs[len(todo):], strict=True))
        return [answers[i] if i in answers else self._generations[r] for i, r in enumerate(requests)]

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        todo = list(dict.fromkeys(r for r in requests if r not in self._scores))
        outs = self.inner.score(todo) if todo else []
        self.verdicts += len(todo)
        self._scores.update(zip(todo, outs, strict=True))
        return [self._scores[r] for r in requests]

    def forget(self) -> None:
        self._generations.clear()
        self._scores.clear()

    def close(self) -> None:
        self.forget()

    def __getattr__(self, name: str) -> Any:  # e.g. the verifier reads `score_source`
        return getattr(self.inner, name)


class StepScorer:
    """Verifies partial or whole solutions of problems; memoised per (problem, steps).

    Args:
        verifier: any `Verifier`; the scorer builds its own `Verifier` over a `MemoBackend` of the same backend
            and config (the given one is left as it is).
    """

    def __init__(self, verifier: Verifier) -> None:
        self.backend = MemoBackend(verifier.backend)
        self.verifier = Verifier(self.backend, verifier.config)
        self.protocol = self.verifier.protocol
        self._results: dict[tuple[str, tuple[str, ...]], VerificationResult] = {}
        self.tokens: dict[str, int] = {}
        self.verdicts: dict[str, int] = {}

    @property
    def name(self) -> str:
        return self.backend.name

    def verify(self, problem: Problem, solutions: Sequence[Sequence[str]]) -> list[VerificationResult]:
        """Verify each list of steps of `problem` (in one verifier batch); the work is added to `tokens[id]`."""
        keys = [(problem.id, tuple(steps)) for steps in solutions]
        todo = list(dict.fromkeys(k for k in keys if k not in self._results))
        tokens, verdicts = self.backend.generated_tokens, self.backend.verdicts
        # One id for every prefix of a problem: sampled critiques draw the same seeds for the same earlier steps.
        results = self.verifier.verify_many(Solution(problem=problem.problem, steps=steps, id=problem.id)
                                            for _, steps in todo)
        self._results.update(zip(todo, results, strict=True))
        self.tokens[problem.id] = self.tokens.get(problem.id, 0) + self.backend.generated_tokens - tokens
        self.verdicts[problem.id] = self.verdicts.get(problem.id, 0) + self.backend.verdicts - verdicts
        return [self._results[k] for k in keys]

    def critique(self, result: VerificationResult, index: int) -> str:
        """What the verifier wrote about step `index`, with the verdict it gave."""
        return self.protocol.critique(result, index)

    def forget(self, problem_ids: Sequence[str]) -> None:
        """Drop the memos (after a batch of problems is written)."""
        self._results = {k: v for k, v in self._results.items() if k[0] not in set(problem_ids)}
        self.backend.forget()
        for pid in problem_ids:
            self.tokens.pop(pid, None)
            self.verdicts.pop(pid, None)

    def close(self) -> None:
        self.verifier.close_sandbox()
        self.backend.forget()


def _memoisable(request: GenerateRequest) -> bool:
    """Whether the answer is a function of the request: greedy, or sampled with a seed."""
    return request.temperature == 0 or request.seed is not None
