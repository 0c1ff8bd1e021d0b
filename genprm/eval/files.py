"""The three commands as library calls: files in, files out. `genprm/cli/evaluate.py` only parses flags and prints.

    eval_files    scored files -> metrics.json + PNG plots (+ the markdown tables, returned)
    rerank_files  scored files -> rerank.json + accuracy_vs_n.png (+ markdown)
    report_files  scored files -> one self-contained HTML page
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genprm.errors import GenPRMError
from genprm.eval import plots
from genprm.eval.benchmarks import HEADLINES, evaluate, f1_curve, headline_metric, tune_threshold
from genprm.eval.report import render_report
from genprm.eval.rerank import rerank
from genprm.eval.scored import Scored, load_scored
from genprm.eval.table import metrics_markdown, rerank_markdown
from genprm.scoring import check_threshold


@dataclass
class Output:
    """What a command produced: the data, its markdown rendering, and the files written."""

    data: dict[str, Any]
    markdown: str
    files: list[Path] = field(default_factory=list)


def eval_files(paths: Sequence[Path], out_dir: Path | None, gold: Path | None = None, gold_format: str = "auto",
               by: str = "file", threshold: float = 0.5, tune_on: Sequence[Path] = (),
               make_plots: bool = True) -> Output:
    """Evaluate scored files; write `metrics.json` and plots into `out_dir` (None: write nothing).

    Given `genprm search` results instead, write `search.json` and `accuracy_vs_tokens.png` (see `search_files`)."""
    from genprm.search.scaling import is_search_results

    if paths and all(is_search_results(p) for p in paths):
        return search_files(paths, out_dir, make_plots)
    check_threshold(threshold)
    samples = load_scored(paths, by, gold, gold_format)
    source = "fixed"
    if tune_on:
        tuning = load_scored(tune_on, by, None, gold_format)
        threshold = tune_threshold(tuning, samples)
        source = "tuned on " + ", ".join(p.name for p in tune_on)
    metrics = evaluate(samples, threshold, source)
    output = Output(metrics, metrics_markdown(metrics))
    if out_dir is not None:
        if make_plots:
            for name, fig in eval_plots(samples, metrics).items():
                output.files.append(plots.save(fig, out_dir / f"{name}.png"))
        output.files.insert(0, _write_json(metrics, out_dir / "metrics.json"))
    return output


def eval_plots(samples: Sequence[Scored], metrics: dict[str, Any]) -> dict[str, Any]:
    """File stem -> figure, for the plots the data allows."""
    figures: dict[str, Any] = {}
    if (fig := plots.score_distributions(samples)) is not None:
        figures["score_distributions"] = fig
    metric = headline_metric(samples)
    if metric is not None:
        fig = plots.f1_against_threshold(f1_curve(samples, metric), metrics["threshold"], HEADLINES[metric])
        if fig is not None:
            figures["f1_vs_threshold"] = fig
    return figures


def search_files(paths: Sequence[Path], out_dir: Path | None, make_plots: bool = True) -> Output:
    """Accuracy against generated tokens of `genprm search` results (one run per file): `search.json` and
    `accuracy_vs_tokens.png` in `out_dir`."""
    from genprm.search.scaling import load_search_results, scaling_markdown, scaling_table

    table = scaling_table(load_search_results(paths))
    output = Output(table, scaling_markdown(table))
    if out_dir is not None:
        output.files.append(_write_json(table, out_dir / "search.json"))
        if make_plots:
            output.files.append(plots.save(plots.accuracy_against_tokens(table), out_dir / "accuracy_vs_tokens.png"))
    return output


def rerank_files(paths: Sequence[Path], out_dir: Path | None, gold: Path | None = None, gold_format: str = "auto",
                 seed: int = 0) -> Output:
    """Best-of-N over scored candidates; write `rerank.json` and `accuracy_vs_n.png` into `out_dir`."""
    samples = load_scored(paths, "none", gold, gold_format)
    table = rerank([s.result for s in samples], seed)
    output = Output(table, rerank_markdown(table))
    if out_dir is not None:
        output.files += [_write_json(table, out_dir / "rerank.json"),
                         plots.save(plots.accuracy_against_n(table), out_dir / "accuracy_vs_n.png")]
    return output


def report_files(paths: Sequence[Path], out: Path, gold: Path | None = None, gold_format: str = "auto",
                 by: str = "file", threshold: float = 0.5, max_solutions: int | None = 500) -> Output:
    """Write the HTML report. Metrics and plots are included when the data has labels; rerank when it has groups
    of candidates with gold answers."""
    check_threshold(threshold)
    samples = load_scored(paths, by, gold, gold_format)
    metrics: dict[str, Any] | None = None
    markdown = ""
    figures: dict[str, Any] = {}
    try:
        metrics = evaluate(samples, threshold)
        markdown = metrics_markdown(metrics)
        figures = eval_plots(samples, metrics)
    except GenPRMError:
        pass  # unlabelled data: the page shows scores only
    candidates = [s.result for s in samples if s.gold.answer]  # Best-of-N needs gold answers
    if len({r.solution.problem for r in candidates}) < len(candidates):
        try:
            table = rerank(candidates)
            markdown += "\n\n### " + rerank_markdown(table)
            figures["accuracy_vs_n"] = plots.accuracy_against_n(table)
        except GenPRMError:
            pass  # no gold answers: no Best-of-N section
    captions = {"score_distributions": "Step scores by gold label", "f1_vs_threshold": "F1 against threshold",
                "accuracy_vs_n": "Best-of-N accuracy against N"}
    html = render_report(samples, metrics, markdown or None,
                         {captions[name]: plots.png_bytes(fig) for name, fig in figures.items()},
                         title=f"genprm report: {', '.join(p.name for p in paths)}", max_solutions=max_solutions)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return Output(metrics or {}, markdown, [out])


def _write_json(data: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
