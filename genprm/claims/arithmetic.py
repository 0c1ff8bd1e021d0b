"""Chained arithmetic in prose: "12 x 2 = 24", "100 - 50 - 30 = $20", "$3.00 per gallon - $.20 per gallon = $2.80".

Unit and currency words around the numbers are read (and dropped from the expression); a conversion the result's
unit implies is checked ("60 x 2 feet = 120 inches" is 1440 inches). An expression is taken whole or not at all: a
match that may be the tail of a longer expression ("1/2 (68) + 10", "half of 68 + 10") is left to the model.
"""

from __future__ import annotations

import re

from genprm.claims.claim import Claim
from genprm.claims.text import NUM, number, prose
from genprm.claims.units import is_rate, unit_of

# Words that never name a unit: an expression does not run through them.
_STOP = ("and|or|of|the|a|an|is|are|was|were|be|been|so|to|in|on|at|for|with|from|by|than|more|less|fewer|each|"
         "every|that|this|these|those|which|who|it|he|she|they|we|you|his|her|their|its|our|has|have|had|will|would|"
         "can|could|then|thus|total|left|remaining|if|as|but|not|all|after|before|when|into|over|out|up|down|"
         "plus|minus|divided|multiplied|equals|makes|gives|leaves|there|here|now|also|only|about|around|same|other|"
         "another|one|two|three|four|five|six|seven|eight|nine|ten|x|because|since|therefore|hence|means|meaning|gives|"
         "get|gets|got|make|made|need|needs|cost|costs|pay|pays|paid|equal|equals|per|while|where|what|how|do|does|did")
_WORD = rf"(?!(?:{_STOP})\b)[A-Za-z][A-Za-z'’-]*[A-Za-z]"
_UNIT = rf"(?:\s*/\s*[A-Za-z]{{2,}}|\s+per\s+[A-Za-z]+|\s+{_WORD}){{0,3}}"
_VALUE_UNIT = rf"(?:\s+per\s+[A-Za-z]+|\s+{_WORD}){{0,3}}"
_OPERAND = rf"(?:\(\s*)*(?:-(?=\$?\d))?\$?\s?{NUM}(?:\s?%)?{_UNIT}(?:\s*\))*"
# An operator; "x" only between spaces or digits; "times" only before a number; nothing before a bracket ("2 (3)").
# The spaces after it are taken possessively: left to the operand's own optional space, they would split two ways at
# every operator, and a long chain with no "=" ("30! is 2 * 3 * ... * 30") would backtrack for hours.
_OP = r"(?:\s*(?:[-+*/×÷−–·]|(?<=\s)x(?=\s)|(?<=\d)x(?=\s?\d)|\btimes\b(?=\s+\(?\$?\d))\s*+|\s*(?=\(\s*\$?\d))"
_CLAIM = re.compile(rf"(?<![\w.^/\\])(?P<expr>{_OPERAND}(?:{_OP}{_OPERAND})+)\s*=(?!=)\s*"
                    rf"(?P<value>-?\$?\s?-?{NUM}(?:/\d+)?)(?P<pct>\s?%)?(?P<unit>{_VALUE_UNIT})")
# What may come right before an expression that makes it the tail of a longer one ("half of 68 + 10").
_TAIL = re.compile(r"(?:[\d.)/*^+\-×÷−–·%]|\d,|\b(?:of|half|twice|times|double|triple|thrice|quarter|"
                   r"thirds?|fourths?|fifths?|sixths?|sevenths?|eighths?|ninths?|tenths?|percent|x|by|squared|cubed|"
                   r"day|week|month|year|step|page|chapter|level|grade|room|number|no|part|round|game|test|quiz|lap|row)|[a-zA-Z]\s?[+\-*/])"
                   r"\s*$", re.IGNORECASE)
# What may come right after the value that makes it the head of a longer one ("= 20 + 10", "= 1 1/2", "= 12x").
_HEAD = re.compile(r"^(?:\s*(?:[-+*/×÷^−–·(]|x\s*\d)|\s?\d|\.\d|\.\.|:\d|[A-Za-z]|/\s*(?:\d|[A-Za-z]\b))")
_CHAIN = re.compile(r"\s*[-+*/×÷−–·]\s*\(?\$?\d")  # "= 240 students - 224 students": the value starts an expression
_OPERAND_PARTS = re.compile(rf"(?P<num>\$?\s?{NUM})(?P<pct>\s?%)?(?P<unit>{_UNIT})")


def find(step: str) -> list[Claim]:
    """Every "expression = number" a step states in prose (LaTeX is read by genprm.claims.latex)."""
    text = prose(step)
    claims = []
    for m in _CLAIM.finditer(text):
        after = text[m.end("pct") if m.group("pct") else m.end("value"):]
        if _TAIL.search(text[: m.start()]) or _HEAD.search(after) or _CHAIN.match(text[m.end():]):
            continue
        if re.search(r"\d\s+and\s*$", text[: m.start()]) and re.match(r"\d+\s*/\s*\d", m.group("expr")):
            continue  # "1 and 1/4 cup": a mixed number, not the fraction alone
        claim = _claim(m)
        if claim is not None:
            claims.append(claim)
    return claims


