"""Is bf16 faster than fp32 on this machine, and did `--dtype auto` pick the faster? Measured side by side in one run.

    python bench/dtype.py                      # default model, prefill + generation + a LoRA training step
    python bench/dtype.py --train-tokens 64    # smaller (an AVX2-only CPU runs bf16 ~70x slower: minutes)

Prints tokens/s in fp32 and in bf16 for: prefill (encoding a prompt: what `--mode direct` mostly does), greedy
generation (decoding critiques) and a LoRA training step (fp32 weights, with and without bf16 autocast: what
`genprm distill train` does), their ratio, and what `auto` chose on this CPU (named with the instruction set torch
dispatches to), so figures from different machines can be told apart. Each measurement runs once untimed first.
"""

from __future__ import annotations

import argparse
import time

import torch

from genprm.backends.base import GenerateRequest
from genprm.backends.device import autocast_bf16, cpu_name, resolve_dtype, use_threads
from genprm.backends.hf import HFBackend

# -- defaults -----------------------------------------------------------------------------------------------------
PROMPT_TOKENS = 384  # a verifier prompt: protocol preamble + problem + a few steps
GEN_TOKENS = 16  # greedy tokens per request
BATCH = 4  # requests decoded together (the verifier keeps several chains alive)
TRAIN_TOKENS = 64  # one training example's length (the shipped recipe's are ~600-1000; kept short because an
# AVX2-only CPU needs ~1 minute for one bf16 step of this size)
DTYPES = ("float32", "bfloat16")


def prompt_of(backend: HFBackend, n_tokens: int, salt: int) -> str:
    """A chat prompt of about `n_tokens` tokens; `salt` keeps prompts apart so the prefix cache cannot help."""
    words = " ".join(f"step {salt}-{i}: {i} + {i} = {2 * i}." for i in range(n_tokens // 12))
    return backend.chat([{"role": "user", "content": f"Check this solution.\n{words}"}])


def prefill_and_generation(dtype: str, prompt_tokens: int, gen_tokens: int, batch: int) -> tuple[float, float]:
    """(prefill tokens/s, generated tokens/s) of the default model in `dtype`."""
    backend = HFBackend(dtype=dtype, max_batch=batch)
    backend.generate([GenerateRequest(prompt_of(backend, 64, -1), 4)])  # warm-up, untimed
    requests = [GenerateRequest(prompt_of(backend, prompt_tokens, salt), 1) for salt in range(batch)]
    encoded, start = backend.tokens_encoded, time.perf_counter()
    backend.generate(requests)  # one new token each: the time is the prompts' encoding
    prefill = (backend.tokens_encoded - encoded) / (time.perf_counter() - start)
    # Generation from the now cached prompts: almost only decoding steps.
    requests = [GenerateRequest(r.prompt, gen_tokens) for r in requests]
    generated, start = backend.tokens_generated, time.perf_counter()
    backend.generate(requests)
    decode = (backend.tokens_generated - generated) / (time.perf_counter() - start)
    backend.close()
    return prefill, decode


def training_step(bf16: bool, tokens: int) -> float:
    """Tokens/s of one LoRA training step (forward + backward + AdamW) on `tokens` tokens, fp32 weights, under bf16
    autocast when `bf16`."""
    from genprm.distill.train import _loss_sum, load_model
    from genprm.distill.train_config import TrainConfig

    model, _, _ = load_model(TrainConfig(data="-"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(n: int) -> None:
        ids = torch.randint(100, 20000, (1, n), generator=torch.Generator().manual_seed(n))
        loss, count = _loss_sum(model, {"input_ids": ids, "labels": ids, "attention_mask": torch.ones_like(ids)},
                                bf16)
        (loss / count).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(16)  # warm-up, untimed (kept short: emulated bf16 is slow)
    start = time.perf_counter()
    step(tokens)
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt-tokens", type=int, default=PROMPT_TOKENS)
    parser.add_argument("--gen-tokens", type=int, default=GEN_TOKENS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--train-tokens", type=int, default=TRAIN_TOKENS)
    parser.add_argument("--no-train", action="store_true", help="Skip the training step.")
    args = parser.parse_args()

    threads = use_threads().threads
    print(f"CPU: {cpu_name()}, {threads} torch threads, torch {torch.__version__}")
    print(f"auto picks: inference {resolve_dtype('auto', 'cpu')}")
    print(f"            training  {autocast_bf16('auto', 'cpu')}")
    print(f"\n| {'tokens/s':42} | {'fp32':>9} | {'bf16':>9} | {'bf16/fp32':>9} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 11}|{'-' * 11}|", flush=True)
    rows: dict[str, dict[str, float]] = {}
    for dtype in DTYPES:
        prefill, decode = prefill_and_generation(dtype, args.prompt_tokens, args.gen_tokens, args.batch)
        rows.setdefault(f"prefill, {args.prompt_tokens}-token prompts", {})[dtype] = prefill
        rows.setdefault(f"generation, batch {args.batch}", {})[dtype] = decode
    if not args.no_train:
        for dtype in DTYPES:
            rows.setdefault(f"LoRA training step, {args.train_tokens} tokens", {})[dtype] = training_step(
                dtype == "bfloat16", args.train_tokens)
    for name, by_dtype in rows.items():
        fp32, bf16 = by_dtype["float32"], by_dtype["bfloat16"]
        print(f"| {name:42} | {fp32:9.1f} | {bf16:9.1f} | {bf16 / fp32:9.2f} |")
    print("\n(training in bf16 = fp32 weights under bf16 autocast; `auto` should have picked the faster column)")


if __name__ == "__main__":
    main()
