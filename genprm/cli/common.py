"""What every command module shares: the typer app, the consoles, one-line messages and the progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from genprm.batch import BatchReport
from genprm.errors import GenPRMError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Generative process reward models: verify math solutions step by step.")
out_console = Console()
err_console = Console(stderr=True)


def say(message: str) -> None:
    """One plain line on stderr: never wrapped, so each message stays one greppable line."""
    print(f"genprm: {message}", file=sys.stderr, flush=True)


def progress_bar(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=err_console, disable=disable, transient=False)


def announce_selection(report: BatchReport, todo: int, path: Path, out: Path | None, what: str, doing: str) -> None:
    """Say what the selection of a batch left out, before any model loads: bad rows (one alone is the error),
    repeated ids, rows an earlier run finished (all of them: nothing to do, exit)."""
    if not todo and len(report.bad_rows) == 1 and not report.skipped_done:
        raise report.bad_rows[0]
    for error in report.bad_rows:
        say(f"skipped: {error}")
    if report.duplicates:
        say(f"skipped {len(report.duplicates)} repeated ids (first: {report.duplicates[0]!r}); each id is done once")
    if not todo:
        if report.skipped_done:
            say(f"all {report.skipped_done} {what}s are already in {out}; nothing to do")
            raise typer.Exit(2 if report.bad_rows else 0)
        raise GenPRMError(f"{path}: no {what} to {doing} ({len(report.bad_rows)} bad rows)")
    if report.skipped_done:
        say(f"resuming: {report.skipped_done} already in {out}, {todo} to go")
