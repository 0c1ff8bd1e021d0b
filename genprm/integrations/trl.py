"""A process reward for TRL's `GRPOTrainer`:

    from genprm.integrations import GenPRMReward
    trainer = GRPOTrainer(model=..., reward_funcs=[GenPRMReward(url="http://127.0.0.1:8000")], ...)

TRL calls a reward function as `f(prompts=..., completions=..., completion_ids=..., **dataset_columns)` and wants
one float per completion. Prompts and completions are strings, or (conversational datasets) lists of chat
messages; the problem is the prompt's last user turn, the steps are the completion cut by `step_split` (see
`genprm.serve.steps`). The reward is the verifier's aggregated score (`--agg`); an empty completion gets 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genprm.serve.steps import fit_steps, problem_of, split_steps
from genprm.types import Solution


class GenPRMReward:
    """A TRL reward function backed by a local `Verifier` or a `genprm serve` URL.

    Args:
        verifier: anything with `verify_many` (a `Verifier`, a `RemoteVerifier`).
        url: a `genprm serve` address, when no verifier is given; several (a list, or comma-separated) to fail over
            between servers.
        api_key: the server's bearer token (default: $GENPRM_API_KEY).
        step_split: how a completion is cut into steps: auto, blank, lines, step or regex:PATTERN.
        max_steps, max_step_chars: completions are fitted to these (the server's defaults) instead of refused.
    """

    def __init__(self, verifier: Any = None, url: str | Sequence[str] | None = None, api_key: str | None = None,
                 step_split: str = "auto", max_steps: int = 64, max_step_chars: int = 4000,
                 name: str = "genprm") -> None:
        if (verifier is None) == (url is None):
            raise ValueError("GenPRMReward needs a verifier or a url (one of the two)")
        if verifier is None:
            from genprm.integrations.remote import RemoteVerifier

            verifier = RemoteVerifier(url, api_key=api_key)  # type: ignore[arg-type]
        self.verifier, self.step_split = verifier, step_split
        self.max_steps, self.max_step_chars = max_steps, max_step_chars
        self.__name__ = name  # TRL logs each reward under its function's name
        self.last_step_scores: list[list[float]] = []

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        solutions: list[Solution | None] = []
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            steps = fit_steps(split_steps(_text(completion, "assistant"), self.step_split), self.max_steps,
                              self.max_step_chars)
            solutions.append(Solution(problem=_problem(prompt), steps=tuple(steps), id=str(i)) if steps else None)
        verified = iter(self.verifier.verify_many([s for s in solutions if s is not None]))
        results = [next(verified) if s is not None else None for s in solutions]
        self.last_step_scores = [r.step_scores if r else [] for r in results]
        return [r.reward if r else 0.0 for r in results]


def _problem(prompt: Any) -> str:
    if isinstance(prompt, list):  # conversational: the last user message
        return _text(prompt, "user").strip()
    return problem_of(str(prompt))


def _text(value: Any, role: str) -> str:
    """A plain string, or the content of the last message with `role` in a list of chat messages."""
    if isinstance(value, str):
        return value
    contents = [m.get("content", "") for m in value if isinstance(m, dict) and m.get("role") == role]
    content = contents[-1] if contents else ""
    if isinstance(content, list):  # multimodal-style content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)
