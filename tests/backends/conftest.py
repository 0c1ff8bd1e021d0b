"""Servers the backend tests start on 127.0.0.1 and stop: real processes over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import script_command
from helpers.processes import running


def hf_server(*flags: str) -> Iterator[str]:
    with running([*script_command("hf_server"), "--port", "0", *flags], r"listening on (\S+)") as s:
        yield s.match.group(1)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """tests/helpers/hf_server.py serving the default model, with logprobs (top-k capped at 20, like vLLM)."""
    yield from hf_server()


@pytest.fixture(scope="session")
def capped_server_url() -> Iterator[str]:
    """The same server refusing logprobs > 5 (as OpenAI's API does)."""
    yield from hf_server("--max-logprobs", "5")


@pytest.fixture(scope="session")
def no_logprobs_server_url() -> Iterator[str]:
    """The same server ignoring `logprobs`, as servers without logprob support do."""
    yield from hf_server("--no-logprobs")
