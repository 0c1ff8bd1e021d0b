"""What a search gives back: one `SearchResult` per problem (one JSONL line), with every candidate it considered.

`grade` turns a strategy's attempts into a result: each attempt's final answer is read with math-verify (the
last step it can parse, as in `genprm rerank`), equal answers share a cluster, each is checked against the gold
answer, and the verifier's pick, the majority vote and the verifier-weighted vote are taken as `genprm rerank`
takes them (`genprm.answers`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from genprm.answers import VOTE_WEIGHTS, final_answer, make_candidates, vote_counts
from genprm.search.problems import Problem
from genprm.types import VerificationResult


@dataclass(frozen=True)
class Attempt:
    """A solution a strategy produced, before grading."""

    steps: tuple[str, ...]
    result: VerificationResult | None
    """The verifier's judgement (None: the solution has no steps)."""
    score: float
    """Its score under the search's aggregation (-inf when unverified)."""
    finished: bool
    """Whether it ended in a final-answer step or the end of the policy's turn (not cut by a budget)."""
    policy_tokens: int = 0
    verifier_tokens: int = 0
    round: int = 0
    """refine: the round that wrote it (0 = the first solution)."""


@dataclass(frozen=True)
class Searched:
    """A strategy's output for one problem: its attempts, and the tokens the policy generated for them all."""

    attempts: list[Attempt]
    policy_tokens: int


@dataclass(frozen=True)
class SearchCandidate:
    steps: list[str]
    answer: str | None
    correct: bool
    cluster: int
    """Candidates with equal answers (by math-verify) share a cluster; -1 = no answer."""
    score: float | None
    """The search's score of it (None: not verified, e.g. no steps)."""
    step_scores: list[float]
    first_error: int
    critiques: list[str]
    finished: bool
    policy_tokens: int
    verifier_tokens: int
    round: int = 0


@dataclass(frozen=True)
class SearchResult:
    """One problem's search. `answer`/`correct` are the strategy's choice; `votes` the voting baselines on the same
    candidates; tokens are what the policy and the verifier generated for this problem (`verdicts`: verdict
    forward passes of the verifier)."""

    id: str
    problem: str
    gold: str
    strategy: str
    answer: str | None
    correct: bool
    chosen: int
    candidates: list[SearchCandidate]
    votes: dict[str, dict[str, Any]]
    policy_tokens: int
    verifier_tokens: int
    verdicts: int
    budget: dict[str, Any]
    policy: str = ""
    verifier: str = ""
    wall_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchResult:
        d = dict(d)
        d["candidates"] = [SearchCandidate(**c) for c in d["candidates"]]
        return cls(**d)


def grade(problem: Problem, strategy: str, attempts: Sequence[Attempt], **fields: Any) -> SearchResult:
    """Read, cluster and check the attempts' answers; pick the best-scored one (ties: the earliest)."""
    from math_verify import parse  # sympy is slow to import: only when grading

    answers = [final_answer(a.steps, parse) if a.steps else None for a in attempts]
    graded = make_candidates(answers, [a.score for a in attempts], parse_gold(problem.gold))
    candidates = [
        SearchCandidate(steps=list(a.steps), answer=answer_text(answer), correct=g.correct, cluster=g.cluster,
                        score=a.score if math.isfinite(a.score) else None,
                        step_scores=a.result.step_scores if a.result else [],
                        first_error=a.result.first_error if a.result else -1,
                        critiques=[s.critique for s in a.result.steps] if a.result else [], finished=a.finished,
                        policy_tokens=a.policy_tokens, verifier_tokens=a.verifier_tokens, round=a.round)
        for a, answer, g in zip(attempts, answers, graded, strict=True)
    ]
    chosen = max(range(len(attempts)), key=lambda i: (attempts[i].score, -i)) if attempts else -1
    votes = {}
    for method, weight in VOTE_WEIGHTS.items():
        counts = vote_counts(graded, weight)
        # The winning cluster (ties: the one reached first); the answer of its first candidate.
        winner = max(counts, key=lambda c: (counts[c], -c)) if counts else -1
        first = next((c for c in candidates if c.cluster == winner), None) if winner >= 0 else None
        votes[method] = {"answer": first.answer if first else None, "correct": bool(first and first.correct)}
    pick = candidates[chosen] if chosen >= 0 else None
    return SearchResult(id=problem.id, problem=problem.problem, gold=problem.gold, strategy=strategy,
                        answer=pick.answer if pick else None, correct=bool(pick and pick.correct), chosen=chosen,
                        candidates=candidates, votes=votes, **fields)


def parse_gold(gold: str) -> list[Any]:
    """math-verify's parse of a gold answer; bare LaTeX ("\\frac{1}{2}") is read inside $...$."""
    from math_verify import parse

    return parse(gold) or parse(f"${gold}$")


def answer_text(parsed: list[Any] | None) -> str | None:
    """The answer as the text math-verify extracted (its last element), or None."""
    if not parsed:
        return None
    return parsed[-1] if isinstance(parsed[-1], str) else str(parsed[0])
