"""Verifier-guided step-level beam search.

Each round:
  1) every open beam of every problem asks the policy for `expand` next steps: all of them in one batched
     generate call, each stopping at the step delimiter;
  2) each proposal extends its beam by one step (an empty proposal is a dead end and is dropped; an empty one at
     the end of the policy's turn finishes its beam as it is);
  3) the verifier scores every new prefix (a problem's prefixes in one verifier batch; earlier steps come from
     the memos, see `genprm.search.scorer`); a prefix's score is the `agg` of its step scores;
  4) per problem the best `beam_width` prefixes survive (ties: the earlier proposal, beams in order); a survivor
     whose last step gives the final answer (or that ended the policy's turn) is finished and leaves the beam.
The search of a problem stops when no beam is open or after `max_steps` steps; beams still open then are kept
as unfinished candidates, as is a beam whose every proposal was a dead end.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from genprm.backends.base import GenerateRequest
from genprm.scoring import aggregate
from genprm.search.policy import Policy
from genprm.search.problems import Problem
from genprm.search.result import Attempt, Searched
from genprm.search.scorer import StepScorer
from genprm.search.search_config import SearchConfig
from genprm.types import VerificationResult


@dataclass
class _Beam:
    steps: tuple[str, ...]
    score: float = float("-inf")
    result: VerificationResult | None = None
    finished: bool = False


def beam_search(problems: Sequence[Problem], policy: Policy, scorer: StepScorer,
                config: SearchConfig) -> list[Searched]:
    """Search each problem; the candidates are the finished beams, then those left open (in rank order)."""
    open_beams: list[list[_Beam]] = [[_Beam(())] for _ in problems]
    done: list[list[_Beam]] = [[] for _ in problems]
    tokens = [0] * len(problems)
    for depth in range(config.max_steps):
        live = [(i, b, beam) for i, beams in enumerate(open_beams) for b, beam in enumerate(beams)]
        if not live:
            break
        # 1) One policy call for all proposals of all problems.
        requests = [GenerateRequest(policy.solve_prompt(problems[i].problem, beam.steps), config.step_tokens,
                                    (policy.delimiter,), config.policy_temperature,
                                    _seed(config.policy_seed, problems[i].id, depth, b, j))
                    for i, b, beam in live for j in range(config.expand)]
        outs = policy.generate(requests)
        # 2) Proposals -> children, per problem, in (beam, proposal) order; equal prefixes count once.
        children: list[list[_Beam]] = [[] for _ in problems]
        seen: set[tuple[int, tuple[str, ...]]] = set()
        fertile: set[tuple[int, int]] = set()
        for k, out in enumerate(outs):
            i, b, beam = live[k // config.expand]
            tokens[i] += out.num_tokens
            step = out.text.removesuffix(policy.delimiter).strip()
            if step:
                child = _Beam(beam.steps + (step,), finished=out.finish_reason == "eos" or policy.is_final(step))
            elif out.finish_reason == "eos" and beam.steps:
                child = _Beam(beam.steps, beam.score, beam.result, finished=True)  # the policy is done writing
            else:
                continue  # a dead end: nothing before the delimiter
            fertile.add((i, b))
            if (i, child.steps) not in seen:
                seen.add((i, child.steps))
                children[i].append(child)
        for i, b, beam in live:
            if (i, b) not in fertile and beam.steps:
                done[i].append(beam)  # every proposal was a dead end: the beam ends here, unfinished
        # 3) Score the new prefixes; 4) keep the best.
        for i, problem in enumerate(problems):
            new = [c for c in children[i] if c.result is None]
            for c, result in zip(new, scorer.verify(problem, [c.steps for c in new]) if new else [], strict=True):
                c.result, c.score = result, aggregate(result.step_scores, scorer.verifier.config.agg)
            survivors = sorted(children[i], key=lambda c: c.score, reverse=True)[:config.beam_width]
            done[i] += [c for c in survivors if c.finished]
            open_beams[i] = [c for c in survivors if not c.finished]
    return [Searched([Attempt(b.steps, b.result, b.score, b.finished) for b in done[i] + open_beams[i]], tokens[i])
            for i in range(len(problems))]


def _seed(seed: int, problem_id: str, depth: int, beam: int, proposal: int) -> int:
    return zlib.crc32(f"{seed}:{problem_id}:{depth}:{beam}:{proposal}".encode())
