"""A protocol's template: a jinja2 file in `prompts/` that holds every word a verifier sends, and names the module
(`flow`) that runs it.

Each module lists the top-level `{% set %}` variables and macros it reads; macros that return chat messages separate
them with "<<<role>>>" lines, so templates hold every word of prompt text, few-shot turns included. Variables are
read with `protocol.var(name)` or as attributes (`protocol.verdict_prefix`). What a protocol *does* with them is
its module's business: `VerificationProtocol` only forwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import jinja2

from genprm.errors import ConfigError

if TYPE_CHECKING:
    from genprm.types import VerificationResult

Message = dict[str, str]
_ROLE_LINE = re.compile(r"^<<<(system|user|assistant)>>>[ \t]*$", re.MULTILINE)
_MISSING = object()


def _modules() -> dict[str, ModuleType]:
    """The template's `flow` -> the module that runs it (imported late: the modules import this one)."""
    from genprm.protocols import discriminative, genprm_paper, processbench_critic, stepcheck, thinkprm

    return {"stepcheck": stepcheck, "genprm": genprm_paper, "thinkprm": thinkprm, "critic": processbench_critic,
            "discriminative": discriminative}


def builtin_protocols() -> list[str]:
    # policy_*.jinja are the prompts of `genprm search`'s policy, not verifier protocols.
    return sorted(p.name.removesuffix(".jinja") for p in resources.files("genprm.prompts").iterdir()
                  if p.name.endswith(".jinja") and not p.name.startswith("policy_"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    # Some published formats clean the step text (ThinkPRM drops "Step N:" labels); templates say how.
    env.filters["regex_replace"] = lambda s, pattern, repl="": re.sub(pattern, repl, s)
    return env


@lru_cache(maxsize=64)
def load(name_or_path: str) -> VerificationProtocol:
    """A built-in protocol by name (see `builtin_protocols()`) or a user's template by path. Cached: a template
    is read and checked once per process, however many verifiers, replicas or searches use it."""
    path = Path(name_or_path)
    if path.suffix == ".jinja" or "/" in name_or_path:  # a path; a bare word is a built-in name
        if not path.is_file():
            raise ConfigError("protocol", "a built-in protocol name or an existing .jinja file", name_or_path)
        source, name = path.read_text(encoding="utf-8"), path.stem
    else:
        resource = resources.files("genprm.prompts") / f"{name_or_path}.jinja"
        if not resource.is_file():
            raise ConfigError("protocol", f"one of {builtin_protocols()} or a path to a .jinja file", name_or_path)
        source, name = resource.read_text(encoding="utf-8"), name_or_path
    try:
        module = _environment().from_string(source).module
    except jinja2.TemplateError as e:
        raise ConfigError("protocol", "a valid jinja2 template", f"{name_or_path} ({e})") from None
    flow = getattr(module, "flow", "stepcheck")
    modules = _modules()
    if flow not in modules:
        raise ConfigError("flow (in the protocol's template)", f"one of {', '.join(modules)}", flow)
    implementation = modules[flow]
    missing = [v for v in implementation.VARIABLES if not hasattr(module, v)]
    if missing:
        raise ConfigError("protocol", f"a template that sets {', '.join(missing)}", name_or_path)
    for macro in implementation.macros(module):  # the module may also reject values it cannot run
        if not hasattr(module, macro):
            raise ConfigError("protocol", f"a template with a `{macro}` macro", name_or_path)
    return VerificationProtocol(name=name, flow=flow, module=module, implementation=implementation)


@dataclass(frozen=True)
class VerificationProtocol:
    """A loaded protocol: its name, the template module whose variables and macros it reads, and the module
    (`genprm.protocols.<flow>`) that runs it."""

    name: str
    flow: str
    module: Any  # the template's jinja module: its macros render the text
    implementation: ModuleType

    # -- what the template declares ----------------------------------------------------------------------------

    def var(self, name: str, default: Any = _MISSING) -> Any:
        """A top-level variable of the template (`default` when it does not set it)."""
        if hasattr(self.module, name):
            return getattr(self.module, name)
        if default is _MISSING:
            raise AttributeError(f"protocol {self.name!r} sets no variable {name!r}")
        return default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("module", "implementation"):
            raise AttributeError(name)
        return self.var(name)

    def text(self, macro: str, *args: Any) -> str:
        """A macro's text."""
        return str(getattr(self.module, macro)(*args))

    def messages(self, macro: str, *args: Any) -> list[Message]:
        """A macro's chat messages ("<<<role>>>"-separated; text before the first marker is a user turn)."""
        return parse_messages(self.text(macro, *args), default_role="user")

    # -- what the protocol's module answers ----------------------------------------------------------------------

    @property
    def reads(self) -> tuple[str, ...] | None:
        """What a backend must read for this protocol, known before the model loads (`load_backend`'s `reads`):
        None when it generates and scores text; else one forward pass per solution read at each step, of these
        next-token candidates, or () of the model's classification head."""
        reads = getattr(self.implementation, "reads", None)
        return None if reads is None else tuple(reads(self))

    def critique(self, result: VerificationResult, index: int) -> str:
        """What the verifier said about step `index`, as a reader (or `search --strategy refine`'s policy) reads
        it: its words and the verdict it ended on."""
        return str(self.implementation.critique(self, result, index))

    def training_dialogue(self, problem: str, steps: Sequence[str],
                          turns: Sequence[Sequence[tuple[str, bool]]]) -> list[Message]:
        """The dialogue the verifier sees, up to the last step with a turn, each assistant turn the concatenated
        (text, trained) pieces of that step's critique: training text that matches inference character for
        character. Protocols whose module cannot render one say so in one line."""
        return list(self._training("training_dialogue")(self, problem, steps, turns))

    def training_preamble(self) -> list[Message]:
        """The messages before the first trained turn (they carry no loss)."""
        return list(self._training("training_preamble")(self))

    def verdict_word(self, ok: bool) -> str:
        """What a training transcript continues with after the verdict question."""
        return str(self._training("verdict_word")(self, ok))

    def _training(self, name: str) -> Any:
        function = getattr(self.implementation, name, None)
        if function is None:
            raise ConfigError("protocol", "a protocol that genprm distill can render training dialogues in "
                                          "(stepcheck's family: stepcheck, verdict, your own per-step template)",
                              self.name)
        return function


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
