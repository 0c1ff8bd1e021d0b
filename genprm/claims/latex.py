"""LaTeX equalities between numbers: "$\\frac{3}{4} \\cdot 20 = 15$", "$\\sqrt{8} = 2\\sqrt{2}$", "$2^{10} = 1024$".

Each "=" in a math span whose two sides are both numbers (no unknowns) and one of which computes something is a
claim, read with math-verify's LaTeX parser (latex2sympy2_extended). Anything the parser may read otherwise than
the writer meant is left to the model: modular arithmetic, degrees and trigonometry, logarithms without a base,
mixed numbers ("2\\frac{1}{2}"), lists, inequalities, absolute values, "\\pm".
"""

from __future__ import annotations

import re
from typing import Any

from genprm.claims.claim import Claim
from genprm.claims.text import math_spans

_SKIP = re.compile(r"\\(?:pmod|bmod|mod|equiv|neq|ne|not|ldots|cdots|dots|to|infty|sum|prod|int|lim|in|cup|cap|subset|"
                   r"pm|mp|angle|triangle|overline|circ|log|sin|cos|tan|cot|sec|csc|arc\w+|approx|sim|cong|le|ge|"
                   r"leq|geq|lt|gt|Rightarrow|rightarrow|implies|iff|vec|hat|bar|over|choose|lfloor|lceil|"
                   r"operatorname|mathbb|begin|end|cases|matrix)(?![a-zA-Z])|[<>&;|]|\\\\|,(?!\})|"
                   r"\d\s*\\[dt]?frac|\bmod\b|\^\s*\{?\s*\\circ|\.\.\.")
_DROP = re.compile(r"\\(?:left|right|displaystyle|,|;|!|quad|qquad|\s)|\\(?:text|mbox|mathrm)\{\s*[a-zA-Z ]*\}|"
                   r"\\\$|\{,\}")
_WORDS_TEXT = re.compile(r"\\(?:text|mbox|mathrm)\{[^{}]*\b(?:and|or|if|so|for|when|then|is|are|of)\b[^{}]*\}")


def parse(latex: str) -> Any | None:
    """The SymPy expression of a LaTeX fragment, or None when the parser does not read it."""
    from latex2sympy2_extended import latex2sympy

    if re.search(r"/\s*[\d.]+\s*[\\a-zA-Z(]", latex):
        return None  # "4/3\pi": is it (4/3)pi or 4/(3pi)? The writer knows, the parser guesses
    # "180(16)", "(x-2)(x-3)": a bracket after a number or a bracket multiplies (the parser may read a call).
    latex = re.sub(r"(?<=[\d)])\s*\(", r" \\cdot (", latex)
    from sympy import Expr

    try:
        expr = latex2sympy(latex)
    except Exception:
        return None
    return expr if isinstance(expr, Expr) else None  # a set, a relation or a tuple is not a value


def split_top(span: str, sep: str = "=") -> list[str]:
    """A span cut at each `sep` outside braces and brackets."""
    parts, depth, cur = [], 0, []
    for ch in span:
        depth += ch in "{([" and 1 or (ch in "})]" and -1 or 0)
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def clean(span: str) -> str | None:
    """The span with spacing and unit text dropped; None when it has words in it or may be read otherwise."""
    if _WORDS_TEXT.search(span):
        return None
    span = re.sub(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}", r"\1", span)
    span = _DROP.sub(" ", span)
    return None if _SKIP.search(span) else span


def _numeric(expr: Any) -> bool:
    return expr is not None and getattr(expr, "is_number", False) and not expr.free_symbols and \
        not expr.has(*_undefined())


def _undefined() -> tuple:
    from sympy import nan, zoo
    from sympy.core.function import AppliedUndef

    return (zoo, nan, AppliedUndef)


def _computes(latex: str) -> bool:
    """Whether a side does more than write a number down."""
    computes = r"[-+*/^!]|\\(?:frac|dfrac|tfrac|sqrt|cdot|times|div|binom)|\d\s*\(|\)\s*\("
    return bool(re.search(computes, latex.lstrip("-")))


def find(step: str) -> list[Claim]:
    from sympy import srepr

    claims = []
    for raw in math_spans(step):
        span = clean(raw)
        if span is None or "=" not in span:
            continue
        sides = split_top(span)
        for a, b in zip(sides, sides[1:], strict=False):
            if not a or not b or not (_computes(a) or _computes(b)):
                continue
            if not _computes(a):
                a, b = b, a  # "956 = 7 \cdot 136 + 5": the calculation is the claim, the number its stated value
            left, right = parse(a), parse(b)
            if not (_numeric(left) and _numeric(right)):
                continue
            places = max((len(d) for d in re.findall(r"\d\.(\d+)", b)), default=0)
            if places:
                tol = f"10**-{places}"
            else:
                tol = "1" if re.search(r"\d\.\d", a) else "10**-9"
            claims.append(Claim(f"{a} = {b}", srepr(left), srepr(right), kind="latex",
                                condition=f"abs(N(e - {srepr(right)})) < {tol}",
                                wrong=f"{a} is {{computed}}, not {b}", said=f"{a} = {b}"))
    return claims
