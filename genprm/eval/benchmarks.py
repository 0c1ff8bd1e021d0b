"""`genprm eval`: every metric the gold labels allow, per subset, as one JSON-ready dict.

- ProcessBench protocol on solutions with an earliest-error `label`.
- PRMBench's score on solutions with complete per-step `step_labels`; a PRMBench record whose `error_steps` point
  past its last step is reported and skipped (its step labels would be wrong).
- Outcome AUROC of the aggregated reward on solutions with a final-answer `outcome`.

The threshold is fixed (`threshold=`) or tuned on a *separate* scored split (`tune_threshold`), never on the data
reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from genprm.errors import InputError
from genprm.eval.metrics import (
    StepCounts,
    auroc,
    mean_f1,
    prmbench,
    processbench,
    step_counts,
)
from genprm.eval.scored import Scored
from genprm.scoring import first_error, is_score
from genprm.types import Solution

# Thresholds drawn in the F1-against-threshold plot.
THRESHOLD_GRID = tuple(round(i / 100, 2) for i in range(1, 100))
# Most thresholds tried when tuning: exact up to 2000 distinct step scores (a dev split of ~200 solutions); each is
# one pass over the tuning split (~7 ms per 1000 solutions here: ~15 s for 1000 solutions at the cap).
MAX_CANDIDATES = 2000


def evaluate(samples: Sequence[Scored], threshold: float = 0.5, threshold_source: str = "fixed") -> dict[str, Any]:
    """All applicable metrics of `samples` at `threshold`.

    Returns:
        {"n", "threshold", "threshold_source", "processbench", "prmbench", "outcome", "skipped"}; a section is None
        when no sample has the labels it needs.

    Raises:
        InputError: no sample has any gold label.
    """
    if not any(_has_labels(s.gold) for s in samples):
        raise InputError("no gold labels to evaluate against (no label, step_labels or outcome in any solution); "
                         "pass --gold FILE with the labelled data")
    skipped: list[dict[str, str]] = []
    return {
        "n": len(samples),
        "threshold": threshold,
        "threshold_source": threshold_source,
        "processbench": processbench_section(samples, threshold, skipped),
        "prmbench": prmbench_section(samples, threshold, skipped),
        "outcome": outcome_section(samples),
        "skipped": skipped,
    }


def processbench_section(samples: Sequence[Scored], threshold: float,
                         skipped: list[dict[str, str]] | None = None) -> dict[str, Any] | None:
    by_subset: dict[str, tuple[list[int], list[int | None]]] = defaultdict(lambda: ([], []))
    for s in samples:
        label = s.gold.label
        if label is None:
            continue
        if label >= len(s.scores):
            if skipped is not None:
                skipped.append({"id": s.result.id, "metric": "processbench",
                                "reason": f"label {label} is past the last step ({len(s.scores)} steps)"})
            continue
        labels, predictions = by_subset[s.subset]
        labels.append(label)
        predictions.append(first_error(s.scores, threshold))
    if not by_subset:
        return None
    scores = {name: processbench(*lp) for name, lp in sorted(by_subset.items())}
    return {"subsets": {name: sc.to_dict() for name, sc in scores.items()}, "mean_f1": mean_f1(list(scores.values()))}


def prmbench_section(samples: Sequence[Scored], threshold: float,
                     skipped: list[dict[str, str]] | None = None) -> dict[str, Any] | None:
    by_subset: dict[str, StepCounts] = defaultdict(StepCounts)
    for s in samples:
        labels = s.gold.step_labels
        if labels is None or any(x is None for x in labels) or len(labels) != len(s.scores):
            continue
        outside = [e for e in s.gold.meta.get("error_steps") or [] if not 1 <= e <= len(s.scores)]
        if outside:
            if skipped is not None:
                skipped.append({"id": s.result.id, "metric": "prmbench",
                                "reason": f"error_steps {outside} outside steps 1..{len(s.scores)}"})
            continue
        by_subset[s.subset] += step_counts(labels, s.scores, threshold)  # type: ignore[arg-type]
    if not by_subset:
        return None
    total = sum(by_subset.values(), StepCounts())
    return {"subsets": {name: prmbench(c).to_dict() for name, c in sorted(by_subset.items())},
            "overall": prmbench(total).to_dict()}


def outcome_section(samples: Sequence[Scored]) -> dict[str, Any] | None:
    by_subset: dict[str, list[Scored]] = defaultdict(list)
    for s in samples:
        if s.gold.outcome is not None:
            by_subset[s.subset].append(s)
    if not by_subset:
        return None

    def row(group: Sequence[Scored]) -> dict[str, Any]:
        outcomes = [bool(s.gold.outcome) for s in group]
        return {"n": len(group), "n_correct": sum(outcomes),
                "auroc": auroc([s.result.reward for s in group], outcomes)}

    return {"aggregation": sorted({s.result.aggregation for g in by_subset.values() for s in g}),
            "subsets": {name: row(g) for name, g in sorted(by_subset.items())},
            "overall": row([s for g in by_subset.values() for s in g])}


HEADLINES = {"processbench": "ProcessBench mean F1", "prmbench": "PRMBench score"}


def headline_metric(samples: Sequence[Scored]) -> str | None:
    """What a threshold is tuned for: ProcessBench mean F1 where it is defined (subsets with both erroneous and
    correct samples), else PRMBench's score; None when neither applies."""
    section = processbench_section(samples, 0.5)
    if section is not None and section["mean_f1"] is not None:
        return "processbench"
    return "prmbench" if prmbench_section(samples, 0.5) is not None else None


