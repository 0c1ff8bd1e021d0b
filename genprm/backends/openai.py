"""The OpenAI-compatible backend: any server with a `/v1/completions` endpoint (vLLM's `vllm serve`, SGLang,
`transformers serve`, a hosted API).

Prompts are text the verifier has already rendered, so this backend uses the completions endpoint, not chat: the
dialogue is re-sent whole on every call and a server with prefix caching (vLLM, SGLang) only computes the new
part. Each request is sent as soon as the verifier submits it (`submit`), at most `max_concurrency` in flight, so
the server's own continuous batching sees every live chain; the `openai` client retries
connection errors, 408/409/429 and 5xx responses with exponential backoff, and each request has a timeout.

Scores: one generated token with `logprobs=k` (the top-k next-token logprobs; servers cap k, e.g. vLLM at 20 by
default and OpenAI at 5: a refused k is lowered). A candidate whose first token is not among the k gets the lowest
logprob returned (an upper bound on its own). A server that returns no logprobs at all gets the verdict parsed
from a few greedy tokens of text instead: logprob 0 for the candidate the text starts with and -inf for the
others, so scores are exactly 0 or 1; `score_source` then says "verdict_text" and a warning is printed once.

Stops: the endpoint cuts the stop string off; which one matched is read from `stop_reason` (vLLM) or
`matched_stop` (SGLang) and put back, as the `Backend` contract wants. A server that reports neither is taken to
have ended the turn (`eos`): the verifier then asks for the verdict itself and no code block is run.

Chat rendering: `chat()` uses the model's chat template when a tokenizer is at hand (`tokenizer=`, or `model`
is a local directory); otherwise plain ChatML (`<|im_start|>role\\n...<|im_end|>`), which fits ChatML models
(Qwen, SmolLM2) only: pass the tokenizer for any other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import openai

from genprm.backends.base import (
    LIVE_CHAINS,
    Answer,
    GenerateRequest,
    Generation,
    ReadRequest,
    Request,
    ScoreRequest,
)
from genprm.errors import ConfigError, GenPRMError

# Top-k tried for verdict logprobs, largest first: a server that refuses one (HTTP 400) is asked for the next.
LOGPROBS_LADDER = (20, 5, 1)
# Greedy tokens generated to read a verdict from text when the server returns no logprobs.
VERDICT_TEXT_TOKENS = 4


class OpenAIBackend:
    """A model behind an OpenAI-compatible HTTP server.

    Args:
        model: the served model's name; None = the server's only model.
        base_url: the server, e.g. "http://127.0.0.1:8000/v1"; None = `$OPENAI_BASE_URL`.
        api_key: None = `$OPENAI_API_KEY`, or a placeholder for local servers that need none.
        tokenizer: a local directory or hub id whose chat template renders prompts (see the module docstring).
        max_concurrency: most requests in flight at once.
        timeout: seconds one request may take.
        max_retries: retries of a failed request (with exponential backoff).
        max_batch: the verifier's batch size (its live chains), used as `max_concurrency` when that is not given.
        reads: the protocol's reads (see `load_backend`): refused, in one line, when set.
    """

    live_chains = LIVE_CHAINS["openai"]

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 tokenizer: str | None = None, max_concurrency: int | None = None, timeout: float = 120.0,
                 max_retries: int = 5, max_batch: int = 8, reads: tuple[str, ...] | None = None) -> None:
        if reads is not None:
            raise _cannot_read()
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError("base_url", "the server's URL (--base-url or $OPENAI_BASE_URL)", base_url)
        concurrency = max_concurrency or max_batch
        if concurrency < 1:
            raise ConfigError("max_concurrency", ">= 1", concurrency)
        if timeout <= 0:
            raise ConfigError("timeout", "> 0", timeout)
        self.base_url = base_url
        # Local servers (vllm serve, SGLang) accept any key; the client refuses to start without one.
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
                                    timeout=timeout, max_retries=max_retries)
        self.model = model or self._only_model()
        self.name = self.model
        self.tokenizer = _load_tokenizer(tokenizer or (self.model if Path(self.model).is_dir() else None))
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="genprm-openai")
        self.score_source: Literal["logprobs", "verdict_text"] = "logprobs"
        """How verdict scores were read: next-token logprobs, or 0/1 from the verdict text (no logprobs)."""
        self._ladder = list(LOGPROBS_LADDER)

    # -- Backend interface ---------------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        if self.tokenizer is not None:
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                      add_generation_prompt=add_generation_prompt)
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    def submit(self, request: Request) -> Future[Answer]:
        """Send one request now (at most `max_concurrency` in flight); the verifier resumes its chain when it
        returns, whatever the others are doing."""
        if isinstance(request, ReadRequest):
            self.read([request])  # raises: one line
        one = self._generate_one if isinstance(request, GenerateRequest) else self._score_one
        return self.pool.submit(one, request)  # type: ignore[arg-type]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return self._map(self._generate_one, requests)

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        return self._map(self._score_one, requests)

    def read(self, requests: Sequence[ReadRequest]) -> list[list[list[float]]]:
        """Discriminative PRMs (one forward pass read at step marks) run on the hf and vllm backends."""
        raise _cannot_read()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    # -- one request ---------------------------------------------------------------------------------------

    def _generate_one(self, r: GenerateRequest) -> Generation:
        response = self._complete(prompt=r.prompt, max_tokens=r.max_new_tokens, temperature=r.temperature,
                                  seed=r.seed, stop=list(r.stop) or None)
        choice = response.choices[0]
        text = choice.text
        num_tokens = response.usage.completion_tokens if response.usage else max(1, len(text) // 4)
        if choice.finish_reason == "length":
            return Generation(text, "length", None, num_tokens)
        extra = choice.model_extra or {}
        matched = extra.get("stop_reason", extra.get("matched_stop"))
        if isinstance(matched, str) and matched in r.stop:
            # The endpoint drops the stop string; the Backend contract keeps it.
            return Generation(text if text.endswith(matched) else text + matched, "stop", matched, num_tokens)
        return Generation(text, "eos", None, num_tokens)

    def _score_one(self, r: ScoreRequest) -> dict[str, float]:
        first = {c: self._first_token_text(c) for c in r.candidates}
        if len(set(first.values())) < len(first):
            raise ValueError(f"verdict candidates {r.candidates} share their first token")
        while self._ladder:
            k = self._ladder[0]
            try:
                response = self._complete(prompt=r.prompt, max_tokens=1, temperature=0.0, logprobs=k)
            except openai.BadRequestError as e:
                if "logprob" not in str(e).lower():
                    raise
                if self._ladder and self._ladder[0] == k:
                    self._ladder.pop(0)  # this k is refused: try a smaller one
                continue
            logprobs = response.choices[0].logprobs
            top = logprobs.top_logprobs if logprobs is not None else None
            if top and top[0]:
                returned = dict(top[0])
                floor = min(returned.values())
                return {c: returned.get(t, floor) for c, t in first.items()}
            break
        return self._score_from_text(r)

    def _score_from_text(self, r: ScoreRequest) -> dict[str, float]:
        """0/1 from the greedy verdict text, for servers without logprobs."""
        if self.score_source != "verdict_text":
            self.score_source = "verdict_text"
            print(f"genprm: {self.base_url} returned no logprobs: verdict scores are 0/1, read from the verdict text",
                  file=sys.stderr, flush=True)
        response = self._complete(prompt=r.prompt, max_tokens=VERDICT_TEXT_TOKENS, temperature=0.0)
        text = response.choices[0].text.lstrip()
        said = max((c for c in r.candidates if c.strip() and text.startswith(c.strip())), key=len, default=None)
        if said is None:  # neither word: no evidence either way
            return {c: 0.0 for c in r.candidates}
        return {c: 0.0 if c == said else float("-inf") for c in r.candidates}

    def _complete(self, **body: Any) -> Any:
        try:
            return self.client.completions.create(model=self.model, **{k: v for k, v in body.items() if v is not None})
        except openai.APIConnectionError as e:
            raise GenPRMError(f"cannot reach {self.base_url}: {e}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise GenPRMError(f"{self.base_url} refused the API key (set OPENAI_API_KEY): {e.message}") from None
        except openai.NotFoundError as e:
            raise GenPRMError(f"{self.base_url} has no completions endpoint or no model {self.model!r}: "
                              f"{e.message}") from None

    # -- internals -----------------------------------------------------------------------------------------

    def _map(self, fn: Callable[[Any], Any], requests: Sequence[Any]) -> list[Any]:
        return list(self.pool.map(fn, requests))

    def _first_token_text(self, candidate: str) -> str:
        """The text of the candidate's first token as the server names it in `top_logprobs`; without a tokenizer,
        the candidate itself (verdict words are single tokens in common tokenizers)."""
        if self.tokenizer is None:
            return candidate
        ids = self.tokenizer.encode(candidate, add_special_tokens=False)
        if not ids:
            raise ValueError(f"verdict candidate {candidate!r} encodes to no tokens")
        return self.tokenizer.decode(ids[:1])

    def _only_model(self) -> str:
        try:
            served = [m.id for m in self.client.models.list()]
        except openai.APIError as e:
            raise GenPRMError(f"cannot list the models of {self.base_url} (pass --model): {e}") from None
        if len(served) != 1:
            raise ConfigError("model", f"one of the served models ({', '.join(served) or 'none'})", None)
        return served[0]


def _load_tokenizer(spec: str | None) -> Any:
    if spec is None:
        return None
    from transformers import AutoTokenizer

    from genprm.backends.weights import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(spec))


def _cannot_read() -> ConfigError:
    return ConfigError("backend", "hf or vllm for a discriminative PRM protocol (the completions API returns no "
                                  "per-token head outputs)", "openai")
