"""The scorer verifies each (problem, steps) once, and a prefix's earlier steps cost no model work."""

from __future__ import annotations

import pytest
from helpers.scripted_backend import ScriptedBackend
from helpers.scripted_search import PROBLEM

from genprm.backends.base import GenerateRequest
from genprm.protocols import builtin_protocols
from genprm.search.scorer import MemoBackend


def test_a_prefix_costs_only_its_new_step(make_search):
    _, scorer, _, model = make_search({}, {"a": 0.9, "b": 0.2, "c": 0.8}, mode="critique")
    [ab] = scorer.verify(PROBLEM, [("a", "b")])
    assert ab.step_scores == pytest.approx([0.9, 0.2])
    critiques = sum(isinstance(c, GenerateRequest) for c in model.calls)
    [abc, ab_again] = scorer.verify(PROBLEM, [("a", "b", "c"), ("a", "b")])
    assert ab_again is ab
    assert sum(isinstance(c, GenerateRequest) for c in model.calls) == critiques + 1  # only step "c"
    assert abc.step_scores[:2] == ab.step_scores
    assert scorer.verdicts[PROBLEM.id] == 3 and scorer.tokens[PROBLEM.id] > 0


def test_unseeded_samples_are_never_memoised():
    inner = ScriptedBackend(generations=["one", "two", "three"])
    memo = MemoBackend(inner)
    sampled, greedy = GenerateRequest("p", 8, temperature=0.7), GenerateRequest("p", 8)
    assert [g.text for g in memo.generate([sampled, sampled])] == ["one", "two"]
    assert [g.text for g in memo.generate([greedy, greedy])] == ["three", "three"]
    assert memo.generated_tokens == 3


def test_policy_prompts_are_not_verifier_protocols():
    assert not [name for name in builtin_protocols() if name.startswith("policy_")]
