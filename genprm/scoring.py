"""From verdict logprobs to step scores, and from step scores to a solution's reward and first error."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

from genprm.errors import ConfigError

AGGREGATIONS = ("min", "last", "prod", "mean")


def verdict_score(logprob_positive: float, logprob_negative: float) -> float:
    """P(positive) / (P(positive) + P(negative)) from the two candidates' next-token logprobs.

    The logprobs may be normalised over the whole vocabulary or not: the ratio only depends on their difference,
    so it equals a two-way softmax, computed here as a sigmoid for numerical stability.
    """
    diff = logprob_negative - logprob_positive
    if diff > 0:
        z = math.exp(-diff)
        return z / (1.0 + z)
    return 1.0 / (1.0 + math.exp(diff))


def aggregate(scores: Sequence[float], how: str = "min") -> float:
    """The solution-level reward: `min` (weakest step), `last`, `prod` (all steps right) or `mean`."""
    if not scores:
        raise ValueError("aggregate needs at least one step score")
    if how == "min":
        return min(scores)
    if how == "last":
        return scores[-1]
    if how == "prod":
        return math.prod(scores)
    if how == "mean":
        return sum(scores) / len(scores)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {how!r}.")


def check_threshold(threshold: float) -> float:
    """`threshold` itself when it is a score (in [0, 1]).

    Raises:
        ConfigError: it is outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError("threshold", "in [0, 1]", threshold)
    return threshold


def is_score(x: float | None) -> bool:
    """Whether `x` is a real score: a missing or non-finite one means the verifier gave no verdict."""
    return isinstance(x, int | float) and math.isfinite(x)


@overload
def first_error(scores: Sequence[float], threshold: float = 0.5) -> int: ...
@overload
def first_error(scores: Sequence[float | None], threshold: float = 0.5) -> int | None: ...
def first_error(scores: Sequence[float | None], threshold: float = 0.5) -> int | None:
    """Index of the first step whose score is below `threshold`, or -1 when every step passes.

    None (an unparseable prediction) when a score before the first error is missing or not finite: whether that
    step is the error cannot be told, so an evaluation counts the sample as a miss whatever its label.
    """
    for i, s in enumerate(scores):
        if not is_score(s):
            return None
        if s < threshold:  # type: ignore[operator]
            return i
    return -1
