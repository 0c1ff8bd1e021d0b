"""`genprm verify`: one solution or a batch, on this machine or a Ray cluster; a table, JSON or resumable JSONL."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import typer

from genprm.backends.base import BackendConfig
from genprm.batch import BatchReport, JsonlWriter, done_ids, parse_shard, select
from genprm.cli.common import announce_selection, app, out_console, progress_bar, say
from genprm.cli.flags import command
from genprm.config import VerifierConfig
from genprm.data import FORMATS
from genprm.distributed.ray_config import RayConfig


@dataclass(frozen=True)
class VerifyArgs:
    """What to read and how to show it."""

    path: Path = field(metadata={"help": "A solution file: JSON object, JSON list or JSONL.", "argument": True})
    format: str = field(default="auto", metadata={"help": "Input format.", "choices": FORMATS})
    json: bool = field(default=False, metadata={"help": "Print full results as JSON (one line each).",
                                                "flag_only": True})
    out: Path | None = field(default=None, metadata={"help": "Append results to this JSONL file; a rerun skips ids "
                                                             "already there."})
    limit: int | None = field(default=None, metadata={"help": "Verify at most this many solutions."})
    shard: str | None = field(default=None, metadata={"help": "i/n: verify only every n-th solution, from the "
                                                              "i-th."})
    verbose: bool = field(default=False, metadata={"help": "Full critiques and code outputs.", "flag_only": True,
                                                   "short": ("-v",)})


PANELS = {"backend": "Model", "ray": "Ray"}


@command(app, panels=PANELS, args=VerifyArgs, backend=BackendConfig, verifier=VerifierConfig, ray=RayConfig)
def verify(args: VerifyArgs, backend: BackendConfig, verifier: VerifierConfig, ray: RayConfig) -> None:
    """Verify each step of one solution or a batch; print a table, JSON, or append JSONL."""
    from genprm.render import batch_view, print_result
    from genprm.verifier import Verifier

    report = BatchReport()
    skip = done_ids(args.out) if args.out else set()
    # Read the whole selection first: a broken file fails before the model loads, and the bar knows its total.
    solutions = list(select(args.path, args.format, skip, args.limit, parse_shard(args.shard), report=report))
    announce_selection(report, len(solutions), args.path, args.out, "solution", "verify")

    if ray.enabled:
        from genprm.distributed import RayVerifier

        runner = RayVerifier(backend, verifier, ray, log=say)
    else:
        runner = Verifier.from_pretrained(backend=backend, config=verifier)
    writer = JsonlWriter(args.out) if args.out else None
    results = []
    single = len(solutions) == 1
    try:
        with progress_bar(disable=single) as progress:
            task = progress.add_task("verifying", total=len(solutions), steps=0, rate="")
            started, steps = time.perf_counter(), 0
            for result in runner.iter_verify(solutions):
                if writer:
                    writer.write(result)
                steps += len(result.steps)
                elapsed = time.perf_counter() - started
                rate = f"{(len(results) + 1) / elapsed:.2f} solutions/s, {steps / elapsed:.2f} steps/s"
                progress.update(task, advance=1, steps=steps, rate=rate)
                if args.json:
                    out_console.print_json(result.to_json()) if single else print(result.to_json(), flush=True)
                elif single or args.verbose:
                    print_result(out_console, result, args.verbose)
                results.append(result)
    finally:
        runner.close()
        if writer:
            writer.close()
    if not args.json and not single and not args.verbose:
        out_console.print(batch_view(results))
    if args.out:
        say(f"{len(results)} results appended to {args.out}")
    if report.bad_rows:
        raise typer.Exit(2)
