"""`genprm report`: one self-contained HTML page of scored solutions, with the eval metrics and plots on top.

Self-contained: CSS is inline and plots are embedded as base64 PNG, so the page can be mailed or attached to an
issue. Critiques and code runs sit in `<details>` elements: folded, opened on click, no JavaScript needed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from genprm.eval.benchmarks import gold_step_labels
from genprm.eval.scored import Scored
from genprm.eval.table import number
from genprm.scoring import first_error, is_score

TEMPLATES = Path(__file__).parent / "templates"


def render_report(samples: Sequence[Scored], metrics: dict[str, Any] | None, metrics_markdown: str | None,
                  plots: dict[str, bytes], title: str, max_solutions: int | None = None) -> str:
    """The report page as a string.

    Args:
        samples: the scored solutions, shown in order (at most `max_solutions` of them).
        metrics: `evaluate()`'s dict, or None when the data has no labels.
        metrics_markdown: the same as markdown tables (rendered as HTML tables on the page).
        plots: caption -> PNG bytes.
    """
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "jinja"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["colour"] = score_colour
    env.filters["score"] = lambda s: number(s, 3)
    shown = list(samples)[:max_solutions] if max_solutions is not None else list(samples)
    return env.get_template("report.html.jinja").render(
        title=title,
        metrics=metrics,
        tables=_markdown_tables(metrics_markdown) if metrics_markdown else [],
        plots={caption: base64.b64encode(png).decode() for caption, png in plots.items()},
        solutions=[_view(s, metrics["threshold"] if metrics else s.result.threshold) for s in shown],
        hidden=len(samples) - len(shown),
    )


def _view(sample: Scored, threshold: float) -> dict[str, Any]:
    """What the template shows of one solution: the result, its subset, predicted and gold first error."""
    gold = sample.gold
    return {"result": sample.result, "subset": sample.subset, "threshold": threshold,
            "first_error": first_error(sample.scores, threshold), "gold_label": gold.label,
            "gold_steps": gold_step_labels(gold), "outcome": gold.outcome}


def score_colour(score: float | None) -> str:
    """Background colour of a step: red (0) through yellow to green (1); grey when there is no score."""
    if not is_score(score):
        return "hsl(0, 0%, 85%)"
    hue = 120 * max(0.0, min(1.0, float(score)))  # type: ignore[arg-type]
    return f"hsl({hue:.0f}, 70%, 82%)"


def _markdown_tables(markdown: str) -> list[dict[str, Any]]:
    """Parse our own markdown (headings + pipe tables, see `table.py`) back into rows for HTML."""
    tables: list[dict[str, Any]] = []
    for block in markdown.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        if lines[0].startswith("### "):
            tables.append({"title": lines[0][4:], "header": [], "rows": []})
        elif lines[0].startswith("|") and tables:
            cells = [[c.strip().replace("**", "") for c in line.strip("|").split("|")] for line in lines]
            tables[-1]["header"], tables[-1]["rows"] = cells[0], cells[2:]
        else:
            tables.append({"title": "", "note": block.strip(), "header": [], "rows": []})
    return tables
