"""What the tests share that is not a test: one module per idea, each named for what it holds, imported as
`from helpers.<module> import ...` (tests/ is on the path: pytest puts the root conftest's folder there).

The rule: under tests/, `test_*.py` are tests, `conftest.py` holds a folder's fixtures, and every other Python
module is here. Most are imported by tests; a few are scripts the tests start as processes (`script_command(name)`):
hf_server, replay_server and vllm_script, and review_screenshot, which makes docs/review.png. A script puts tests/
on the path itself, so that it imports `helpers.*` the same way run by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

HELPERS = Path(__file__).resolve().parent


def script_command(name: str) -> list[str]:
    """The command line that runs tests/helpers/<name>.py as a script, with this interpreter."""
    return [sys.executable, str(HELPERS / f"{name}.py")]

