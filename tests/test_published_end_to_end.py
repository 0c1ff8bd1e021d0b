"""Each published protocol end to end on the real base model (SmolLM2-135M-Instruct, transformers, float32): tiny
budgets, so these check that every flow runs through a real model and backend, not what a 135M model judges."""

from __future__ import annotations

import pytest

from genprm import Solution, Verifier, VerifierConfig

pytestmark = pytest.mark.slow

SOLUTION = Solution(problem="What is 2 + 3 * 4?", steps=("3 * 4 = 12", "2 + 12 = 14"), id="e2e")


@pytest.fixture(scope="module")
def base_model():
    from genprm.backends.hf import HFBackend
    from genprm.backends.weights import BASE_MODEL

    backend = HFBackend(BASE_MODEL, dtype="float32")
    yield backend
    backend.close()


def test_genprm_code_mode_runs_its_stages_and_the_sandbox(base_model):
    with Verifier(base_model, VerifierConfig(protocol="genprm", max_tokens=16)) as v:
        r = v.verify(SOLUTION)
    assert r.protocol == "genprm" and len(r.steps) == 2 and all(0.0 <= s <= 1.0 for s in r.step_scores)
    for step in r.steps:
        assert step.critique.startswith("<analyze>\nLet's analyze the Paragraph ")
        assert step.critique.endswith("</output>\n") or "<output>\n**Judgement**: $\\boxed" in step.critique


def test_genprm_direct(base_model):
    with Verifier(base_model, VerifierConfig(protocol="genprm", mode="direct", max_tokens=12)) as v:
        r = v.verify(SOLUTION)
    assert all(step.critique.startswith("<output>\n**Judgement**: $\\boxed") for step in r.steps)


def test_thinkprm_with_a_second_thinking_round(base_model):
    with Verifier(base_model, VerifierConfig(protocol="thinkprm", max_tokens=16, thinking_rounds=2)) as v:
        r = v.verify(SOLUTION)
    assert r.protocol == "thinkprm" and all(0.0 < s < 1.0 for s in r.step_scores)
    assert "Let me double check" in "".join(step.critique for step in r.steps)


def test_processbench_critic_votes(base_model):
    with Verifier(base_model, VerifierConfig(protocol="processbench-critic", max_tokens=16, samples=2)) as v:
        r = v.verify(SOLUTION)
    assert r.protocol == "processbench-critic" and len(r.steps[0].sample_scores) == 2
    assert all(s in (0.0, 0.5, 1.0) for s in r.step_scores)
