"""What `genprm review` should do: one dataclass, one field per flag (same names, dashes for underscores)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from genprm.errors import ConfigError

TOKEN_ENV = "GENPRM_REVIEW_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ReviewConfig:
    scored: str = field(default="", metadata={"help": "Scored JSONL file (from `genprm verify --out` or `genprm "
                                                      "eval`'s inputs): the solutions to review.", "argument": True})
    labels: str = field(default="", metadata={"help": "Labels file (JSONL): every action is appended at once, and "
                                                      "reopening it resumes. Default: SCORED's name with "
                                                      ".labels.jsonl."})
    host: str = field(default="127.0.0.1", metadata={"help": "Address to bind; another than 127.0.0.1 needs a "
                                                              "token (one is made and printed when --token is not "
                                                              "given)."})
    port: int = field(default=8765, metadata={"help": "Port to bind; 0 picks a free one (printed on start)."})
    token: str | None = field(default=None, metadata={"help": f"Token the page must send (default: ${TOKEN_ENV}; "
                                                                f"unset on 127.0.0.1 = none)."})

    def __post_init__(self) -> None:
        if not self.scored:
            raise ConfigError("scored", "a scored JSONL file", self.scored)
        if not self.labels:
            stem = Path(self.scored).name.removesuffix(".jsonl").removesuffix(".scored")
            object.__setattr__(self, "labels", str(Path(self.scored).with_name(f"{stem}.labels.jsonl")))
        if Path(self.labels).resolve() == Path(self.scored).resolve():
            raise ConfigError("labels", "another file than the scored one (labels are appended to it)", self.labels)
        if self.token is None and os.environ.get(TOKEN_ENV):
            object.__setattr__(self, "token", os.environ[TOKEN_ENV])
        if not 0 <= self.port <= 65535:
            raise ConfigError("port", "in [0, 65535]", self.port)

    @property
    def needs_token(self) -> bool:
        return self.host not in LOOPBACK

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
