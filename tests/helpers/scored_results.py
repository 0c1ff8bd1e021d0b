"""Scored results built by hand for the evaluation tests: exact inputs, no model."""

import json
from pathlib import Path

from genprm.types import Solution, StepVerdict, VerificationResult


def make_result(id: str, scores: list[float], problem: str = "What is 2 + 2?", steps: list[str] | None = None,
                reward: float | None = None, **gold) -> VerificationResult:
    """A result with these step scores; `gold` goes into the Solution (label, step_labels, outcome, answer, meta)."""
    steps = steps or [f"step {i + 1}" for i in range(len(scores))]
    if "step_labels" in gold and gold["step_labels"] is not None:
        gold["step_labels"] = tuple(gold["step_labels"])
    solution = Solution(problem=problem, steps=tuple(steps), id=id, **gold)
    verdicts = tuple(StepVerdict(i, t, s, s >= 0.5, critique=f"critique of {t}") for i, (t, s) in
                     enumerate(zip(steps, scores, strict=True)))
    first = next((i for i, s in enumerate(scores) if s < 0.5), -1)
    return VerificationResult(solution, verdicts, first, min(scores) if reward is None else reward, "min", 0.5,
                              model="hand", protocol="genprm", mode="direct")


def write_scored(path: Path, results: list[VerificationResult]) -> Path:
    path.write_text("".join(r.to_json() + "\n" for r in results))
    return path


def load_json(path: Path):
    return json.loads(Path(path).read_text())
