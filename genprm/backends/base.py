"""The one small interface between the verifier and a language model.

A backend renders chat messages with the model's template, generates continuations that end at stop strings or
a token budget, and returns next-token logprobs for a few candidate strings. Every call takes a batch; the
backend decides how to run it (batched forward passes, a server, prefix caching). Prompts are plain text: a
backend that can reuse work across calls whose prompts share a prefix (KV caches, vLLM's prefix caching) does so
on its own, so the verifier can always send the whole dialogue without paying to re-encode it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerateRequest:
    """Continue `prompt` until a stop string, an end-of-turn token or `max_new_tokens`."""

    prompt: str
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    """0 = greedy."""
    seed: int | None = None


@dataclass(frozen=True)
class Generation:
    text: str
    """The continuation, cut right after the stop string that ended it (the stop string included)."""
    finish_reason: Literal["stop", "length", "eos"]
    stop: str | None = None
    num_tokens: int = 0


@dataclass(frozen=True)
class ScoreRequest:
    """Next-token logprobs after `prompt` for the first token of each candidate string."""

    prompt: str
    candidates: tuple[str, ...]


@runtime_checkable
class Backend(Protocol):
    name: str
    """The model's name, for results and reports."""

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render messages with the model's chat template."""
        ...

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]: ...

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        """For each request, {candidate: logprob of its first token}, normalised over the vocabulary."""
        ...

    def close(self) -> None: ...


def load_backend(name: str, model: str | None = None, **options: object) -> Backend:
    """Build a backend by name. Heavy imports happen here, not at `import genprm`."""
    if name in ("hf", "transformers"):
        from genprm.backends.hf import HFBackend

        return HFBackend(model, **options)  # type: ignore[arg-type]
    if name == "vllm":
        from genprm.backends.vllm import VLLMBackend

        return VLLMBackend(model, **options)  # type: ignore[arg-type]
    if name == "openai":
        from genprm.backends.openai import OpenAIBackend

        return OpenAIBackend(model, **options)  # type: ignore[arg-type]
    from genprm.errors import ConfigError

    raise ConfigError("backend", "one of 'hf', 'vllm', 'openai'", name)
