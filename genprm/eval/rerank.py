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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from genprm.errors import InputError
from genprm.scoring import is_score
from genprm.types import VerificationResult

MAX_DRAWS = 64
METHODS = ("verifier", "weighted vote", "majority vote", "random", "oracle")


@dataclass(frozen=True)
class Candidate:
    reward: float
    cluster: int  # equal final answers share a cluster; -1 = no answer found (never wins a vote)
    correct: bool


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
                    totals[method] += _PICK[method](picked) / len(draws)
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


def make_candidates(answers: Sequence[list[Any] | None], rewards: Sequence[float], gold: list[Any]) -> list[Candidate]:
    """One problem's candidates from their parsed final answers (None: none found) and rewards: equal answers (by
    math-verify) share a cluster; each is checked against the parsed `gold`."""
    from math_verify import verify

    representatives: list[Any] = []
    group = []
    for answer, reward in zip(answers, rewards, strict=True):
        cluster = -1
        if answer is not None:
            cluster = next((i for i, rep in enumerate(representatives) if verify(rep, answer)), -1)
            if cluster < 0:
                representatives.append(answer)
                cluster = len(representatives) - 1
        correct = answer is not None and bool(gold) and verify(gold, answer)
        group.append(Candidate(reward if is_score(reward) else -math.inf, cluster, correct))
    return group


def final_answer(steps: Sequence[str], parse: Callable[[str], list[Any]]) -> list[Any] | None:
    """math-verify's parse of the last step that has a parseable answer, or None."""
    for step in reversed(steps):
        parsed = parse(step)
        if parsed:
            return parsed
    return None


def _draws(size: int, n: int, rng: random.Random) -> list[tuple[int, ...]]:
    n = min(n, size)  # a problem with fewer candidates than N uses all it has
    if math.comb(size, n) <= MAX_DRAWS:
        return list(itertools.combinations(range(size), n))
    return [tuple(rng.sample(range(size), n)) for _ in range(MAX_DRAWS)]


def _best(options: dict[Any, float], correct: dict[Any, bool]) -> float:
    """Mean correctness of the options tied at the top score."""
    if not options:
        return 0.0
    top = max(options.values())
    winners = [k for k, v in options.items() if v == top]
    return sum(correct[k] for k in winners) / len(winners)


def _by_reward(picked: list[Candidate]) -> float:
    return _best({i: c.reward for i, c in enumerate(picked)}, {i: c.correct for i, c in enumerate(picked)})


def vote_counts(picked: Sequence[Candidate], weight: Callable[[Candidate], float]) -> dict[int, float]:
    """Votes per answer cluster (candidates without an answer do not vote)."""
    votes: dict[int, float] = defaultdict(float)
    for c in picked:
        if c.cluster >= 0:
            votes[c.cluster] += weight(c)
    return dict(votes)


def _vote(weight: Callable[[Candidate], float]) -> Callable[[list[Candidate]], float]:
    def pick(picked: list[Candidate]) -> float:
        return _best(vote_counts(picked, weight), {c.cluster: c.correct for c in picked})

    return pick


# A reward of -inf (unparseable) must not cancel a whole cluster's votes: it weighs 0.
VOTE_WEIGHTS: dict[str, Callable[[Candidate], float]] = {
    "weighted vote": lambda c: max(c.reward, 0.0),
    "majority vote": lambda c: 1.0,
}


_PICK: dict[str, Callable[[list[Candidate]], float]] = {
    "verifier": _by_reward,
    "weighted vote": _vote(VOTE_WEIGHTS["weighted vote"]),
    "majority vote": _vote(VOTE_WEIGHTS["majority vote"]),
    "random": lambda picked: sum(c.correct for c in picked) / len(picked),
    "oracle": lambda picked: float(any(c.correct for c in picked)),
}


def expected_correct(picked: Sequence[Candidate], method: str) -> float:
    """How often `method` (one of `METHODS`) picks a right answer among `picked`; a tie counts the mean of the tied."""
    return _PICK[method](list(picked))
