"""Helpers for the evaluation tests: scored results built by hand (exact inputs, no model) and the CLI runner."""

import json
import subprocess
import sys
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


def genprm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "genprm.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def load_json(path: Path):
    return json.loads(Path(path).read_text())
