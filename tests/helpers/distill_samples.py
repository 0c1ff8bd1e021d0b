"""Two small GSM8K solutions shared by the distill tests: one right, one with a wrong step 2."""

from __future__ import annotations

from genprm.types import Solution

PROBLEM = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many " \
          "clips did Natalia sell altogether in April and May?"
RIGHT = Solution(problem=PROBLEM, steps=("Natalia sold 48/2 = 24 clips in May.",
                                         "Natalia sold 48+24 = 72 clips altogether in April and May.",
                                         "The answer is 72."), id="right", label=-1)
WRONG = Solution(problem=PROBLEM, steps=("Natalia sold 48/2 = 24 clips in May.",
                                         "Natalia sold 48+24 = 82 clips altogether in April and May.",
                                         "The answer is 82."), id="wrong", label=1)
