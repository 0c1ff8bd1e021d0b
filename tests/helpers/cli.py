"""Run the `genprm` CLI in a subprocess, and check the one-line error contract of bad input."""

from __future__ import annotations

import os
import subprocess
import sys


def genprm(*args, cwd=None, **env):
    return subprocess.run([sys.executable, "-m", "genprm.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **env} if env else None)


def one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
