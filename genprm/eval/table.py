"""Metrics as markdown tables: printed on the terminal, pasteable into a README or a pull request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genprm.scoring import is_score


def metrics_markdown(metrics: dict[str, Any]) -> str:
    """The `evaluate()` dict as markdown: one table per metric family that applies."""
    parts = [f"threshold {metrics['threshold']:.2f} ({metrics['threshold_source']}), {metrics['n']} solutions"]
    pb = metrics.get("processbench")
    if pb:
        rows = [[name, s["n_err"], s["n_ok"], number(s["acc_err"]), number(s["acc_ok"]), number(s["f1"])]
                for name, s in pb["subsets"].items()]
        rows.append(["**mean F1**", "", "", "", "", number(pb["mean_f1"])])
        parts.append("### ProcessBench (earliest error)\n\n" +
                     markdown_table(["subset", "erroneous", "correct", "acc err", "acc ok", "F1"], rows))
    pr = metrics.get("prmbench")
    if pr:
        rows = [[name, s["tp"] + s["fn"], s["tn"] + s["fp"], number(s["f1_correct"]), number(s["f1_wrong"]),
                 number(s["score"])] for name, s in [*pr["subsets"].items(), ("**overall**", pr["overall"])]]
        parts.append("### PRMBench (step level)\n\n" +
                     markdown_table(["subset", "correct steps", "wrong steps", "F1 correct", "F1 wrong", "score"],
                                    rows))
    oc = metrics.get("outcome")
    if oc:
        rows = [[name, s["n"], s["n_correct"], number(s["auroc"], 3)]
                for name, s in [*oc["subsets"].items(), ("**overall**", oc["overall"])]]
        parts.append(f"### Outcome (reward = {', '.join(oc['aggregation'])} of step scores)\n\n" +
                     markdown_table(["subset", "solutions", "correct answers", "AUROC"], rows))
    return "\n\n".join(parts)


def rerank_markdown(table: dict[str, Any]) -> str:
    """The `rerank()` dict as markdown: accuracy (%) for each N and method."""
    methods = list(table["methods"])
    rows = [[n, *(number(table["methods"][m][i]) for m in methods)] for i, n in enumerate(table["n"])]
    head = f"Best-of-N on {table['problems']} problems (accuracy %, answers checked with math-verify)"
    return head + "\n\n" + markdown_table(["N", *methods], rows)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def number(x: float | None, digits: int = 1, missing: str = "n/a") -> str:
    """`x` with `digits` decimals (percentages: 1, scores and AUROC: 3), or `missing` when it is undefined (None, or
    not a finite number)."""
    return f"{x:.{digits}f}" if is_score(x) else missing
