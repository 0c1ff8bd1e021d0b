"""Search asks the protocol, never its name: every strategy runs with every built-in protocol (the real base model
as policy and verifier, one load, tiny budgets). refine shows the policy each protocol's own critique."""

from __future__ import annotations

import pytest

from genprm.config import VerifierConfig
from genprm.protocols import builtin_protocols
from genprm.search import Policy, SearchConfig, StepScorer, search, select_problems
from genprm.verifier import Verifier

BUDGETS = {"best-of-n": {"n": 2, "policy_max_tokens": 12}, "refine": {"rounds": 1, "policy_max_tokens": 12},
           "beam": {"beam_width": 1, "expand": 2, "max_steps": 2, "step_tokens": 8}}


# These two read a classification head, which the causal base model has not (tests/protocols/test_discriminative.py
# runs them on tiny head models, search included).
NEEDS_A_HEAD = {"qwen-prm", "token-classification"}


@pytest.mark.parametrize("strategy", list(BUDGETS))
@pytest.mark.parametrize("protocol", [p for p in builtin_protocols() if p not in NEEDS_A_HEAD])
def test_every_strategy_runs_with_every_protocol(hf_backend, protocol, strategy):
    # threshold 1.0 rejects every step, so refine always rewrites with the protocol's critique in its prompt
    config = VerifierConfig(protocol=protocol, mode="critique", max_tokens=8, threshold=1.0)
    scorer = StepScorer(Verifier(hf_backend, config))
    policy = Policy(hf_backend)
    [problem] = select_problems("examples/search_problems.jsonl", limit=1)
    [result] = search([problem], policy, scorer, SearchConfig(strategy=strategy, **BUDGETS[strategy]))
    assert result.candidates
    verified = [c for c in result.candidates if c.steps]
    assert verified and all(len(c.step_scores) == len(c.steps) for c in verified)
    if strategy == "refine":
        first = next(c for c in result.candidates if c.steps)
        assert scorer.protocol.critique(scorer.verify(problem, [first.steps])[0], 0)  # a critique to show
    scorer.close()
