"""The work a replica does, as picklable recipes: `start()` runs once in the replica (loads the model, starts the
sandbox pool), `run()` turns a task's solutions into (id, output) pairs as each one finishes.

A job reuses the local code path whole (`Verifier.iter_verify`, the distill teachers), so a row verified on a
cluster gets the same result as one verified locally.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from genprm.backends.base import BackendConfig
from genprm.config import VerifierConfig
from genprm.registry import DEFAULT_PROTOCOL
from genprm.types import Solution


@dataclass(frozen=True)
class VerifyJob:
    """`genprm verify`: one `Verifier` per replica (its backend, model and sandbox pool)."""

    backend: BackendConfig
    config: VerifierConfig  # resolved by the caller: replicas read no genprm.json
    backend_options: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Any:
        from genprm.verifier import Verifier

        return Verifier.from_pretrained(backend=self.backend, config=self.config, **self.backend_options)

    def run(self, verifier: Any, solutions: Sequence[Solution]) -> Iterator[tuple[str, Any]]:
        for result in verifier.iter_verify(solutions):
            yield result.id, result

    def stop(self, verifier: Any) -> None:
        verifier.close()


@dataclass(frozen=True)
class SynthJob:
    """`genprm distill synth`: a teacher (symbolic, or a model through the verification loop) and its sandbox."""

    teacher: str = "symbolic"
    protocol: str = DEFAULT_PROTOCOL
    code_timeout: float = 5.0
    max_tokens: int = 256
    batch_size: int = 8
    backend: str = "hf"
    base_url: str | None = None

    def start(self) -> tuple[Any, Any, Any]:
        """(teacher, its sandbox, its model backend or None)."""
        from genprm.backends.base import load_backend
        from genprm.distill.teachers import BackendTeacher, SymbolicTeacher
        from genprm.protocols import load
        from genprm.verifier import Verifier
        from sandbox import Sandbox

        sandbox = Sandbox(workers=2, timeout=self.code_timeout)
        if self.teacher == "symbolic":
            return SymbolicTeacher(load(self.protocol), sandbox), sandbox, None
        options: dict[str, Any] = {"max_batch": self.batch_size}
        if self.backend == "openai":
            options["base_url"] = self.base_url
        model = load_backend(self.backend, None if self.teacher == "default" else self.teacher, **options)
        config = VerifierConfig(protocol=self.protocol, mode="code", claim_check=False, max_tokens=self.max_tokens,
                                batch_size=self.batch_size, code_timeout=self.code_timeout)
        return BackendTeacher(Verifier(model, config, sandbox=sandbox)), sandbox, model

    def run(self, worker: tuple[Any, Any, Any], solutions: Sequence[Solution]) -> Iterator[tuple[str, Any]]:
        from genprm.distill.synth import synth_record

        teacher = worker[0]
        for solution, critiques in zip(solutions, teacher.critique_many(solutions), strict=True):
            yield solution.id, synth_record(solution, teacher.name, critiques)

    def stop(self, worker: tuple[Any, Any, Any]) -> None:
        _, sandbox, model = worker
        sandbox.close()
        if model is not None:
            model.close()
