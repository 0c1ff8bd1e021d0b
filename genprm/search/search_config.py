"""What a search should do: one dataclass, one field per `genprm search` flag (same names, dashes for underscores).

Who does it (the policy model and the verifier, each on its own backend) is chosen separately, as for
`genprm verify`."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field, fields

from genprm.errors import ConfigError

STRATEGIES = ("beam", "best-of-n", "refine")


@dataclass(frozen=True)
class SearchConfig:
    strategy: str = field(default="beam", metadata={"choices": STRATEGIES,
                                                    "help": "beam: verifier-guided step-level beam search; "
                                                           "best-of-n: N full samples ranked by the verifier (and "
                                                           "voted on); refine: the policy rewrites the first step "
                                                           "the verifier rejects, with its critique in context."})
    n: int = field(default=4, metadata={"help": "best-of-n: full solutions sampled per problem."})
    beam_width: int = field(default=2, metadata={"help": "beam: prefixes kept after each step."})
    expand: int = field(default=2, metadata={"help": "beam: next steps the policy proposes per kept prefix."})
    max_steps: int = field(default=6, metadata={"help": "beam: most steps in a solution; a beam still open then "
                                                       "ends there."})
    rounds: int = field(default=2, metadata={"help": "refine: most rewrite rounds per problem (stops early once "
                                                    "the verifier accepts every step)."})
    step_tokens: int = field(default=64, metadata={"help": "beam: token budget of one proposed step."})
    policy_max_tokens: int = field(default=256, metadata={"help": "best-of-n and refine: token budget of one "
                                                                 "full solution (or one rewrite)."})
    policy_temperature: float = field(default=0.8, metadata={"help": "Policy sampling temperature (0 = greedy: "
                                                                    "every sample is the same)."})
    step_delimiter: str = field(default="\n\n", metadata={"help": "What separates two steps in the policy's "
                                                                 "output; beam generation stops at it (escapes "
                                                                 "such as \\n are read)."})
    batch_problems: int = field(default=4, metadata={"help": "Problems searched together: their policy calls "
                                                            "and verifier calls are batched, and their results "
                                                            "written when the batch ends."})
    policy_seed: int = field(default=0, metadata={"help": "Seed of the policy's samples."})

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError("strategy", f"one of {', '.join(STRATEGIES)}", self.strategy)
        for name in ("n", "beam_width", "expand", "max_steps", "step_tokens", "policy_max_tokens", "batch_problems"):
            if getattr(self, name) < 1:
                raise ConfigError(name, ">= 1", getattr(self, name))
        if self.rounds < 0:
            raise ConfigError("rounds", ">= 0", self.rounds)
        if self.policy_temperature < 0:
            raise ConfigError("policy_temperature", ">= 0", self.policy_temperature)
        if "\\" in self.step_delimiter:  # typed on a command line: "\\n\\n" means two newlines
            object.__setattr__(self, "step_delimiter", codecs.decode(self.step_delimiter, "unicode_escape"))
        if not self.step_delimiter:
            raise ConfigError("step_delimiter", "a non-empty string", self.step_delimiter)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def budget(self) -> dict[str, object]:
        """The fields that set this strategy's compute, for results and plots (e.g. {"beam_width": 2, ...})."""
        names = {"beam": ("beam_width", "expand", "max_steps", "step_tokens"), "best-of-n": ("n", "policy_max_tokens"),
                 "refine": ("rounds", "policy_max_tokens")}[self.strategy]
        return {name: getattr(self, name) for name in names}
