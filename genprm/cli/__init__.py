"""The `genprm` command. Thin: flags become config dataclasses (`flags`), the library does the work, rich renders it.

One module per command group: verify, serve, search, evaluate (eval, rerank, report), catalog (models, protocols,
cache) and distill.
"""

from __future__ import annotations

from genprm.cli import catalog, distill, evaluate, review, search, serve, verify  # noqa: F401  (each registers its commands)
from genprm.cli.common import app, say
from genprm.errors import GenPRMError


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 2 with one line on bad input or options, never a traceback for the user's mistakes."""
    try:
        app(args=argv, prog_name="genprm")  # standalone: usage errors print and exit 2 (click's convention)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except GenPRMError as e:
        say(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        say("interrupted; results written so far are kept")
        return 130
    return 0
