"""Discriminative PRMs, each on a tiny random model of its architecture: genprm sends the authors' exact tokens, reads
the authors' positions, and scores with the authors' formula (tests/helpers/discriminative_usage.py, cited), in one
forward pass per solution, batched across solutions; and the formats fail in one line where they cannot run."""

from __future__ import annotations

import json

import pytest
from helpers import discriminative_usage as fx
from helpers import tiny_prms
from helpers.cli import genprm
from helpers.tiny_prms import QUESTION, STEPS

from genprm import Verifier, VerifierConfig
from genprm.backends.base import load_backend
from genprm.backends.heads import tokens_and_positions
from genprm.errors import ConfigError
from genprm.protocols import load
from genprm.protocols.discriminative import request
from genprm.registry import KNOWN


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("prms")
    return {name: build(root / name) for name, build in tiny_prms.BUILDERS.items()}


def _verifier(path, protocol, **config):
    backend = load_backend("hf", str(path), dtype="float32", trust_remote_code=protocol == "qwen-prm", max_batch=4)
    return Verifier(backend, VerifierConfig(protocol=protocol, mode="direct", threshold=0.5, claim_check=False,
                                            **config))


def _authors(name, v):
    """The authors' code on the same model: (ids, positions, scores)."""
    tok, model = v.backend.tokenizer, v.backend.model
    if name == "qwen-prm":
        return fx.qwen_prm(tok, model, QUESTION, STEPS)
    if name == "math-shepherd":  # their data's form: "Step i: ... ки" lines (the card's example output)
        output = "\n".join(f"Step {i}: {s.strip()} ки" for i, s in enumerate(STEPS, 1))
        return fx.math_shepherd(tok, model, QUESTION, output)
    if name == "rlhflow":
        return fx.rlhflow(tok, model, QUESTION, STEPS)
    return fx.trl_token_classification(tok, model, QUESTION, STEPS)


@pytest.mark.parametrize("name", list(tiny_prms.BUILDERS))
def test_tokens_positions_and_scores_match_the_authors_code(models, name):
    v = _verifier(models[name], name)
    ids, positions, scores = _authors(name, v)
    assert len(positions) == len(STEPS)  # the fixture found every step (a format bug would find fewer)
    sent = request(v.protocol, QUESTION, STEPS, v.backend.chat)
    assert tokens_and_positions(v.backend.tokenizer, sent) == (ids, positions)
    result = v.verify(QUESTION, STEPS)
    assert [s.score for s in result.steps] == pytest.approx(scores, abs=1e-5)
    assert len({round(s, 6) for s in scores}) > 1  # random weights give distinct scores: the positions matter


@pytest.mark.parametrize("name", ["rlhflow", "token-classification"])
def test_a_batch_scores_each_solution_as_alone(models, name):
    v = _verifier(models[name], name, batch_size=4)
    solutions = [{"problem": QUESTION, "steps": STEPS[:n]} for n in (3, 1, 2)]
    alone = [[s.score for s in v.verify(sol).steps] for sol in solutions]
    calls = []
    read = v.backend.read
    v.backend.read = lambda requests: calls.append(len(requests)) or read(requests)
    together = [[s.score for s in r.steps] for r in v.verify_many(solutions)]
    assert calls == [3]  # one round: every solution's single forward pass, batched
    for a, b in zip(alone, together, strict=True):
        assert b == pytest.approx(a, abs=1e-5)


def test_a_remote_head_needs_trust_remote_code(models):
    with pytest.raises(ConfigError, match="trust_remote_code must be set"):
        load_backend("hf", str(models["qwen-prm"]), dtype="float32")


def test_a_format_on_the_wrong_kind_of_model_fails_in_one_line(models):
    head_on_causal = _verifier(models["rlhflow"], "token-classification")
    with pytest.raises(ConfigError, match="classification head"):
        head_on_causal.verify(QUESTION, STEPS)
    generative_on_head = _verifier(models["token-classification"], "stepcheck")
    with pytest.raises(ConfigError, match="discriminative one"):
        generative_on_head.verify(QUESTION, STEPS)
    with pytest.raises(ConfigError, match="hf or vllm for a discriminative PRM"):
        load_backend("openai", "x", base_url="http://127.0.0.1:9/v1").read([request(
            load("math-shepherd"), QUESTION, STEPS, None)])


def test_a_protocols_reads_are_checked_before_the_weights_load(models):
    """`reads` (the protocol's, passed by Verifier.from_pretrained) stops the wrong model or backend at once."""
    assert load("math-shepherd").reads == ("+", "-") and load("qwen-prm").reads == ()
    assert load("stepcheck").reads is None
    with pytest.raises(ConfigError, match="classification head"):
        load_backend("hf", str(models["rlhflow"]), reads=())
    with pytest.raises(ConfigError, match="a causal LM, to read next-token candidates"):
        Verifier.from_pretrained(str(models["token-classification"]), config=VerifierConfig(protocol="rlhflow"))
    with pytest.raises(ConfigError, match="hf or vllm for a discriminative PRM"):
        load_backend("openai", "x", base_url="http://127.0.0.1:9/v1", reads=("+", "-"))


def test_genprm_models_lists_the_discriminative_prms():
    protocols = {e.hub_id: (e.protocol, e.processbench_f1) for e in KNOWN}
    assert protocols["peiyi9979/math-shepherd-mistral-7b-prm"] == ("math-shepherd", 31.5)
    assert protocols["RLHFlow/Llama3.1-8B-PRM-Mistral-Data"] == ("rlhflow", 28.4)
    assert protocols["Qwen/Qwen2.5-Math-PRM-7B"][0] == "qwen-prm"


def test_genprm_verify_end_to_end(models, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"id": f"s{n}", "problem": QUESTION, "steps": STEPS[:n]}) + "\n"
                            for n in (1, 3)))
    proc = genprm("verify", data, "--model", models["token-classification"], "--protocol", "token-classification",
                  "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [len(r["steps"]) for r in rows] == [1, 3]
    assert all(0.0 < s["score"] < 1.0 for r in rows for s in r["steps"])
    assert {r["protocol"] for r in rows} == {"token-classification"}


def test_search_steers_with_a_discriminative_verifier(models):
    """best-of-n, unchanged: a tiny causal policy writes solutions, the token-classification PRM scores them."""
    from genprm.search import Policy, SearchConfig, StepScorer, search, select_problems

    policy = Policy(load_backend("hf", str(models["rlhflow"]), dtype="float32"))
    scorer = StepScorer(_verifier(models["token-classification"], "token-classification"))
    [problem] = select_problems("examples/search_problems.jsonl", limit=1)
    config = SearchConfig(strategy="best-of-n", n=2, policy_max_tokens=8)
    [result] = search([problem], policy, scorer, config)
    verified = [c for c in result.candidates if c.steps]
    assert verified
    assert result.verdicts > 0  # a discriminative verdict is a read, and reads count as verdicts
    assert all(len(c.step_scores) == len(c.steps) and all(0.0 < s < 1.0 for s in c.step_scores) for c in verified)
    assert scorer.protocol.critique(scorer.verify(problem, [verified[0].steps])[0], 0).startswith("P(correct) = ")
