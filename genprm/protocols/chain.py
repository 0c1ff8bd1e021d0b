"""What every flow shares: the requests a chain yields, what it returns, and the sampling defaults it reads.

A *flow* is how a protocol talks to the model, written as a generator that reads top to bottom like the protocol
itself. It yields `GenerateRequest`, `ScoreRequest`, `ReadRequest` or `RunCode` and gets back a `Generation`, a
{candidate: logprob} dict, the logprobs read at each mark or a `CodeRun`; it returns one `StepTrace` per step.
The verifier's driver batches those requests across chains without knowing which flow made them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genprm.backends.base import GenerateRequest, ReadRequest, ScoreRequest
from genprm.types import CodeRun

if TYPE_CHECKING:
    from genprm.config import VerifierConfig
    from genprm.protocols.template import VerificationProtocol
    from genprm.types import Solution

# Code output longer than this is cut before it goes back into the prompt: the model needs the answer, not pages.
MAX_OUTPUT_IN_PROMPT = 1500

Render = Callable[..., str]
"""The backend's `chat(messages, add_generation_prompt=True)`: messages -> prompt text."""


@dataclass(frozen=True)
class RunCode:
    """A chain's request to run one code block in its sandbox session (one session per chain, kept across steps)."""

    code: str


Request = GenerateRequest | ScoreRequest | ReadRequest | RunCode


@dataclass
class StepTrace:
    """One sample's judgement of one step.

    `vote` is set by flows whose samples are combined by majority vote (the ProcessBench critic): the sample's
    answer, which the flow's `combine` turns into step scores.
    """

    critique: str
    score: float
    code_runs: list[CodeRun] = field(default_factory=list)
    forced: bool = False
    vote: str | None = None


Chain = Generator[Request, Any, list[StepTrace]]


@dataclass(frozen=True)
class ChainInput:
    """What a flow gets to verify one sample of one solution."""

    protocol: VerificationProtocol
    solution: Solution
    render: Render
    config: VerifierConfig
    seed: int

    @property
    def steps(self) -> list[str]:
        return list(self.solution.steps)

    def temperature(self) -> float:
        """The sampling temperature: `--temperature`, else the protocol's; a protocol that samples only when
        several samples are drawn (`sample_single = false`) decodes one sample greedily."""
        p, cfg = self.protocol, self.config
        t = cfg.temperature if cfg.temperature is not None else float(p.var("temperature", 0.7))
        return t if cfg.samples > 1 or p.var("sample_single", False) else 0.0

    def max_tokens(self) -> int:
        """The token budget: `--max-tokens`, else the protocol's."""
        return self.config.max_tokens if self.config.max_tokens is not None else int(self.protocol.var("max_tokens",
                                                                                                        256))


def mean_scores(samples: Sequence[Sequence[StepTrace]]) -> list[float]:
    """Per-step scores of several samples: their mean (parallel scaling)."""
    n_steps = len(samples[0])
    return [sum(traces[k].score for traces in samples) / len(samples) for k in range(n_steps)]


def output_for_prompt(run: CodeRun) -> str:
    """What the model sees of a run: its stdout, or the last lines of the error."""
    out = run.stdout
    if run.status != "ok":
        tail = "\n".join(run.stderr.strip().splitlines()[-3:])
        out = (out + "\n" + tail).strip() if tail else out
    if len(out) > MAX_OUTPUT_IN_PROMPT:
        out = out[:MAX_OUTPUT_IN_PROMPT] + "\n... (output cut)"
    return out.rstrip("\n")


_OPEN_TURN = "\x00genprm:open-turn\x00"


def render_open(render: Render, messages: list[dict[str, str]]) -> str:
    """The dialogue rendered by the chat template and left open at the end of its last turn, with no end-of-turn
    token and no generation prompt (what a template renders before its end-of-turn marker)."""
    last = {**messages[-1], "content": messages[-1]["content"] + _OPEN_TURN}
    text = render([*messages[:-1], last], add_generation_prompt=False)
    return text[: text.rindex(_OPEN_TURN)]
