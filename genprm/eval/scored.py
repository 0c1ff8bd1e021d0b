"""Reading scored files for evaluation: results, their gold labels, and the subset each one belongs to.

`genprm eval`, `rerank` and `report` read scored JSONL files (what `genprm verify --out` writes) and never run the
model: scoring is `genprm verify`'s job, so an unscored data file is refused with the command that scores it.
Gold labels come from the scored file itself (the `solution` inside each line keeps label, step_labels, outcome and
answer) or from a separate gold file, matched by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from genprm.data import FORMATS, detect_format, load_solutions
from genprm.errors import ConfigError, InputError
from genprm.jsonl import iter_rows
from genprm.labels import is_labels_file, read_labels
from genprm.types import Solution, VerificationResult


@dataclass(frozen=True)
class Scored:
    """One scored solution as the evaluator sees it."""

    result: VerificationResult
    subset: str

    @property
    def gold(self) -> Solution:
        return self.result.solution

    @property
    def scores(self) -> list[float]:
        return self.result.step_scores


def load_results(path: str | Path) -> list[VerificationResult]:
    """Read a scored JSONL file (or JSON list of results).

    Raises:
        InputError: missing file, bad JSON, a duplicated id, or a file of unscored solutions (with the fix).
    """
    path = Path(path)
    results, seen = [], set()
    for row, record in iter_rows(path):
        if isinstance(record, InputError):
            raise record
        if not {"solution", "steps", "reward"} <= set(record):
            raise InputError(_not_scored(record, path), str(path), row)
        try:
            result = VerificationResult.from_dict(record)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"malformed result ({type(e).__name__}: {e})", str(path), row) from None
        if result.id in seen:
            raise InputError(f"id {result.id!r} appears twice", str(path), row)
        seen.add(result.id)
        results.append(result)
    return results


def with_gold(results: Sequence[VerificationResult], gold_path: str | Path, format: str = "auto",
              ) -> list[VerificationResult]:
    """Replace each result's labels by those of the solution with the same id in `gold_path`. A `genprm review`
    labels file (genprm.labels) keeps only the results a person labelled.

    Raises:
        InputError: a scored id is missing from the gold file, an id is duplicated there, or the step counts differ.
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}", str(gold_path))
    if format == "auto" and is_labels_file(gold_path):
        # A person's labels from `genprm review`: the verifier is scored on the solutions they labelled.
        solutions = read_labels(gold_path)
        labelled = {s.id for s in solutions}
        results = [r for r in results if r.id in labelled]
        if not results:
            raise InputError("no scored id has labels in this `genprm review` labels file; was it made from "
                             "another scored file?", str(gold_path))
    else:
        solutions = load_solutions(gold_path, format)
    gold: dict[str, Solution] = {}
    for s in solutions:
        if s.id in gold:
            raise InputError(f"id {s.id!r} appears twice", str(gold_path))
        gold[s.id] = s
    missing = [r.id for r in results if r.id not in gold]
    if missing:
        raise InputError(f"{len(missing)} of {len(results)} scored ids are not in the gold file (first: "
                         f"{missing[0]!r}); were they scored from another file?", str(gold_path))
    out = []
    for r in results:
        g = gold[r.id]
        if len(g.steps) != len(r.steps):
            raise InputError(f"id {r.id!r} has {len(g.steps)} steps in the gold file but {len(r.steps)} scored",
                             str(gold_path))
        out.append(replace(r, solution=replace(r.solution, label=g.label, step_labels=g.step_labels,
                                               outcome=g.outcome, answer=g.answer, meta={**r.solution.meta, **g.meta})))
    return out


def subset_of(result: VerificationResult, by: str, path: str | Path) -> str:
    """The subset a result belongs to: its file's name (`by="file"`), "all" (`by="none"`), or `meta[by]`."""
    if by == "file":
        return Path(path).name.removesuffix(".jsonl").removesuffix(".scored")
    if by == "none":
        return "all"
    value = result.solution.meta.get(by)
    if value is None:
        raise ConfigError("by", f"file, none or a key every solution's meta has ({result.id!r} has no {by!r})", by)
    return str(value)


def load_scored(paths: Sequence[str | Path], by: str = "file", gold: str | Path | None = None,
                gold_format: str = "auto") -> list[Scored]:
    """Load every scored file, attach gold labels, and assign subsets. Ids must be unique across files."""
    samples: list[Scored] = []
    seen: dict[str, Path] = {}
    for path in paths:
        results = load_results(path)
        if gold is not None:
            results = with_gold(results, gold, gold_format)
        for r in results:
            if r.id in seen:
                raise InputError(f"id {r.id!r} is also in {seen[r.id]}", str(path))
            seen[r.id] = Path(path)
            samples.append(Scored(r, subset_of(r, by, path)))
    return samples


def _not_scored(record: dict[str, Any], path: Path) -> str:
    try:
        fmt = detect_format(record)
    except InputError:
        return f"not a genprm scored file (unknown format, keys {sorted(record)[:6]})"
    return (f"has no scores (it is a {fmt} data file): score it first with "
            f"`genprm verify {path} --out scored.jsonl`, then evaluate scored.jsonl")
