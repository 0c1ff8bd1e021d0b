"""Runs the vLLM backend on the base model and prints what the tests check, as one JSON line.

    python tests/helpers/vllm_script.py [--dtype auto]

A script, not test code, because `vllm.LLM` spawns its engine process, which re-imports the main module: the
work must sit under `if __name__ == "__main__":`, and one engine start serves every check (each costs ~15 s on a
CPU).
"""

from __future__ import annotations

import argparse
import json

from genprm import Solution, Verifier, VerifierConfig
from genprm.backends.base import GenerateRequest, ScoreRequest
from genprm.backends.vllm import VLLMBackend
from genprm.backends.weights import BASE_MODEL

VERDICTS = [("Is 2 + 2 = 4 correct? Answer Yes or No.", "Let me check: 2 + 2 is 4. Is the step correct (Yes/No)?"),
            ("Is 7 * 8 = 54 correct? Answer Yes or No.", "7 * 8 is 56, not 54. Is the step correct (Yes/No)?")]
SOLUTIONS = [Solution("What is 2 + 3 * 4?", ("3 * 4 = 12", "2 + 12 = 14"), id="a"),
             Solution("What is 10 - 4 / 2?", ("10 - 4 = 6", "6 / 2 = 3"), id="b")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()
    backend = VLLMBackend(BASE_MODEL, dtype=args.dtype)  # a plain LM: the default verifier only says Yes/No
    out: dict[str, object] = {}
    chat = backend.chat
    out["chat"] = chat([{"role": "user", "content": "Hi"}])
    [g] = backend.generate([GenerateRequest(chat([{"role": "user", "content": "List the numbers from 1 to 10."}]), 60,
                                            stop=("5,",))])
    out["stop"] = [g.text, g.finish_reason, g.stop]
    [g] = backend.generate([GenerateRequest(chat([{"role": "user", "content": "Write a long story."}]), 7)])
    out["length"] = [g.finish_reason, g.num_tokens]
    prompts = [chat([{"role": "user", "content": q}]) + a for q, a in VERDICTS]
    out["verdict_prompts"] = prompts
    out["scores"] = backend.score([ScoreRequest(p, (" Yes", " No")) for p in prompts])
    cached = backend.tokens_cached
    for mode in ("direct", "critique"):
        results = Verifier(backend, VerifierConfig(mode=mode, max_tokens=32)).verify_many(SOLUTIONS)
        out[mode] = [r.step_scores for r in results]
    out["tokens_cached"] = backend.tokens_cached - cached
    # The published protocols' flows, tiny budgets (no code: the engine is what is checked here).
    for prompt in ("genprm", "thinkprm", "processbench-critic"):
        config = VerifierConfig(protocol=prompt, mode="critique", max_tokens=16)
        [r] = Verifier(backend, config).verify_many(SOLUTIONS[:1])
        out[prompt] = [r.protocol, r.step_scores]
    backend.close()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
