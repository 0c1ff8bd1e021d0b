"""Best-of-N against hand-computed accuracies: verifier pick, weighted and plain votes, random, oracle."""

import pytest
from helpers.scored_results import make_result

from genprm.errors import InputError
from genprm.eval.rerank import rerank


def candidates(problem, gold, answers_rewards):
    return [make_result(f"{problem}:{i}", [r], problem=problem, steps=[f"The answer is {a}."], answer=gold)
            for i, (a, r) in enumerate(answers_rewards)]


def test_best_of_n_hand_computed():
    # P1: gold 4; answers 4 (0.9), 5 (0.2), 5 (0.3): verifier right, majority wrong, weighted vote 0.9 vs 0.5 right.
    # P2: gold 10; answers 10.0 (0.1), 12 (0.8), 10 (0.2): verifier wrong, majority right (10.0 == 10), weighted
    #     0.3 vs 0.8 wrong.
    results = candidates("P1", "4", [("4", 0.9), ("5", 0.2), ("5", 0.3)]) + \
        candidates("P2", "10", [("10.0", 0.1), ("12", 0.8), ("10", 0.2)])
    t = rerank(results)
    assert t["problems"] == 2 and t["n"] == [1, 2, 3]
    at3 = {m: v[2] for m, v in t["methods"].items()}
    assert at3 == {"verifier": 50.0, "weighted vote": 50.0, "majority vote": 50.0,
                   "random": pytest.approx(100 * (1 / 3 + 2 / 3) / 2), "oracle": 100.0}
    # N = 1: every method is a random pick.
    assert len({round(v[0], 9) for v in t["methods"].values() if v is not t["methods"]["oracle"]}) == 1
    # N = 2 majority vote on P1: pairs {4,5a} tie (1/2), {4,5b} tie (1/2), {5a,5b} wrong -> 1/3.
    # On P2: {10.0,12} tie 1/2, {10.0,10} right, {12,10} tie 1/2 -> 2/3. Mean = 50%.
    assert t["methods"]["majority vote"][1] == pytest.approx(50.0)


def test_unparseable_answer_never_wins_a_vote():
    results = candidates("P", "7", [("7", 0.5), ("seven-ish", 0.99)])
    results[1] = make_result("P:1", [0.99], problem="P", steps=["I am not sure."], answer="7")
    t = rerank(results)
    assert t["methods"]["majority vote"][1] == 100.0
    assert t["methods"]["verifier"][1] == 0.0


def test_rerank_needs_groups_and_gold_answers():
    with pytest.raises(InputError, match="several candidates"):
        rerank(candidates("A", "1", [("1", 0.5)]) + candidates("B", "2", [("2", 0.5)]))
    with pytest.raises(InputError, match="no gold answer"):
        rerank([make_result(f"x{i}", [0.5], problem="Q", steps=["The answer is 3."]) for i in range(2)])
