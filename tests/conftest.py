"""Shared fixtures: the real default model, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def hf_backend():
    """The real base model, SmolLM2-135M-Instruct, on the transformers backend (converted from its GGUF on first
    use): a plain language model for the backend, protocol and teacher tests. The default verifier's adapter answers
    Yes/No after a step and little else; the README-command test runs it end to end."""
    from genprm.backends.hf import HFBackend
    from genprm.backends.weights import BASE_MODEL

    return HFBackend(BASE_MODEL)
