"""genprm's own few-shot formats (`stepcheck`, `stepcheck-onepass`, and users' templates that set `kind`).

`kind = "per_step"`: a user turn per step, answered by a critique that ends in the verdict question; the next step's
turn follows the critique and its likelier verdict word. `kind = "one_pass"`: one turn with the whole solution and
one critique with a verdict per step. Either way a critique may open a code block, which the sandbox runs and
whose output is appended before the critique goes on; past the token budget the verdict question is forced.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from genprm.backends.base import GenerateRequest, Generation, ScoreRequest
from genprm.errors import ConfigError
from genprm.protocols.chain import Chain, ChainInput, Request, RunCode, StepTrace, mean_scores, output_for_prompt
from genprm.protocols.template import Message, VerificationProtocol, parse_messages
from genprm.scoring import verdict_score
from genprm.types import CodeRun, VerificationResult

VARIABLES = ("kind", "verdict_prefix", "positive", "negative", "verdict_suffix", "code_open", "code_close")
KINDS = {"per_step": ("preamble", "step_turn", "code_output", "forced_verdict"),
         "one_pass": ("preamble", "solution_turn", "code_output", "forced_verdict")}
combine = mean_scores


def macros(module: Any) -> tuple[str, ...]:
    if module.kind not in KINDS:
        raise ConfigError("kind (in the protocol's template)", "'per_step' or 'one_pass'", module.kind)
    return KINDS[module.kind]


def chain(x: ChainInput) -> Chain:
    if x.protocol.kind == "per_step":
        return _per_step(x)
    return _one_pass(x)


def _per_step(x: ChainInput) -> Chain:
    p, steps = x.protocol, x.steps
    messages = _preamble(p)
    traces = []
    for k in range(len(steps)):
        messages += p.messages("step_turn", x.solution.problem, steps, k)
        trace = yield from _judge_step(x, x.render(messages), k, x.seed + k)
        messages.append({"role": "assistant", "content": trace.critique + _verdict_word(x, trace.score)})
        traces.append(trace)
    return traces


def _one_pass(x: ChainInput) -> Chain:
    p, steps = x.protocol, x.steps
    prompt = x.render(_preamble(p) + p.messages("solution_turn", x.solution.problem, steps))
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
        text = p.text("forced_verdict", k).lstrip("\n")
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
                text += p.text("code_output", output_for_prompt(run), run.status)
                continue
        # Out of tokens, or the turn ended without a verdict: ask the verdict question ourselves.
        text, forced = text + p.text("forced_verdict", k), True
        break
    logprobs: dict[str, float] = yield ScoreRequest(prompt + text, (p.positive, p.negative))
    score = verdict_score(logprobs[p.positive], logprobs[p.negative])
    return StepTrace(critique=text, score=score, code_runs=runs, forced=forced)


def _verdict_word(x: ChainInput, score: float) -> str:
    """What the transcript continues with after a scored verdict: the likelier word (and the suffix)."""
    return verdict_word(x.protocol, score >= 0.5)


def verdict_word(p: VerificationProtocol, ok: bool) -> str:
    return (p.positive if ok else p.negative) + p.verdict_suffix


def _preamble(p: VerificationProtocol) -> list[Message]:
    return parse_messages(p.text("preamble"))


def critique(p: VerificationProtocol, result: VerificationResult, index: int) -> str:
    """The critique as the transcript continued it: the critique, then the verdict word it ended on."""
    step = result.steps[index]
    return (step.critique.strip("\n") + verdict_word(p, step.verdict)).strip()


# -- training text (genprm distill): the same dialogue the per-step chain builds, with the teacher's critiques ----

def training_preamble(p: VerificationProtocol) -> list[Message]:
    return _preamble(p)


def training_dialogue(p: VerificationProtocol, problem: str, steps: Sequence[str],
                      turns: Sequence[Sequence[tuple[str, bool]]]) -> list[Message]:
    """`_per_step`'s messages with each step's critique (and verdict word) given: what the verifier sees and
    writes, turn by turn."""
    if p.kind != "per_step":
        raise ConfigError("protocol", "a per-step protocol (kind 'per_step') to render training dialogues", p.name)
    messages = _preamble(p)
    for k, pieces in enumerate(turns):
        messages += p.messages("step_turn", problem, list(steps), k)
        messages.append({"role": "assistant", "content": "".join(text for text, _ in pieces)})
    return messages
