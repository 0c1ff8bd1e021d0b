"""The metric definitions, as pure functions on plain numbers: ProcessBench, PRMBench's score, AUROC. The
first-error prediction they score is `genprm.scoring.first_error`, the verifier's own rule.

Conventions shared by every metric here:
- A step score that is missing or not a finite number (the verifier produced no verdict) is an unparseable
  prediction and always counts as a miss, never as a lucky hit.
- A metric with no sample to be computed on is `None` (null in JSON), never 0: "undefined" and "always wrong" are
  different findings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from genprm.scoring import is_score


def harmonic_f1(a: float | None, b: float | None) -> float | None:
    """2ab / (a + b); None when either side is undefined, 0 when both are 0."""
    if a is None or b is None:
        return None
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


@dataclass(frozen=True)
class ProcessBenchScore:
    """One subset under the ProcessBench protocol; accuracies and F1 in percent.

    `acc_err` is None when the subset has no erroneous sample, `acc_ok` when it has no correct one; F1 is then
    None too, and the subset is left out of the mean F1 (a harmonic mean of one number means nothing).
    """

    n_err: int
    n_ok: int
    acc_err: float | None
    acc_ok: float | None
    f1: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def processbench(labels: Sequence[int], predictions: Sequence[int | None]) -> ProcessBenchScore:
    """Score earliest-error predictions against gold labels (-1 = no error); only exact matches count."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    err = [p is not None and p == y for y, p in zip(labels, predictions, strict=True) if y >= 0]
    ok = [p is not None and p == y for y, p in zip(labels, predictions, strict=True) if y < 0]
    acc_err = 100.0 * sum(err) / len(err) if err else None
    acc_ok = 100.0 * sum(ok) / len(ok) if ok else None
    return ProcessBenchScore(len(err), len(ok), acc_err, acc_ok, harmonic_f1(acc_err, acc_ok))


def mean_f1(scores: Sequence[ProcessBenchScore]) -> float | None:
    """ProcessBench's headline number: the plain mean of the subsets' F1, over subsets where F1 is defined."""
    f1s = [s.f1 for s in scores if s.f1 is not None]
    return sum(f1s) / len(f1s) if f1s else None


@dataclass(frozen=True)
class StepCounts:
    """Step-level confusion counts, with "correct step" as the positive class (PRMBench's convention).

    tp: correct step judged correct, fn: correct step judged wrong, tn: wrong step judged wrong, fp: wrong step
    judged correct.
    """

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def __add__(self, other: StepCounts) -> StepCounts:
        return StepCounts(self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn)


def step_counts(step_labels: Sequence[bool], scores: Sequence[float | None], threshold: float) -> StepCounts:
    """Count one solution's steps: a step is judged correct when its score is >= `threshold`.

    An unparseable score is a miss: a correct step counts as judged wrong, a wrong step as judged correct.
    """
    tp = fp = tn = fn = 0
    for ok, s in zip(step_labels, scores, strict=True):
        judged_ok = (s >= threshold) if is_score(s) else not ok  # type: ignore[operator]
        if ok:
            tp, fn = tp + judged_ok, fn + (not judged_ok)
        else:
            fp, tn = fp + judged_ok, tn + (not judged_ok)
    return StepCounts(tp, fp, tn, fn)


def f1(hits: int, false_alarms: int, misses: int) -> float | None:
    """F1 = 2·hits / (2·hits + false alarms + misses); None when the class is absent from gold and predictions."""
    denominator = 2 * hits + false_alarms + misses
    return 100.0 * 2 * hits / denominator if denominator else None


@dataclass(frozen=True)
class PRMBenchScore:
    """PRMBench's score of pooled step counts: the mean of the F1 on correct steps and the F1 on wrong steps
    (percent). When one class is absent from both gold and predictions its F1 is None and the score is the other."""

    counts: StepCounts
    f1_correct: float | None
    f1_wrong: float | None
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.counts), "f1_correct": self.f1_correct, "f1_wrong": self.f1_wrong, "score": self.score}


def prmbench(counts: StepCounts) -> PRMBenchScore:
    f1_correct = f1(counts.tp, counts.fn, counts.fp)
    f1_wrong = f1(counts.tn, counts.fp, counts.fn)
    defined = [x for x in (f1_correct, f1_wrong) if x is not None]
    return PRMBenchScore(counts, f1_correct, f1_wrong, sum(defined) / len(defined) if defined else None)


def auroc(scores: Sequence[float | None], positives: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `scores` for telling positives from negatives (Mann-Whitney U, ties = 1/2).

    None when one class is empty. An unparseable score ranks below every real score.
    """
    values = [s if is_score(s) else -math.inf for s in scores]
    n_pos = sum(1 for p in positives if p)
    n_neg = len(values) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    # Average ranks (1-based) so tied scores share their ranks evenly.
    order = sorted(range(len(values)), key=lambda i: values[i])  # type: ignore[arg-type, return-value]
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, p in zip(ranks, positives, strict=True) if p)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
