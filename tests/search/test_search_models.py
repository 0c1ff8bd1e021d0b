"""Each strategy end to end on the real default model (as policy and as verifier, one model load), tiny budgets;
and the CLI: search, resume, then `genprm eval` on the results."""

from __future__ import annotations

import json

import pytest
from helpers.cli import genprm

from genprm.config import VerifierConfig
from genprm.search import Policy, SearchConfig, SearchResult, StepScorer, search, select_problems
from genprm.verifier import Verifier

PROBLEMS = "examples/search_problems.jsonl"
BUDGETS = {
    "best-of-n": {"n": 2, "policy_max_tokens": 16},
    "beam": {"beam_width": 1, "expand": 2, "max_steps": 2, "step_tokens": 12},
    # The verifier's threshold is 1.0 below: it rejects every step, so the rewrite round always runs.
    "refine": {"rounds": 1, "policy_max_tokens": 16},
}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", list(BUDGETS))
def test_each_strategy_end_to_end(hf_backend, strategy):
    verifier = Verifier(hf_backend, VerifierConfig(mode="direct", threshold=1.0))
    scorer = StepScorer(verifier)
    [problem] = select_problems(PROBLEMS, limit=1)
    [result] = search([problem], Policy(hf_backend), scorer, SearchConfig(strategy=strategy, **BUDGETS[strategy]))
    assert (result.id, result.gold, result.strategy) == ("apples", "7", strategy)
    assert result.policy_tokens > 0 and result.verdicts > 0 and result.candidates
    assert all(c.step_scores and len(c.step_scores) == len(c.steps) for c in result.candidates if c.steps)
    assert result.correct == (result.answer is not None and result.candidates[result.chosen].correct)
    if strategy == "best-of-n":
        assert len(result.candidates) == 2
    if strategy == "refine":
        assert [c.round for c in result.candidates] == [0, 1]
    if strategy == "beam":
        assert all(len(c.steps) <= 2 for c in result.candidates)
    assert SearchResult.from_dict(json.loads(result.to_json())) == result


@pytest.mark.slow
def test_cli_searches_resumes_and_plots(tmp_path):
    out = tmp_path / "bon.jsonl"
    args = ["search", PROBLEMS, "--strategy", "best-of-n", "--n", "2", "--policy-max-tokens", "12", "--mode", "direct",
            "--policy", "genprm-smollm2-135m-lora", "--out", out]  # policy = verifier: one model load
    first = genprm(*args, "--limit", "1")
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["apples"] and len(rows[0]["candidates"]) == 2
    again = genprm(*args, "--limit", "1")  # everything is done: no model is loaded, nothing is appended
    assert again.returncode == 0 and "already in" in again.stderr
    assert len(out.read_text().splitlines()) == 1
    shown = genprm("eval", out, "--out-dir", tmp_path / "eval")
    assert shown.returncode == 0, shown.stderr
    assert "majority vote" in shown.stdout and (tmp_path / "eval" / "accuracy_vs_tokens.png").stat().st_size > 0
    table = json.loads((tmp_path / "eval" / "search.json").read_text())
    assert [p["budget"] for p in table["methods"]["best-of-n (verifier)"]] == ["N=1", "N=2"]
    assert table["problems"] == 1
