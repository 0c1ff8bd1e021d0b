"""The verification loop: problem + steps -> prompt -> backend (+ sandbox) -> verdict scores -> aggregation.

Each verification chain (one solution, one sample) is a Python generator that reads top to bottom like the
protocol itself and *yields* what it needs: a generation, a verdict score, or a code run. The protocol's module
(`genprm/protocols/`) writes the chain and combines the samples' scores; the driver here runs any protocol without
knowing which. A small driver keeps
up to `batch_size` chains alive and sends each chain's request on as soon as the chain asks (`genprm.dispatch`):
a backend that streams (vLLM, an OpenAI-compatible server) answers each when it is done and that chain alone goes
on, while the others keep generating and code runs in the sandbox beside them; the transformers backend answers
in rounds. So one solution or ten thousand go through the same code, and batching across solutions is free.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genprm.backends.base import LIVE_CHAINS, Backend, BackendConfig, load_backend
from genprm.config import VerifierConfig
from genprm.data import as_solution
from genprm.dispatch import Dispatcher
from genprm.protocols import claim_check, load
from genprm.protocols.chain import Chain, ChainInput, RunCode, StepTrace
from genprm.registry import resolve
from genprm.scoring import aggregate, first_error
from genprm.types import CodeRun, Solution, StepVerdict, VerificationResult

__all__ = ["Verifier"]

class Verifier:
    """A generative process reward model: verifies solutions step by step.

    Args:
        backend: any `Backend` (see `genprm.backends`).
        config: what to do; see `VerifierConfig`. Fields left None are the model's (`genprm.registry.resolve`,
            from the backend's model name); a resolved config is taken as given.
        sandbox: a `sandbox.Sandbox` to run model code in; started on first use when None.

    Example:
        >>> v = Verifier.from_pretrained()                      # the default model, offline
        >>> r = v.verify("What is 2 + 3 * 4?", ["3 * 4 = 12", "2 + 12 = 14"])
        >>> r.step_scores, r.first_error                        # first_error: 0-based index, -1 = none
    """

    def __init__(self, backend: Backend, config: VerifierConfig | None = None, sandbox: Any = None) -> None:
        self.backend = backend
        self.config = resolve(getattr(backend, "name", None), config,
                              live_chains=getattr(backend, "live_chains", LIVE_CHAINS["hf"]))
        self.protocol = load(str(self.config.protocol))
        self._sandbox = sandbox
        self._sandbox_lock = threading.Lock()
        self._owns_sandbox = sandbox is None

    @classmethod
    def from_pretrained(cls, model: str | None = None, backend: str | BackendConfig = "hf",
                        config: VerifierConfig | None = None, **backend_options: Any) -> Verifier:
        """Load `model` (None = the default model) on `backend` ("hf", or a `BackendConfig` that names the model
        too) and build a verifier. The config is resolved before the model loads: a bad --protocol fails first,
        and the choice needs no weights."""
        if isinstance(backend, BackendConfig):
            model, backend_options = backend.model, {**backend.options(), **backend_options}
            backend = backend.backend
        config = resolve(model, config, live_chains=LIVE_CHAINS.get(backend, LIVE_CHAINS["hf"]))
        backend_options.setdefault("max_batch", config.batch_size)
        reads = load(str(config.protocol)).reads
        if reads is not None:  # a discriminative protocol: the backend is built to read, not to generate
            backend_options.setdefault("reads", reads)
        return cls(load_backend(backend, model, **backend_options), config)

    # -- public API ------------------------------------------------------------------------------------------

    def verify(self, problem: str | Solution | Mapping[str, Any], steps: Sequence[str] | None = None
               ) -> VerificationResult:
        """Verify one solution: `verify(problem, steps)`, `verify(Solution(...))` or `verify({"problem": ...,
        "steps": [...]})`. Bad input raises `genprm.errors.InputError` (one line, as the CLI prints it)."""
        solution = as_solution(problem if steps is None else {"problem": problem, "steps": steps})
        return self.verify_many([solution])[0]

    def verify_many(self, solutions: Iterable[Solution | Mapping[str, Any]]) -> list[VerificationResult]:
        """Verify solutions (each a `Solution` or a dict with problem and steps) in batches; results in input
        order. Every input is checked before any model work starts."""
        checked = [as_solution(s, row=i + 1) for i, s in enumerate(solutions)]
        results = dict(self.iter_verify(checked, with_index=True))  # type: ignore[call-overload]
        return [results[i] for i in range(len(checked))]

    def iter_verify(self, solutions: Iterable[Solution | None], with_index: bool = False,
                    cancelled: Callable[[int], bool] | None = None) -> Iterator[Any]:
        """Yield each `VerificationResult` as soon as it is done (completion order, not input order).

        With `with_index=True`, yields `(input index, result)` pairs. A live source (a server's queue) may yield
        None for "nothing new right now": the chains already alive go on, and the source is asked again next round.
        `cancelled(index)` True drops that solution's chains (its caller went away); it is never yielded.
        """
        cfg = self.config
        source = enumerate(solutions)
        chains: dict[int, _LiveChain] = {}
        pending: dict[int, _PendingSolution] = {}
        next_chain = 0
        dispatch = Dispatcher(self.backend, lambda cid, request: self._run_code(chains[cid], request))
        exhausted = False
        try:
            while True:
                # 1) Keep about `batch_size` chains alive, adding whole solutions (all their samples).
                while not exhausted and len(chains) < cfg.batch_size:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        break
                    index, solution = item
                    if solution is None:
                        break
                    slot = pending[index] = _PendingSolution(solution, [], time.perf_counter())
                    for sample, chain in enumerate(self._chains(solution)):
                        slot.traces.append(None)
                        try:
                            first_request = next(chain)
                        except StopIteration as done:  # nothing to ask (a claim check with no claim)
                            slot.traces[sample] = done.value
                            continue
                        chains[next_chain] = _LiveChain(chain, index, sample)
                        dispatch.submit(next_chain, first_request)
                        next_chain += 1
                    if all(t is not None for t in slot.traces):  # every chain finished before asking anything
                        del pending[index]
                        result = self._result(slot)
                        yield (index, result) if with_index else result
                for cid in [c for c, live in chains.items() if cancelled and cancelled(live.solution_index)]:
                    live = chains.pop(cid)
                    dispatch.forget(cid)
                    pending.pop(live.solution_index, None)
                    live.end_session()
                if not chains:
                    if exhausted:
                        return
                    continue
                # 2) Wait for some answers (all of a round, for a backend that works in rounds), and 3) resume
                # each of those chains alone, sending its next request at once; a finished chain hands its traces
                # to its solution.
                for cid, answer in dispatch.wait():
                    live = chains[cid]
                    try:
                        dispatch.submit(cid, live.chain.send(answer))
                    except StopIteration as done:
                        del chains[cid]
                        live.end_session()
                        slot = pending[live.solution_index]
                        slot.traces[live.sample] = done.value
                        if all(t is not None for t in slot.traces):
                            del pending[live.solution_index]
                            result = self._result(slot)
                            yield (live.solution_index, result) if with_index else result
        finally:
            for live in chains.values():
                live.end_session()
            dispatch.close()

    def describe(self) -> str:
        """One line on what runs: the model, backend, dtype, CPU threads and live chains (`genprm verify -v`)."""
        b, cfg = self.backend, self.config
        parts = [f"{getattr(b, 'name', type(b).__name__)} on {type(b).__name__}"]
        dtype = getattr(b, "dtype_choice", None)
        if dtype is not None:
            parts.append(f"{dtype.dtype} ({dtype.reason})")
        threads = getattr(b, "threads_choice", None)
        if threads is not None:
            parts.append(f"{threads.threads} torch thread{'s' * (threads.threads != 1)} ({threads.reason})")
        parts.append(f"protocol {cfg.protocol}, {cfg.mode} mode, {cfg.batch_size} live chains")
        return "; ".join(parts)

    def close(self) -> None:
        """Stop the sandbox pool (if this verifier started it) and free the backend's caches."""
        self.close_sandbox()
        self.backend.close()

    def close_sandbox(self) -> None:
        if self._sandbox is not None and self._owns_sandbox:
            self._sandbox.close()
            self._sandbox = None

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one chain -------------------------------------------------------------------------------------------

    def _chains(self, solution: Solution) -> list[Chain]:
        """The chains of one solution: each sample as the protocol's module (genprm/protocols/) talks to the model,
        then, with `claim_check`, the check of its claims (genprm/protocols/claim_check.py)."""
        cfg = self.config

        def given(seed: int) -> ChainInput:
            return ChainInput(self.protocol, solution, self.backend.chat, cfg, seed)

        chains = [self.protocol.implementation.chain(given(zlib.crc32(f"{cfg.seed}:{solution.id}:{k}".encode())))
                  for k in range(cfg.samples)]
        if cfg.claim_check:
            chains.append(claim_check.chain(given(0)))
        return chains

    def _run_code(self, live: _LiveChain, request: RunCode) -> CodeRun:
        """Run one code block in its chain's sandbox session (on a worker thread; a chain has one request at a
        time, so its session is never used by two threads)."""
        if live.session is None:
            live.session = self.sandbox.session()
            live.session.__enter__()
        r = live.session.run(request.code)
        return CodeRun(code=request.code, status=r.status, stdout=r.stdout, stderr=r.stderr, wall_s=r.wall_s)

    @property
    def sandbox(self) -> Any:
        with self._sandbox_lock:  # code runs on worker threads: the first two must not start two pools
            if self._sandbox is None:
                from sandbox import Sandbox  # started on first code block: direct/critique modes never pay for it

                self._sandbox = Sandbox(workers=2, timeout=self.config.code_timeout)
            return self._sandbox

    def _result(self, slot: _PendingSolution) -> VerificationResult:
        cfg = self.config
        samples: list[list[StepTrace]] = slot.traces[: cfg.samples]  # type: ignore[assignment]
        combined = self.protocol.implementation.combine(samples)  # mean, or a vote (see the flow)
        checks = slot.traces[cfg.samples] if cfg.claim_check else None
        if checks is not None:
            combined = claim_check.combine(combined, checks)
        verdicts = []
        for k, text in enumerate(slot.solution.steps):
            per_sample = [traces[k] for traces in samples]
            score = combined[k]
            first = per_sample[0]
            check = checks[k] if checks is not None else StepTrace(critique="", score=1.0)
            critique = "\n".join(t for t in (first.critique, check.critique) if t)
            verdicts.append(StepVerdict(index=k, text=text, score=score, verdict=score >= cfg.threshold,
                                        critique=critique, code_runs=(*first.code_runs, *check.code_runs),
                                        sample_scores=tuple(t.score for t in per_sample),
                                        forced=sum(t.forced for t in per_sample)))
        scores = [v.score for v in verdicts]
        return VerificationResult(solution=slot.solution, steps=tuple(verdicts),
                                  first_error=first_error(scores, cfg.threshold), reward=aggregate(scores, cfg.agg),
                                  aggregation=cfg.agg, threshold=cfg.threshold, model=self.backend.name,
                                  protocol=self.protocol.name, mode=cfg.mode,
                                  wall_s=time.perf_counter() - slot.started,
                                  score_source=getattr(self.backend, "score_source", "logprobs"),
                                  dtype=getattr(self.backend, "dtype", ""))


@dataclass
class _LiveChain:
    chain: Chain
    solution_index: int
    sample: int
    session: Any = None
    """The chain's sandbox session, opened by its first code block."""

    def end_session(self) -> None:
        if self.session is not None:
            self.session.__exit__(None, None, None)
            self.session = None


@dataclass
class _PendingSolution:
    solution: Solution
    traces: list[list[StepTrace] | None]
    started: float

