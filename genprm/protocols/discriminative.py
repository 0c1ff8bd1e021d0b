"""Discriminative PRMs: no generation, one forward pass per solution, a score read at each step.

The template (`qwen-prm`, `math-shepherd`, `rlhflow`, `token-classification`, or a user's) renders the whole
solution in its authors' format with two sentinels the module removes: `mark` where a step's score is read (the
backend reads the token holding the character just before it) and `brk` where the authors tokenize the text in
separate calls (TRL's PRMTrainer does; the others tokenize one string). With `input = "chat"` the macro returns
"<<<role>>>" messages, rendered by the model's own chat template first.

What is read at each mark: with `candidates = [positive, negative]`, the next-token logprobs of those two tokens,
scored P(positive) / (P(positive) + P(negative)) (a softmax over the two logits); without, the model's
classification head, scored softmax(head)[positive_label].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from genprm.backends.base import ReadRequest
from genprm.errors import ConfigError
from genprm.protocols.chain import Chain, ChainInput, StepTrace, mean_scores
from genprm.protocols.template import VerificationProtocol, parse_messages
from genprm.scoring import verdict_score
from genprm.types import VerificationResult

VARIABLES = ("input", "candidates", "positive_label", "add_special_tokens", "prepend_bos")
INPUTS = ("chat", "text")
# Sentinels: characters no chat template trims and no solution text holds.
MARK = "\x00genprm:read\x00"
BREAK = "\x00genprm:break\x00"
combine = mean_scores  # every sample reads the same logits; kept so --samples behaves as for every protocol


def macros(module: Any) -> tuple[str, ...]:
    if module.input not in INPUTS:
        raise ConfigError("input (in the protocol's template)", "'chat' or 'text'", module.input)
    if len(module.candidates) not in (0, 2):
        raise ConfigError("candidates (in the protocol's template)", "[] (a head) or [positive, negative]",
                          list(module.candidates))
    return ("solution", "step_note")


def reads(p: VerificationProtocol) -> tuple[str, ...]:
    """What the backend reads at each mark: the two candidates' next-token logits, or () for the head."""
    return tuple(p.candidates)


def request(p: VerificationProtocol, problem: str, steps: Sequence[str], render: Any) -> ReadRequest:
    """The one forward pass that scores every step: the authors' text, split where they tokenize apart, and the
    character offsets of the marks."""
    text = p.text("solution", problem, list(steps), MARK, BREAK)
    if p.input == "chat":
        text = render(parse_messages(text), add_generation_prompt=False)
    pieces: list[str] = []
    marks: list[int] = []
    offset = 0
    for raw in text.split(BREAK):
        piece = ""
        for k, part in enumerate(raw.split(MARK)):
            if k:
                marks.append(offset + len(piece))
            piece += part
        pieces.append(piece)
        offset += len(piece)
    if len(marks) != len(steps):
        raise ConfigError("protocol", f"a template that marks each of the {len(steps)} steps once", p.name)
    return ReadRequest(pieces=tuple(piece for piece in pieces if piece), marks=tuple(marks),
                       candidates=tuple(p.candidates), add_special_tokens=bool(p.add_special_tokens),
                       prepend_bos=bool(p.prepend_bos))


def step_score(p: VerificationProtocol, logprobs: Sequence[float]) -> float:
    """The authors' formula for one mark (see the module docstring)."""
    if p.candidates:
        return verdict_score(logprobs[0], logprobs[1])
    return math.exp(logprobs[int(p.positive_label)])


def chain(x: ChainInput) -> Chain:
    p = x.protocol
    read: list[list[float]] = yield request(p, x.solution.problem, x.steps, x.render)
    scores = [step_score(p, at) for at in read]
    return [StepTrace(critique=p.text("step_note", s), score=s) for s in scores]


def critique(p: VerificationProtocol, result: VerificationResult, index: int) -> str:
    """A discriminative PRM writes nothing: its note is the score it gave the step."""
    return result.steps[index].critique.strip()
