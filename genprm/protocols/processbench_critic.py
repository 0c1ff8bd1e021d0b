"""The ProcessBench critic (github.com/QwenLM/ProcessBench, `code/templates/critique_template.txt`,
`code/run_eval.py`): how the ProcessBench paper evaluates an instruct model as a critic.

One user turn shows the paragraphs as `<paragraph_i>` tags indexed from 0 and asks for the index of the earliest
wrong one (-1 when none) in `\\boxed{}`; the model answers once (greedy; `--samples N` samples N answers at the
template's temperature). A sample's prediction is its last boxed answer; several samples take the most common
prediction (ties: the one seen first, as `Counter.most_common`).

Step scores are derived from the prediction p: steps before p score 1, step p and the steps after it 0 (the critic
judged nothing past the first error); p = -1 scores every step 1; no boxed integer (or an index past the last step)
scores every step 0.5, so `first_error` is p and nothing is claimed without an answer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from genprm.backends.base import GenerateRequest, Generation
from genprm.protocols.chain import Chain, ChainInput, StepTrace
from genprm.protocols.template import VerificationProtocol
from genprm.types import VerificationResult

VARIABLES = ("answer_pattern",)


def macros(module: Any) -> tuple[str, ...]:
    return ("user_turn",)


def chain(x: ChainInput) -> Chain:
    p, n = x.protocol, len(x.solution.steps)
    prompt = x.render([{"role": "user", "content": p.text("user_turn", x.solution.problem, x.steps)}])
    out: Generation = yield GenerateRequest(prompt, x.max_tokens(), (), x.temperature(), x.seed)
    answers = re.findall(p.answer_pattern, out.text)
    vote = answers[-1].strip() if answers else None
    scores = step_scores(_as_index(vote), n)
    return [StepTrace(critique=out.text if k == 0 else "", score=scores[k], forced=vote is None, vote=vote)
            for k in range(n)]


def combine(samples: Sequence[Sequence[StepTrace]]) -> list[float]:
    votes = [traces[0].vote for traces in samples if traces and traces[0].vote is not None]
    winner = Counter(votes).most_common(1)[0][0] if votes else None
    return step_scores(_as_index(winner), len(samples[0]))


def step_scores(prediction: int | None, n: int) -> list[float]:
    """Scores of n steps from the predicted index of the earliest error (see the module docstring)."""
    if prediction is None or not -1 <= prediction < n:
        return [0.5] * n
    if prediction == -1:
        return [1.0] * n
    return [1.0] * prediction + [0.0] * (n - prediction)


def _as_index(answer: str | None) -> int | None:
    try:
        return int(answer) if answer is not None else None
    except ValueError:
        return None


def critique(p: VerificationProtocol, result: VerificationResult, index: int) -> str:
    """The critic judges the whole solution at once: its answer (kept with the first step) names the earliest wrong
    paragraph, whichever step is asked about."""
    return result.steps[0].critique.strip()
