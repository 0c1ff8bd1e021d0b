"""The app in this process (starlette's TestClient runs its lifespan): it serves through the caller's verifier
without changing it, and gives what the verifier gives."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from genprm import Solution, Verifier, VerifierConfig
from genprm.serve import ServeConfig
from genprm.serve.app import create_app

pytestmark = pytest.mark.slow


def test_create_app_leaves_the_callers_verifier_alone(hf_backend):
    verifier = Verifier(hf_backend, VerifierConfig(mode="direct", batch_size=4))
    backend, config = verifier.backend, verifier.config
    solution = Solution(problem="What is 2 + 3?", steps=("2 + 3 = 5.", "The answer is 5."), id="a")
    app = create_app(verifier, ServeConfig())
    with TestClient(app) as client:
        served = client.post("/v1/verify", json={"id": "a", "problem": solution.problem,
                                                 "steps": list(solution.steps)}).json()
        metrics = client.get("/metrics").text
    assert verifier.backend is backend and verifier.config is config
    assert served["step_scores"] == pytest.approx(verifier.verify(solution).step_scores, abs=1e-4)
    assert 'genprm_batch_size_count{kind="score"}' in metrics  # measured on the server's side only
