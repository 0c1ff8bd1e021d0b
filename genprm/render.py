"""Terminal output: a result as a rich table, a batch as a summary table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from genprm.types import StepVerdict, VerificationResult


def result_view(result: VerificationResult, verbose: bool = False) -> Group:
    """The problem header, then one row per step: score, verdict, the critique's first line, code status."""
    header = Panel(Text(result.solution.problem), title=f"[bold]{result.solution.id or 'solution'}[/]",
                   subtitle=f"{result.model} · {result.protocol}/{result.mode}", expand=True)
    table = Table(expand=True, show_lines=verbose)
    table.add_column("Step", justify="right", no_wrap=True)
    table.add_column("Score", justify="right", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Step text", ratio=2)
    table.add_column("Critique" if verbose else "Critique (first line)", ratio=3)
    table.add_column("Code", no_wrap=True)
    for step in result.steps:
        marker = " ← first error" if step.index == result.first_error else ""
        style = "green" if step.verdict else "red"
        verdict = Text(("correct" if step.verdict else "incorrect") + marker, style=style)
        if step.forced:
            verdict.append(" (forced)", style="dim")
        critique = step.critique if verbose else _first_line(step.critique)
        table.add_row(str(step.index + 1), f"{step.score:.3f}", verdict, step.text, critique, _code_status(step))
    first = "none" if result.first_error < 0 else f"step {result.first_error + 1}"
    footer = Text.assemble(("reward ", "bold"), f"{result.reward:.3f} ({result.aggregation})   ",
                           ("first error ", "bold"), f"{first} (threshold {result.threshold})   ",
                           ("time ", "bold"), f"{result.wall_s:.1f}s")
    parts: list = [header, table, footer]
    if verbose:
        parts += [_code_details(step) for step in result.steps if step.code_runs]
    return Group(*parts)


def batch_view(results: Sequence[VerificationResult]) -> Table:
    table = Table(title=f"{len(results)} solutions")
    for column in ("id", "steps", "first error", "reward", "step scores"):
        table.add_column(column)
    for r in results:
        table.add_row(r.id, str(len(r.steps)), str(r.first_error), f"{r.reward:.3f}",
                      " ".join(f"{s:.2f}" for s in r.step_scores))
    return table


def print_result(console: Console, result: VerificationResult, verbose: bool = False) -> None:
    console.print(result_view(result, verbose))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _code_status(step: StepVerdict) -> str:
    if not step.code_runs:
        return "-"
    statuses = [r.status for r in step.code_runs]
    return ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))


def _code_details(step: StepVerdict) -> Panel:
    body = Text()
    for run in step.code_runs:
        body.append(run.code + "\n", style="cyan")
        body.append(f"→ [{run.status}] ", style="bold")
        body.append((run.stdout or run.stderr).rstrip() + "\n")
    return Panel(body, title=f"step {step.index + 1}: code runs")
