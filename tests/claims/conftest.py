"""The claim check's tests run every check in the real sandbox."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sandbox():
    from sandbox import Sandbox

    with Sandbox(workers=2, timeout=5.0) as sb:
        yield sb


@pytest.fixture(scope="session")
def check(sandbox):
    """check(step, previous=(), problem="") -> the Judgement of `step` after `previous`, run in the sandbox."""
    from genprm.claims import judge, plan_check

    def run(step: str, previous: tuple[str, ...] = (), problem: str = ""):
        steps = [*previous, step]
        plan = plan_check(problem, steps, len(steps) - 1)
        if not plan.code:
            return None  # nothing checkable: left to the model
        r = sandbox.run(plan.code)
        return judge(plan, r.stdout, r.status)

    return run
