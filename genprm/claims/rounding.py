"""Rounding stated as such: "4.67 rounded up is 5", "16.66, which rounds to 17", "round 2.4 down to 2".

Either neighbour stands, whatever direction the step names (writers round to the nearest or to what the problem
needs, and say "down" for 42.857 -> 43: measured on GSM8K gold); only a value that is neither is refuted.
"""

from __future__ import annotations

import re

from genprm.claims.claim import Claim
from genprm.claims.text import NUM, number, prose

_CLAIM = re.compile(rf"(?<![\w.,/])(?P<x>{NUM})[^\d\n]{{0,12}}?,?\s*(?:which\s+)?(?:is\s+|gets\s+)?"
                    rf"(?:\brounded\s+(?P<dir>up|down)?\s*(?:to\s+(?:the\s+nearest\s+\w+\s*)?)?(?:is\s+|gives\s+|=\s*)?"
                    rf"|\brounds\s+(?P<dir2>up|down)?\s*to\s+(?:the\s+nearest\s+\w+\s*)?)\$?(?P<y>{NUM})(?![\d/])",
                    re.IGNORECASE)


def find(step: str) -> list[Claim]:
    text = prose(step)
    claims = []
    for m in _CLAIM.finditer(text):
        x, y, direction = number(m.group("x")), number(m.group("y")), (m.group("dir") or m.group("dir2") or "").lower()
        places = len(y.split(".", 1)[1]) if "." in y else 0
        unit = f"10**-{places}" if places else "1"
        # floor and ceiling at the stated value's precision
        allowed = [f"floor({x}/{unit})*{unit}", f"ceiling({x}/{unit})*{unit}"]
        condition = " or ".join(f"abs(nsimplify('{a}') - {y}) < 1e-9" for a in allowed)
        shown = m.group(0).strip()
        claims.append(Claim(shown, x, y, kind="rounding", condition=condition,
                            wrong=f"{x} rounds to {{computed}} or its neighbour, not {y}",
                            said=f"{x} rounded {direction + ' ' if direction else ''}is {y}"))
    return claims
