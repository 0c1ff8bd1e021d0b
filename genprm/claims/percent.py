"""Percentages and "x of y": "25% of 80 is 20", "3/4 of 20 = 15", "half of the 30 students, or 15".

Only "<part> of <number> <is|=|or|...> <number>" is read, and only when nothing after the stated value changes it
("is 5 more than ..." is left to the model).
"""

from __future__ import annotations

import re

from genprm.claims.claim import Claim
from genprm.claims.text import NUM, number, prose

_WORDS = {"half": "1/2", "a half": "1/2", "one half": "1/2", "a third": "1/3", "one third": "1/3",
          "two thirds": "2/3", "two-thirds": "2/3", "a quarter": "1/4", "one quarter": "1/4",
          "three quarters": "3/4", "one fourth": "1/4", "a fourth": "1/4", "three fourths": "3/4",
          "a fifth": "1/5", "one fifth": "1/5", "twice": "2", "double": "2", "triple": "3"}
_PART = rf"(?P<part>\d+/\d+|{NUM}\s?%|{NUM} percent|{'|'.join(sorted(_WORDS, key=len, reverse=True))})"
_OWNER = r"(?:the\s+|his\s+|her\s+|their\s+|its\s+|these\s+|those\s+)?"
_CLAIM = re.compile(rf"(?<![\w.,/$])(?P<shown>{_PART}\s+of\s+{_OWNER}"
                    rf"(?P<whole>\$?{NUM}))(?:\s+[A-Za-z][A-Za-z'-]*){{0,2}}?,?\s+(?:is|are|=|equals|or|which is|"
                    rf"gives|makes|would be|will be|comes to)\s+(?P<value>\$?{NUM})(?P<after>.{{0,12}})",
                    re.IGNORECASE)
_CHANGES = re.compile(r"^(?:\s*[-+*/×x%^(]|\s?\d|\s+(?:more|less|fewer|greater|smaller|times|percent|of|per)\b|"
                      r"[A-Za-z]|\.\d)", re.IGNORECASE)


def find(step: str) -> list[Claim]:
    text = prose(step)
    claims = []
    for m in _CLAIM.finditer(text):
        if _CHANGES.match(m.group("after")) or re.search(r"[\d.]\s*$", text[: m.start()]):
            continue
        part = m.group("part").lower()
        fraction = _WORDS.get(part) or part
        if "%" in fraction or "percent" in fraction:
            fraction = f"({number(re.sub(r'%|percent', '', fraction))}/100)"
        whole, value = number(m.group("whole")), number(m.group("value"))
        shown = m.group("shown")
        tol = "0.01" if "." in value or "/" not in fraction else "1"
        claims.append(Claim(shown, f"{fraction}*{whole}", value, kind="percent", tol=tol,
                            condition=f"abs(e - {value}) < {tol}", wrong=f"{shown} is {{computed}}, not {value}",
                            said=f"{shown} is {value}"))
    return claims
