"""Processes the tests start, wait for and stop: servers on 127.0.0.1, real processes over real HTTP."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Started:
    match: re.Match[str]
    """The output line's match that said the process is ready."""
    process: subprocess.Popen[str]


@contextmanager
def running(command: Sequence[str], ready: str, timeout: float = 300.0, env: dict[str, str] | None = None
            ) -> Iterator[Started]:
    """Start `command`, wait for a line of its output matching `ready`, yield it, and stop it (SIGTERM, then kill)."""
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
        yield Started(match, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
