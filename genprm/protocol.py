"""Prompt protocols: a jinja2 template in `prompts/` that holds every word a verifier sends, and names its flow.

A template sets `flow` (default "stepcheck"): how the conversation goes, implemented once in `genprm/flows/` and
shared by every template of that family:

    stepcheck   genprm's own few-shot formats: a critique per step (or one pass over all steps) ending in a verdict
                question whose next token is scored; sandboxed code blocks in between (`stepcheck`,
                `stepcheck-onepass`, users' templates)
    genprm      GenPRM (Liu et al. 2025): a dialogue turn per paragraph; forced <analyze>, <verify> and <output>
                openings; code rounds with [Code Output] blocks; P(Yes) at the boxed verdict
    thinkprm    ThinkPRM (Khalifa et al. 2025): one long verification chain with \\boxed{correct|incorrect} per step,
                extra thinking rounds, and a yes/no decision scored after the chain
    critic      a ProcessBench critic (Zheng et al. 2024): any instruct model names the earliest wrong paragraph in
                \\boxed{}; samples vote

Each flow lists the top-level `{% set %}` variables and macros it reads (see its module); macros that return chat
messages separate them with "<<<role>>>" lines, so templates hold every word of prompt text, few-shot turns
included. Variables are read with `protocol.var(name)` or as attributes (`protocol.verdict_prefix`).
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
_MISSING = object()


def builtin_protocols() -> list[str]:
    # policy_*.jinja are the prompts of `genprm search`'s policy, not verifier protocols.
    return sorted(p.name.removesuffix(".jinja") for p in resources.files("genprm.prompts").iterdir()
                  if p.name.endswith(".jinja") and not p.name.startswith("policy_"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    # Some published formats clean the step text (ThinkPRM drops "Step N:" labels); templates say how.
    env.filters["regex_replace"] = lambda s, pattern, repl="": re.sub(pattern, repl, s)
    return env


@dataclass(frozen=True)
class Protocol:
    """A loaded prompt protocol: its name, its flow and the template module whose variables and macros it reads."""

    name: str
    flow: str
    module: Any  # the template's jinja module: its macros render the text

    @classmethod
    def load(cls, name_or_path: str) -> Protocol:
        """Load a built-in protocol by name (see `builtin_protocols()`) or a user's template by path."""
        from genprm.flows import FLOWS

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
        try:
            module = _environment().from_string(source).module
        except jinja2.TemplateError as e:
            raise ConfigError("prompt", "a valid jinja2 template", f"{name_or_path} ({e})") from None
        flow = getattr(module, "flow", "stepcheck")
        if flow not in FLOWS:
            raise ConfigError("flow (in the prompt template)", f"one of {', '.join(FLOWS)}", flow)
        implementation = FLOWS[flow]
        missing = [v for v in implementation.VARIABLES if not hasattr(module, v)]
        if missing:
            raise ConfigError("prompt", f"a template that sets {', '.join(missing)}", name_or_path)
        if flow == "stepcheck" and module.kind not in ("per_step", "one_pass"):
            raise ConfigError("kind (in the prompt template)", "'per_step' or 'one_pass'", module.kind)
        for macro in implementation.macros(module):
            if not hasattr(module, macro):
                raise ConfigError("prompt", f"a template with a `{macro}` macro", name_or_path)
        return cls(name=name, flow=flow, module=module)

    # -- what the template declares ----------------------------------------------------------------------------

    def var(self, name: str, default: Any = _MISSING) -> Any:
        """A top-level variable of the template (`default` when it does not set it)."""
        if hasattr(self.module, name):
            return getattr(self.module, name)
        if default is _MISSING:
            raise AttributeError(f"protocol {self.name!r} sets no variable {name!r}")
        return default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "module":
            raise AttributeError(name)
        return self.var(name)

    def text(self, macro: str, *args: Any) -> str:
        """A macro's text."""
        return str(getattr(self.module, macro)(*args))

    def messages(self, macro: str, *args: Any) -> list[Message]:
        """A macro's chat messages ("<<<role>>>"-separated; text before the first marker is a user turn)."""
        return parse_messages(self.text(macro, *args), default_role="user")

    # -- the stepcheck family's macros (also used by genprm.distill) --------------------------------------------

    def preamble(self) -> list[Message]:
        return parse_messages(self.text("preamble"))

    def step_turn(self, problem: str, steps: list[str], index: int) -> list[Message]:
        return self.messages("step_turn", problem, steps, index)

    def solution_turn(self, problem: str, steps: list[str]) -> list[Message]:
        return self.messages("solution_turn", problem, steps)

    def code_output(self, stdout: str, status: str) -> str:
        return self.text("code_output", stdout, status)

    def forced_verdict(self, index: int) -> str:
        return self.text("forced_verdict", index)

    # -- the flow ----------------------------------------------------------------------------------------------

    @property
    def implementation(self) -> Any:
        from genprm.flows import FLOWS

        return FLOWS[self.flow]


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
