"""ThinkPRM's flow, as its authors run it (github.com/mukhal/ThinkPRM, `utils/helper.py`
`format_verification_cot_for_thinkprm` and `prm/thinkprm_api.py` `APIThinkPRMVerifier`).

One user turn holds the instruction with the problem and the `Step i:` paragraphs; the assistant turn is opened with
`\\nLet's verify step by step:` and the model writes one verification chain, stopped at `Is the solution correct?`,
`</think>` or the label of a step that does not exist (`Step {n+1}:`); the end-of-turn token stops it as well. Stop
strings are cut from the chain, as SGLang does. With `--thinking-rounds N` the chain is continued N-1 times after a
"double check" trigger phrase (sequential scaling). Then `\\nIs the solution correct? ` is appended and the decision
is scored over yes/no at the decision temperature: softmax(logprobs / T)[yes].

Step scores: each step's last `\\boxed{correct|incorrect}` in the chain, scored as P(correct) / (P(correct) +
P(incorrect)) by a 1-token request right after `\\boxed{`; a step the chain gives no verdict gets the decision score.
`--samples N` draws N chains and averages (parallel scaling). Every word comes from `prompts/thinkprm.jinja`.
"""

from __future__ import annotations

import re
from typing import Any

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest
from genprm.protocols.chain import Chain, ChainInput, StepTrace, mean_scores
from genprm.protocols.template import VerificationProtocol
from genprm.scoring import verdict_score
from genprm.types import VerificationResult

VARIABLES = ("opening", "stops", "step_label_pattern", "predecision", "yes", "no", "decision_temperature",
             "trigger_phrases", "verdict_pattern", "positive", "negative")
combine = mean_scores


def macros(module: Any) -> tuple[str, ...]:
    return ("user_turn", "step_stop")


def chain(x: ChainInput) -> Chain:
    p, steps = x.protocol, x.steps
    prompt = x.render([{"role": "user", "content": p.text("user_turn", x.solution.problem, steps)}]) + p.opening
    # The authors stop at the label after the highest one in the prompt, compared as strings (as they do).
    labels = re.findall(p.step_label_pattern, prompt)
    stops = (*p.stops, p.text("step_stop", int(max(labels)) + 1 if labels else 2))
    t, budget = x.temperature(), x.max_tokens()
    rounds = max(1, x.config.thinking_rounds)
    chain_text = ""
    for r in range(rounds):
        out: Generation = yield GenerateRequest(prompt + chain_text, budget, stops, t, x.seed + r)
        chain_text += out.text[: -len(out.stop)] if out.stop else out.text
        if r < rounds - 1:
            chain_text += p.trigger_phrases[r % len(p.trigger_phrases)]
    decision_prompt = prompt + chain_text + p.predecision
    logprobs: dict[str, float] = yield ScoreRequest(decision_prompt, (p.yes, p.no))
    td = float(p.decision_temperature)
    decision = verdict_score(logprobs[p.yes] / td, logprobs[p.no] / td)

    # Each step's last verdict in the chain (a later round may revise an earlier one).
    verdict_at: dict[int, int] = {}
    labels_in_chain = [(m.start(), int(m.group(1))) for m in re.finditer(p.step_label_pattern, chain_text)]
    for m in re.finditer(p.verdict_pattern, chain_text):
        owner = [n for pos, n in labels_in_chain if pos < m.start()]
        if owner and 1 <= owner[-1] <= len(steps):
            verdict_at[owner[-1] - 1] = m.start(1)  # right after "\boxed{"
    scores: dict[int, float] = {}
    for k, at in sorted(verdict_at.items()):
        lp: dict[str, float] = yield ScoreRequest(prompt + chain_text[:at], (p.positive, p.negative))
        scores[k] = verdict_score(lp[p.positive], lp[p.negative])
    cuts = sorted({*(_verdict_end(chain_text, at) for at in verdict_at.values())})
    critiques = _segments(chain_text + p.predecision + (p.yes if decision >= 0.5 else p.no), cuts, len(steps))
    return [StepTrace(critique=critiques[k], score=scores.get(k, decision), forced=k not in scores)
            for k in range(len(steps))]


def _verdict_end(text: str, at: int) -> int:
    close = text.find("}", at)
    return close + 1 if close >= 0 else at


def _segments(text: str, cuts: list[int], n: int) -> list[str]:
    """The chain cut after each verdict: step k's critique is the text up to its verdict; the last step gets the
    rest (the decision included)."""
    bounds = [0, *cuts[: n - 1], len(text)]
    parts = [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return parts + [""] * (n - len(parts))


def critique(p: VerificationProtocol, result: VerificationResult, index: int) -> str:
    """The chain's part about the step, up to its boxed verdict (the last step's part holds the decision)."""
    return result.steps[index].critique.strip()
