"""Beam search bookkeeping on a scripted policy and a scripted verifier: which beams survive, ties, dead ends,
max steps, and one batched policy call per round."""

from __future__ import annotations

import pytest
from helpers.scripted_search import PROBLEM, beam_config

from genprm.search.beam import beam_search


def _steps(searched):
    return [(a.steps, a.finished) for a in searched.attempts]


def test_the_best_prefixes_survive_and_finished_beams_leave(make_search):
    tree = {
        (): ["a1\n\n", "a2\n\n"],
        ("a1",): ["b1\n\n", "b2\n\n"],
        ("a2",): ["c1\n\n", "c2\n\n"],
        ("a1", "b2"): ["The answer is 7.\n\n", "d\n\n"],
        ("a1", "b1"): ["The answer is 8.\n\n", "e\n\n"],
        ("a1", "b2", "d"): ["The answer is 9.\n\n"],
    }
    # min aggregation: a1 .9, a2 .6; a1b1 .8, a1b2 .9, a2c1 .6, a2c2 .3 -> a1b2 and a1b1 survive.
    scores = {"a1": 0.9, "a2": 0.6, "b1": 0.8, "b2": 0.95, "c1": 0.99, "c2": 0.3, "The answer is 7.": 0.9,
              "d": 0.85, "The answer is 8.": 0.7, "e": 0.2, "The answer is 9.": 0.99}
    policy, scorer, backend, _ = make_search(tree, scores)
    [searched] = beam_search([PROBLEM], policy, scorer, beam_config())
    # Round 3 children: a1b2+ans7 (.9), a1b2d (.85), a1b1+ans8 (.7), a1b1e (.2): ans7 finishes, a1b2d stays open;
    # round 4: a1b2d+ans9 (.85) finishes.
    assert _steps(searched) == [(("a1", "b2", "The answer is 7."), True), (("a1", "b2", "d", "The answer is 9."), True)]
    assert [a.score for a in searched.attempts] == pytest.approx([0.9, 0.85])
    # One policy call per round, holding every open beam's `expand` proposals.
    assert [len(b) for b in backend.batches] == [2, 4, 4, 2]
    assert searched.policy_tokens == policy.tokens == 2 + 4 + (4 + 1 + 4 + 1) + 2 * 4
    # Each new prefix's earlier steps come from the memos: one verdict per distinct step the search proposed.
    assert scorer.verdicts["p"] == 2 + 4 + 4 + 1


def test_ties_go_to_the_earlier_proposal(make_search):
    tree = {(): ["x\n\n", "y\n\n", "z\n\n"], ("x",): ["The answer is 1."], ("y",): ["The answer is 2."]}
    policy, scorer, _, _ = make_search(tree, {"x": 0.7, "y": 0.7, "z": 0.7, "The answer is 1.": 0.9,
                                              "The answer is 2.": 0.9})
    [searched] = beam_search([PROBLEM], policy, scorer, beam_config(beam_width=1, expand=3))
    assert _steps(searched) == [(("x", "The answer is 1."), True)]


def test_dead_ends_and_the_end_of_the_turn(make_search):
    tree = {
        (): ["a\n\n", "b\n\n"],
        ("a",): ["\n\n"],  # nothing before the delimiter, every time: the beam ends here, unfinished
        ("b",): ["", "c\n\n"],  # the policy ends its turn: "b" is a finished solution as it is
        ("b", "c"): ["\n\n"],
    }
    policy, scorer, _, _ = make_search(tree, {"a": 0.9, "b": 0.8, "c": 0.1})
    [searched] = beam_search([PROBLEM], policy, scorer, beam_config())
    assert _steps(searched) == [(("a",), False), (("b",), True), (("b", "c"), False)]


def test_max_steps_ends_open_beams_unfinished(make_search):
    tree = {(): ["s\n\n"], ("s",): ["s2\n\n", "t2\n\n"], ("s", "s2"): ["s3\n\n"], ("s", "t2"): ["t3\n\n"]}
    policy, scorer, backend, _ = make_search(tree, {"s": 0.9, "s2": 0.6, "t2": 0.7, "s3": 0.9, "t3": 0.2})
    [searched] = beam_search([PROBLEM], policy, scorer, beam_config(max_steps=2))
    assert _steps(searched) == [(("s", "t2"), False), (("s", "s2"), False)]
    assert len(backend.batches) == 2


def test_several_problems_share_each_policy_call(make_search):
    from genprm.search import Problem

    tree = {(): ["The answer is 7.\n\n"]}
    policy, scorer, backend, _ = make_search(tree, {})
    problems = [PROBLEM, Problem(id="q", problem="Another problem.", gold="7")]
    searched = beam_search(problems, policy, scorer, beam_config(expand=3))
    assert len(backend.batches) == 1 and len(backend.batches[0]) == 6
    # Three equal proposals are one prefix, verified once.
    assert [_steps(s) for s in searched] == [[(("The answer is 7.",), True)]] * 2
    assert scorer.verdicts == {"p": 1, "q": 1}
