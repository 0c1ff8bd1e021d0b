"""verl custom reward functions, backed by `genprm serve`.

verl calls `compute_score(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)` per response
(reward_manager=naive) or `compute_score(data_sources, solution_strs, ground_truths, extra_infos, **reward_kwargs)`
once per batch (reward_manager=batch; use `compute_score_batch`, one HTTP request per batch). Point verl at this
file:

    custom_reward_function.path=$(python -c "import genprm.integrations.verl as m; print(m.__file__)")
    custom_reward_function.name=compute_score_batch  reward_model.reward_manager=batch
    +custom_reward_function.reward_kwargs.url=http://127.0.0.1:8000

`url` (or $GENPRM_URL) may name several servers, comma-separated: requests fail over between them.

verl does not pass the prompt to reward functions: the problem is read from `extra_info["question"]` (what verl's
gsm8k/math preprocessing scripts store) or `extra_info["problem"]`. Each score is a dict: "score" (the reward)
plus per-response extras that verl logs.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from genprm.integrations.remote import RemoteVerifier, parse_urls
from genprm.serve.steps import fit_steps, split_steps
from genprm.types import Solution

URL_ENV = "GENPRM_URL"


def compute_score(data_source: str, solution_str: str, ground_truth: Any = None,
                  extra_info: dict[str, Any] | None = None, url: str | list[str] | None = None,
                  api_key: str | None = None, step_split: str = "auto", **kwargs: Any) -> dict[str, Any]:
    """One response's process reward: {"score": reward, "genprm_first_error": k, "genprm_num_steps": n}."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], url=url,
                               api_key=api_key, step_split=step_split)[0]


def compute_score_batch(data_sources: list[str], solution_strs: list[str], ground_truths: list[Any],
                        extra_infos: list[dict[str, Any] | None], url: str | list[str] | None = None,
                        api_key: str | None = None, step_split: str = "auto", **kwargs: Any) -> list[dict[str, Any]]:
    """A batch of responses in one request (verl's BatchRewardManager)."""
    solutions: list[Solution | None] = []
    for i, (text, extra) in enumerate(zip(solution_strs, extra_infos, strict=True)):
        steps = fit_steps(split_steps(text, step_split), 64, 4000)
        solutions.append(Solution(problem=_problem(extra), steps=tuple(steps), id=str(i)) if steps else None)
    verified = iter(_client(_servers(url), api_key).verify_many(
        [s for s in solutions if s is not None]))
    scores = []
    for s in solutions:
        r = next(verified) if s is not None else None
        scores.append({"score": r.reward if r else 0.0, "genprm_first_error": r.first_error if r else -1,
                       "genprm_num_steps": len(s.steps) if s else 0})
    return scores


def _problem(extra_info: dict[str, Any] | None) -> str:
    extra_info = extra_info or {}
    for key in ("question", "problem"):
        if isinstance(extra_info.get(key), str):
            return extra_info[key]
    raise ValueError("genprm's verl reward needs the problem text in extra_info['question'] (or 'problem'): verl "
                     "does not pass the prompt to reward functions; add it in your data preprocessing")


def _servers(url: str | list[str] | None) -> tuple[str, ...]:
    url = url or os.environ.get(URL_ENV, "")
    if not url:
        raise ValueError(f"genprm's verl reward needs the server: reward_kwargs.url or ${URL_ENV}")
    return tuple(parse_urls(url))


@lru_cache(maxsize=8)
def _client(urls: tuple[str, ...], api_key: str | None) -> RemoteVerifier:
    """One client (one connection pool) per set of servers, reused across calls."""
    return RemoteVerifier(urls, api_key=api_key)
