"""GenPRM's flow, as its authors run it (github.com/RyanLiu112/GenPRM, `genprm_inference.py` and `prm_evaluate.py`).

The dialogue: a system prompt; the first user turn is the problem, a newline and paragraph 1; each later paragraph is
a user turn, and the verifier's earlier judgements are the assistant turns. The prompt for paragraph k is that
dialogue rendered *open at the end of the last user turn* (their `build_prompt`: the chat template without the
generation prompt, the end-of-turn token cut off), followed directly by a forced stage opening:

1. analyze (`--mode critique` and `code`): `<analyze>` ... `step by step: `, generated until `</analyze>\\n`;
2. verify (`--mode code`): `<verify>` ... ```` ```python ````, generated until the code block closes (`\\n```\\n`)
   or `</output>\\n`; a closed block runs in the solution's sandbox session (one namespace for all its paragraphs,
   as their executor keeps) and `[Code Output]` with its output is appended; at most `max_rounds` generations;
3. output: past the rounds or the token budget, the analysis alone is kept and `<output>` ... `$\\boxed` is forced
   (a short generation); `--mode direct` starts here, with the direct system prompt.

The step's score is P(Yes) / (P(Yes) + P(No)) at the verdict token after `\\boxed{`, read by one 1-token score
request (their code reads the same logprobs from the sampled output). Their vLLM V0 engine reports logprobs after
the sampling temperature, so the logprobs are divided by it. No `Yes}`/`No}` in the output: 0.5, as theirs.
Every word of text comes from the template (`prompts/genprm.jinja`).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest
from genprm.protocols.chain import Chain, ChainInput, Request, RunCode, StepTrace, mean_scores, render_open
from genprm.protocols.template import VerificationProtocol
from genprm.scoring import verdict_score
from genprm.types import CodeRun, VerificationResult

VARIABLES = ("analyze_stop", "analyze_close", "code_stop", "output_stop", "verify_close", "code_pattern",
             "verdict_pattern", "positive", "negative", "max_rounds", "fallback_tokens")
combine = mean_scores


def macros(module: Any) -> tuple[str, ...]:
    return ("system", "paragraph_turn", "analyze_open", "verify_open", "output_open", "code_output",
            "executor_output", "no_execute_output")


def chain(x: ChainInput) -> Chain:
    p, steps = x.protocol, x.steps
    messages = [{"role": "system", "content": p.text("system", x.config.mode)}]
    traces = []
    for k in range(len(steps)):
        messages.append({"role": "user", "content": p.text("paragraph_turn", x.solution.problem, steps, k)})
        trace = yield from _judge_paragraph(x, render_open(x.render, messages), k)
        messages.append({"role": "assistant", "content": trace.critique})
        traces.append(trace)
    return traces


def _judge_paragraph(x: ChainInput, prompt: str, k: int) -> Generator[Request, Any, StepTrace]:
    p, mode = x.protocol, x.config.mode
    analyze, verify = mode in ("critique", "code"), mode == "code"
    execute = verify
    t, budget, seed = x.temperature(), x.max_tokens(), x.seed + k
    analyze_open, verify_open, output_open = (p.text(m, k + 1) for m in ("analyze_open", "verify_open",
                                                                        "output_open"))
    runs: list[CodeRun] = []
    analysis, used, forced = "", 0, False
    if analyze:
        out: Generation = yield GenerateRequest(prompt + analyze_open, budget, (p.analyze_stop,), t, seed)
        analysis, used = out.text, out.num_tokens
        text = analyze_open + analysis + (verify_open if verify else output_open)
    else:
        text = verify_open if verify else output_open
    used += _estimate_tokens(text) - _estimate_tokens(analysis)
    rounds, fallbacks = 0, 0
    while True:
        left = budget - used
        if left > 0 and rounds < p.max_rounds:
            stops = (p.code_stop, p.output_stop) if verify and execute else (p.output_stop,)
            out = yield GenerateRequest(prompt + text, left, stops, t, seed + rounds + 1)
        else:
            # Out of rounds or tokens: keep the analysis (or close the verification) and force the verdict.
            if analyze:
                text = analyze_open + analysis.split(p.analyze_close)[0] + p.analyze_stop + output_open
            else:
                text = text + p.verify_close + output_open
            forced, fallbacks = True, fallbacks + 1
            out = yield GenerateRequest(prompt + text, p.fallback_tokens, (p.output_stop,), t, seed + rounds + 1)
        rounds += 1
        used += out.num_tokens
        if out.text.endswith(p.output_stop) or fallbacks > 1:
            # (Their loop would retry a forced verdict that never closes forever; one retry is enough.)
            final = out.text
            break
        if execute:
            code = re.findall(p.code_pattern, text + out.text, flags=re.DOTALL)
            run: CodeRun = (yield RunCode(code[-1].strip())) if code else CodeRun("", "no_code", "")
            if code:
                runs.append(run)
            addition = p.text("code_output", p.text("executor_output", run.status, run.stdout, _error_line(run)))
        else:
            addition = p.text("no_execute_output")
        text += out.text + addition
        used += _estimate_tokens(addition)
    critique = text + final
    match = re.search(p.verdict_pattern, final, flags=re.IGNORECASE)
    if match is None:
        return StepTrace(critique=critique, score=0.5, code_runs=runs, forced=forced)
    logprobs: dict[str, float] = yield ScoreRequest(prompt + text + final[: match.start()], (p.positive, p.negative))
    scale = t if t > 0 else 1.0
    score = verdict_score(logprobs[p.positive] / scale, logprobs[p.negative] / scale)
    return StepTrace(critique=critique, score=score, code_runs=runs, forced=forced)


def _error_line(run: CodeRun) -> str:
    """`Type: message` of a failed run, as Python's `f"{type(e).__name__}: {e}"` shows it."""
    lines = run.stderr.strip().splitlines()
    last = lines[-1] if lines else run.status
    return last if ": " in last else f"{last}: "


def _estimate_tokens(text: str) -> int:
    """Tokens of text the verifier inserted (openings, code outputs); generated text is counted exactly."""
    return (len(text) + 3) // 4


def critique(p: VerificationProtocol, result: VerificationResult, index: int) -> str:
    """The paragraph's transcript: analysis, verification (code and its output) and the boxed verdict."""
    return result.steps[index].critique.strip()
