"""Terminal output: a result as a rich table, a batch as a summary table.

The default view fits an 80-column terminal with one line per step (long text is cut with "…", never wrapped) and
shows, for each step, the evidence behind its verdict: what the step's code printed, then the critique's last
sentence before the verdict question (its conclusion; the first line only restates the step). `-v` shows every
critique and code run in full.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from genprm.types import StepVerdict, VerificationResult

# Fenced blocks in a critique (the model's code, the sandbox's output): the evidence column shows the output on its
# own, so the sentence search skips them.
_FENCED = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def result_view(result: VerificationResult, verbose: bool = False) -> Group:
    """The problem header, one row per step (score, verdict, step, evidence) and a footer with the reward."""
    subtitle = f"{result.model} · {result.protocol}/{result.mode}"
    if verbose and result.dtype:
        subtitle += f" · {result.dtype}"
    header = Panel(Text(result.solution.problem), title=f"[bold]{result.solution.id or 'solution'}[/]",
                   subtitle=subtitle, expand=True)
    table = _verbose_table(result) if verbose else _compact_table(result)
    first = step_label(result.first_error)
    footer = Text.assemble(("reward ", "bold"), f"{result.reward:.3f} ({result.aggregation})   ",
                           ("first error ", "bold"), f"{first} (threshold {result.threshold})   ",
                           ("time ", "bold"), f"{result.wall_s:.1f}s")
    if not verbose and any(step.forced for step in result.steps):
        footer.append("\n* verdict forced: the critique did not reach it within --max-tokens", style="dim")
    parts: list = [header, table, footer]
    if verbose:
        parts += [_code_details(step) for step in result.steps if step.code_runs]
    return Group(*parts)


def _compact_table(result: VerificationResult) -> Table:
    table = Table(expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Score", justify="right", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Step", ratio=1, no_wrap=True, overflow="ellipsis", min_width=12)
    table.add_column("Evidence (-v: all)", ratio=1, no_wrap=True, overflow="ellipsis", min_width=16)
    for step in result.steps:
        verdict = Text("correct" if step.verdict else "wrong", style="green" if step.verdict else "red")
        if step.index == result.first_error:
            verdict.append(" ◀", style="bold red")
        if step.forced:
            verdict.append("*", style="dim")
        table.add_row(str(step.index + 1), f"{step.score:.3f}", verdict, _one_line(step.text), evidence(step))
    return table


def _verbose_table(result: VerificationResult) -> Table:
    table = Table(expand=True, show_lines=True)
    table.add_column("Step", justify="right", no_wrap=True)
    table.add_column("Score", justify="right", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Step text", ratio=2)
    table.add_column("Critique", ratio=3)
    table.add_column("Code", no_wrap=True)
    for step in result.steps:
        marker = " ← first error" if step.index == result.first_error else ""
        verdict = Text(("correct" if step.verdict else "incorrect") + marker, style="green" if step.verdict else "red")
        if step.forced:
            verdict.append(" (forced)", style="dim")
        table.add_row(str(step.index + 1), f"{step.score:.3f}", verdict, step.text, step.critique, _code_status(step))
    return table


def evidence(step: StepVerdict) -> Text:
    """One line: the step's code output ("out: 12 True"; the status where it did not run cleanly), then the
    critique's conclusion (its last sentence before the verdict question)."""
    parts = []
    for run in step.code_runs:
        printed = _one_line(run.stdout if run.status == "ok" else f"{run.status}: {run.stderr or run.stdout}")
        parts.append(Text(f"out: {printed or '(none)'}", style="cyan" if run.status == "ok" else "yellow"))
    if said := conclusion(step.critique):
        parts.append(Text(said))
    return Text("; ").join(parts)


def conclusion(critique: str) -> str:
    """The critique's last sentence outside code and output blocks (a line break ends a sentence too), skipping a
    trailing verdict question."""
    lines = _FENCED.sub("\n", critique).splitlines()
    sentences = [s for line in lines for s in _SENTENCE_END.split(_one_line(line)) if s]
    while sentences and sentences[-1].rstrip().endswith("?"):
        sentences.pop()  # the verdict question ("Is the step correct (Yes/No)?") the critique ends with
    return sentences[-1].strip() if sentences else ""


def batch_view(results: Sequence[VerificationResult]) -> Table:
    table = Table(title=f"{len(results)} solutions")
    for column in ("id", "steps", "first error", "reward", "step scores"):
        table.add_column(column)
    for r in results:
        table.add_row(r.id, str(len(r.steps)), step_label(r.first_error), f"{r.reward:.3f}",
                      " ".join(f"{s:.2f}" for s in r.step_scores))
    return table


def print_result(console: Console, result: VerificationResult, verbose: bool = False) -> None:
    console.print(result_view(result, verbose))


def _one_line(text: str) -> str:
    return " ".join(text.split())


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


def step_label(first_error: int) -> str:
    """How people read a step index: `first_error` is 0-based in JSON and the API (-1 = none); tables say
    "step N", counting from 1 as solutions do."""
    return "none" if first_error < 0 else f"step {first_error + 1}"
