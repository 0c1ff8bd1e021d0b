"""What every command module shares: the typer app, the consoles, one-line messages and the progress bar."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
