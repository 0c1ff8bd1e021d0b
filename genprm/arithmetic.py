"""The arithmetic check: every "a op b = c" a step states, recomputed with SymPy in the sandbox. No model involved.

`plan_check` reads a step and writes the check's code (none when the step states no calculation and gives no final
answer); the sandbox runs it; `judge` reads its output and says whether the step's arithmetic stands. Three users:
    genprm.distill.teachers   the symbolic teacher writes its critiques around the check
    genprm.flows.evidence     `--arithmetic-check`: a refuted step scores 0, whatever the model said
    genprm distill eval       `--code-evidence`: the same combination, scored offline
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUM = r"\d[\d,]*(?:\.\d+)?%?"
_OPERAND = rf"\(?\s*\$?\s*{_NUM}\s*\)?"
_OP = r"(?:[-+*/×÷−]|(?<=\s)x(?=\s)|(?<=\d)x(?=\s?\d))"
# "12 x 2 = 24", "100 - 50 - 30 = $20", "0.2 * 50 = $10": an expression of two or more operands, "=", a number.
_CLAIM = re.compile(rf"(?P<expr>{_OPERAND}(?:\s*{_OP}\s*{_OPERAND})+)\s*=\s*\$?\s*(?P<value>-?\d[\d,]*(?:\.\d+)?)")
_WORD_NUMBERS = {"half": [2, 0.5], "twice": [2], "double": [2], "triple": [3], "thrice": [3], "quarter": [4, 0.25],
                 "dozen": [12], "one": [1], "two": [2], "three": [3], "four": [4], "five": [5], "six": [6],
                 "seven": [7], "eight": [8], "nine": [9], "ten": [10], "eleven": [11], "twelve": [12],
                 "fifteen": [15], "twenty": [20], "thirty": [30], "forty": [40], "fifty": [50], "hundred": [100]}
# Numbers a solution may bring in without the problem saying so (units, halves, percentages).
COMMON_NUMBERS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 24, 30, 52, 60, 100, 1000, 365, 0.5, 0.25}


@dataclass(frozen=True)
class Claim:
    shown: str  # as written in the step: "12 x 2"
    expr: str  # as SymPy reads it: "12*2"
    value: str  # the stated result: "24"


@dataclass(frozen=True)
class CheckPlan:
    """What the check of one step runs: `code` ("" = nothing to run) and what the output is compared with."""

    step: str
    claims: tuple[Claim, ...] = ()
    code: str = ""
    final: tuple[str, str | None] | None = None  # (the stated final answer, the previous steps' last result)
    ungrounded: str | None = None  # a number the calculation uses that nothing before it gives


@dataclass(frozen=True)
class Judgement:
    ok: bool
    reason: str  # one sentence: why the step's arithmetic does not stand ("" when it does)
    failed: bool = False  # the check's own code did not run as planned: nothing is judged
    wrong: tuple[Claim, str] | None = None  # the first refuted claim and SymPy's value for it


def find_claims(step: str) -> list[Claim]:
    """Every "expression = number" calculation a step states."""
    claims = []
    for m in _CLAIM.finditer(step):
        shown = m.group("expr").strip()
        expr = shown.replace("$", "").replace(",", "").replace("×", "*").replace("÷", "/").replace("−", "-")
        expr = re.sub(r"(?<=[\d\s)])x(?=[\s\d(])", "*", expr)
        expr = re.sub(r"(\d+(?:\.\d+)?)%", r"(\1/100)", expr)
        expr = re.sub(r"\s+", "", expr)
        if expr.count("(") != expr.count(")"):
            continue
        claims.append(Claim(shown, expr, m.group("value").replace(",", "")))
    return claims


def numbers_in(text: str) -> set[float]:
    found = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
    found |= {n / 100 for n in found}  # 20% -> 0.2
    for word, values in _WORD_NUMBERS.items():
        if re.search(rf"\b{word}\b", text, re.IGNORECASE):
            found.update(values)
    return found


def as_float(text: str) -> float | None:
    """Read a SymPy printout: an integer, a decimal or a fraction p/q."""
    text = text.strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?:/(\d+))?", text)
    if not m:
        return None
    return float(m.group(1)) / (float(m.group(2)) if m.group(2) else 1.0)


def shown_output(text: str) -> str:
    value = as_float(text)
    if "/" in text and value is not None:
        return f"{text} (about {value:.4g})"
    return text


def last_result(previous: Sequence[str]) -> str | None:
    """The number the previous steps ended with: the last claim's value, else the last number written."""
    for step in reversed(previous):
        claims = find_claims(step)
        if claims:
            return claims[-1].value
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", step)
        if numbers:
            return numbers[-1].replace(",", "")
    return None


def plan_check(problem: str, steps: Sequence[str], k: int, check_quantities: bool = True) -> CheckPlan:
    """The check of step k. `check_quantities` also flags a calculation using a number found neither in the problem
    nor in an earlier step (a misread quantity); numbers solutions commonly bring in (60, 100, 12, ...) pass."""
    step = steps[k]
    claims = find_claims(step)
    final = re.fullmatch(r"The answer is (.+)\.", step)
    if final and not claims:
        answer, last = final.group(1).strip(), last_result(steps[:k])
        number = answer.replace(",", "").replace("$", "")
        code = f"print(abs({number} - {last}) < 0.01)" if last is not None and as_float(number) is not None else ""
        return CheckPlan(step, code=code, final=(answer, last))
    if not claims:
        return CheckPlan(step)
    # Each line prints the recomputed value and whether it equals the stated one: the sandbox does the comparison,
    # so the verdict follows from one word of the output (a small student learns that easily; comparing two numbers
    # itself it does not, measured: a student trained on "The output is 72, but the step says 82" said "the same"
    # to every step).
    code = "\n".join(["from sympy import nsimplify"] + [
        f'print(nsimplify("{c.expr}"), abs(nsimplify("{c.expr}") - {c.value}) < 0.01)' for c in claims])
    ungrounded = None
    if check_quantities:
        known = numbers_in(problem) | numbers_in(" ".join(steps[:k])) | COMMON_NUMBERS
        for c in claims:
            for n in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\(\d+(?:\.\d+)?/100\)", "", c.expr)):
                if float(n) not in known:
                    ungrounded = n
                    break
            known.add(float(c.value))
            if ungrounded:
                break
    return CheckPlan(step, tuple(claims), code, ungrounded=ungrounded)


def judge(plan: CheckPlan, stdout: str, status: str) -> Judgement:
    """Whether the step's arithmetic stands, from the output of `plan.code` (plans without code always stand)."""
    if not plan.code:
        return Judgement(True, "")
    if plan.final is not None:
        answer, last = plan.final
        if stdout.strip() == "True":
            return Judgement(True, "")
        return Judgement(False, f"the answer {answer} is not the previous steps' result {last}")
    outputs = [line.rsplit(" ", 1) for line in stdout.strip().splitlines()] if status == "ok" else []
    if len(outputs) != len(plan.claims) or any(len(o) != 2 or o[1] not in ("True", "False") for o in outputs):
        return Judgement(True, "", failed=True)
    for c, (value, same) in zip(plan.claims, outputs, strict=True):
        if same == "False":
            return Judgement(False, f"{c.shown} is {shown_output(value)}, not {c.value}", wrong=(c, value))
    if plan.ungrounded:
        return Judgement(False, f"it uses {plan.ungrounded}, which is neither in the problem nor found in an earlier "
                                "step")
    return Judgement(True, "")
