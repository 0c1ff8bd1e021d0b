"""Critique-guided refinement (GenPRM's critique-refine, for any policy and verifier).

Round 0: the policy writes one solution (best-of-n's first sample) and the verifier checks it. Each further
round, for every problem whose latest solution has a step below the verifier's threshold: the policy sees the
solution, the first rejected step and the verifier's critique of it (`prompts/policy_refine.jinja`), and writes
the solution again from that step, the steps before it kept; the verifier checks the new solution. A problem
stops once the verifier accepts every step, or after `rounds` rounds. Every version is a candidate; the pick is
the best-scored one (ties: the earlier version).
"""

from __future__ import annotations

from collections.abc import Sequence

from genprm.backends.base import GenerateRequest
from genprm.search.best_of_n import sample_seed, verify_solutions
from genprm.search.policy import Policy
from genprm.search.problems import Problem
from genprm.search.result import Attempt, Searched
from genprm.search.scorer import StepScorer
from genprm.search.search_config import SearchConfig


def refine(problems: Sequence[Problem], policy: Policy, scorer: StepScorer, config: SearchConfig) -> list[Searched]:
    first = policy.generate([GenerateRequest(policy.solve_prompt(p.problem), config.policy_max_tokens, (),
                                             config.policy_temperature, sample_seed(config.policy_seed, p.id, 0))
                             for p in problems])
    versions: list[list[Attempt]] = [verify_solutions(p, [out], policy, scorer, config)
                                     for p, out in zip(problems, first, strict=True)]
    tokens = [out.num_tokens for out in first]
    for r in range(1, config.rounds + 1):
        todo = [i for i, v in enumerate(versions) if v[-1].result is not None and v[-1].result.first_error >= 0]
        if not todo:
            break
        requests = []
        for i in todo:
            latest = versions[i][-1]
            k = latest.result.first_error  # type: ignore[union-attr]
            prompt = policy.refine_prompt(problems[i].problem, latest.steps, k, scorer.critique(latest.result, k))
            requests.append(GenerateRequest(prompt, config.policy_max_tokens, (), config.policy_temperature,
                                            sample_seed(config.policy_seed, problems[i].id, r) ^ 0x5EED))
        for i, out in zip(todo, policy.generate(requests), strict=True):
            kept = versions[i][-1].steps[:versions[i][-1].result.first_error]  # type: ignore[union-attr]
            versions[i] += verify_solutions(problems[i], [out], policy, scorer, config, r, kept)
            tokens[i] += out.num_tokens
    return [Searched(v, t) for v, t in zip(versions, tokens, strict=True)]
