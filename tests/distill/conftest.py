"""Fixtures of the distill tests: a real sandbox and the real default model's tokenizer, each started once."""

from __future__ import annotations

import pytest

from genprm.protocols import VerificationProtocol, load


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    """One torch thread: on a shared 2-core machine, two OpenMP threads were measured 10x slower than one (the
    threads wait for each other at every barrier while the other core runs someone else's work). OMP_NUM_THREADS
    is what genprm's own default reads (genprm.backends.device.use_threads), so a backend built here keeps to it."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def sandbox():
    from sandbox import Sandbox

    with Sandbox(workers=2, timeout=5.0) as sb:
        yield sb


@pytest.fixture(scope="session")
def protocol() -> VerificationProtocol:
    return load("stepcheck")


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from genprm.backends.weights import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(None))
