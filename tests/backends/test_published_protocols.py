"""The published verifiers' protocols, byte for byte: genprm's requests through the OpenAI-compatible backend to a
real local server (tests/helpers/replay_server.py, which logs each request and replays scripted completions and
logprobs) equal the requests the authors' code sends for the same model outputs (tests/helpers/published_requests.py,
written from their code), and the scores follow their formulas on the same logprobs.
The protocol is picked from the model's hub id, with no weights anywhere."""

from __future__ import annotations

import json
import math

import pytest
from helpers import published_requests as fx
from helpers import script_command
from helpers.processes import running

from genprm import Solution, Verifier, VerifierConfig
from genprm.registry import choose_protocol


def replay(tmp_path, fixture: dict, model: str, **config):
    """Verify the fixture's solution against a replay server; (result, the requests the server received)."""
    script, log = tmp_path / "script.json", tmp_path / "requests.jsonl"
    script.write_text(json.dumps({"completions": fixture["completions"], "logprobs": fixture["logprobs"]}))
    command = [*script_command("replay_server"), "--script", str(script), "--log", str(log),
               "--model", model]
    with running(command, r"listening on (\S+)", timeout=60) as started:
        with Verifier.from_pretrained(model, backend="openai", config=VerifierConfig(**config),
                                      base_url=started.match.group(1)) as verifier:
            solution = fixture["solution"]
            result = verifier.verify(Solution(problem=solution["problem"], steps=tuple(solution["steps"])))
    return result, [json.loads(line) for line in log.read_text().splitlines()]


def assert_same_requests(sent: list[dict], expected: list[dict]) -> None:
    assert [r["prompt"] for r in sent] == [e["prompt"] for e in expected]
    for got, want in zip(sent, expected, strict=True):
        if want.get("score"):  # genprm's own 1-token request for the verdict's logprobs
            assert got["max_tokens"] == 1 and got["logprobs"] >= 1
            continue
        assert got.get("stop") == want["stop"] and got.get("logprobs") is None
        if "max_tokens" in want:
            assert got["max_tokens"] == want["max_tokens"]


def two_way(positive: str, negative: str, temperature: float, logprobs: dict[str, float]) -> float:
    """P(positive) / (P(positive) + P(negative)) of logprobs / temperature; a token not in the top-k gets the
    lowest returned logprob (GenPRM's `KeyError` fall-back)."""
    floor = min(logprobs.values())
    a, b = (logprobs.get(t, floor) / temperature for t in (positive, negative))
    return math.exp(a) / (math.exp(a) + math.exp(b))


def test_the_registry_picks_the_published_protocols_without_weights():
    assert choose_protocol("GenPRM/GenPRM-7B") == ("genprm", None)
    assert choose_protocol("launch/ThinkPRM-1.5B")[0] == "thinkprm"
    assert choose_protocol("Qwen/QwQ-32B-Preview")[0] == "processbench-critic"
    assert choose_protocol(None) == ("verdict", None)  # the shipped adapter's genprm.json
    protocol, note = choose_protocol("acme/unknown-verifier")
    assert protocol == "stepcheck" and "acme/unknown-verifier" in note and "\n" not in note


@pytest.mark.parametrize("name", ["code", "fallback"])
def test_genprm_analyze_verify_execute(tmp_path, name):
    fixture = fx.genprm_code_fixture() if name == "code" else fx.genprm_fallback_fixture()
    result, sent = replay(tmp_path, fixture, "GenPRM/GenPRM-7B")  # no --prompt: the hub id picks GenPRM
    assert result.protocol == "genprm" and result.mode == "code"
    assert_same_requests(sent, fixture["requests"])
    assert all(r["temperature"] == 0.6 for r in sent if r.get("logprobs") is None)  # GI TEMPERATURE
    assert result.step_scores == pytest.approx([two_way(*s) for s in fixture["scores"]])
    if name == "code":  # step 2's code read step 1's variables: one sandbox session per solution
        assert [run.stdout.strip() for s in result.steps for run in s.code_runs] == ["40.0", "False"]
        assert result.first_error == 1
    else:
        assert result.steps[0].forced == 1 and result.first_error == 0


def test_genprm_direct(tmp_path):
    fixture = fx.genprm_direct_fixture()
    result, sent = replay(tmp_path, fixture, "GenPRM/GenPRM-1.5B", mode="direct")
    assert_same_requests(sent, fixture["requests"])
    assert result.step_scores == pytest.approx([two_way(*s) for s in fixture["scores"]])


@pytest.mark.parametrize("rounds", [1, 2])
def test_thinkprm_process_verifier(tmp_path, rounds):
    fixture = fx.thinkprm_fixture(rounds)
    result, sent = replay(tmp_path, fixture, "launch/ThinkPRM-1.5B", thinking_rounds=rounds)
    assert result.protocol == "thinkprm"
    assert_same_requests(sent, fixture["requests"])
    assert all(r["temperature"] == 0.7 for r in sent if r.get("logprobs") is None)
    assert result.step_scores == pytest.approx([two_way(*s) for s in fixture["scores"]])
    assert result.first_error == 1 and result.steps[2].forced == 1  # step 3: no verdict in the chain


@pytest.mark.parametrize("samples", [1, 3])
def test_processbench_critic(tmp_path, samples):
    fixture = fx.critic_fixture(samples)
    result, sent = replay(tmp_path, fixture, "Qwen/QwQ-32B-Preview", samples=samples)
    assert result.protocol == "processbench-critic"
    assert_same_requests(sent, fixture["requests"])
    assert {r["temperature"] for r in sent} == ({0.0} if samples == 1 else {1.0})  # RE: greedy / voting
    assert result.first_error == fixture["prediction"] and result.step_scores == [1.0, 0.0]


def test_models_command_lists_the_registry_offline():
    from helpers.cli import genprm

    proc = genprm("models", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    by_id = {r["hub_id"]: r for r in rows}
    assert by_id["GenPRM/GenPRM-7B"]["protocol"] == "genprm" and by_id["launch/ThinkPRM-1.5B"]["protocol"] == "thinkprm"
    assert all(r["source"] and r["sampling"] and r["verdict"] for r in rows)
    table = genprm("models")
    assert table.returncode == 0 and "GenPRM/GenPRM-7B" in table.stdout


def test_an_unknown_model_gets_the_default_protocol_and_one_note(tmp_path):
    from helpers.cli import genprm

    solution = tmp_path / "s.json"
    solution.write_text(json.dumps({"problem": "What is 2 + 2?", "steps": ["2 + 2 = 4"]}))
    script, log = tmp_path / "script.json", tmp_path / "requests.jsonl"
    script.write_text(json.dumps({"logprobs": [{" Yes": -0.1, " No": -2.0}]}))
    command = [*script_command("replay_server"), "--script", str(script), "--log", str(log)]
    with running(command, r"listening on (\S+)", timeout=60) as started:
        proc = genprm("verify", solution, "--model", "acme/unknown-verifier", "--backend", "openai", "--base-url",
                      started.match.group(1), "--mode", "direct", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["protocol"] == "stepcheck"
    notes = [line for line in proc.stderr.splitlines() if "no protocol known" in line]
    assert len(notes) == 1 and "acme/unknown-verifier" in notes[0]
    [sent] = [json.loads(line) for line in log.read_text().splitlines()]
    assert sent["prompt"].endswith("<|im_start|>assistant\nIs the step correct (Yes/No)?")
