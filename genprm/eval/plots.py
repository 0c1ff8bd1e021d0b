"""The evaluation plots, drawn with matplotlib's object API (no pyplot: no global state, no display needed).

Each function returns a `Figure`; `save` writes it as PNG, `png_bytes` gives the bytes for embedding in HTML.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from genprm.eval.benchmarks import gold_step_labels
from genprm.eval.scored import Scored
from genprm.scoring import is_score

GREEN, RED, GREY = "#2e9e5b", "#d1493f", "#888888"


def score_distributions(samples: Sequence[Scored]) -> Figure | None:
    """Histograms of step scores for gold-correct and gold-wrong steps; None when no step has a gold label."""
    correct, wrong = [], []
    for s in samples:
        for ok, score in zip(gold_step_labels(s.gold), s.scores, strict=True):
            if ok is not None and is_score(score):
                (correct if ok else wrong).append(score)
    if not correct and not wrong:
        return None
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    bins = [i / 20 for i in range(21)]
    # Densities, so a benchmark with ten times more correct steps still shows both shapes.
    if correct:
        ax.hist(correct, bins=bins, density=True, alpha=0.6, color=GREEN, label=f"correct steps ({len(correct)})")
    if wrong:
        ax.hist(wrong, bins=bins, density=True, alpha=0.6, color=RED, label=f"wrong steps ({len(wrong)})")
    ax.set(xlabel="step score  P(Yes) / (P(Yes) + P(No))", ylabel="density", xlim=(0, 1),
           title="Step scores by gold label")
    ax.legend(frameon=False)
    return fig


def f1_against_threshold(curve: Sequence[tuple[float, float | None]], threshold: float, metric: str) -> Figure | None:
    """The headline metric against the threshold, with the threshold in use marked."""
    points = [(t, f) for t, f in curve if f is not None]
    if not points:
        return None
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([t for t, _ in points], [f for _, f in points], color="#3a6ea5")
    ax.axvline(threshold, color=GREY, linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set(xlabel="threshold", ylabel=metric, xlim=(0, 1), ylim=(0, 100), title=f"{metric} against threshold")
    ax.legend(frameon=False)
    return fig


def accuracy_against_n(table: dict[str, Any]) -> Figure:
    """Best-of-N accuracy against N, one line per selection method."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for method, values in table["methods"].items():
        ax.plot(table["n"], values, marker="o", label=method, linestyle=":" if method == "oracle" else "-")
    ax.set(xlabel="N (candidates per problem)", ylabel="accuracy (%)", xticks=table["n"], ylim=(0, 100),
           title=f"Best-of-N accuracy ({table['problems']} problems)")
    ax.legend(frameon=False)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def accuracy_against_tokens(table: dict[str, Any]) -> Figure:
    """Search accuracy against generated tokens per problem, one line per strategy (`genprm search` results)."""
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for method, points in table["methods"].items():
        xs, ys = [p["tokens"] for p in points], [p["accuracy"] for p in points]
        ax.plot(xs, ys, marker="o", label=method, linestyle="--" if "vote" in method else "-")
        if "vote" not in method:  # the votes share best-of-n's budgets: label those once
            for p in points:
                ax.annotate(p["budget"], (p["tokens"], p["accuracy"]), textcoords="offset points", xytext=(3, 4),
                            fontsize=7, color=GREY)
    ax.set(xscale="log", xlabel="generated tokens per problem (policy + verifier)", ylabel="accuracy (%)",
           ylim=(0, 100), title=f"Accuracy against compute ({table['problems']} problems)")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(ScalarFormatter())
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.legend(frameon=False, fontsize=8)
    return fig
