"""The transformers backend: CPU or GPU, batched decoding, and a prefix cache so no prompt is encoded twice.

Why a prefix cache: the verifier sends the whole dialogue on every call (problem, earlier steps, their critiques,
the new step). Re-encoding it each time makes verification quadratic in the number of steps. Instead, the KV
states of every finished call are kept, keyed by their token ids; a new call reuses the longest cached prefix of
its prompt and encodes only the rest (the step-k critique continues from the cached state of step k-1).

Batching: each request is prefilled alone (its new tokens only), then the requests decode together, one token per
forward pass, with their caches left-padded into one batch; a finished request leaves the batch and its cache
goes back to the prefix cache.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import AutoTokenizer, DynamicCache
from transformers.utils import logging as hf_logging

from genprm.backends import heads
from genprm.backends.base import GenerateRequest, Generation, ReadRequest, ScoreRequest
from genprm.backends.device import AutoThreads, ThreadChoice, default_device, resolve_dtype
from genprm.backends.weights import DEFAULT_MODEL, resolve_model
from genprm.errors import ConfigError

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), each (1, heads, T, head_dim)


@dataclass
class _Entry:
    ids: torch.Tensor  # (T,) the tokens whose states `kv` holds
    kv: KV


class PrefixCache:
    """An LRU of KV states keyed by token ids; `lookup` finds the longest shared prefix."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[int, _Entry] = OrderedDict()
        self.hits = self.tokens_reused = 0
        self._next_key = 0

    def lookup(self, ids: torch.Tensor) -> tuple[_Entry | None, int]:
        best, best_n = None, 0
        for key, entry in self.entries.items():
            m = min(len(entry.ids), len(ids))
            if m <= best_n:
                continue
            same = entry.ids[:m] == ids[:m]
            n = m if bool(same.all()) else int(same.int().argmin())
            if n > best_n:
                best, best_n, best_key = entry, n, key
        if best is not None:
            self.entries.move_to_end(best_key)
            self.hits += 1
            self.tokens_reused += best_n
        return best, best_n

    def store(self, ids: torch.Tensor, kv: KV) -> None:
        # An entry whose ids are a prefix of the new ones is dominated by it: drop it.
        dominated = [k for k, e in self.entries.items()
                     if len(e.ids) <= len(ids) and bool((ids[: len(e.ids)] == e.ids).all())]
        for key in dominated:
            del self.entries[key]
        self.entries[self._next_key] = _Entry(ids, kv)
        self._next_key += 1
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


@dataclass
class _Sequence:
    """One request being decoded."""

    request: GenerateRequest
    prompt_ids: torch.Tensor
    kv: KV  # states of prompt_ids[:-1]
    generator: torch.Generator | None
    generated: list[int]
    text: str = ""
    finish: str | None = None
    stop: str | None = None


