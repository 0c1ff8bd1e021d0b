"""The OpenAI-compatible backend against a real server on 127.0.0.1 (tests/helpers/hf_server.py: the
transformers backend behind /v1/completions, over HTTP): stops, budgets, concurrency, verdict scores equal to the
transformers backend's, the logprobs fallbacks, and errors the user can fix."""

from __future__ import annotations

import pytest

from genprm import Solution, Verifier, VerifierConfig
from genprm.backends.base import GenerateRequest, ScoreRequest, load_backend
from genprm.backends.openai import OpenAIBackend
from genprm.backends.weights import BASE_MODEL
from genprm.errors import ConfigError, GenPRMError
from genprm.scoring import verdict_score

pytestmark = pytest.mark.slow

VERDICT = ("Is 2 + 2 = 4 correct? Answer Yes or No.", "Let me check: 2 + 2 is 4. Is the step correct (Yes/No)?")


@pytest.fixture(scope="module")
def backend(server_url):
    from genprm.backends.weights import resolve_model

    b = OpenAIBackend(base_url=server_url, tokenizer=resolve_model(None), max_concurrency=4)
    yield b
    b.close()


def verdict_prompt(b) -> str:
    question, answer = VERDICT
    return b.chat([{"role": "user", "content": question}]) + answer


def test_chat_uses_the_model_template(backend, hf_backend):
    messages = [{"role": "user", "content": "Hi"}]
    assert backend.chat(messages) == hf_backend.chat(messages)


def test_chatml_fallback_without_a_tokenizer(server_url):
    b = OpenAIBackend(base_url=server_url)  # the served name is not a directory: no tokenizer
    assert b.tokenizer is None and b.name == BASE_MODEL  # the server's only model
    assert b.chat([{"role": "user", "content": "Hi"}]) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    b.close()


def test_stop_string_is_put_back_and_reported(backend):
    p = backend.chat([{"role": "user", "content": "List the numbers from 1 to 10."}])
    [g] = backend.generate([GenerateRequest(p, 60, stop=("5,",))])
    assert g.finish_reason == "stop" and g.stop == "5," and g.text.endswith("5,") and g.text.count("5,") == 1


def test_token_budget(backend):
    [g] = backend.generate([GenerateRequest(backend.chat([{"role": "user", "content": "Write a long story."}]), 7)])
    assert g.finish_reason == "length" and g.num_tokens == 7


def test_a_concurrent_batch_comes_back_in_order(backend):
    pairs = [(2, 3), (10, 7), (123, 456), (8, 9), (31, 4)]
    requests = [GenerateRequest(backend.chat([{"role": "user", "content": f"What is {a} + {b}?"}]), 8)
                for a, b in pairs]
    texts = [g.text for g in backend.generate(requests)]
    assert all(str(a) in t and str(b) in t for (a, b), t in zip(pairs, texts, strict=True)), texts


def test_verdict_scores_match_the_transformers_backend(backend, hf_backend):
    request = ScoreRequest(verdict_prompt(backend), (" Yes", " No"))
    [served] = backend.score([request])
    [local] = hf_backend.score([request])
    assert backend.score_source == "logprobs"
    assert verdict_score(served[" Yes"], served[" No"]) == pytest.approx(
        verdict_score(local[" Yes"], local[" No"]), abs=0.05)


def test_a_capped_server_is_asked_for_fewer_logprobs(capped_server_url, hf_backend):
    b = OpenAIBackend(base_url=capped_server_url, max_concurrency=2)
    request = ScoreRequest(verdict_prompt(b), (" Yes", " No"))
    [served] = b.score([request])
    assert b._ladder[0] == 5 and b.score_source == "logprobs"
    [local] = hf_backend.score([request])
    assert verdict_score(served[" Yes"], served[" No"]) == pytest.approx(
        verdict_score(local[" Yes"], local[" No"]), abs=0.05)
    b.close()


def test_without_logprobs_scores_are_0_or_1_from_the_verdict_text(no_logprobs_server_url, capsys):
    b = OpenAIBackend(base_url=no_logprobs_server_url)
    [scores] = b.score([ScoreRequest(verdict_prompt(b), (" Yes", " No"))])
    assert b.score_source == "verdict_text"
    assert verdict_score(scores[" Yes"], scores[" No"]) in (0.0, 0.5, 1.0)
    assert "verdict scores are 0/1" in capsys.readouterr().err
    b.close()


def test_the_verifier_gives_the_same_scores_through_the_server(server_url, hf_backend):
    from genprm.backends.weights import resolve_model

    solutions = [Solution("What is 2 + 3 * 4?", ("3 * 4 = 12", "2 + 12 = 14"), id="a"),
                 Solution("What is 10 - 4 / 2?", ("10 - 4 = 6", "6 / 2 = 3"), id="b")]
    config = VerifierConfig(mode="direct")
    local = Verifier(hf_backend, config).verify_many(solutions)
    with Verifier.from_pretrained(resolve_model(BASE_MODEL), backend="openai", config=config,
                                  base_url=server_url) as served_verifier:
        served = served_verifier.verify_many(solutions)
    for theirs, ours in zip(served, local, strict=True):
        assert theirs.step_scores == pytest.approx(ours.step_scores, abs=0.05)


def test_an_unreachable_server_is_one_clear_error():
    b = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=5)
    with pytest.raises(GenPRMError, match="cannot reach http://127.0.0.1:9/v1"):
        b.generate([GenerateRequest("x", 1)])
    b.close()


def test_missing_base_url_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="base_url must be"):
        load_backend("openai", "m")


def test_a_served_model_is_a_distill_teacher_and_policy(server_url, tmp_path):
    """`genprm distill synth|mc --backend openai`: a big teacher or policy model lives behind a server in real use."""
    import json

    from genprm.distill.stages import mc_file, synth_file
    from genprm.jsonl import read_rows, write_rows

    wrong = Solution(problem="Ana has 48 clips and buys 24 more. How many clips does she have?",
                     steps=("Ana has 48+24 = 82 clips.", "The answer is 82."), id="wrong", label=0, answer="72")
    labelled = tmp_path / "labelled.jsonl"
    write_rows(labelled, [wrong.to_dict()])
    summary = synth_file(labelled, tmp_path / "synth.jsonl", teacher=BASE_MODEL, max_tokens=48, batch_size=4,
                         backend="openai", base_url=server_url, log=lambda _: None)
    assert summary["written"] == 1
    (record,) = read_rows(tmp_path / "synth.jsonl")
    assert record["teacher"].startswith("backend:") and len(record["critiques"]) >= 1
    assert all(c["segments"] for c in record["critiques"])
    mc = mc_file(labelled, tmp_path / "mc.jsonl", policy=BASE_MODEL, k_samples=1, max_new_tokens=24,
                 backend="openai", base_url=server_url, log=lambda _: None)
    assert mc["labelled"] == 1
    (labelled_mc,) = read_rows(tmp_path / "mc.jsonl")
    # One value per prefix (the empty one too), one label per step.
    assert len(labelled_mc["meta"]["mc_values"]) == len(wrong.steps) + 1
    assert len(labelled_mc["meta"]["mc_step_labels"]) == len(wrong.steps)
    assert json.dumps(labelled_mc)
