"""One checkable claim: what a step states, the SymPy line that recomputes it, and how a refutation reads."""

from __future__ import annotations

from dataclasses import dataclass

# Output of a claim's line that means "not judged" (the expression did not evaluate): left to the model.
UNJUDGED = "None"


@dataclass(frozen=True)
class Claim:
    """A claim a step states, in the form the sandbox checks it.

    `expr` is what SymPy recomputes and `value` what the step says it is; `condition` (when set) is the Python test
    on `e` (the recomputed value) that holds when the claim stands, else `abs(e - value) < tol`. `wrong` reads a
    refutation, with {computed} for SymPy's value ("3/4 of 20 is {computed}, not 12").
    """

    shown: str  # as written in the step: "12 x 2"
    expr: str  # as SymPy reads it: "12*2"
    value: str  # the stated result: "24"
    kind: str = "arithmetic"
    tol: str = "0.01"
    condition: str = ""
    wrong: str = ""
    said: str = ""  # the claim as a sentence; "" = f"{shown} = {value}"

    @property
    def sentence(self) -> str:
        return self.said or f"{self.shown} = {self.value}"

    def code(self) -> str:
        """One line printing SymPy's value and whether the claim stands ("72 False")."""
        if not self.condition:
            # The arithmetic form the symbolic teacher's critiques show (kept as it was trained).
            return f'print(nsimplify("{self.expr}"), abs(nsimplify("{self.expr}") - {self.value}) < {self.tol})'
        # Any other kind: an expression SymPy cannot evaluate prints "None" and is left to the model.
        return (f'try:\n    e = nsimplify(sympify("{self.expr}"))\n    print(e, bool({self.condition}))\n'
                f'except Exception:\n    print("{UNJUDGED}")')

    def refutation(self, computed: str) -> str:
        template = self.wrong or "{shown} is {computed}, not {value}"
        # Plain replacement, not str.format: LaTeX braces are text here.
        return template.replace("{shown}", self.shown).replace("{value}", self.value).replace("{computed}", computed)
