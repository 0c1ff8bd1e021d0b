"""Everything downstream of `verify` takes a discriminative PRM unchanged: its scored file goes through `eval`,
`rerank` and `report`, and `genprm serve` answers with the same scores as a local run (tiny random
token-classification model; tests/distributed/test_discriminative_on_ray.py does `--ray`)."""

from __future__ import annotations

import json

import httpx
import pytest
from helpers import tiny_prms
from helpers.cli import genprm
from helpers.genprm_serve import genprm_serve

from genprm import Verifier, VerifierConfig
from genprm.backends.base import load_backend

# Two problems, two candidates each, with gold answers, first-error labels and outcomes: what eval and rerank read.
ROWS = [{"id": f"{p}:{i}", "problem": f"What is {q}?", "steps": [f"{q} = {a}.", f"The answer is {a}."], "answer": gold,
         "label": -1 if a == gold else 0, "outcome": a == gold}
        for p, q, gold, answers in [("p1", "2 + 2", "4", ["4", "5"]), ("p2", "3 * 2", "6", ["7", "6"])]
        for i, a in enumerate(answers)]
PROTOCOL = ("--protocol", "token-classification", "--dtype", "float32", "--claim-check", "off")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_prms.token_classification(tmp_path_factory.mktemp("prm") / "tc")


@pytest.fixture(scope="module")
def local(model):
    backend = load_backend("hf", str(model), dtype="float32")
    v = Verifier(backend, VerifierConfig(protocol="token-classification", claim_check=False))
    return {r.solution.id: [s.score for s in r.steps] for r in v.verify_many(ROWS)}


@pytest.fixture(scope="module")
def scored(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scored")
    data, out = folder / "bo2.jsonl", folder / "bo2.scored.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    proc = genprm("verify", data, "--model", model, *PROTOCOL, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_scored_file_is_the_local_run(scored, local):
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert {r["protocol"] for r in rows} == {"token-classification"}
    for row in rows:
        assert [s["score"] for s in row["steps"]] == pytest.approx(local[row["id"]], abs=1e-6)


def test_eval_rerank_and_report_read_it(scored, tmp_path):
    proc = genprm("eval", scored, "--out-dir", tmp_path / "ev", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["processbench"]["mean_f1"] is not None and "auroc" in metrics["outcome"]["overall"]
    proc = genprm("rerank", scored, "--out-dir", tmp_path / "rr")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads((tmp_path / "rr" / "rerank.json").read_text())["methods"]["verifier"]) == 2
    proc = genprm("report", scored, "-o", tmp_path / "r.html")
    assert proc.returncode == 0, proc.stderr
    assert "Best-of-N" in (tmp_path / "r.html").read_text()


def test_serve_answers_with_the_local_scores(model, local):
    with genprm_serve("--model", str(model), *PROTOCOL, timeout=300) as served:
        for row in ROWS:
            r = httpx.post(f"{served.url}/v1/verify", json={k: row[k] for k in ("id", "problem", "steps")},
                           timeout=120)
            assert r.status_code == 200, r.text
            assert r.json()["step_scores"] == pytest.approx(local[row["id"]], abs=1e-6)
