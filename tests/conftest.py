"""Shared fixtures: the real default model, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def hf_backend():
    """The real default model on the transformers backend (converted from its GGUF on first use)."""
    from genprm.backends.hf import HFBackend

    return HFBackend()
