"""Test-time scaling with a verifier: a policy model writes solutions, the verifier steers or ranks them.

    beam        step-level beam search: the policy proposes next steps, the verifier keeps the best prefixes
    best-of-n   N full solutions ranked by the verifier, with majority and verifier-weighted votes
    refine      the policy rewrites from the first step the verifier rejects, its critique in context

    >>> from genprm.search import SearchConfig, load_models, read_problems, search
    >>> policy, scorer = load_models()                       # SmolLM2-135M-Instruct + the default verifier
    >>> problems = [p for p in read_problems("examples/search_problems.jsonl")]
    >>> for r in search(problems, policy, scorer, SearchConfig(strategy="beam")):
    ...     print(r.id, r.answer, r.correct, r.policy_tokens)
"""

from importlib import import_module
from typing import Any

from genprm.search.search_config import STRATEGIES, SearchConfig

# The rest is imported on first use, so the CLI (which needs SearchConfig for its flags) starts fast.
_LAZY = {"Policy": "policy", "Problem": "problems", "read_problems": "problems", "SearchCandidate": "result",
         "SearchResult": "result", "StepScorer": "scorer", "load_models": "run", "search": "run",
         "search_file": "run", "select_problems": "run"}

__all__ = ["STRATEGIES", "SearchConfig", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"genprm.search.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'genprm.search' has no attribute {name!r}")
