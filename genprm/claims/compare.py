"""Comparisons between numbers: "15 > 12", "since 3/4 < 0.8", "$45 is more than $40".

Both sides must be plain numbers or plain calculations: a comparison with a word on either side ("x > 3",
"more than half") is left to the model.
"""

from __future__ import annotations

import re

from genprm.claims.arithmetic import _TAIL
from genprm.claims.claim import Claim
from genprm.claims.text import NUM, number, prose

_SIDE = rf"\$?{NUM}(?:\s*[-+*/]\s*\$?{NUM})*"
_OPS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "≥": ">=", "≤": "<=", "is greater than": ">",
        "is more than": ">", "is less than": "<", "is smaller than": "<", "is larger than": ">", "is bigger than": ">"}
_CLAIM = re.compile(rf"(?<![\w.,/$^*+\-])(?P<left>{_SIDE})\s*(?P<op>>=|<=|≥|≤|>|<|is (?:greater|more|less|smaller|"
                    rf"larger|bigger) than)\s*(?P<right>{_SIDE})(?![\w.]*\d|\s*[-+*/^(]|\s*[A-Za-z])")
_NEGATED = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}


# A sentence that calls a comparison false, or tests one, does not claim it.
_DENIED = re.compile(r"\b(?:false|not|isn't|is\s+not|incorrect|impossible|contradiction|cannot|fails?|if|whether|"
                     r"check|becomes|would)\b|n't\b", re.IGNORECASE)


def find(step: str) -> list[Claim]:
    text = prose(step)
    claims = []
    for m in _CLAIM.finditer(text):
        start = max(text.rfind(".", 0, m.start()), text.rfind("\n", 0, m.start())) + 1
        end = min((i for i in (text.find(". ", m.end()), text.find("\n", m.end())) if i >= 0), default=len(text))
        if _DENIED.search(text[start:end]) or _TAIL.search(text[: m.start()]):
            continue
        op = _OPS[m.group("op")]
        left, right = (re.sub(r"\s+", "", number(s)) for s in (m.group("left"), m.group("right")))
        left, right = left.replace("$", ""), right.replace("$", "")
        shown = m.group(0).strip()
        claims.append(Claim(shown, f"({left}) - ({right})", "0", kind="compare",
                            condition=f"e {op} 0", wrong=f"{shown} is false: the difference is {{computed}}",
                            said=shown))
    return claims
