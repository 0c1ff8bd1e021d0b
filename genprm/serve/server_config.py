"""What the server should do: one dataclass, one field per `genprm serve` flag (the model, backend and
`VerifierConfig` flags are `genprm verify`'s, shared)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from genprm.errors import ConfigError
from genprm.serve.steps import check_rule

API_KEY_ENV = "GENPRM_API_KEY"


@dataclass(frozen=True)
class ServeConfig:
    host: str = field(default="127.0.0.1", metadata={"help": "Address to bind; 0.0.0.0 serves other machines "
                                                              "(set --api-key then)."})
    port: int = field(default=8000, metadata={"help": "Port to bind; 0 picks a free one (printed on start)."})
    api_key: str | None = field(default=None, metadata={"help": f"Bearer token clients must send (default: "
                                                                f"${API_KEY_ENV}; unset = no auth)."})
    max_queue: int = field(default=1024, metadata={"help": "Solutions waiting or being verified at once; past it "
                                                           "requests get 503 with Retry-After."})
    max_body_bytes: int = field(default=8_000_000, metadata={"help": "Largest request body accepted (413 past "
                                                                      "it)."})
    max_solutions: int = field(default=512, metadata={"help": "Most solutions (or /get_reward queries) in one "
                                                              "request (413 past it)."})
    max_steps: int = field(default=64, metadata={"help": "Most steps in one solution (422 past it; /get_reward "
                                                         "joins the extra steps onto the last one)."})
    max_step_chars: int = field(default=4000, metadata={"help": "Longest step in characters (422 past it; "
                                                                "/get_reward cuts the step)."})
    step_split: str = field(default="auto", metadata={"help": "How /get_reward cuts a completion into steps: "
                                                              "auto, blank (blank lines), lines, step ('Step i:' "
                                                              "markers) or regex:PATTERN (split where it "
                                                              "matches)."})
    shutdown_timeout: float = field(default=300.0, metadata={"help": "On SIGTERM, seconds to let in-flight "
                                                                     "requests finish before exiting."})

    def __post_init__(self) -> None:
        if self.api_key is None and os.environ.get(API_KEY_ENV):
            object.__setattr__(self, "api_key", os.environ[API_KEY_ENV])
        for name in ("max_queue", "max_body_bytes", "max_solutions", "max_steps", "max_step_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(name, ">= 1", getattr(self, name))
        if self.max_solutions > self.max_queue:
            raise ConfigError("max_solutions", f"<= max_queue ({self.max_queue}), or a request could never fit",
                              self.max_solutions)
        if not 0 <= self.port <= 65535:
            raise ConfigError("port", "in [0, 65535]", self.port)
        if self.shutdown_timeout < 0:
            raise ConfigError("shutdown_timeout", ">= 0", self.shutdown_timeout)
        check_rule(self.step_split)
