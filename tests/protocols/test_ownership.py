"""A protocol owns everything about itself: no module outside `genprm/protocols/` tests a protocol's name."""

from __future__ import annotations

import re
from pathlib import Path

from genprm.protocols import builtin_protocols

ROOT = Path(__file__).resolve().parents[2] / "genprm"


def test_no_module_outside_the_protocols_tests_a_protocol_by_name():
    names = "|".join(re.escape(n) for n in builtin_protocols())
    comparison = re.compile(rf"""(?:[=!]=|\bin)\s*[(\[{{]?\s*['"]({names})['"]|['"]({names})['"]\s*[=!]=""")
    offenders = [f"{path.relative_to(ROOT.parent)}:{n}: {line.strip()}"
                 for path in ROOT.rglob("*.py") if "protocols" not in path.relative_to(ROOT).parts
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if comparison.search(line)]
    assert not offenders, "\n".join(offenders)


def test_every_builtin_protocol_answers_for_itself():
    """What the driver, search and distill ask of a protocol, every built-in one answers (or, for training text,
    declines in one line)."""
    from genprm.protocols import load

    for name in builtin_protocols():
        module = load(name).implementation
        assert callable(module.chain) and callable(module.combine) and callable(module.critique), name
