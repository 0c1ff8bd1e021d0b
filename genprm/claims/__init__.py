"""The claim check: every mechanically checkable claim a step states, recomputed with SymPy in the sandbox.

One kind of claim per module, each a `find(step) -> list[Claim]`:
    arithmetic   chained calculations in prose, with unit and currency words ("$3.00 - $.20 = $2.80")
    percent      "x% of y", "3/4 of 20", "half of 30"
    compare      "15 > 12", "15 is greater than 12"
    rounding     "4.67 rounded up is 5"
    latex        LaTeX equalities (\\frac, \\sqrt, powers, \\cdot), read with math-verify's LaTeX parser
    algebra      an equation and the value a step says solves it; simplifications and factorings
    final        the final answer against the value the steps computed
`plan_check` writes a step's check (genprm/claims/plan.py), the sandbox runs it, `judge` reads the output. A claim
the finders cannot read is left to the model, never guessed. Three users:
    genprm.distill.teachers   the symbolic teacher writes its critiques around the check
    genprm.protocols.claim_check    a refuted step scores 0, whatever the model said
    genprm distill eval       `--claim-check`: the same combination, scored offline
"""

from genprm.claims.claim import Claim
from genprm.claims.plan import CheckPlan, Judgement, find_claims, judge, plan_check
from genprm.claims.text import shown_output

__all__ = ["CheckPlan", "Claim", "Judgement", "find_claims", "judge", "plan_check", "shown_output"]
