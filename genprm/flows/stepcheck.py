"""genprm's own few-shot formats (`stepcheck`, `stepcheck-onepass`, and users' templates that set `kind`).

`kind = "per_step"`: a user turn per step, answered by a critique that ends in the verdict question; the next step's
turn follows the critique and its likelier verdict word. `kind = "one_pass"`: one turn with the whole solution and
one critique with a verdict per step. Either way a critique may open a code block, which the sandbox runs and
whose output is appended before the critique goes on; past the token budget the verdict question is forced.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest
from genprm.flows.base import Chain, ChainInput, Request, RunCode, StepTrace, mean_scores, output_for_prompt
from genprm.scoring import verdict_score
from genprm.types import CodeRun

VARIABLES = ("kind", "verdict_prefix", "positive", "negative", "verdict_suffix", "code_open", "code_close")
KINDS = {"per_step": ("preamble", "step_turn", "code_output", "forced_verdict"),
         "one_pass": ("preamble", "solution_turn", "code_output", "forced_verdict")}
combine = mean_scores


def macros(module: Any) -> tuple[str, ...]:
    return KINDS.get(getattr(module, "kind", ""), ())


def chain(x: ChainInput) -> Chain:
    if x.protocol.kind == "per_step":
        return _per_step(x)
    return _one_pass(x)


def _per_step(x: ChainInput) -> Chain:
    p, steps = x.protocol, x.steps
    messages = p.preamble()
    traces = []
    for k in range(len(steps)):
        messages += p.step_turn(x.solution.problem, steps, k)
        trace = yield from _judge_step(x, x.render(messages), k, x.seed + k)
        messages.append({"role": "assistant", "content": trace.critique + _verdict_word(x, trace.score)})
        traces.append(trace)
    return traces


def _one_pass(x: ChainInput) -> Chain:
    p, steps = x.protocol, x.steps
    prompt = x.render(p.preamble() + p.solution_turn(x.solution.problem, steps))
    traces = []
    for k in range(len(steps)):
        trace = yield from _judge_step(x, prompt, k, x.seed + k)
        prompt += trace.critique + _verdict_word(x, trace.score)
        traces.append(trace)
    return traces


def _judge_step(x: ChainInput, prompt: str, k: int, seed: int) -> Generator[Request, Any, StepTrace]:
    """Critique step k (running its code blocks) until the verdict prefix, then score the verdict token."""
    cfg, p = x.config, x.protocol
    temperature = x.temperature()
    text, runs, forced, budget = "", [], False, x.max_tokens()
    if cfg.mode == "direct":
        text = p.forced_verdict(k).lstrip("\n")
    while cfg.mode != "direct":
        code_allowed = cfg.mode == "code" and len(runs) < cfg.max_code_blocks
        stops = (p.verdict_prefix, p.code_open) if code_allowed else (p.verdict_prefix,)
        out: Generation = yield GenerateRequest(prompt + text, budget, stops, temperature, seed + len(text))
        text, budget = text + out.text, budget - out.num_tokens
        if out.stop == p.verdict_prefix:
            break
        if out.stop == p.code_open and budget > 0:
            # The model opened a code block: let it write the block, run it, show it the output.
            block: Generation = yield GenerateRequest(prompt + text, budget, (p.code_close,), temperature, seed)
            text, budget = text + block.text, budget - block.num_tokens
            if block.stop == p.code_close:
                run: CodeRun = yield RunCode(block.text[: -len(p.code_close)].strip("\n"))
                runs.append(run)
                text += p.code_output(output_for_prompt(run), run.status)
                continue
        # Out of tokens, or the turn ended without a verdict: ask the verdict question ourselves.
        text, forced = text + p.forced_verdict(k), True
        break
    logprobs: dict[str, float] = yield ScoreRequest(prompt + text, (p.positive, p.negative))
    score = verdict_score(logprobs[p.positive], logprobs[p.negative])
    return StepTrace(critique=text, score=score, code_runs=runs, forced=forced)


def _verdict_word(x: ChainInput, score: float) -> str:
    """What the transcript continues with after a scored verdict: the likelier word (and the suffix)."""
    p = x.protocol
    return (p.positive if score >= 0.5 else p.negative) + p.verdict_suffix
