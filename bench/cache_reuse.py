"""Does the verifier re-encode the dialogue at every step? Measures it, side by side in one run.

    python bench/cache_reuse.py            # default model, examples/eight_steps.json, code mode

Prints the wall time of verifying an 8-step solution with the prefix cache (step k continues from the cached
state of step k-1) and with full re-encoding of the dialogue on every call, the prompt tokens each encoded, and
the ratio of verification time to plain generation of the same number of tokens (goal <= 1.2).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from genprm import Verifier, VerifierConfig, load_solutions
from genprm.backends.base import GenerateRequest
from genprm.backends.hf import HFBackend

# -- defaults -----------------------------------------------------------------------------------------------------
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eight_steps.json"
MODE = "code"  # the default verification mode: critique + sandboxed code
MAX_TOKENS = 192  # per-step critique budget
# fp32 keeps the greedy critiques of the cached and the re-encoding run identical token for token (in bf16 the
# two prefill orders round differently and the critiques drift apart), so both runs do the same work.
DTYPE = "float32"


def verify_once(backend: HFBackend, mode: str, max_tokens: int) -> tuple[float, int, int, float]:
    """(wall seconds, prompt tokens encoded, tokens generated, seconds in the sandbox)."""
    solution = load_solutions(EXAMPLE)[0]
    verifier = Verifier(backend, VerifierConfig(mode=mode, max_tokens=max_tokens))
    if mode == "code":
        _ = verifier.sandbox  # start the sandbox pool outside the timed region
    encoded, generated = backend.tokens_encoded, backend.tokens_generated
    start = time.perf_counter()
    result = verifier.verify(solution)
    wall = time.perf_counter() - start
    sandbox_s = sum(run.wall_s for step in result.steps for run in step.code_runs)
    verifier.close_sandbox()
    return wall, backend.tokens_encoded - encoded, backend.tokens_generated - generated, sandbox_s


def plain_generation(backend: HFBackend, n_tokens: int) -> float:
    """Seconds to generate `n_tokens` tokens with no verifier around it (fresh prompts until the count is reached)."""
    backend.close()
    done, start, i = 0, time.perf_counter(), 0
    while done < n_tokens:
        prompt = backend.chat([{"role": "user", "content": f"Write a long story about a gardener, part {i}."}])
        [g] = backend.generate([GenerateRequest(prompt, n_tokens - done)])
        done, i = done + g.num_tokens, i + 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default=MODE)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--dtype", default=DTYPE)
    args = parser.parse_args()

    cached = HFBackend(max_batch=1, dtype=args.dtype)
    uncached = HFBackend(max_batch=1, dtype=args.dtype, prefix_cache=False)
    plain_generation(cached, 32)  # warm up kernels and allocator before anything is timed
    t_cache, enc_cache, gen_cache, sb_cache = verify_once(cached, args.mode, args.max_tokens)
    t_full, enc_full, gen_full, sb_full = verify_once(uncached, args.mode, args.max_tokens)
    t_plain = plain_generation(cached, gen_cache)

    print(f"8-step solution, mode={args.mode}, max_tokens={args.max_tokens}, model={cached.name}")
    print(f"{'':24}{'wall s':>9}{'prompt tokens encoded':>24}{'tokens generated':>18}{'in sandbox s':>14}")
    print(f"{'with prefix cache':24}{t_cache:9.2f}{enc_cache:24d}{gen_cache:18d}{sb_cache:14.2f}")
    print(f"{'full re-encoding':24}{t_full:9.2f}{enc_full:24d}{gen_full:18d}{sb_full:14.2f}")
    print(f"{'plain generation':24}{t_plain:9.2f}{'':24}{gen_cache:18d}")
    if gen_full != gen_cache:
        print(f"note: the two runs generated different critiques ({gen_cache} vs {gen_full} tokens); "
              f"compare per token: {1000 * t_cache / gen_cache:.1f} vs {1000 * t_full / gen_full:.1f} ms/token")
    print(f"speed-up of the cache: {t_full / t_cache:.2f}x; prompt tokens encoded: {enc_full / max(enc_cache, 1):.1f}x "
          "fewer")
    print(f"verification / plain generation of the same tokens: {t_cache / t_plain:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
