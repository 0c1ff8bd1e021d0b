"""The review queue: the scored solutions as the page shows them, in the order that saves a person time.

The rule (also said on the page):
    1. solutions where the final-answer check and the verifier disagree come first: the final answer is right
       (`outcome`, else the last answer math-verify finds in the steps checked against `answer`) but the verifier
       flags a step, or the answer is wrong and the verifier flags none;
    2. then by how sure the verifier is of its least-sure step: the step score closest to the threshold first;
    3. ties keep the scored file's order.
Inside a solution the steps stay in order (a step is judged after the ones it builds on); the least-sure one is
marked, and the cursor starts on the first step not yet labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genprm.types import VerificationResult

RULE = ("Order: solutions where the final-answer check and the verifier disagree (⚠) come first; then by the "
        "verifier's least-sure step (◆: the score closest to the threshold; the number in the list is that "
        "distance), least sure first; ties keep the file's order. Steps stay in reading order.")


def answer_check(result: VerificationResult) -> bool | None:
    """Is the final answer right? The solution's `outcome` when known, else math-verify's comparison of the last
    answer in the steps with `answer`; None when there is nothing to check against."""
    solution = result.solution
    if solution.outcome is not None:
        return bool(solution.outcome)
    if not solution.answer:
        return None
    from math_verify import parse, verify  # slow to import; only files without `outcome` need it

    from genprm.eval.rerank import final_answer

    found = final_answer(solution.steps, parse)
    return found is not None and bool(verify(parse(solution.answer), found))


def dataset_of(result: VerificationResult, path: str | Path) -> str:
    meta = result.solution.meta
    for key in ("dataset", "source", "subset", "classification"):
        if meta.get(key):
            return str(meta[key])
    return Path(path).name.removesuffix(".jsonl").removesuffix(".scored")


def item(result: VerificationResult, path: str | Path) -> dict[str, Any]:
    """One solution as the page needs it: steps with score, verdict, critique, code runs; the answer check."""
    check = answer_check(result)
    says_right = result.first_error < 0
    margins = [abs(s.score - result.threshold) for s in result.steps]
    steps = []
    for s in result.steps:
        model_score = s.sample_scores[0] if len(s.sample_scores) == 1 else None
        steps.append({"index": s.index, "text": s.text, "score": s.score, "verdict": s.verdict,
                      "critique": s.critique, "forced": s.forced,
                      # the claim check sets a refuted step to 0 whatever the model said: show both
                      "model_score": model_score if model_score is not None and model_score != s.score else None,
                      "code_runs": [{"code": r.code, "status": r.status, "stdout": r.stdout, "stderr": r.stderr}
                                    for r in s.code_runs]})
    return {"id": result.id, "problem": result.solution.problem, "steps": steps, "threshold": result.threshold,
            "reward": result.reward, "first_error": result.first_error, "model": result.model,
            "protocol": result.protocol, "mode": result.mode, "dataset": dataset_of(result, path),
            "answer": result.solution.answer, "answer_check": check,
            "disagree": check is not None and check != says_right, "margin": min(margins) if margins else 1.0,
            "least_sure": min(range(len(margins)), key=margins.__getitem__) if margins else 0}


def ordered(results: Sequence[VerificationResult], path: str | Path) -> list[dict[str, Any]]:
    """The page's items in review order (see RULE)."""
    items = [item(r, path) for r in results]
    order = sorted(range(len(items)), key=lambda i: (not items[i]["disagree"], items[i]["margin"], i))
    return [items[i] for i in order]
