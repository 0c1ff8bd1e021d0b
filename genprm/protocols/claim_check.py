"""`--claim-check`: the code's evidence beside the model's verdict, for any protocol and mode.

One extra chain per solution recomputes every claim each step states with SymPy in the sandbox
(`genprm.claims`); the driver runs it beside the model's chains, batched with them. Combined after the model's
samples: a step with a refuted claim scores 0, whatever the model said; every other step keeps the model's
score. The model's own transcript is untouched, so this is the combination `genprm distill eval --claim-check`
scores offline.
"""

from __future__ import annotations

from collections.abc import Sequence

from genprm.claims import judge, plan_check
from genprm.protocols.chain import Chain, ChainInput, RunCode, StepTrace
from genprm.types import CodeRun


def chain(x: ChainInput) -> Chain:
    """One trace per step: score 0 with the reason when a claim is refuted, else 1. The critique note says how many
    claims SymPy checked and refuted (the results carry them there, not in new fields)."""
    traces = []
    for k in range(len(x.steps)):
        plan = plan_check(x.solution.problem, x.steps, k)
        if not plan.code:
            traces.append(StepTrace(critique="", score=1.0))
            continue
        run: CodeRun = yield RunCode(plan.code)
        judged = judge(plan, run.stdout, run.status)
        counts = f"claims checked {judged.checked}, refuted {judged.refuted}"
        note = f"Claim check: {judged.reason}. ({counts})" if not judged.ok else \
            f"Claim check: {counts}." if judged.checked else ""
        traces.append(StepTrace(critique=note, score=float(judged.ok), code_runs=[run]))
    return traces


def combine(scores: Sequence[float], checks: Sequence[StepTrace]) -> list[float]:
    """The model's step scores with every refuted step set to 0."""
    return [score if check.score > 0 else 0.0 for score, check in zip(scores, checks, strict=True)]
