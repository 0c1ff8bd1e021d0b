"""The verifier behind a small scoring interface: step scores of (problem, steps) pairs, with no work done twice.

Search verifies many solutions that share their first steps (a beam's children, a refined solution's kept steps).
Two memos keep that cheap while using only the verifier's public API:
  - results per (problem, steps): a prefix proposed twice is verified once;
  - the verifier's backend answers per request (`genprm.backends.recorded`, memo on): verifying a prefix
    re-asks the questions about its earlier steps, and with one critique per step (greedy) or seeds that depend
    on the problem only, those requests are identical to the ones asked for the parent prefix, so they are
    answered from the memo and only the new step costs model work. The hf backend's prefix cache then encodes
    only the new step's turn.
Tokens are counted on real backend calls only, so they measure the work done.
"""

from __future__ import annotations

from collections.abc import Sequence

from genprm.backends.recorded import record
from genprm.search.problems import Problem
from genprm.types import Solution, VerificationResult
from genprm.verifier import Verifier


class StepScorer:
    """Verifies partial or whole solutions of problems; memoised per (problem, steps).

    Args:
        verifier: any `Verifier`; the scorer builds its own `Verifier` over a memoising `RecordedBackend` of the
            same backend and config (the given one is left as it is).
    """

    def __init__(self, verifier: Verifier) -> None:
        self.backend = record(verifier.backend, memo=True)
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
        tokens, verdicts = self.backend.generated_tokens, self._verdicts()
        # One id for every prefix of a problem: sampled critiques draw the same seeds for the same earlier steps.
        results = self.verifier.verify_many(Solution(problem=problem.problem, steps=steps, id=problem.id)
                                            for _, steps in todo)
        self._results.update(zip(todo, results, strict=True))
        self.tokens[problem.id] = self.tokens.get(problem.id, 0) + self.backend.generated_tokens - tokens
        self.verdicts[problem.id] = self.verdicts.get(problem.id, 0) + self._verdicts() - verdicts
        return [self._results[k] for k in keys]

    def _verdicts(self) -> int:
        """Steps the model scored: verdict scores, or forward passes read at step marks (discriminative PRMs)."""
        return self.backend.verdicts + self.backend.reads

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
