"""Accuracy against compute from `genprm search` results: what `genprm eval` shows when given search outputs.

Every point is (mean generated tokens per problem, accuracy %) over the same problems:
  - best-of-n: for each N' = 1..N, the verifier's pick and the verifier-weighted vote among the first N' samples
    (tokens: what the policy and the verifier spent on them), and the majority vote (policy tokens only: it
    needs no verifier);
  - refine: the verifier's pick among the versions written up to round r, for r = 0..rounds;
  - beam: one point per run (each --beam-width/--expand setting in its own file).
Accuracy counts ties as rerank does: a pick tied between answers scores the mean correctness of the tied ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genprm.answers import Candidate, expected_correct
from genprm.errors import InputError
from genprm.jsonl import iter_rows
from genprm.search.result import SearchCandidate, SearchResult


def is_search_results(path: Path) -> bool:
    """Whether `path` is a `genprm search --out` file (its first row has a strategy and candidates)."""
    try:
        first = next(iter_rows(path), None)
    except InputError:
        return False
    row = first[1] if first else None
    return isinstance(row, dict) and {"strategy", "candidates", "budget"} <= set(row)


def load_search_results(paths: Sequence[Path]) -> list[list[SearchResult]]:
    """One list of results per file."""
    runs = []
    for path in paths:
        rows = []
        for i, row in iter_rows(path):
            if isinstance(row, InputError):
                raise InputError(f"not a genprm search result ({row.message})", str(path), i)
            try:
                rows.append(SearchResult.from_dict(row))
            except (KeyError, TypeError) as e:
                raise InputError(f"not a genprm search result ({e})", str(path), i) from None
        if not rows:
            raise InputError("no results", str(path))
        runs.append(rows)
    return runs


def scaling_table(runs: Sequence[Sequence[SearchResult]]) -> dict[str, Any]:
    """{"problems", "methods": {method: [{"budget", "tokens", "accuracy"}, ...] by tokens}, "skipped": []}."""
    methods: dict[str, list[dict[str, Any]]] = defaultdict(list)
    problems: set[str] = set()
    for results in runs:
        problems |= {r.id for r in results}
        strategy = results[0].strategy
        if strategy == "best-of-n":
            for k in range(1, max(len(r.candidates) for r in results) + 1):
                firsts = [r.candidates[:k] for r in results]
                both = _mean([sum(c.policy_tokens + c.verifier_tokens for c in cs) for cs in firsts])
                policy_only = _mean([sum(c.policy_tokens for c in cs) for cs in firsts])
                for method, tokens in (("verifier", both), ("weighted vote", both), ("majority vote", policy_only)):
                    name = "majority vote" if method == "majority vote" else f"best-of-n ({method})"
                    methods[name].append(_point(f"N={k}", tokens, firsts, method))
        elif strategy == "refine":
            for r in range(max(c.round for res in results for c in res.candidates) + 1):
                upto = [[c for c in res.candidates if c.round <= r] for res in results]
                tokens = _mean([sum(c.policy_tokens + c.verifier_tokens for c in cs) for cs in upto])
                methods["refine"].append(_point(f"rounds={r}", tokens, upto, "verifier"))
        else:
            budget = "x".join(str(results[0].budget[k]) for k in ("beam_width", "expand"))
            tokens = _mean([r.policy_tokens + r.verifier_tokens for r in results])
            methods[strategy].append(_point(f"{budget} beams", tokens, [r.candidates for r in results], "verifier"))
    for points in methods.values():
        points.sort(key=lambda p: p["tokens"])
    return {"problems": len(problems), "methods": dict(methods), "skipped": []}


def scaling_markdown(table: dict[str, Any]) -> str:
    lines = [f"Accuracy against generated tokens ({table['problems']} problems)", "",
             "| method | budget | tokens / problem | accuracy (%) |", "|---|---|---:|---:|"]
    for method, points in table["methods"].items():
        lines += [f"| {method} | {p['budget']} | {p['tokens']:.0f} | {p['accuracy']:.1f} |" for p in points]
    return "\n".join(lines)


def _point(budget: str, tokens: float, groups: Sequence[Sequence[SearchCandidate]], method: str) -> dict[str, Any]:
    picked = [[Candidate(c.score if c.score is not None else float("-inf"), c.cluster, c.correct) for c in cs]
              for cs in groups]
    accuracy = 100.0 * _mean([expected_correct(cs, method) if cs else 0.0 for cs in picked])
    return {"budget": budget, "tokens": tokens, "accuracy": accuracy}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
