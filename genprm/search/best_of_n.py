"""Best-of-N: N full solutions per problem, sampled in one batched policy call, each verified and scored.

The pick is the best-scored solution; `grade` adds the majority vote and the verifier-weighted vote over the
same N (the baselines `genprm eval` plots beside it, for every prefix 1..N of the samples).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from genprm.backends.base import GenerateRequest, Generation
from genprm.scoring import aggregate
from genprm.search.policy import Policy
from genprm.search.problems import Problem
from genprm.search.result import Attempt, Searched
from genprm.search.scorer import StepScorer
from genprm.search.search_config import SearchConfig


def best_of_n(problems: Sequence[Problem], policy: Policy, scorer: StepScorer, config: SearchConfig) -> list[Searched]:
    requests = [GenerateRequest(policy.solve_prompt(p.problem), config.policy_max_tokens, (), config.policy_temperature,
                                sample_seed(config.policy_seed, p.id, s))
                for p in problems for s in range(config.n)]
    outs = policy.generate(requests)
    searched = []
    for i, problem in enumerate(problems):
        mine = outs[i * config.n:(i + 1) * config.n]
        searched.append(Searched(verify_solutions(problem, mine, policy, scorer, config),
                                 sum(o.num_tokens for o in mine)))
    return searched


def verify_solutions(problem: Problem, outs: Sequence[Generation], policy: Policy, scorer: StepScorer,
                     config: SearchConfig, round_index: int = 0, kept: Sequence[str] = ()) -> list[Attempt]:
    """Whole generated solutions (continuing the steps `kept`) -> verified attempts, verified in one batch.

    The verifier's tokens are shared out over the attempts by their number of steps (they were spent together).
    """
    solutions = [solution_steps(policy, o, kept) for o in outs]
    verified = [s for s, _ in solutions if s]
    before = scorer.tokens.get(problem.id, 0)
    results = iter(scorer.verify(problem, verified) if verified else [])
    spent = scorer.tokens.get(problem.id, 0) - before
    total_steps = sum(len(s) for s in verified) or 1
    attempts = []
    for (steps, finished), out in zip(solutions, outs, strict=True):
        result = next(results) if steps else None
        score = aggregate(result.step_scores, scorer.verifier.config.agg) if result else float("-inf")
        attempts.append(Attempt(tuple(steps), result, score, finished, out.num_tokens,
                                round(spent * len(steps) / total_steps), round_index))
    return attempts


def solution_steps(policy: Policy, out: Generation, kept: Sequence[str] = ()) -> tuple[list[str], bool]:
    """The steps of a generated solution, cut after its first final-answer step; and whether it finished."""
    steps = [*kept, *policy.split(out.text)]
    final = next((k for k, s in enumerate(steps) if policy.is_final(s)), None)
    if final is not None:
        return steps[:final + 1], True
    return steps, out.finish_reason == "eos"


def sample_seed(seed: int, problem_id: str, sample: int) -> int:
    """The seed of a problem's sample-th full solution (refine's first solution is best-of-n's first sample)."""
    return zlib.crc32(f"{seed}:{problem_id}:sample:{sample}".encode())
