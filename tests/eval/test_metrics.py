"""The metric definitions against hand-computed cases, edge cases included."""

import math

import pytest

from genprm.eval.metrics import (
    ProcessBenchScore,
    StepCounts,
    auroc,
    harmonic_f1,
    mean_f1,
    prmbench,
    processbench,
    step_counts,
)


def test_processbench_hand_computed():
    # 4 erroneous samples, 2 found exactly (one off by one, one unparseable); 3 correct samples, 2 found.
    labels = [2, 0, 3, 1, -1, -1, -1]
    preds = [2, 0, 2, None, -1, -1, 4]
    s = processbench(labels, preds)
    assert (s.n_err, s.n_ok) == (4, 3)
    assert s.acc_err == pytest.approx(50.0)
    assert s.acc_ok == pytest.approx(200 / 3)
    assert s.f1 == pytest.approx(2 * 50 * (200 / 3) / (50 + 200 / 3))  # 57.142...


def test_all_correct_samples_leave_acc_err_and_f1_undefined():
    s = processbench([-1, -1, -1], [-1, 2, -1])
    assert s.acc_err is None and s.acc_ok == pytest.approx(200 / 3) and s.f1 is None


def test_no_correct_samples_leave_acc_ok_undefined():
    s = processbench([0, 1], [0, 1])
    assert s.acc_err == 100.0 and s.acc_ok is None and s.f1 is None


def test_f1_is_zero_when_one_accuracy_is_zero():
    s = processbench([1, 2, -1, -1], [-1, -1, -1, -1])  # a verifier that never finds an error
    assert s.acc_err == 0.0 and s.acc_ok == 100.0 and s.f1 == 0.0
    assert harmonic_f1(0.0, 0.0) == 0.0


def test_unparseable_predictions_count_as_misses_on_both_sides():
    s = processbench([-1, 1], [None, None])
    assert s.acc_err == 0.0 and s.acc_ok == 0.0 and s.f1 == 0.0


def test_mean_f1_skips_undefined_subsets():
    subsets = [ProcessBenchScore(1, 1, 50.0, 100.0, 200 / 3), ProcessBenchScore(0, 2, None, 100.0, None),
               ProcessBenchScore(1, 1, 100.0, 100.0, 100.0)]
    assert mean_f1(subsets) == pytest.approx((200 / 3 + 100) / 2)
    assert mean_f1([ProcessBenchScore(0, 1, None, 100.0, None)]) is None


def test_step_counts_and_prmbench_score_hand_computed():
    # Steps: ok ok bad ok bad; scores judge: ok(0.9) bad(0.2) bad(0.1) ok(0.7) ok(0.6)
    c = step_counts([True, True, False, True, False], [0.9, 0.2, 0.1, 0.7, 0.6], 0.5)
    assert c == StepCounts(tp=2, fp=1, tn=1, fn=1)
    s = prmbench(c)
    assert s.f1_correct == pytest.approx(100 * 2 * 2 / (2 * 2 + 1 + 1))  # 66.7: P = 2/3, R = 2/3
    assert s.f1_wrong == pytest.approx(100 * 2 * 1 / (2 * 1 + 1 + 1))  # 50.0: P = 1/2, R = 1/2
    assert s.score == pytest.approx((200 / 3 + 50) / 2)


def test_unparseable_step_scores_are_misses():
    assert step_counts([True, False], [float("nan"), None], 0.5) == StepCounts(tp=0, fp=1, tn=0, fn=1)


def test_prmbench_all_correct_steps_all_judged_correct():
    s = prmbench(step_counts([True, True], [0.9, 0.8], 0.5))
    assert s.f1_correct == 100.0 and s.f1_wrong is None and s.score == 100.0


def test_prmbench_none_correct():
    s = prmbench(step_counts([False, False], [0.9, 0.8], 0.5))  # every wrong step judged correct
    assert s.f1_correct == 0.0 and s.f1_wrong == 0.0 and s.score == 0.0
    assert prmbench(StepCounts()).score is None


@pytest.mark.parametrize(
    ("scores", "positives", "expected"),
    [
        ([0.9, 0.8, 0.2, 0.1], [True, True, False, False], 1.0),
        ([0.1, 0.2, 0.8, 0.9], [True, True, False, False], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [True, False, True, False], 0.5),  # ties count half
        ([0.9, 0.3, 0.6, 0.1], [True, True, False, False], 0.75),  # 3 of 4 pairs ordered right
        ([0.9, float("nan"), 0.2], [True, True, False], 0.5),  # unparseable ranks lowest
        ([0.9, 0.8], [True, True], None),  # one class only: undefined
        ([], [], None),
    ],
)
def test_auroc(scores, positives, expected):
    got = auroc(scores, positives)
    assert got == (pytest.approx(expected) if expected is not None else None)
    assert got is None or not math.isnan(got)
