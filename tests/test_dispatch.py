"""How requests reach the backend (genprm/dispatch.py): a streaming backend resumes each chain the moment its answer
is in, a round-based one gets today's batches; both give the same results. Code runs in the real sandbox."""

import pytest
from helpers.streaming_backend import PromptBackend, StreamingPromptBackend

from genprm import Solution, Verifier, VerifierConfig
from genprm.backends.base import StreamingBackend
from genprm.errors import GenPRMError

SOLUTIONS = [Solution(f"Problem {n}: what is {n} * 3?", (f"{n} * 3 = {3 * n}", "so the answer is that"), id=str(n))
             for n in range(7)]


@pytest.fixture(scope="module")
def sandbox():
    from sandbox import Sandbox

    with Sandbox(workers=2, timeout=5.0) as sb:
        yield sb


def run(backend, sandbox, **config):
    config = {"mode": "code", "batch_size": 4, **config}
    return Verifier(backend, VerifierConfig(**config), sandbox=sandbox).verify_many(SOLUTIONS)


def facts(results):
    return [(r.id, r.step_scores, [s.critique for s in r.steps], [[c.stdout for c in s.code_runs] for s in r.steps])
            for r in results]


def test_the_scripted_backends_are_what_they_say():
    assert isinstance(StreamingPromptBackend(), StreamingBackend)
    assert not isinstance(PromptBackend(), StreamingBackend)


# GenPRM's and ThinkPRM's protocols ask with their own stop strings, which the scripted turns do not hit.
@pytest.mark.parametrize(("protocol", "runs_code"), [("stepcheck", True), ("genprm", False), ("thinkprm", False)])
def test_streaming_and_rounds_give_the_same_results(protocol, runs_code, sandbox):
    rounds, streamed = run(PromptBackend(), sandbox, protocol=protocol), run(StreamingPromptBackend(), sandbox,
                                                                             protocol=protocol)
    assert facts(streamed) == facts(rounds)
    # The sandbox really ran each chain's blocks: problem n's first block prints n * 1.
    if runs_code:
        assert [r.steps[0].code_runs[0].stdout.strip() for r in rounds] == [str(n) for n in range(len(SOLUTIONS))]


def test_a_slow_chain_holds_up_no_other(sandbox):
    """Problem 0's generations wait until the other six solutions are done: they finish, code runs and all, while
    it is still generating (lockstep rounds would have held every chain at problem 0's first generation)."""
    backend = StreamingPromptBackend(hold=[0])
    verifier = Verifier(backend, VerifierConfig(mode="code", batch_size=4), sandbox=sandbox)
    order = []
    for index, result in verifier.iter_verify(SOLUTIONS, with_index=True):
        order.append(index)
        assert result.steps[0].code_runs
        if len(order) == len(SOLUTIONS) - 1:
            backend.release.set()
    assert order[-1] == 0 and sorted(order) == list(range(len(SOLUTIONS)))
    assert backend.most_in_flight >= 2


def test_rounds_batch_every_live_chain_in_one_call_per_kind(sandbox):
    backend = PromptBackend()
    run(backend, sandbox, mode="direct")
    # 7 solutions x 2 steps, 4 live chains: every round scores the chains alive then, in one call.
    assert backend.batches == [("score", 4), ("score", 4), ("score", 3), ("score", 3)]


def test_a_failed_request_raises_its_error(sandbox):
    class Failing(StreamingPromptBackend):
        def _score(self, request):
            raise GenPRMError("the server went away")

    with pytest.raises(GenPRMError, match="the server went away"):
        run(Failing(), sandbox)


def test_a_recorded_backend_streams_only_when_its_inner_one_does():
    """`record` keeps a streaming backend streaming; a plain `RecordedBackend` answers in rounds even around a
    streaming one (its extras pass through, its streaming surface does not: every request goes past its counters)."""
    from genprm.backends.recorded import RecordedBackend, record

    inner = StreamingPromptBackend()
    assert isinstance(record(inner), StreamingBackend) and record(inner).live_chains == inner.live_chains
    assert not isinstance(record(PromptBackend()), StreamingBackend)
    plain = RecordedBackend(inner)
    assert not isinstance(plain, StreamingBackend) and not hasattr(plain, "submit")
    assert plain.name == inner.name and plain.most_in_flight == 0  # other attributes still pass through
    results = Verifier(plain, VerifierConfig(mode="direct", batch_size=4)).verify_many(SOLUTIONS)
    assert plain.verdicts == sum(len(r.steps) for r in results) and inner.batches[0] == ("score", 4)
