"""Discriminative PRMs on vLLM's pooling engine: for each of the four formats, `Verifier.from_pretrained(...,
backend="vllm")` gives the transformers backend's step scores (which tests/protocols/test_discriminative.py checks
against the authors' own code) on the same tiny random model, with one engine request per solution; the engine
refuses to generate, and a solution over the model's context, in one line. Skipped where vllm is not installed;
`make test` installs it.
"""

from __future__ import annotations

import json
import subprocess
from importlib.util import find_spec

import pytest
from helpers import script_command, tiny_prms
from helpers.vllm_read_script import SOLUTIONS

from genprm import Verifier, VerifierConfig
from genprm.backends.base import load_backend

pytestmark = [pytest.mark.slow, pytest.mark.skipif(find_spec("vllm") is None, reason="vllm is not installed")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("prms")
    for name, build in tiny_prms.BUILDERS.items():
        build(root / name)
    return root


@pytest.fixture(scope="module")
def on_vllm(models):
    done = subprocess.run([*script_command("vllm_read_script"), str(models)], capture_output=True, text=True,
                          timeout=900)
    rows = [json.loads(line.removeprefix("RESULT ")) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and len(rows) == len(tiny_prms.BUILDERS), done.stdout[-3000:] + done.stderr[-3000:]
    return {row["name"]: row for row in rows}


@pytest.mark.parametrize("name", list(tiny_prms.BUILDERS))
def test_each_format_scores_as_on_transformers_in_one_pass_per_solution(models, on_vllm, name):
    backend = load_backend("hf", str(models / name), dtype="float32", trust_remote_code=name == "qwen-prm")
    config = VerifierConfig(protocol=name, mode="direct", threshold=0.5, claim_check=False)
    local = [[s.score for s in r.steps] for r in Verifier(backend, config).verify_many(SOLUTIONS)]
    theirs = on_vllm[name]
    assert theirs["sent"] == ["ReadRequest"] * len(SOLUTIONS)  # one forward pass per solution, nothing generated
    assert [len(s) for s in theirs["scores"]] == [len(s["steps"]) for s in SOLUTIONS]
    for a, b in zip(theirs["scores"], local, strict=True):
        assert a == pytest.approx(b, abs=1e-5)
    assert len({round(s, 6) for s in local[0]}) > 1  # random weights give distinct scores: the positions matter
    assert "ReadRequest, on a backend built with reads" in theirs["refused"]


def test_a_solution_over_the_context_is_refused_in_one_line(on_vllm):
    message = on_vllm["token-classification"]["too_long"]
    assert message.startswith("vllm refused a request: ") and "maximum context length is 512" in message
    assert "\n" not in message
