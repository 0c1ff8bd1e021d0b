"""The solution's final answer against the value its steps computed.

"The answer is 70." after "... = 70.25 times" stands (a rounding); "The answer is 82." after "... = 72 clips", with
82 nowhere in the steps, does not. Only a numeric answer is checked, and only when the last step before it with a
number computes something: a step that merely restates numbers gives nothing certain to compare with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from genprm.claims.claim import Claim
from genprm.claims.text import NUM, number

_ANSWER = re.compile(r"The answer is (.+)\.")
_NUMBER = re.compile(rf"-?{NUM}")


def stated_answer(step: str) -> str | None:
    """The answer an answer step ("The answer is 72.") gives, as written; None for any other step."""
    m = _ANSWER.fullmatch(step.strip())
    return m.group(1).strip() if m else None


def computed_before(previous: Sequence[str], find_claims: Callable[[str], list[Claim]]) -> list[str]:
    """What the steps before the answer computed: the last claim's value of the last step that has a number, then
    every number the solution wrote; [] when that step computes nothing (nothing certain to compare with)."""
    for step in reversed(previous):
        if _NUMBER.search(step):
            claims = find_claims(step)
            if not claims or any(c.kind != "arithmetic" for c in claims):
                return []
            written = [number(n) for s in previous for n in _NUMBER.findall(s)]
            return list(dict.fromkeys([claims[-1].value, *written]))
    return []


def code(answer: str, computed: Sequence[str]) -> str:
    """The check's code: is the answer one of the numbers the steps wrote? A whole number may round a fraction, and
    a percentage or an amount in cents may be written as a fraction of one ("0.25" for 25). "" when there is nothing
    to compare."""
    plain_answer = number(answer.rstrip("%"))
    if not computed or not re.fullmatch(r"-?\d+(?:\.\d+)?", plain_answer):
        return ""
    values = ", ".join(computed)
    tol = "1" if "." not in plain_answer else "0.01"
    return f"print(min(abs({plain_answer} - v * f) for v in [{values}] for f in (1, 100, 1/100)) < {tol})"