def headline(samples: Sequence[Scored], threshold: float, metric: str) -> float | None:
    if metric == "processbench":
        section = processbench_section(samples, threshold)
        return section["mean_f1"] if section else None
    step_section = prmbench_section(samples, threshold)
    return step_section["overall"]["score"] if step_section else None


def f1_curve(samples: Sequence[Scored], metric: str,
             grid: Sequence[float] = THRESHOLD_GRID) -> list[tuple[float, float | None]]:
    """(threshold, headline metric) over `grid`: how much the choice of threshold matters."""
    return [(t, headline(samples, t, metric)) for t in grid]


def tune_threshold(tuning: Sequence[Scored], evaluated: Sequence[Scored] = ()) -> float:
    """The threshold with the best headline metric on `tuning` (ties: the one nearest 0.5, then the lower).

    The candidates are 0.5 and the midpoints between consecutive distinct scores of `tuning`: a prediction changes
    only where the threshold crosses a step score, so these are all the choices there are, and a confident verifier's
    best threshold (0.9957 for the shipped model) is found where a 0.01 grid has no point. Past `MAX_CANDIDATES`
    midpoints (each costs one pass over `tuning`), evenly spaced ones among them are tried.

    Raises:
        InputError: the tuning split shares ids with the evaluated data, or has no labels to tune on.
    """
    shared = {s.result.id for s in tuning} & {s.result.id for s in evaluated}
    if shared:
        raise InputError(f"the tuning split shares {len(shared)} ids with the evaluated data (e.g. "
                         f"{sorted(shared)[0]!r}); tune on a separate split, never on the data reported")
    metric = headline_metric(tuning)
    scores = sorted({x for s in tuning for x in s.scores if is_score(x)})
    midpoints = [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)]
    if len(midpoints) > MAX_CANDIDATES:
        midpoints = [midpoints[round(i * (len(midpoints) - 1) / (MAX_CANDIDATES - 1))] for i in range(MAX_CANDIDATES)]
    candidates = [0.5, *midpoints]
    curve = [(t, f) for t, f in f1_curve(tuning, metric, candidates) if f is not None] if metric else []
    if not curve:
        raise InputError("the tuning split has no labels to tune a threshold on (needs label with both erroneous "
                         "and correct samples, or step_labels)")
    return max(curve, key=lambda tf: (tf[1], -abs(tf[0] - 0.5)))[0]


def gold_step_labels(solution: Solution) -> list[bool | None]:
    """Per-step gold: `step_labels` when known, else derived from `label` (steps after the first error unknown)."""
    if solution.step_labels is not None:
        return list(solution.step_labels)
    n, label = len(solution.steps), solution.label
    if label is None:
        return [None] * n
    if label < 0:
        return [True] * n
    return [True if i < label else False if i == label else None for i in range(n)]


def _has_labels(solution: Solution) -> bool:
    return solution.label is not None or solution.step_labels is not None or solution.outcome is not None
