"""Final answers of candidate solutions: read, clustered, checked, and picked by a method.

What Best-of-N (`genprm rerank`), search's grading and its accuracy-against-compute curves share. Final answers are
read with math-verify (the last step it can parse); equal answers (by math-verify) form one voting cluster. A method
whose pick is tied between clusters scores the mean correctness of the tied clusters, so ties neither help nor hurt.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from genprm.scoring import is_score

METHODS = ("verifier", "weighted vote", "majority vote", "random", "oracle")


@dataclass(frozen=True)
class Candidate:
    reward: float
    cluster: int  # equal final answers share a cluster; -1 = no answer found (never wins a vote)
    correct: bool


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
