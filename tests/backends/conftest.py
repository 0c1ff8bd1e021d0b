"""Servers the backend tests start on 127.0.0.1 and stop: real processes over real HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@contextmanager
def running(command: Sequence[str], ready: str, timeout: float = 300.0, env: dict[str, str] | None = None
            ) -> Iterator[re.Match[str]]:
    """Start `command`, wait for a line of its output matching `ready`, yield the match, and stop it."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline, seen = time.monotonic() + timeout, []
    try:
        assert process.stdout is not None
        while True:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{''.join(seen[-40:])}")
            seen.append(line)
            if match := re.search(ready, line):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{command[0]} not ready after {timeout} s:\n{''.join(seen[-40:])}")
        # Keep reading its output: a server that logs each request would block once the pipe is full.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield match
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def hf_server(*flags: str) -> Iterator[str]:
    with running([sys.executable, str(HERE / "hf_server.py"), "--port", "0", *flags], r"listening on (\S+)") as m:
        yield m.group(1)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """tests/backends/hf_server.py serving the default model, with logprobs (top-k capped at 20, like vLLM)."""
    yield from hf_server()


@pytest.fixture(scope="session")
def capped_server_url() -> Iterator[str]:
    """The same server refusing logprobs > 5 (as OpenAI's API does)."""
    yield from hf_server("--max-logprobs", "5")


@pytest.fixture(scope="session")
def no_logprobs_server_url() -> Iterator[str]:
    """The same server ignoring `logprobs`, as servers without logprob support do."""
    yield from hf_server("--no-logprobs")
