"""`genprm search`: a policy model writes solutions; the verifier guides (beam), ranks (best-of-n) or critiques
(refine) them; answers are checked against the gold ones."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import typer

from genprm.backends.base import BackendConfig
from genprm.batch import BatchReport, done_ids
from genprm.cli.common import announce_selection, app, progress_bar, say
from genprm.cli.flags import Prefixed, command
from genprm.config import VerifierConfig
from genprm.search.search_config import SearchConfig


@dataclass(frozen=True)
class SearchArgs:
    path: Path = field(metadata={"help": "Problems with gold answers (JSONL/JSON): GSM8K {question, answer}, MATH "
                                         "{problem, solution|answer} or {problem, answer}.", "argument": True})
    out: Path | None = field(default=None, metadata={"help": "Append one JSON line per problem to this file; a "
                                                             "rerun skips problems already there."})
    limit: int | None = field(default=None, metadata={"help": "Search at most the first this many problems."})


PANELS = {"policy": "Policy model", "backend": "Verifier model", "verifier": "Verifier"}


@command(app, panels=PANELS, args=SearchArgs, search=SearchConfig, policy=Prefixed(BackendConfig, "policy"),
         backend=BackendConfig, verifier=VerifierConfig)
def search(args: SearchArgs, search: SearchConfig, policy: BackendConfig, backend: BackendConfig,
           verifier: VerifierConfig) -> None:
    """Test-time scaling: a policy writes solutions, the verifier guides (beam), ranks (best-of-n) or critiques
    them (refine); answers are checked against the gold ones."""
    from genprm.search import load_models, search_file, select_problems
    from genprm.search.run import search as run_search

    # Every candidate of a beam round (or every sample) is verified in one batch.
    verifier = replace(verifier, batch_size=max(verifier.batch_size or backend.live_chains,
                                                search.beam_width * search.expand, search.n))
    report = BatchReport()
    # Read the problems first: a broken file fails before the models load.
    problems = select_problems(args.path, done_ids(args.out) if args.out else None, args.limit, report)
    announce_selection(report, len(problems), args.path, args.out, "problem", "search")
    the_policy, scorer = load_models(policy, backend, verifier, search.step_delimiter)
    results = []
    try:
        with progress_bar(disable=False) as progress:
            task = progress.add_task(f"searching ({search.strategy})", total=len(problems), rate="")

            def advance(result: object) -> None:
                results.append(result)
                correct = sum(r.correct for r in results)
                progress.update(task, advance=1, rate=f"{correct}/{len(results)} correct")

            if args.out:
                search_file(problems, args.out, the_policy, scorer, search, on_result=advance)
            else:
                for result in run_search(problems, the_policy, scorer, search):
                    print(result.to_json(), flush=True)
                    advance(result)
    finally:
        scorer.close()
    correct = sum(r.correct for r in results)
    tokens = sum(r.policy_tokens + r.verifier_tokens for r in results) / len(results)
    say(f"{search.strategy}: {correct}/{len(results)} correct ({100 * correct / len(results):.1f}%), "
        f"{tokens:.0f} generated tokens per problem" + (f"; results appended to {args.out}" if args.out else ""))
    if report.bad_rows:
        raise typer.Exit(2)
