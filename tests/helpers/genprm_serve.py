"""`genprm serve` processes the server tests start on 127.0.0.1 (a free port) and stop."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from helpers.processes import running

KEY = "test-key-0123"


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


@contextmanager
def genprm_serve(*flags: str, timeout: float = 600.0) -> Iterator[Served]:
    """Run `genprm serve --port 0 FLAGS` until it prints its address; yield it; stop it (SIGTERM, then kill)."""
    command = [sys.executable, "-m", "genprm.cli", "serve", "--port", "0", *flags]
    with running(command, r"serving on (\S+)", timeout) as started:
        yield Served(started.match.group(1), started.process)