class HFBackend:
    """A transformers causal LM behind the `Backend` interface.

    Args:
        model: a local directory, a .gguf file, a hub id, or None for the default model.
        dtype: weight dtype: "auto" (bf16 where the device runs it natively, else fp32; see
            `genprm.backends.device`), "bfloat16", "float16" or "float32".
        max_batch: most sequences decoded together.
        cache_entries: most prefixes kept in the prefix cache.
        prefix_cache: False re-encodes every prompt from scratch (for the benchmark that measures the cache).
        device: "cpu", "cuda", ...; None = CUDA if present, else the CPU.
        threads: torch threads on the CPU; 0 = $OMP_NUM_THREADS if set, else the idle cores this process may use,
            counted again before each forward pass (`genprm.backends.device.AutoThreads`).
        trust_remote_code: run the model directory's own code for a head transformers does not ship (see
            `genprm.backends.heads`); causal LMs and token-classification models never need it.
        reads: the protocol's reads (see `load_backend`); any model can be read here, so it is only checked.
    """

    def __init__(self, model: str | None = None, dtype: str = "auto", max_batch: int = 8,
                 cache_entries: int = 32, prefix_cache: bool = True, device: str | None = None,
                 threads: int = 0, trust_remote_code: bool = False, reads: tuple[str, ...] | None = None) -> None:
        hf_logging.set_verbosity_error()  # load-time progress bars and notices would bury the results table
        hf_logging.disable_progress_bar()
        self.device = torch.device(device) if device else default_device()
        self.threads = AutoThreads(threads) if self.device.type == "cpu" else None
        self.dtype_choice = resolve_dtype(dtype, self.device)
        self.dtype = self.dtype_choice.dtype
        """The dtype the weights run in (recorded in every result)."""
        path = resolve_model(model)
        if reads is not None:  # the wrong kind of model for the protocol fails before its weights load
            heads.check_reads(heads.checkpoint_kind(path), reads)
        self.name = model or DEFAULT_MODEL
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model, self.kind = heads.load_model(path, self.dtype_choice.torch_dtype, trust_remote_code)
        self.model.to(self.device)
        self.max_batch = max_batch
        self.cache = PrefixCache(cache_entries if prefix_cache else 0)
        generation_config = getattr(self.model, "generation_config", None)  # heads have none
        eos = generation_config.eos_token_id if generation_config is not None else None
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {i for i in [*eos, self.tokenizer.eos_token_id] if i is not None}
        # Counters the benchmarks read: prompt tokens run through the model, tokens generated.
        self.tokens_encoded = self.tokens_generated = 0

    @property
    def threads_choice(self) -> ThreadChoice | None:
        """How many torch threads run on the CPU, and why (None on a GPU)."""
        return self.threads.choice if self.threads is not None else None

    def _recount_threads(self) -> None:
        """Before a forward pass: the thread count for the load now, set in the thread that runs it."""
        if self.threads is not None:
            self.threads.refresh()

    # -- Backend interface ---------------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        self._need_causal()
        results: list[Generation] = []
        for start in range(0, len(requests), self.max_batch):
            self._recount_threads()
            results += self._generate_batch(requests[start:start + self.max_batch])
        return results

    @torch.inference_mode()
    def score(self, requests: Sequence[ScoreRequest]) -> list[dict[str, float]]:
        self._need_causal()
        out = []
        for request in requests:
            self._recount_threads()
            first = {c: self._first_token(c) for c in request.candidates}
            if len(set(first.values())) < len(first):
                raise ValueError(f"verdict candidates {request.candidates} share their first token")
            ids = self._encode(request.prompt)
            kv = self._prefill(ids)
            cache = _dynamic_cache(kv, self.model.config)
            logits = self.model(input_ids=ids[-1:][None].to(self.device), past_key_values=cache,
                                position_ids=torch.tensor([[len(ids) - 1]], device=self.device)).logits
            self.cache.store(ids, _kv_of(cache, 0, 0, len(ids)))
            logprobs = torch.log_softmax(logits[0, -1].float(), dim=-1)
            out.append({c: float(logprobs[t]) for c, t in first.items()})
        return out

    def read(self, requests: Sequence[ReadRequest]) -> list[list[list[float]]]:
        """One forward pass per text (batched, no prefix cache: nothing is generated after it)."""
        self._recount_threads()
        return heads.read(self.model, self.kind, self.tokenizer, requests, self.device, self.max_batch)

    def close(self) -> None:
        self.cache.entries.clear()

    def _need_causal(self) -> None:
        if self.kind != "causal":
            raise ConfigError("protocol", f"a discriminative one (qwen-prm, math-shepherd, rlhflow, "
                                          f"token-classification) for {self.name}, a {self.kind} model that "
                                          f"generates nothing", "a generative protocol")

    # -- internals -----------------------------------------------------------------------------------------

    def _encode(self, text: str) -> torch.Tensor:
        return torch.tensor(self.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)

    def _first_token(self, text: str) -> int:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"verdict candidate {text!r} encodes to no tokens")
        return ids[0]

    def _prefill(self, ids: torch.Tensor) -> KV:
        """States of ids[:-1], reusing the longest cached prefix; the last token is left for the caller to feed."""
        entry, n = self.cache.lookup(ids)
        n = min(n, len(ids) - 1)
        kv: KV = [(k[..., :n, :], v[..., :n, :]) for k, v in entry.kv] if entry is not None and n > 0 else []
        new = ids[n:-1]
        if len(new) == 0:
            return kv
        cache = _dynamic_cache(kv, self.model.config)
        self.model(input_ids=new[None].to(self.device), past_key_values=cache,
                   position_ids=torch.arange(n, n + len(new), device=self.device)[None])
        self.tokens_encoded += len(new)
        return _kv_of(cache, 0, 0, len(ids) - 1)

    def _generate_batch(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        seqs = []
        for r in requests:
            ids = self._encode(r.prompt)
            generator = None
            if r.temperature > 0:
                generator = torch.Generator().manual_seed(r.seed if r.seed is not None else random.getrandbits(63))
            seqs.append(_Sequence(r, ids, self._prefill(ids), generator, []))
        # 1) Left-pad every cache to the longest one and stack them into one batch.
        lengths = torch.tensor([len(s.prompt_ids) - 1 for s in seqs])
        width = int(lengths.max())
        pads = (width - lengths).tolist()
        n_layers = len(seqs[0].kv) if seqs[0].kv else 0
        layers = []
        for layer in range(n_layers):
            keys = [torch.nn.functional.pad(s.kv[layer][0], (0, 0, p, 0)) for s, p in zip(seqs, pads, strict=True)]
            values = [torch.nn.functional.pad(s.kv[layer][1], (0, 0, p, 0)) for s, p in zip(seqs, pads, strict=True)]
            layers.append((torch.cat(keys), torch.cat(values)))
        cache = _dynamic_cache(layers, self.model.config)
        mask = (torch.arange(width)[None, :] >= torch.tensor(pads)[:, None]).long()
        tokens = torch.stack([s.prompt_ids[-1] for s in seqs])[:, None]
        positions = lengths[:, None].clone()
        active = list(range(len(seqs)))  # row b of the batch is seqs[active[b]]
        stop_len = max((len(s) for r in requests for s in r.stop), default=0)
        # 2) Decode one token per forward pass for every active sequence.
        while active:
            self._recount_threads()  # a long generation outlives the load it started under
            mask = torch.cat([mask, torch.ones(len(active), 1, dtype=torch.long)], dim=1)
            logits = self.model(input_ids=tokens.to(self.device), attention_mask=mask.to(self.device),
                                position_ids=positions.to(self.device), past_key_values=cache).logits[:, -1].float()
            next_tokens = []
            for b, i in enumerate(active):
                s = seqs[i]
                t = _pick(logits[b], s.request.temperature, s.generator)
                s.generated.append(t)
                next_tokens.append(t)
                self.tokens_generated += 1
                if t in self.eos_ids:
                    s.finish = "eos"
                    continue
                previous = len(s.text)
                s.text = self.tokenizer.decode([g for g in s.generated], skip_special_tokens=False)
                hit = _find_stop(s.text, s.request.stop, max(0, previous - stop_len))
                if hit is not None:
                    s.text, s.stop, s.finish = s.text[:hit[0]], hit[1], "stop"
                elif len(s.generated) >= s.request.max_new_tokens:
                    s.finish = "length"
            done = [b for b, i in enumerate(active) if seqs[i].finish]
            if done:
                # 3) Finished sequences leave the batch; their states (all tokens fed so far) are cached.
                for b in done:
                    s = seqs[active[b]]
                    fed = torch.cat([s.prompt_ids, torch.tensor(s.generated[:-1], dtype=torch.long)])
                    self.cache.store(fed, _kv_of(cache, b, pads[active[b]], None))
                keep = [b for b in range(len(active)) if b not in done]
                if not keep:
                    break
                index = torch.tensor(keep)
                cache.batch_select_indices(index.to(self.device))
                mask, positions = mask[index], positions[index]
                next_tokens = [next_tokens[b] for b in keep]
                active = [active[b] for b in keep]
            tokens = torch.tensor(next_tokens)[:, None]
            positions = positions + 1
        return [Generation(text=s.text, finish_reason=s.finish, stop=s.stop, num_tokens=len(s.generated))  # type: ignore[arg-type]
                for s in seqs]


def _dynamic_cache(kv: KV, config: object) -> DynamicCache:
    return DynamicCache(ddp_cache_data=kv, config=config) if kv else DynamicCache(config=config)


def _kv_of(cache: DynamicCache, row: int, start: int, end: int | None) -> KV:
    """A private copy of one row's states (a view would keep the whole batch's tensors alive)."""
    return [(layer.keys[row:row + 1, :, start:end].clone(), layer.values[row:row + 1, :, start:end].clone())
            for layer in cache.layers]


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> int:
    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _find_stop(text: str, stops: Sequence[str], start: int) -> tuple[int, str] | None:
    """(end of the earliest stop string in text[start:], that string), or None."""
    found = [(i + len(s), s) for s in stops if (i := text.find(s, start)) >= 0]
    return min(found) if found else None
