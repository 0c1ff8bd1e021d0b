"""The data model: what goes into the verifier and what comes out.

All frozen dataclasses; `to_dict()` gives plain JSON-ready dicts and `from_dict()` reads them back, so a scored JSONL
file can be reloaded by `genprm eval` / `genprm report` without the model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Solution:
    """A problem and the solution steps to verify.

    `label` is the gold index of the earliest wrong step (0-based, -1 = all steps correct) where the data has one;
    `step_labels` are per-step gold labels (True = correct, None = unknown); `outcome` is whether the final answer
    is right. The verifier never reads any of the three: they are for evaluation and training.
    """

    problem: str
    steps: tuple[str, ...]
    id: str = ""
    label: int | None = None
    step_labels: tuple[bool | None, ...] | None = None
    answer: str | None = None
    outcome: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = list(self.steps)
        if self.step_labels is not None:
            d["step_labels"] = list(self.step_labels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Solution:
        step_labels = d.get("step_labels")
        return cls(
            problem=d["problem"],
            steps=tuple(d["steps"]),
            id=str(d.get("id", "")),
            label=d.get("label"),
            step_labels=tuple(step_labels) if step_labels is not None else None,
            answer=d.get("answer"),
            outcome=d.get("outcome"),
            meta=dict(d.get("meta") or {}),
        )


@dataclass(frozen=True)
class CodeRun:
    """One code block the verifier wrote and the sandbox ran."""

    code: str
    status: str  # the sandbox's status: ok | error | timeout | memory | output_limit | killed
    stdout: str
    stderr: str = ""
    wall_s: float = 0.0


@dataclass(frozen=True)
class StepVerdict:
    """The verifier's judgement of one step.

    `score` is P(positive) / (P(positive) + P(negative)) at the verdict position, averaged over samples;
    `verdict` is the thresholded score. `critique` and `code_runs` are from the first sample; `sample_scores` has
    every sample's score. `forced` counts samples whose verdict prefix had to be appended because the critique
    ran out of tokens or ended without reaching it.
    """

    index: int
    text: str
    score: float
    verdict: bool
    critique: str
    code_runs: tuple[CodeRun, ...] = ()
    sample_scores: tuple[float, ...] = ()
    forced: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["code_runs"] = [asdict(r) for r in self.code_runs]
        d["sample_scores"] = list(self.sample_scores)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepVerdict:
        return cls(
            index=d["index"],
            text=d["text"],
            score=d["score"],
            verdict=d["verdict"],
            critique=d.get("critique", ""),
            code_runs=tuple(CodeRun(**r) for r in d.get("code_runs", ())),
            sample_scores=tuple(d.get("sample_scores", ())),
            forced=d.get("forced", 0),
        )


@dataclass(frozen=True)
class VerificationResult:
    """A verified solution: one `StepVerdict` per step, the first error and the aggregated reward."""

    solution: Solution
    steps: tuple[StepVerdict, ...]
    first_error: int
    reward: float
    aggregation: str
    threshold: float
    model: str = ""
    protocol: str = ""
    mode: str = ""
    wall_s: float = 0.0
    score_source: str = "logprobs"
    """"logprobs", or "verdict_text" when the backend's server gave no logprobs and scores are 0/1 from the text."""
    dtype: str = ""
    """The dtype the model ran in ("bfloat16", "float32", ...); "" where unknown (a served model, older files)."""

    @property
    def step_scores(self) -> list[float]:
        return [s.score for s in self.steps]

    @property
    def id(self) -> str:
        return self.solution.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.solution.id,
            "solution": self.solution.to_dict(),
            "steps": [s.to_dict() for s in self.steps],
            "step_scores": self.step_scores,
            "first_error": self.first_error,
            "reward": self.reward,
            "aggregation": self.aggregation,
            "threshold": self.threshold,
            "model": self.model,
            "protocol": self.protocol,
            "mode": self.mode,
            "wall_s": self.wall_s,
            "score_source": self.score_source,
            "dtype": self.dtype,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerificationResult:
        return cls(
            solution=Solution.from_dict(d["solution"]),
            steps=tuple(StepVerdict.from_dict(s) for s in d["steps"]),
            first_error=d["first_error"],
            reward=d["reward"],
            aggregation=d["aggregation"],
            threshold=d["threshold"],
            model=d.get("model", ""),
            protocol=d.get("protocol", ""),
            mode=d.get("mode", ""),
            wall_s=d.get("wall_s", 0.0),
            score_source=d.get("score_source", "logprobs"),
            dtype=d.get("dtype", ""),
        )
