"""`genprm serve` processes the server tests start on 127.0.0.1 (a free port) and stop."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

KEY = "test-key-0123"


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


@contextmanager
def genprm_serve(*flags: str, timeout: float = 600.0) -> Iterator[Served]:
    """Run `genprm serve --port 0 FLAGS` until it prints its address; yield it; stop it (SIGTERM, then kill)."""
    command = [sys.executable, "-m", "genprm.cli", "serve", "--port", "0", *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, seen = time.monotonic() + timeout, []
    try:
        assert process.stdout is not None
        while not (match := re.search(r"serving on (\S+)", line := process.stdout.readline())):
            seen.append(line)
            if not line and process.poll() is not None:
                raise RuntimeError(f"genprm serve exited with {process.returncode}:\n{''.join(seen[-40:])}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"genprm serve not ready after {timeout} s:\n{''.join(seen[-40:])}")
        threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe from filling up
        yield Served(match.group(1), process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
