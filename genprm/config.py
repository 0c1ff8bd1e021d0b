"""What the verifier should do: one dataclass, one field per `genprm verify` flag (same names, dashes for
underscores). Who does it (model, backend) is chosen separately (`genprm.backends.BackendConfig`). Fields left None
are the model's: `genprm.registry.resolve` fills them, once.

A field's `metadata["aliases"]` names its older flags ("--arithmetic-check"); `canonical_keys` reads the same names in
a config file (genprm.json, a `genprm distill run` TOML table: "arithmetic_check"), so an old name keeps working
everywhere, with a one-line deprecation note."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from typing import Any

from genprm.errors import ConfigError
from genprm.scoring import AGGREGATIONS, check_threshold

MODES = ("direct", "critique", "code")


@dataclass(frozen=True)
class VerifierConfig:
    protocol: str | None = field(default=None, metadata={
        "help": "How the verifier is asked and read (`genprm protocols`): genprm, thinkprm, processbench-critic (the "
                "published formats), stepcheck, stepcheck-onepass, verdict (genprm's own) or a path to a .jinja "
                "template. Default: the model's (see `genprm models`).", "aliases": ("--prompt",)})
    mode: str | None = field(default=None, metadata={"help": "direct: verdict only, one forward pass per step; "
                                                              "critique: chain-of-thought first; code: critique plus "
                                                              "sandboxed code. Default: the model's, else code.",
                                                              "choices": MODES})
    samples: int = field(default=1, metadata={"help": "Samples per solution (parallel scaling): critiques per step, "
                                                     "chains (thinkprm) or answers (processbench-critic); scores are "
                                                     "averaged, critic answers vote."})
    temperature: float | None = field(default=None, metadata={"help": "Sampling temperature (default: the "
                                                                       "protocol's: 0.7 for stepcheck, where one "
                                                                       "sample is greedy; 0.6 for genprm)."})
    max_tokens: int | None = field(default=None, metadata={"help": "Token budget of one step's critique (one chain "
                                                                  "for thinkprm); past it the verdict is forced. "
                                                                  "Default: the protocol's (256 for stepcheck)."})
    max_code_blocks: int = field(default=3, metadata={"help": "Most code blocks run per step."})
    code_timeout: float = field(default=5.0, metadata={"help": "Seconds one code block may run in the sandbox."})
    agg: str = field(default="min", metadata={"help": "How step scores become the solution's reward: "
                                                     "min, last, prod or mean.",
                                                     "choices": AGGREGATIONS})
    threshold: float | None = field(default=None, metadata={"help": "A step scoring below this is an error; the "
                                                                    "first one is `first_error`. Default: the "
                                                                    "model's (tuned on a dev split), else 0.5."})
    claim_check: bool | None = field(default=None, metadata={
        "help": "Also check every claim a step states that can be checked mechanically (chained arithmetic, "
                "percentages, units, comparisons, roundings, LaTeX equalities, equations and their solutions, "
                "simplifications, the final answer) with SymPy in the sandbox; a refuted step scores 0 whatever the "
                "model says. Default: the model's (on for the default model), else off.", "switch": True,
        "aliases": ("--arithmetic-check",)})
    batch_size: int | None = field(default=None, metadata={
        "help": "Verification chains kept alive together (across solutions): each sends its next request as soon "
                "as it is ready. Default: the backend's (hf 8, vllm 64, openai 32)."})
    seed: int = field(default=0, metadata={"help": "Seed of sampled critiques."})
    thinking_rounds: int = field(default=1, metadata={"help": "thinkprm: thinking rounds per chain; each extra one "
                                                             "continues after a 'double check' phrase."})

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError("mode", f"one of {', '.join(MODES)}", self.mode)
        if self.agg not in AGGREGATIONS:
            raise ConfigError("agg", f"one of {', '.join(AGGREGATIONS)}", self.agg)
        if self.threshold is not None:
            check_threshold(self.threshold)
        for name in ("samples", "max_tokens", "batch_size", "thinking_rounds"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(name, ">= 1", getattr(self, name))
        if self.max_code_blocks < 0:
            raise ConfigError("max_code_blocks", ">= 0", self.max_code_blocks)
        if self.temperature is not None and self.temperature < 0:
            raise ConfigError("temperature", ">= 0", self.temperature)
        if self.code_timeout <= 0:
            raise ConfigError("code_timeout", "> 0", self.code_timeout)

    @property
    def resolved(self) -> bool:
        """Whether every model-dependent field is set (see `genprm.registry.resolve`)."""
        return None not in (self.protocol, self.mode, self.threshold, self.claim_check, self.batch_size)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def canonical_keys(cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    """`values` (a config file's keys) with every key that is one of `cls`'s field aliases renamed to the field
    ("arithmetic_check" -> "claim_check"), saying so once per key on stderr. A key given under both names keeps the
    current name's value."""
    names = {alias.lstrip("-").replace("-", "_"): f.name
             for f in fields(cls) for alias in f.metadata.get("aliases", ())}
    out = {k: v for k, v in values.items() if k not in names}
    for old, new in names.items():
        if old in values:
            print(f"genprm: {source}: {old!r} is deprecated: use {new!r}", file=sys.stderr, flush=True)
            out.setdefault(new, values[old])
    return out
