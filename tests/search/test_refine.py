"""Refine on a scripted policy and a scripted verifier (critique mode): the policy's rewrite prompt holds the
critique of the rejected step, keeps the steps before it, and the rewrite is verified again."""

from __future__ import annotations

from helpers.scripted_search import PROBLEM

from genprm.search import SearchConfig
from genprm.search.refine import refine

FIRST = "Ann has 3 pens.\n\nShe buys 4 more: 3 + 4 = 8.\n\nThe answer is 8."
CRITIQUE = "The step adds 3 + 4 and writes 8, but 3 + 4 is 7."


def test_the_rewrite_sees_the_critique_of_the_first_rejected_step(make_search):
    tree = {(): [FIRST], ("Ann has 3 pens.",): ["She buys 4 more: 3 + 4 = 7.\n\nThe answer is 7."]}
    scores = {"Ann has 3 pens.": 0.9, "She buys 4 more: 3 + 4 = 8.": 0.1, "The answer is 8.": 0.2,
              "She buys 4 more: 3 + 4 = 7.": 0.9, "The answer is 7.": 0.9}
    policy, scorer, backend, model = make_search(tree, scores, {"She buys 4 more: 3 + 4 = 8.": CRITIQUE},
                                                 mode="critique")
    [searched] = refine([PROBLEM], policy, scorer, SearchConfig(strategy="refine", rounds=3))

    rewrite = backend.batches[1][0].prompt
    assert CRITIQUE in rewrite and "She buys 4 more: 3 + 4 = 8." in rewrite
    # The policy continues from the kept steps (the prefilled start of its turn).
    assert rewrite.endswith("<assistant>Ann has 3 pens.\n\n")
    assert [(a.round, a.steps, a.result.first_error) for a in searched.attempts] == [
        (0, ("Ann has 3 pens.", "She buys 4 more: 3 + 4 = 8.", "The answer is 8."), 1),
        (1, ("Ann has 3 pens.", "She buys 4 more: 3 + 4 = 7.", "The answer is 7."), -1),
    ]
    assert len(backend.batches) == 2  # the verifier accepted round 1: no round 2
    # The kept first step's critique was not written again: 3 critiques for round 0, 2 for round 1.
    assert sum(1 for c in model.calls if hasattr(c, "max_new_tokens")) == 5
    assert searched.attempts[1].verifier_tokens > 0 and searched.attempts[1].policy_tokens > 0


def test_refine_stops_after_the_last_round(make_search):
    tree = {(): ["Wrong step.\n\nThe answer is 1."], ("Wrong step.",): ["The answer is 2."]}
    policy, scorer, backend, _ = make_search(tree, {"Wrong step.": 0.9, "The answer is 1.": 0.1,
                                                    "The answer is 2.": 0.2})
    [searched] = refine([PROBLEM], policy, scorer, SearchConfig(strategy="refine", rounds=2))
    assert [a.round for a in searched.attempts] == [0, 1, 2]
    assert len(backend.batches) == 3
