"""Teachers: whoever writes the critiques the student learns from, in the verifier's own protocol.

Both teachers return, per step, a `Critique`: the assistant turn split into segments that the student must learn
to write (its analysis, its code, the verdict question) and segments it only reads (the sandbox's output blocks),
plus the verdict. Neither teacher sees the gold label: the symbolic teacher judges from the text and the code's
output alone, a backend teacher from what its model writes.

    SymbolicTeacher   no LLM: restates each step's claim, writes SymPy code recomputing every arithmetic claim,
                      runs it in the sandbox, compares the output with the step and gives the verdict that follows
    BackendTeacher    any backend model through the real verification loop (`Verifier`, mode code)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from genprm.protocol import Protocol
from genprm.types import CodeRun, Solution
from genprm.verifier import Verifier, output_for_prompt


@dataclass
class Critique:
    """One step's assistant turn: `segments` are (text, trained) pieces whose concatenation is the critique up to
    and including the verdict prefix; the verdict word is appended when the dialogue is rendered."""

    segments: list[tuple[str, bool]]
    verdict: bool
    score: float
    code_runs: list[CodeRun] = field(default_factory=list)
    forced: bool = False
    train_verdict: bool = True  # False: the verdict word is context (a step the data only assumes right)

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return {"segments": [list(s) for s in self.segments], "verdict": self.verdict, "score": self.score,
                "code_runs": [asdict(r) for r in self.code_runs], "forced": self.forced,
                **({} if self.train_verdict else {"train_verdict": False})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Critique:
        return cls(segments=[(str(t), bool(k)) for t, k in d["segments"]], verdict=bool(d["verdict"]),
                   score=float(d["score"]), code_runs=[CodeRun(**r) for r in d.get("code_runs", [])],
                   forced=bool(d.get("forced", False)), train_verdict=d.get("train_verdict") is not False)


def split_segments(protocol: Protocol, critique: str, runs: Sequence[CodeRun]) -> list[tuple[str, bool]]:
    """Cut a critique from the verification loop into trained text and (untrained) sandbox output blocks.

    The loop inserts exactly `protocol.code_output(...)` after each run, so each block is found by its own text.
    """
    segments, pos = [], 0
    for run in runs:
        block = protocol.code_output(output_for_prompt(run), run.status)
        at = critique.find(block, pos)
        if at < 0:
            raise ValueError("a code output block is missing from the critique")
        segments += [(critique[pos:at], True), (block, False)]
        pos = at + len(block)
    segments.append((critique[pos:], True))
    return [(t, k) for t, k in segments if t]


# -- the symbolic teacher ----------------------------------------------------------------------------------------

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
_COMMON = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 24, 30, 52, 60, 100, 1000, 365, 0.5, 0.25}


@dataclass(frozen=True)
class Claim:
    shown: str  # as written in the step: "12 x 2"
    expr: str  # as SymPy reads it: "12*2"
    value: str  # the stated result: "24"


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


def _numbers(text: str) -> set[float]:
    found = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
    found |= {n / 100 for n in found}  # 20% -> 0.2
    for word, values in _WORD_NUMBERS.items():
        if re.search(rf"\b{word}\b", text, re.IGNORECASE):
            found.update(values)
    return found


def _as_float(text: str) -> float | None:
    """Read a SymPy printout: an integer, a decimal or a fraction p/q."""
    text = text.strip()
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(?:/(\d+))?", text)
    if not m:
        return None
    return float(m.group(1)) / (float(m.group(2)) if m.group(2) else 1.0)


def _matches(computed: float, stated: str) -> bool:
    """Equal up to the precision the step states its number in (3.33 for 10/3 is right; 3 is not)."""
    decimals = len(stated.split(".")[1]) if "." in stated else 0
    tolerance = 0.5 * 10 ** -decimals + 1e-9 if decimals else 1e-9
    return abs(computed - float(stated)) <= tolerance


def _shown_output(text: str) -> str:
    value = _as_float(text)
    if "/" in text and value is not None:
        return f"{text} (about {value:.4g})"
    return text


class SymbolicTeacher:
    """Critiques from arithmetic alone: every "a op b = c" in a step is recomputed with SymPy in the sandbox.

    Args:
        protocol: the protocol whose fences, output blocks and verdict words the critiques use.
        sandbox: a started `sandbox.Sandbox`.
        check_quantities: also flag a calculation that uses a number found neither in the problem nor in an earlier
            step (a misread quantity); numbers a solution commonly brings in (60, 100, 12, ...) are allowed.
    """

    name = "symbolic"

    def __init__(self, protocol: Protocol, sandbox: Any, check_quantities: bool = True) -> None:
        self.protocol = protocol
        self.sandbox = sandbox
        self.check_quantities = check_quantities

    def critique_many(self, solutions: Sequence[Solution]) -> list[list[Critique]]:
        # 1) Write every code block of every solution, 2) run them all at once, 3) write the conclusions.
        plans = [[self._plan(s, k) for k in range(len(s.steps))] for s in solutions]
        codes = [plan["code"] for steps in plans for plan in steps if plan["code"]]
        results = iter(self.sandbox.run_many(codes) if codes else [])
        out = []
        for steps in plans:
            critiques = []
            for plan in steps:
                run = None
                if plan["code"]:
                    r = next(results)
                    run = CodeRun(code=plan["code"], status=r.status, stdout=r.stdout, stderr=r.stderr,
                                  wall_s=r.wall_s)
                critiques.append(self._conclude(plan, run))
            out.append(critiques)
        return out

    def _plan(self, solution: Solution, k: int) -> dict[str, Any]:
        step = solution.steps[k]
        claims = find_claims(step)
        final = re.fullmatch(r"The answer is (.+)\.", step)
        plan: dict[str, Any] = {"step": step, "claims": claims, "code": "", "final": None, "ungrounded": None}
        if final and not claims:
            answer, last = final.group(1).strip(), self._last_result(solution.steps[:k])
            plan["final"] = (answer, last)
            number = answer.replace(",", "").replace("$", "")
            if last is not None and _as_float(number) is not None:
                plan["code"] = f"print(abs({number} - {last}) < 0.01)"
            return plan
        if not claims:
            return plan
        # Each line prints the recomputed value and whether it equals the stated one: the sandbox does the
        # comparison, so the verdict follows from one word of the output (a small student learns that easily;
        # comparing two numbers itself it does not, measured: a student trained on "The output is 72, but the step
        # says 82" said "the same" to every step).
        lines = ["from sympy import nsimplify"] + [
            f'print(nsimplify("{c.expr}"), abs(nsimplify("{c.expr}") - {c.value}) < 0.01)' for c in claims]
        plan["code"] = "\n".join(lines)
        if self.check_quantities:
            known = _numbers(solution.problem) | _numbers(" ".join(solution.steps[:k])) | _COMMON
            for c in claims:
                for n in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\(\d+(?:\.\d+)?/100\)", "", c.expr)):
                    if float(n) not in known:
                        plan["ungrounded"] = n
                        break
                known.add(float(c.value))
                if plan["ungrounded"]:
                    break
        return plan

    @staticmethod
    def _last_result(previous: Sequence[str]) -> str | None:
        for step in reversed(previous):
            claims = find_claims(step)
            if claims:
                return claims[-1].value
            numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", step)
            if numbers:
                return numbers[-1].replace(",", "")
        return None

    def _conclude(self, plan: dict[str, Any], run: CodeRun | None) -> Critique:
        p = self.protocol
        ask = "\n" + p.verdict_prefix  # a critique ends where the verifier stops generating: at the question
        if plan["final"] is not None:
            answer, last = plan["final"]
            if last is None or run is None:
                return self._critique([(f"The step gives the final answer {answer}.{ask}", True)], True)
            head = (f"The step gives the final answer {answer}, and the previous steps found {last}. Let me check "
                    f"that they are equal.\n{p.code_open}\n{run.code}\n{p.code_close}")
            block = p.code_output(output_for_prompt(run), run.status)
            same = run.stdout.strip() == "True"
            text = "The output is True: the answer is the result of the previous steps." if same else \
                "The output is False: the answer is not the result of the previous steps. The step is wrong."
            return self._critique([(head, True), (block, False), (text + ask, True)], same, run)
        claims: list[Claim] = plan["claims"]
        # Every critique opens by copying the step, and only then branches: a small student decides "is there a
        # calculation?" right after reading the step back, not at the first word (measured: deciding at the first
        # word, a 135M student said "no calculation" to most steps that had one).
        restated = f'The step says: "{plan["step"]}"'
        if not claims:
            return self._critique([(f"{restated} It has no calculation to check.{ask}", True)], True)
        assert run is not None
        said = " and ".join(f"{c.shown} = {c.value}" for c in claims)
        them = "them" if len(claims) > 1 else "it"
        head = f"{restated} It calculates {said}. Let me check {them}.\n{p.code_open}\n{run.code}\n{p.code_close}"
        block = p.code_output(output_for_prompt(run), run.status)
        outputs = [line.rsplit(" ", 1) for line in run.stdout.strip().splitlines()] if run.status == "ok" else []
        if len(outputs) != len(claims) or any(len(o) != 2 or o[1] not in ("True", "False") for o in outputs):
            # The check itself failed (it should not): say so and judge nothing from it.
            text = "The code did not run, so the calculation is not confirmed."
            return self._critique([(head, True), (block, False), (text + ask, True)], True, run)
        wrong = next(((c, value) for c, (value, same) in zip(claims, outputs, strict=True) if same == "False"), None)
        if wrong is not None:
            c, value = wrong
            text = f"The output says False: {c.shown} is {_shown_output(value)}, not {c.value}. The step is wrong."
            ok = False
        else:
            text = "The output says True: the step's calculation" + ("s are" if len(claims) > 1 else " is") + " right."
            ok = True
            if plan["ungrounded"]:
                text = text[:-1] + (f", but the step uses {plan['ungrounded']}, which is neither in the problem nor "
                                    "found in an earlier step. The step is wrong.")
                ok = False
        return self._critique([(head, True), (block, False), (text + ask, True)], ok, run)

    @staticmethod
    def _critique(segments: list[tuple[str, bool]], ok: bool, run: CodeRun | None = None) -> Critique:
        return Critique(segments=segments, verdict=ok, score=1.0 if ok else 0.0, code_runs=[run] if run else [])


# -- a model as teacher ------------------------------------------------------------------------------------------


class BackendTeacher:
    """Critiques written by a model through the real verification loop (the same code `genprm verify` runs)."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.protocol = verifier.protocol
        self.name = f"backend:{verifier.backend.name}"

    def critique_many(self, solutions: Sequence[Solution]) -> list[list[Critique]]:
        p = self.protocol
        out = []
        for result in self.verifier.verify_many(solutions):
            critiques = []
            for v in result.steps:
                critiques.append(Critique(segments=split_segments(p, v.critique, v.code_runs), verdict=v.verdict,
                                          score=v.score, code_runs=list(v.code_runs), forced=v.forced > 0))
            out.append(critiques)
        return out
