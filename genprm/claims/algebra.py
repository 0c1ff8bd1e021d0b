"""Algebra a step states: an equation and the value it says solves it, and a simplification or factoring.

    substitute   "$2x + 3 = 11$, so $x = 4$": the value put back into the equation must satisfy it
    equivalent   "$x^2 - 5x + 6$ factors as $(x-2)(x-3)$": the two expressions must be equal for every x
Only what the step itself says is read: an equation with exactly one unknown followed, in the same step, by that
unknown set to a number after a word of conclusion ("so", "thus", "gives"); never in a step that tries, supposes
or checks a value (its equation need not hold for it).
"""

from __future__ import annotations

import re

from genprm.claims.claim import Claim
from genprm.claims.latex import _numeric, clean, parse, split_top
from genprm.claims.text import math_spans

_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$]+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_CONCLUDE = re.compile(r"\b(?:so|thus|therefore|hence|gives|giving|get|gets|yields|solving|means|find|then)\b",
                       re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"\b(?:if|suppose|assume|try|trying|check|test|plug|case|whether|not|guess|let|when)\b"
                           r"|\\neq|\\ne\b", re.IGNORECASE)
_EQUIVALENT = re.compile(r"(?:simplifies|simplify|reduces|factors|factorizes|expands|can be (?:re)?written|"
                         r"is equivalent)\s+(?:to|as|into)\s*$", re.IGNORECASE)


def find(step: str) -> list[Claim]:
    return _substitute(step) + _equivalent(step)


def _substitute(step: str) -> list[Claim]:
    if _HYPOTHETICAL.search(re.sub(r"\$[^$]*\$", " ", step)):
        return []
    from sympy import srepr

    claims, equations = [], []
    pos = 0
    for m in _MATH.finditer(step):
        between, pos = step[pos:m.start()], m.end()
        span = clean(next(g for g in m.groups() if g is not None))
        if span is None:
            continue
        sides = split_top(span)
        if len(sides) != 2:
            continue
        left, right = parse(sides[0]), parse(sides[1])
        if left is None or right is None:
            continue
        unknowns = left.free_symbols | right.free_symbols
        if len(unknowns) != 1:
            continue
        (x,) = unknowns
        if left == x and _numeric(right):
            if equations and _CONCLUDE.search(between):
                shown_eq, eq = equations[-1]
                if x in eq.free_symbols:
                    residual = eq.subs(x, right)
                    claims.append(Claim(f"{sides[0]} = {sides[1]} solves {shown_eq}", srepr(residual), "0",
                                        kind="substitute", condition="simplify(e) == 0",
                                        wrong=f"{sides[0]} = {sides[1]} does not solve {shown_eq}: put back, the two "
                                              f"sides differ by {{computed}}",
                                        said=f"{sides[0]} = {sides[1]} solves {shown_eq}"))
        else:
            equations.append((span, left - right))
    return claims


def _equivalent(step: str) -> list[Claim]:
    from sympy import srepr

    claims = []
    spans = list(_MATH.finditer(step))
    for first, second in zip(spans, spans[1:], strict=False):
        if not _EQUIVALENT.search(step[first.end():second.start()]):
            continue
        a = clean(next(g for g in first.groups() if g is not None))
        b = clean(next(g for g in second.groups() if g is not None))
        if a is None or b is None or "=" in a or "=" in b:
            continue
        left, right = parse(a), parse(b)
        if left is None or right is None:
            continue
        claims.append(Claim(f"{a} is {b}", srepr(left - right), "0", kind="equivalent",
                            condition="simplify(e) == 0", wrong=f"{a} is not {b}: they differ by {{computed}}",
                            said=f"{a} is {b}"))
    return claims


__all__ = ["find", "math_spans"]
