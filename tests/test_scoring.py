import math

import pytest

from genprm.errors import ConfigError
from genprm.scoring import aggregate, check_threshold, first_error, verdict_score


def test_verdict_score_matches_softmax_over_logits_computed_by_hand():
    # Next-token logits over a toy vocabulary; index 1 is " Yes", index 3 is " No".
    logits = [2.0, 1.5, -0.5, 0.25, 3.0]
    z = sum(math.exp(x) for x in logits)
    logprobs = [x - math.log(z) for x in logits]
    p_yes, p_no = math.exp(logits[1]) / z, math.exp(logits[3]) / z
    expected = p_yes / (p_yes + p_no)  # = 1 / (1 + e^(0.25 - 1.5)) = 0.77730...
    assert verdict_score(logprobs[1], logprobs[3]) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.7773, abs=1e-4)


def test_verdict_score_ignores_normalisation_and_is_stable_at_extremes():
    assert verdict_score(-3.0, -3.0) == 0.5
    assert verdict_score(10.0, 10.0) == 0.5  # unnormalised logits work too
    assert verdict_score(0.0, -1000.0) == 1.0
    assert verdict_score(-1000.0, 0.0) == 0.0
    assert 0.0 < verdict_score(-700.0, 0.0) < 1e-300 or verdict_score(-700.0, 0.0) == 0.0


@pytest.mark.parametrize(
    ("how", "expected"),
    [("min", 0.2), ("last", 0.9), ("prod", 0.8 * 0.2 * 0.9), ("mean", (0.8 + 0.2 + 0.9) / 3)],
)
def test_aggregate(how, expected):
    assert aggregate([0.8, 0.2, 0.9], how) == pytest.approx(expected)


def test_aggregate_rejects_unknown_and_empty():
    with pytest.raises(ValueError, match="aggregation must be one of"):
        aggregate([0.5], "max")
    with pytest.raises(ValueError):
        aggregate([], "min")


def test_first_error():
    assert first_error([0.9, 0.7, 0.4, 0.1]) == 2
    assert first_error([0.9, 0.7]) == -1
    assert first_error([0.9, 0.7], threshold=0.8) == 1
    assert first_error([0.5]) == -1  # "below the threshold": 0.5 passes at 0.5


@pytest.mark.parametrize(
    ("scores", "threshold", "expected"),
    [
        ([0.9, 0.8, 0.7], 0.5, -1),  # every step passes
        ([0.9, 0.4, 0.2], 0.5, 1),  # the first below, not the lowest
        ([0.5, 0.5], 0.5, -1),  # "below" is strict
        ([0.9, 0.6], 0.7, 1),
        ([0.2, 0.9], 0.5, 0),
        ([0.9, float("nan"), 0.1], 0.5, None),  # unparseable before any error: no prediction
        ([0.9, None, 0.1], 0.5, None),
        ([0.1, None], 0.5, 0),  # the error comes first: the later gap does not matter
        ([], 0.5, -1),
    ],
)
def test_first_error_with_unparseable_scores(scores, threshold, expected):
    assert first_error(scores, threshold) == expected


def test_check_threshold():
    assert check_threshold(0.0) == 0.0 and check_threshold(1.0) == 1.0
    with pytest.raises(ConfigError, match=r"threshold must be in \[0, 1\], got 1.5"):
        check_threshold(1.5)
