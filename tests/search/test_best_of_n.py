"""Best-of-N on a scripted policy and verifier: the verifier's pick, majority and weighted votes, answers checked
against the gold answer with math-verify; and the accuracy-vs-tokens table `genprm eval` draws from results."""

from __future__ import annotations

import pytest
from helpers.scripted_search import PROBLEM

from genprm.search import SearchConfig, search
from genprm.search.scaling import scaling_table

SAMPLES = ["3 + 4 = 7.\n\nThe answer is 7.", "3 + 4 = 8.\n\nThe answer is 8.", "3 * 4 = 12.\n\nThe answer is 12.",
           "3 + 4 = 8!\n\nThe answer is 8."]
SCORES = {"3 + 4 = 7.": 0.9, "3 + 4 = 8.": 0.3, "3 * 4 = 12.": 0.2, "3 + 4 = 8!": 0.35, "The answer is 7.": 0.95,
          "The answer is 8.": 0.95, "The answer is 12.": 0.95}


def test_verifier_pick_and_votes(make_search):
    policy, scorer, backend, _ = make_search({(): SAMPLES}, SCORES)
    [result] = search([PROBLEM], policy, scorer, SearchConfig(strategy="best-of-n", n=4))
    assert len(backend.batches) == 1 and len(backend.batches[0]) == 4
    assert [c.answer for c in result.candidates] == ["7", "8", "12", "8"]
    assert [c.cluster for c in result.candidates] == [0, 1, 2, 1]
    assert (result.answer, result.correct, result.chosen) == ("7", True, 0)
    # Two votes for 8 beat one for 7; weighted by score, 0.9 for 7 beats 0.3 + 0.35 for 8.
    assert result.votes["majority vote"] == {"answer": "8", "correct": False}
    assert result.votes["weighted vote"] == {"answer": "7", "correct": True}
    assert result.policy_tokens == sum(c.policy_tokens for c in result.candidates) > 0


def test_accuracy_against_tokens_uses_the_first_n_samples(make_search):
    policy, scorer, _, _ = make_search({(): SAMPLES}, SCORES)
    results = list(search([PROBLEM], policy, scorer, SearchConfig(strategy="best-of-n", n=4)))
    table = scaling_table([results])
    majority = [p["accuracy"] for p in table["methods"]["majority vote"]]
    picked = [p["accuracy"] for p in table["methods"]["best-of-n (verifier)"]]
    assert picked == [100.0] * 4
    assert majority == pytest.approx([100.0, 50.0, 100 / 3, 0.0])  # N=2: a 7-8 tie; N=3: three-way tie
    tokens = [p["tokens"] for p in table["methods"]["majority vote"]]
    assert tokens == sorted(tokens) and tokens[-1] == results[0].policy_tokens
