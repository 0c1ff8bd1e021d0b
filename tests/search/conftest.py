"""The search tests' pieces: the real `Verifier` over a scripted model, a policy over a scripted backend."""

from __future__ import annotations

import pytest
from helpers.scripted_search import ScriptedPolicy, ScriptedVerifierModel

from genprm.config import VerifierConfig
from genprm.search import Policy, StepScorer
from genprm.verifier import Verifier


@pytest.fixture
def make_search():
    """(tree, scores, critiques, mode) -> (policy, scorer, policy backend, verifier model)."""

    def make(tree, scores, critiques=None, mode="direct"):
        policy_backend = ScriptedPolicy(tree)
        model = ScriptedVerifierModel(scores, critiques)
        scorer = StepScorer(Verifier(model, VerifierConfig(mode=mode)))
        return Policy(policy_backend), scorer, policy_backend, model

    return make
