"""Prompt protocols: a jinja2 template in `prompts/` that declares how a verifier talks.

A protocol template defines, as top-level `{% set %}` variables:
    kind            "per_step" (one user turn per step, a verdict per turn) or "one_pass" (all steps in one turn,
                    one critique with a verdict per step)
    verdict_prefix  the text after which the verdict token comes (also the stop string for generation)
    positive, negative   the verdict candidates; their first tokens are scored
    verdict_suffix  text appended after the chosen verdict word (e.g. "}" after "\\boxed{correct")
    code_open, code_close   the fences of a code block the sandbox runs
and the macros `preamble()`, `step_turn(problem, steps, index)` (per_step) or `solution_turn(problem, steps)`
(one_pass), `code_output(stdout, status)` and `forced_verdict(index)`. `preamble()` and the turn macros give
messages separated by "<<<role>>>" lines, so templates hold every word of prompt text, few-shot turns included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from genprm.errors import ConfigError

Message = dict[str, str]
_ROLE_LINE = re.compile(r"^<<<(system|user|assistant)>>>[ \t]*$", re.MULTILINE)
_REQUIRED = ("kind", "verdict_prefix", "positive", "negative", "verdict_suffix", "code_open", "code_close")


def builtin_protocols() -> list[str]:
    # policy_*.jinja are the prompts of `genprm search`'s policy, not verifier protocols.
    return sorted(p.name.removesuffix(".jinja") for p in resources.files("genprm.prompts").iterdir()
                  if p.name.endswith(".jinja") and not p.name.startswith("policy_"))


@dataclass(frozen=True)
class Protocol:
    """A loaded prompt protocol; see the module docstring for what a template declares."""

    name: str
    kind: str
    verdict_prefix: str
    positive: str
    negative: str
    verdict_suffix: str
    code_open: str
    code_close: str
    module: Any  # the template's jinja module: its macros render the text

    @classmethod
    def load(cls, name_or_path: str) -> Protocol:
        """Load a built-in protocol by name (`genprm`, `thinkprm`) or a user's template by path."""
        path = Path(name_or_path)
        if path.suffix == ".jinja" or "/" in name_or_path:  # a path; a bare word is a built-in name
            if not path.is_file():
                raise ConfigError("prompt", "a built-in protocol name or an existing .jinja file", name_or_path)
            source, name = path.read_text(encoding="utf-8"), path.stem
        else:
            resource = resources.files("genprm.prompts") / f"{name_or_path}.jinja"
            if not resource.is_file():
                raise ConfigError("prompt", f"one of {builtin_protocols()} or a path to a .jinja file", name_or_path)
            source, name = resource.read_text(encoding="utf-8"), name_or_path
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
        try:
            module = env.from_string(source).module
        except jinja2.TemplateError as e:
            raise ConfigError("prompt", "a valid jinja2 template", f"{name_or_path} ({e})") from None
        missing = [v for v in _REQUIRED if not hasattr(module, v)]
        if missing:
            raise ConfigError("prompt", f"a template that sets {', '.join(missing)}", name_or_path)
        protocol = cls(name=name, module=module, **{v: getattr(module, v) for v in _REQUIRED})
        if protocol.kind not in ("per_step", "one_pass"):
            raise ConfigError("kind (in the prompt template)", "'per_step' or 'one_pass'", protocol.kind)
        turn = "step_turn" if protocol.kind == "per_step" else "solution_turn"
        for macro in ("preamble", turn, "code_output", "forced_verdict"):
            if not hasattr(module, macro):
                raise ConfigError("prompt", f"a template with a `{macro}` macro", name_or_path)
        return protocol

    def preamble(self) -> list[Message]:
        return parse_messages(str(self.module.preamble()))

    def step_turn(self, problem: str, steps: list[str], index: int) -> list[Message]:
        return parse_messages(str(self.module.step_turn(problem, steps, index)), default_role="user")

    def solution_turn(self, problem: str, steps: list[str]) -> list[Message]:
        return parse_messages(str(self.module.solution_turn(problem, steps)), default_role="user")

    def code_output(self, stdout: str, status: str) -> str:
        return str(self.module.code_output(stdout, status))

    def forced_verdict(self, index: int) -> str:
        return str(self.module.forced_verdict(index))


def parse_messages(text: str, default_role: str | None = None) -> list[Message]:
    """Split "<<<role>>>"-separated text into chat messages. Text before the first marker gets `default_role`."""
    messages: list[Message] = []
    parts = _ROLE_LINE.split(text)
    head, rest = parts[0], parts[1:]
    if head.strip():
        if default_role is None:
            raise ValueError("text before the first <<<role>>> line")
        messages.append({"role": default_role, "content": head.strip("\n")})
    for role, content in zip(rest[::2], rest[1::2], strict=True):
        messages.append({"role": role, "content": content.strip("\n")})
    return messages
