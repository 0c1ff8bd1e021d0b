"""Run untrusted Python/SymPy snippets in warm, forked, isolated children.

    from sandbox import Sandbox
    with Sandbox(workers=2, timeout=3.0) as sb:
        r = sb.run("from sympy import *\\nx = symbols('x')\\nprint(factor(x**2-1))")

Independent of genprm: genprm imports it, never the reverse.
"""

from .pool import DEFAULT_PRELOAD, Sandbox, Session
from .types import LAYERS, STATUSES, RunResult, SandboxError, Status

__all__ = ["DEFAULT_PRELOAD", "LAYERS", "STATUSES", "RunResult", "Sandbox", "SandboxError", "Session", "Status"]
