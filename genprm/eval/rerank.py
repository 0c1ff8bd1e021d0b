"""`genprm rerank`: Best-of-N selection with a verifier, against majority vote and a random pick.

Candidates are grouped by problem text. Each candidate's final answer is read from its steps (the last step that
math-verify can parse) and checked against the gold answer with math-verify; equal answers (by math-verify) form
one voting cluster. For each N, accuracies are averaged over subsets of N candidates per problem: all subsets when
there are at most `MAX_DRAWS`, else that many random ones (fixed seed). A method whose pick is tied between
clusters scores the mean correctness of the tied clusters, so ties neither help nor hurt.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from genprm.answers import METHODS, Candidate, expected_correct, final_answer, make_candidates
from genprm.errors import InputError
from genprm.types import VerificationResult

MAX_DRAWS = 64


def rerank(results: Sequence[VerificationResult], seed: int = 0) -> dict[str, Any]:
    """Accuracy (%) of each selection method for N = 1 .. the largest group.

    Returns:
        {"problems", "n": [1, 2, ...], "methods": {method: [accuracy per N]}}.

    Raises:
        InputError: no problem has two candidates, or a problem has no gold answer.
    """
    groups = group_candidates(results)
    if not any(len(g) > 1 for g in groups):
        raise InputError("rerank needs several candidates per problem; every problem here has one")
    rng = random.Random(seed)
    ns = list(range(1, max(len(g) for g in groups) + 1))
    table: dict[str, list[float]] = {m: [] for m in METHODS}
    for n in ns:
        totals = dict.fromkeys(METHODS, 0.0)
        for group in groups:
            draws = _draws(len(group), n, rng)
            for draw in draws:
                picked = [group[i] for i in draw]
                for method in METHODS:
                    totals[method] += expected_correct(picked, method) / len(draws)
        for method in METHODS:
            table[method].append(100.0 * totals[method] / len(groups))
    return {"problems": len(groups), "n": ns, "methods": table}


def group_candidates(results: Sequence[VerificationResult]) -> list[list[Candidate]]:
    """Group results by problem text and turn each into a `Candidate` (answer cluster, correctness)."""
    from math_verify import parse  # imported here: sympy is slow to import and only rerank needs it

    by_problem: dict[str, list[VerificationResult]] = defaultdict(list)
    for r in results:
        by_problem[r.solution.problem].append(r)
    groups = []
    for problem, members in by_problem.items():
        gold_text = next((r.solution.answer for r in members if r.solution.answer), None)
        if gold_text is None:
            raise InputError(f"no gold answer for problem {problem[:60]!r} (id {members[0].id!r}); rerank checks "
                             "final answers against `answer` (pass --gold FILE with it)")
        answers = [final_answer(r.solution.steps, parse) for r in members]
        groups.append(make_candidates(answers, [r.reward for r in members], parse(gold_text)))
    return groups


def _draws(size: int, n: int, rng: random.Random) -> list[tuple[int, ...]]:
    n = min(n, size)  # a problem with fewer candidates than N uses all it has
    if math.comb(size, n) <= MAX_DRAWS:
        return list(itertools.combinations(range(size), n))
    return [tuple(rng.sample(range(size), n)) for _ in range(MAX_DRAWS)]
