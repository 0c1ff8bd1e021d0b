"""Typed request and result of one sandboxed run.

Untrusted-code outcomes (exceptions, timeouts, memory exhaustion, crashes) come back as a `RunResult`;
only a failure of the sandbox itself raises `SandboxError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "error", "timeout", "memory", "output_limit", "killed"]
"""How a snippet ended.

- ``ok``: ran to the end (or ``sys.exit(0)``).
- ``error``: raised an exception or exited non-zero; the traceback is in ``stderr``.
- ``timeout``: killed at the wall-clock timeout or its CPU-time limit.
- ``memory``: ran out of its address-space limit (``MemoryError``).
- ``output_limit``: wrote more than ``max_output`` bytes to stdout+stderr and was killed.
- ``killed``: died from a signal (e.g. a segfault) or its worker died.
"""

STATUSES: tuple[Status, ...] = ("ok", "error", "timeout", "memory", "output_limit", "killed")

# Optional isolation layers, in the order a child applies them. `Sandbox(layers=...)` selects among these.
LAYERS: tuple[str, ...] = ("rlimits", "user", "netns", "ipcns", "tmpfs", "rootfs", "landlock", "seccomp")
# Always on: they cost nothing and need no kernel feature. (`zygote`: children fork from a process that never
# received a request, so none carries anything of another.)
BASE_LAYERS: tuple[str, ...] = ("zygote", "session", "clean_env", "close_fds", "stdin_null")


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start, a required layer is unavailable, ...)."""


@dataclass(frozen=True)
class RunResult:
    """Outcome of running one code block.

    Attributes:
        status: how it ended, see `Status`.
        stdout: what the block printed (UTF-8, undecodable bytes replaced), capped with stderr at ``max_output``.
        stderr: warnings and, for ``error``, a short traceback.
        returncode: exit code of the child, or None when it died from a signal.
        signal: the signal number that ended the child, or None.
        wall_s: wall-clock seconds from dispatch to result, as the caller saw it.
    """

    status: Status
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    signal: int | None = None
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"
