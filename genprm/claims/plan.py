"""The check of one step: every claim the finders read, one SymPy line each, and the verdict from the output.

`plan_check` reads a step and writes the check's code (none when the step states nothing checkable); the sandbox
runs it; `judge` reads its output and says which claims stand. A claim that does not evaluate is left to the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from genprm.claims import algebra, arithmetic, compare, final, latex, percent, rounding
from genprm.claims.claim import UNJUDGED, Claim
from genprm.claims.text import numbers_in, plain

# Numbers a solution may bring in without the problem saying so (units, halves, percentages).
COMMON_NUMBERS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 24, 30, 52, 60, 100, 1000, 365, 0.5, 0.25}


@dataclass(frozen=True)
class CheckPlan:
    """What the check of one step runs: `code` ("" = nothing to run) and what the output is compared with."""

    step: str
    claims: tuple[Claim, ...] = ()
    code: str = ""
    final: tuple[str, str | None] | None = None  # (the stated final answer, the previous steps' result)
    ungrounded: str | None = None  # a number the calculation uses that nothing before it gives


@dataclass(frozen=True)
class Judgement:
    ok: bool
    reason: str  # one sentence: why the step does not stand ("" when it does)
    failed: bool = False  # the check's own code did not run as planned: nothing is judged
    wrong: tuple[Claim, str] | None = None  # the first refuted claim and SymPy's value for it
    checked: int = 0  # claims SymPy evaluated (the final answer counts as one)
    refuted: int = 0


def find_claims(step: str) -> list[Claim]:
    """Every checkable claim a step states, in the order of the finders (arithmetic first)."""
    text = plain(step)
    found: list[Claim] = []
    for finder in (arithmetic.find, percent.find, compare.find, rounding.find, latex.find, algebra.find):
        try:
            claims = finder(text)
        except Exception:  # a reading the parser chokes on is left to the model, never guessed
            continue
        for claim in claims:
            if claim.kind == "arithmetic" and _number(claim.value) is None:
                continue  # "= --16" (a slip in the text): not a value to compare with, so the model judges it
            if claim.expr not in {c.expr for c in found if c.value == claim.value}:
                found.append(claim)
    return found


def plan_check(problem: str, steps: Sequence[str], k: int, check_quantities: bool = False) -> CheckPlan:
    """The check of step k. `check_quantities` also flags a calculation using a number found neither in the problem
    nor in an earlier step (a misread quantity); numbers solutions commonly bring in (60, 100, 12, ...) pass. It is
    off by default: correct solutions bring in numbers of their own too often to refute a step for it."""
    step = steps[k]
    answer = final.stated_answer(step)
    claims = find_claims(step)
    if answer is not None and not claims:
        computed = final.computed_before([plain(s) for s in steps[:k]], find_claims)
        return CheckPlan(step, code=final.code(answer, computed), final=(answer, computed[0] if computed else None))
    if not claims:
        return CheckPlan(step)
    # Each line prints the recomputed value and whether it equals the stated one: the sandbox does the comparison,
    # so the verdict follows from one word of the output (a small student learns that easily; comparing two numbers
    # itself it does not, measured: a student trained on "The output is 72, but the step says 82" said "the same"
    # to every step).
    code = "\n".join(["from sympy import " + ("*" if any(c.condition for c in claims) else "nsimplify")]
                     + [c.code() for c in claims])
    ungrounded = None
    if check_quantities:
        known = numbers_in(problem) | numbers_in(" ".join(steps[:k])) | COMMON_NUMBERS
        for c in claims:
            if c.kind != "arithmetic":
                continue
            for n in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\(\d+(?:\.\d+)?/100\)", "", c.expr)):
                if float(n) not in known:
                    ungrounded = n
                    break
            known.add(float(_number(c.value) or 0))
            if ungrounded:
                break
    return CheckPlan(step, tuple(claims), code, ungrounded=ungrounded)


def judge(plan: CheckPlan, stdout: str, status: str) -> Judgement:
    """Which of the step's claims stand, from the output of `plan.code` (plans without code always stand)."""
    if not plan.code:
        return Judgement(True, "")
    if plan.final is not None:
        answer, last = plan.final
        if stdout.strip() == "True":
            return Judgement(True, "", checked=1)
        if stdout.strip() == "False":
            return Judgement(False, f"the answer {answer} is not the previous steps' result {last}", checked=1,
                             refuted=1)
        return Judgement(True, "", failed=True)
    lines = stdout.strip().splitlines() if status == "ok" else []
    if len(lines) != len(plan.claims):
        return Judgement(True, "", failed=True)
    outputs = [(line, "") if line.strip() == UNJUDGED else tuple(line.rsplit(" ", 1)) for line in lines]
    if any(len(o) != 2 or o[1] not in ("True", "False", "") for o in outputs):
        return Judgement(True, "", failed=True)
    checked = sum(1 for _, same in outputs if same)
    wrong = [(c, value) for c, (value, same) in zip(plan.claims, outputs, strict=True) if same == "False"]
    if wrong:
        c, value = wrong[0]
        return Judgement(False, c.refutation(shown_value(value)), wrong=(c, value), checked=checked,
                         refuted=len(wrong))
    if plan.ungrounded:
        return Judgement(False, f"it uses {plan.ungrounded}, which is neither in the problem nor found in an earlier "
                                "step", checked=checked, refuted=1)
    return Judgement(True, "", checked=checked)


def shown_value(text: str) -> str:
    from genprm.claims.text import shown_output

    return shown_output(text)


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
