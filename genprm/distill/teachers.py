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

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from genprm.claims import CheckPlan, Judgement, judge, plan_check, shown_output
from genprm.protocols import VerificationProtocol
from genprm.protocols.chain import output_for_prompt
from genprm.types import CodeRun, Solution
from genprm.verifier import Verifier


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


def split_segments(protocol: VerificationProtocol, critique: str, runs: Sequence[CodeRun]) -> list[tuple[str, bool]]:
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

class SymbolicTeacher:
    """Critiques from arithmetic alone: every "a op b = c" in a step is recomputed with SymPy in the sandbox.

    Args:
        protocol: the protocol whose fences, output blocks and verdict words the critiques use.
        sandbox: a started `sandbox.Sandbox`.
        check_quantities: also flag a calculation that uses a number found neither in the problem nor in an earlier
            step (a misread quantity); numbers a solution commonly brings in (60, 100, 12, ...) are allowed.
    """

    name = "symbolic"

    def __init__(self, protocol: VerificationProtocol, sandbox: Any, check_quantities: bool = True) -> None:
        self.protocol = protocol
        self.sandbox = sandbox
        self.check_quantities = check_quantities

    def critique_many(self, solutions: Sequence[Solution]) -> list[list[Critique]]:
        # 1) Write every code block of every solution, 2) run them all at once, 3) write the conclusions.
        plans = [[self._plan(s, k) for k in range(len(s.steps))] for s in solutions]
        codes = [plan.code for steps in plans for plan in steps if plan.code]
        results = iter(self.sandbox.run_many(codes) if codes else [])
        out = []
        for steps in plans:
            critiques = []
            for plan in steps:
                run = None
                if plan.code:
                    r = next(results)
                    run = CodeRun(code=plan.code, status=r.status, stdout=r.stdout, stderr=r.stderr,
                                  wall_s=r.wall_s)
                critiques.append(self._conclude(plan, run))
            out.append(critiques)
        return out

    def _plan(self, solution: Solution, k: int) -> CheckPlan:
        return plan_check(solution.problem, solution.steps, k, self.check_quantities)

    def _conclude(self, plan: CheckPlan, run: CodeRun | None) -> Critique:
        p = self.protocol
        ask = "\n" + p.verdict_prefix  # a critique ends where the verifier stops generating: at the question
        judged = judge(plan, run.stdout, run.status) if run is not None else Judgement(True, "")
        if plan.final is not None:
            answer, last = plan.final
            if run is None:
                return self._critique([(f"The step gives the final answer {answer}.{ask}", True)], True)
            head = (f"The step gives the final answer {answer}, and the previous steps found {last}. Let me check "
                    f"that they are equal.\n{p.code_open}\n{run.code}\n{p.code_close}")
            block = p.code_output(output_for_prompt(run), run.status)
            text = "The output is True: the answer is the result of the previous steps." if judged.ok else \
                "The output is False: the answer is not the result of the previous steps. The step is wrong."
            return self._critique([(head, True), (block, False), (text + ask, True)], judged.ok, run)
        claims = plan.claims
        # Every critique opens by copying the step, and only then branches: a small student decides "is there a
        # calculation?" right after reading the step back, not at the first word (measured: deciding at the first
        # word, a 135M student said "no calculation" to most steps that had one).
        restated = f'The step says: "{plan.step}"'
        if not claims:
            return self._critique([(f"{restated} It has no calculation to check.{ask}", True)], True)
        assert run is not None
        said = " and ".join(c.sentence for c in claims)
        them = "them" if len(claims) > 1 else "it"
        head = f"{restated} It calculates {said}. Let me check {them}.\n{p.code_open}\n{run.code}\n{p.code_close}"
        block = p.code_output(output_for_prompt(run), run.status)
        if judged.failed:
            # The check itself failed (it should not): say so and judge nothing from it.
            text = "The code did not run, so the calculation is not confirmed."
        elif judged.wrong is not None:
            c, value = judged.wrong
            text = f"The output says False: {c.refutation(shown_output(value))}. The step is wrong."
        else:
            text = "The output says True: the step's calculation" + ("s are" if len(claims) > 1 else " is") + " right."
            if plan.ungrounded:
                text = text[:-1] + (f", but the step uses {plan.ungrounded}, which is neither in the problem nor "
                                    "found in an earlier step. The step is wrong.")
        return self._critique([(head, True), (block, False), (text + ask, True)], judged.ok, run)

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
