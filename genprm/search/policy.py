"""The policy: a language model that writes solutions, behind any `Backend`.

Its prompts are `prompts/policy_solve.jinja` (solve step by step, one step per paragraph, end with the answer) and
`prompts/policy_refine.jinja` (rewrite from the step the verifier rejected, its critique in context). A partial
solution is sent as the start of the assistant's turn, so the policy continues it: that is how beam search asks
for one more step and how refine keeps the steps before the rejected one.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

import jinja2

from genprm.backends.base import Backend, GenerateRequest, Generation
from genprm.protocols import parse_messages


def _template(name: str) -> Any:
    source = (resources.files("genprm.prompts") / f"{name}.jinja").read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(source).module


class Policy:
    """Prompts a backend for steps or whole solutions and counts the tokens it generates.

    Args:
        backend: any `Backend` (the same server as the verifier's is fine).
        delimiter: what separates two steps in the policy's output.
    """

    def __init__(self, backend: Backend, delimiter: str = "\n\n") -> None:
        self.backend = backend
        self.delimiter = delimiter
        self._solve = _template("policy_solve")
        self._refine = _template("policy_refine")
        self.answer_prefix: str = self._solve.answer_prefix
        self.tokens = 0

    @property
    def name(self) -> str:
        return self.backend.name

    def solve_prompt(self, problem: str, steps: Sequence[str] = ()) -> str:
        """The prompt that makes the policy write the solution of `problem` on from `steps`."""
        messages = parse_messages(str(self._solve.solve(problem, self.delimiter)))
        return self.backend.chat(messages) + self._continuing(steps)

    def refine_prompt(self, problem: str, steps: Sequence[str], index: int, critique: str) -> str:
        """The prompt that makes the policy rewrite `steps` from `index` (the rejected step), seeing `critique`."""
        messages = parse_messages(str(self._refine.refine(problem, list(steps), index, critique, self.delimiter)))
        return self.backend.chat(messages) + self._continuing(steps[:index])

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """All requests in one backend call (vLLM batches them; hf decodes up to its max_batch together)."""
        outs = self.backend.generate(requests)
        self.tokens += sum(o.num_tokens for o in outs)
        return outs

    def split(self, text: str) -> list[str]:
        """A generated solution -> its steps (empty paragraphs dropped)."""
        return [s.strip() for s in text.split(self.delimiter) if s.strip()]

    def is_final(self, step: str) -> bool:
        """Whether `step` states the final answer (the prompt's answer phrase, or a \\boxed{} answer)."""
        return self.answer_prefix.lower() in step.lower() or "\\boxed{" in step

    def _continuing(self, steps: Sequence[str]) -> str:
        return self.delimiter.join(steps) + self.delimiter if steps else ""
