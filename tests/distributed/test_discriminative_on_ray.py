"""`genprm verify --ray` with a discriminative PRM (a tiny random token-classification model) on a real local
cluster gives the local run's scores."""

from __future__ import annotations

import json

import pytest
from helpers import tiny_prms
from helpers.cli import genprm

from genprm import Verifier, VerifierConfig
from genprm.backends.base import load_backend

ROWS = [{"id": f"s{n}", "problem": tiny_prms.QUESTION, "steps": [s.strip() for s in tiny_prms.STEPS[:n]]}
        for n in (1, 2, 3)]  # stripped, as a JSONL file's steps are read


@pytest.mark.slow
def test_verify_on_ray_equals_the_local_run(cluster, tmp_path):
    model = tiny_prms.token_classification(tmp_path / "tc")
    config = VerifierConfig(protocol="token-classification", claim_check=False)
    local = Verifier(load_backend("hf", str(model), dtype="float32"), config).verify_many(ROWS)
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    proc = genprm("verify", data, "--model", model, "--protocol", "token-classification", "--dtype", "float32",
                  "--claim-check", "off", "--out", out, "--ray", "--ray-address", cluster, "--replicas", "1")
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {r["id"] for r in ROWS}
    for result in local:
        assert [s["score"] for s in rows[result.solution.id]["steps"]] == pytest.approx(result.step_scores, abs=1e-6)
