"""Running a search over problems: batches of problems through a strategy, graded, written as they finish.

    search(problems, policy, scorer, config)      -> SearchResult per problem (a generator)
    search_file(path, out, policy, scorer, config) -> appends to a JSONL file; a rerun skips ids already there
    load_models(...)                               -> the policy and the verifier (one backend when they match)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from genprm.backends.base import BackendConfig
from genprm.backends.weights import BASE_MODEL, DEFAULT_MODEL
from genprm.batch import BatchReport, select_rows
from genprm.config import VerifierConfig
from genprm.jsonl import JsonlWriter
from genprm.search.beam import beam_search
from genprm.search.best_of_n import best_of_n
from genprm.search.policy import Policy
from genprm.search.problems import Problem, read_problems
from genprm.search.refine import refine
from genprm.search.result import Searched, SearchResult, grade
from genprm.search.scorer import StepScorer
from genprm.search.search_config import SearchConfig
from genprm.verifier import Verifier

Strategy = Callable[[Sequence[Problem], Policy, StepScorer, SearchConfig], list[Searched]]
STRATEGY_FUNCTIONS: dict[str, Strategy] = {"beam": beam_search, "best-of-n": best_of_n, "refine": refine}


def search(problems: Iterable[Problem], policy: Policy, scorer: StepScorer, config: SearchConfig
           ) -> Iterator[SearchResult]:
    """Search each problem with `config.strategy`, `config.batch_problems` problems at a time."""
    strategy = STRATEGY_FUNCTIONS[config.strategy]
    problems = list(problems)
    for start in range(0, len(problems), config.batch_problems):
        chunk = problems[start:start + config.batch_problems]
        started = time.perf_counter()
        searched = strategy(chunk, policy, scorer, config)
        wall_s = (time.perf_counter() - started) / len(chunk)
        for problem, s in zip(chunk, searched, strict=True):
            yield grade(problem, config.strategy, s.attempts, policy_tokens=s.policy_tokens,
                        verifier_tokens=scorer.tokens.get(problem.id, 0), verdicts=scorer.verdicts.get(problem.id, 0),
                        budget=config.budget(), policy=policy.name, verifier=scorer.name, wall_s=wall_s)
        scorer.forget([p.id for p in chunk])


def select_problems(path: str | Path, skip_ids: set[str] | None = None, limit: int | None = None,
                    report: BatchReport | None = None) -> list[Problem]:
    """The problems of `path` still to search: good rows, each id once, not in `skip_ids`, the first `limit`."""
    return list(select_rows(read_problems(path), skip_ids, limit, report=report))


def search_file(problems: Sequence[Problem], out: Path, policy: Policy, scorer: StepScorer, config: SearchConfig,
                on_result: Callable[[SearchResult], None] | None = None) -> list[SearchResult]:
    """Search `problems`, appending each result to `out` as one flushed JSONL line (a crash loses at most the
    batch in flight; `select_problems(path, done_ids(out))` then resumes)."""
    writer = JsonlWriter(out)
    results = []
    try:
        for result in search(problems, policy, scorer, config):
            writer.write(result)
            results.append(result)
            if on_result:
                on_result(result)
    finally:
        writer.close()
    return results


def load_models(policy: BackendConfig | None = None, verifier: BackendConfig | None = None,
                verifier_config: VerifierConfig | None = None, delimiter: str = "\n\n") -> tuple[Policy, StepScorer]:
    """The policy (default: the base model, SmolLM2-135M-Instruct) and a scorer over the verifier (default: the
    default verifier). The same model on the same backend with the same options is loaded once and shared."""
    policy = replace(policy or BackendConfig(), model=(policy.model if policy else None) or BASE_MODEL)
    verifier = verifier or BackendConfig()
    the_verifier = Verifier.from_pretrained(backend=verifier, config=verifier_config)
    same = policy == replace(verifier, model=verifier.model or DEFAULT_MODEL)
    backend = the_verifier.backend if same else policy.load()
    return Policy(backend, delimiter), StepScorer(the_verifier)