def _claim(m: re.Match[str]) -> Claim | None:
    shown = m.group("expr").strip()
    expr, units, additive = _expression(shown)
    if expr is None:
        return None
    value = number(m.group("value").replace(" ", ""))
    value_unit = unit_of("$" if "$" in m.group("value") else m.group("unit"))
    tol = _tolerance(expr, value)
    known = [u for u in units if u not in (None, "other")]
    if additive and len(set(known)) > 1:
        return None  # "2 feet + 6 inches": a sum of mixed units is not plain arithmetic
    if re.search(r"/[\d.]+/|/\([\d.]+/100\)|/100\)/", expr):
        return None  # "$7500/75%": a percentage divided by, or dividing, is read loosely by writers
    if re.search(r"/[\d.]+/", expr):
        return None  # "6 km / 1/30 hour": which division comes first is the writer's, not the notation's
    # A conversion is certain only when one operand carries a plain unit and the others none ("60 x 2 feet").
    single = len(known) == 1 and "other" not in units
    if value_unit and single and value_unit[0] == known[0][0] and value_unit != known[0]:
        # The result is in another unit of the same kind: the step converts. It stands if the conversion is right,
        # or if the expression carries the factor itself ("5 feet x 12 = 60 inches").
        factor = known[0][1] / value_unit[1]
        converted = f"({expr})*{factor}"
        own = {str(factor), str(1 / factor)}
        if own & set(re.findall(r"\d+(?:\.\d+)?", expr)):
            return Claim(shown, expr, value, tol=tol)
        return Claim(shown, converted, value, tol=tol, condition=f"abs(e - {value}) < {tol}",
                     wrong=f"{{shown}} is {{computed}} {m.group('unit').strip() or 'dollars'}, not {{value}}")
    value_dim = value_unit[0] if value_unit else None
    mentioned = {unit_of(w) for w in re.findall(r"[A-Za-z]+|\$", shown)} - {None, value_unit}
    factors = sorted({str(u[1] / value_unit[1]) for u in mentioned if value_unit and u[0] == value_dim})
    if factors:
        # "$0.25/glass x 10 glasses = 250 cents": the result is in another unit the expression mentions; the step
        # may or may not have converted, so either reading stands.
        either = " or ".join(f"abs(e*{f} - {value}) < {tol}" for f in factors)
        return Claim(shown, expr, value, tol=tol, condition=f"abs(e - {value}) < {tol} or {either}")
    scale = re.search(r"\b(thousand|million|billion)\b", m.string, re.IGNORECASE)
    if scale:
        # "losing 5 thousand dollars ... 5 * 3 = $15,000": the numbers are in thousands, the result written out.
        size = {"thousand": 1000, "million": 10**6, "billion": 10**9}[scale.group(1).lower()]
        either = f"abs(e - {value}) < {tol} or abs(e*{size} - {value}) < {tol}"
        return Claim(shown, expr, value, tol=tol, condition=either)
    if m.group("pct") or "/100)" in expr:
        # "50/200 = 25%", "3 / 21 * 100% = 14.28": a percentage is written as 25 or as 0.25.
        return Claim(shown, expr, value, tol=tol, condition=f"abs(e - {value}) < {tol} or abs(100*e - {value}) < {tol}",
                     said=f"{shown} = {value}{'%' if m.group('pct') else ''}")
    return Claim(shown, expr, value, tol=tol)


def _expression(shown: str) -> tuple[str | None, list[tuple[str, object] | None], bool]:
    """The SymPy expression of a matched calculation, the unit of each operand, and whether it adds units."""
    units: list = []

    def operand(p: re.Match[str]) -> str:
        words = p.group("unit") or ""
        raw = p.group("num")
        if words.strip():
            # A rate, an unknown word, or a word beside "$" ("$5 bills"): a unit, but none a conversion can use.
            unit = "other" if is_rate(words) or "$" in raw else (unit_of(words) or "other")
        else:
            unit = unit_of("$") if "$" in raw else None
        units.append(unit)
        value = number(raw.replace(" ", ""))
        return f"({value}/100)" if p.group("pct") else value

    expr = _OPERAND_PARTS.sub(operand, shown)
    expr = expr.replace("×", "*").replace("÷", "/").replace("−", "-").replace("–", "-").replace("·", "*")
    expr = re.sub(r"\btimes\b", "*", expr)
    expr = re.sub(r"(?<=[\d\s)])x(?=[\s\d(])", "*", expr)
    expr = re.sub(r"\s+", "", expr)
    expr = re.sub(r"(?<=[\d)])\(", "*(", expr)  # "1/2 (68)": a bracket right after a number multiplies
    expr = re.sub(r"\)(?=[\d(])", ")*", expr)
    while expr.startswith("(") and expr.count("(") > expr.count(")"):
        expr = expr[1:]  # "(5 + 3 = 8)": the bracket opened before the claim
    if expr.count("(") != expr.count(")") or not re.fullmatch(r"[\d.+\-*/()]+", expr) or "**" in expr:
        return None, units, False
    return expr, units, bool(re.search(r"(?<=[\d)])[+-]", expr))


def _tolerance(expr: str, value: str) -> str:
    """How far the stated value may be from SymPy's: its last written digit ("2.8" -> 0.1); a whole number stated
    for a quotient may be rounded either way (measured: "100/3 = 33" in correct solutions)."""
    places = len(value.split(".", 1)[1]) if "." in value else 0
    if places == 0:
        return "1" if re.search(r"[/.]", expr) else "0.01"
    return "0.01" if places >= 2 else "0.1"
