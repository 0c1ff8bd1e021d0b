"""Learned verdicts combined with the code's evidence offline: `--claim-check` applied to results already scored.

The check is the flow's own (`genprm.protocols.claim_check`): its chain plans and judges each step's claims,
and its `combine` sets a refuted step to 0. Here the chains are driven without a model: every chain's pending code
block runs in one sandbox batch per round, so a whole evaluation set costs a few batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from genprm.config import VerifierConfig
from genprm.protocols import claim_check
from genprm.protocols.chain import Chain, ChainInput, RunCode, StepTrace
from genprm.types import CodeRun, Solution, VerificationResult


def with_code_evidence(results: Sequence[VerificationResult], sandbox: Any) -> list[VerificationResult]:
    """The learned verdicts combined with the code's evidence, as `--claim-check` combines them at verification
    time: a step with a claim the SymPy check refutes (run in `sandbox`) scores 0; every other step keeps the
    model's score. The reward is re-aggregated with min."""
    checks = run_checks([claim_check.chain(_check_input(r.solution)) for r in results], sandbox)
    out = []
    for r, traces in zip(results, checks, strict=True):
        scores = claim_check.combine(r.step_scores, traces)
        steps = tuple(dataclasses.replace(v, score=score, verdict=v.verdict and t.score > 0)
                      for v, score, t in zip(r.steps, scores, traces, strict=True))
        out.append(dataclasses.replace(r, steps=steps, reward=min((v.score for v in steps), default=r.reward),
                                       aggregation="min"))
    return out


def run_checks(chains: Sequence[Chain], sandbox: Any) -> list[list[StepTrace]]:
    """Drive chains that ask only for code runs to their end; each round runs every chain's pending block together
    (`sandbox.run_many`). Returns each chain's traces, in order."""
    traces: list[list[StepTrace] | None] = [None] * len(chains)
    pending: dict[int, RunCode] = {}

    def advance(i: int, answer: CodeRun | None) -> None:
        try:
            request = chains[i].send(answer)  # type: ignore[arg-type]  # None starts the generator
        except StopIteration as done:
            traces[i] = done.value
            return
        if not isinstance(request, RunCode):
            raise TypeError(f"a check chain asked for {type(request).__name__}; only code runs can be answered here")
        pending[i] = request

    for i in range(len(chains)):
        advance(i, None)
    while pending:
        asked, pending = pending, {}
        runs = sandbox.run_many([request.code for request in asked.values()])
        for (i, request), run in zip(asked.items(), runs, strict=True):
            advance(i, CodeRun(code=request.code, status=run.status, stdout=run.stdout, stderr=run.stderr,
                               wall_s=run.wall_s))
    return traces  # type: ignore[return-value]  # every chain has returned


def _check_input(solution: Solution) -> ChainInput:
    # The check reads the solution only: no protocol renders or samples here.
    return ChainInput(protocol=None, solution=solution, render=None,  # type: ignore[arg-type]
                      config=VerifierConfig(), seed=0)
