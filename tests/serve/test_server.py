"""`genprm serve` as a real process on 127.0.0.1 with the default model (direct mode, tiny inputs): every endpoint,
every limit and bad input (one line of JSON, and the server goes on), auth, a full queue, clients that leave, a
backend that fails, the clients (RemoteVerifier, TRL, verl), and SIGTERM with requests in flight (last: it stops
the module's server)."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import httpx
import pytest
from helpers.genprm_serve import KEY, genprm_serve

from genprm import Solution
from genprm.integrations import GenPRMReward, RemoteVerifier
from genprm.integrations.remote import RemoteError
from genprm.integrations.verl import compute_score, compute_score_batch

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {KEY}"}
PROBLEM = "What is 2 + 3 * 4?"
GOOD = {"problem": PROBLEM, "steps": ["3 * 4 = 12", "2 + 12 = 14"]}
LIMITS = ("--max-queue", "24", "--max-solutions", "12", "--max-steps", "4", "--max-step-chars", "300",
          "--max-body-bytes", "20000")


@pytest.fixture(scope="module")
def served():
    with genprm_serve("--mode", "direct", "--dtype", "float32", "--batch-size", "8", "--api-key", KEY,
                      *LIMITS) as s:
        yield s


@pytest.fixture(scope="module")
def client(served):
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=300) as c:
        yield c


def solution(i: int, steps: int = 1, prefix: str = "s") -> dict:
    return {"id": f"{prefix}{i}", "problem": f"What is {i} + 1?", "steps": [f"{i} + 1 = {i + 1}"] * steps}


def one_line_error(response: httpx.Response, status: int, kind: str, needle: str = "") -> str:
    assert response.status_code == status, response.text
    assert "\n" not in response.text.strip()
    error = response.json()["error"]
    assert error["type"] == kind and needle in error["message"], error
    return error["message"]


def test_verify_one_is_what_verify_json_prints(client):
    r = client.post("/v1/verify", json=GOOD)
    assert r.status_code == 200
    result = r.json()
    assert result["solution"]["steps"] == GOOD["steps"] and result["mode"] == "direct"
    assert len(result["step_scores"]) == 2 and all(0 <= s <= 1 for s in result["step_scores"])
    assert result["reward"] == min(result["step_scores"]) and result["first_error"] in (-1, 0, 1)


def test_a_solution_scores_the_same_alone_and_batched_with_others(client):
    alone = client.post("/v1/verify", json=GOOD).json()
    batch = {"solutions": [solution(0), {**GOOD, "id": "good"}, solution(1, steps=3)]}
    results = client.post("/v1/verify", json=batch).json()["results"]
    assert [r["id"] for r in results] == ["s0", "good", "s1"]
    assert results[1]["step_scores"] == pytest.approx(alone["step_scores"], abs=1e-3)


def test_get_reward_speaks_openrlhf(client):
    prompt = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + "Step 1: 2 + 2 = 4.\nStep 2: The answer is 4.<|im_end|>",
               prompt + "2 + 2 = 5.<|im_end|>",
               prompt + "<|im_end|>"]  # an empty completion
    r = client.post("/get_reward", json={"query": queries, "prompts": [prompt] * 3, "labels": ["4"] * 3})
    assert r.status_code == 200
    body = r.json()
    assert len(body["rewards"]) == 3 and body["scores"] == body["rewards"]
    assert [len(s) for s in body["step_scores"]] == [2, 1, 0]
    assert body["steps"][0] == ["Step 1: 2 + 2 = 4.", "Step 2: The answer is 4."]
    assert body["rewards"][0] == min(body["step_scores"][0]) and body["rewards"][2] == 0.0
    assert body["extra_logs"]["genprm_num_steps"] == [2, 1, 0]
    assert len(body["extra_logs"]["genprm_first_error"]) == 3
    # Older OpenRLHF sends only `query`: the chat turns tell the prompt from the completion.
    legacy = client.post("/get_reward", json={"query": queries[:1]}).json()
    assert legacy["steps"] == body["steps"][:1]


def test_health_is_open_and_tells_the_setup(served):
    r = httpx.get(f"{served.url}/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["mode"] == "direct" and r.json()["batch_size"] == 8


BAD = [
    ("/v1/verify", b"{not json", 400, "bad_request", "not JSON"),
    ("/v1/verify", json.dumps({"problem": 1, "steps": ["a"]}).encode(), 422, "bad_request", "problem"),
    ("/v1/verify", json.dumps({"problem": "p"}).encode(), 422, "bad_request", "steps"),
    ("/v1/verify", json.dumps({"problem": "p", "steps": []}).encode(), 422, "bad_request", "at least one step"),
    ("/v1/verify", json.dumps({**GOOD, "stepz": []}).encode(), 422, "bad_request", "stepz"),
    ("/v1/verify", json.dumps({"solutions": [solution(i) for i in range(13)]}).encode(), 413, "too_large",
     "--max-solutions"),
    ("/v1/verify", json.dumps({"problem": "p", "steps": ["a"] * 5}).encode(), 422, "too_large", "--max-steps"),
    ("/v1/verify", json.dumps({"problem": "p", "steps": ["a" * 301]}).encode(), 422, "too_large",
     "--max-step-chars"),
    ("/v1/verify", json.dumps({"problem": "p" * 25000, "steps": ["a"]}).encode(), 413, "too_large",
     "--max-body-bytes"),
    ("/get_reward", json.dumps({"query": "one string"}).encode(), 422, "bad_request", "query"),
    ("/get_reward", json.dumps({"query": ["a", "b"], "prompts": ["a"]}).encode(), 422, "bad_request",
     "prompts: 1 items for 2 queries"),
    ("/get_reward", json.dumps({"query": ["a"] * 13}).encode(), 413, "too_large", "--max-solutions"),
]


@pytest.mark.parametrize(("path", "body", "status", "kind", "needle"), BAD)
def test_bad_input_is_one_line_of_json(client, path, body, status, kind, needle):
    one_line_error(client.post(path, content=body), status, kind, needle)
    assert client.get("/health").json()["status"] == "ok"


def test_unknown_routes_and_methods(client):
    one_line_error(client.get("/nope"), 404, "bad_request", "/nope")
    one_line_error(client.get("/v1/verify"), 405, "bad_request", "/v1/verify")


def test_auth(served):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        r = httpx.post(f"{served.url}/v1/verify", json=GOOD, headers=headers)
        one_line_error(r, 401, "unauthorized", "bearer token")
        assert r.headers["www-authenticate"] == "Bearer"
    one_line_error(httpx.get(f"{served.url}/metrics"), 401, "unauthorized")
    assert httpx.get(f"{served.url}/health").status_code == 200


def metric(client: httpx.Client, name: str) -> float:
    text = client.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_metrics(client):
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert metric(client, 'genprm_requests_total{endpoint="/v1/verify",status="200"}') >= 2
    assert metric(client, 'genprm_errors_total{kind="too_large"}') >= 1
    assert metric(client, 'genprm_batch_size_count{kind="score"}') >= 1
    assert metric(client, "genprm_steps_total") >= 2 and metric(client, "genprm_solutions_total") >= 2
    assert "genprm_queue_depth" in r.text and 'genprm_request_seconds_bucket{endpoint="/get_reward"' in r.text


def test_a_full_queue_says_503_and_clients_that_leave_are_cancelled(served, client):
    """Fill the queue (24) with two clients' 11 slow solutions and a third client's 2; a 12-solution request is
    refused with Retry-After; the two clients leave, and their solutions leave the queue and the batch; the third
    client gets exactly its two results."""
    verified_before = metric(client, "genprm_solutions_total")

    async def scenario():
        async with httpx.AsyncClient(base_url=served.url, headers=AUTH, timeout=300) as ac:
            leaving = [asyncio.create_task(ac.post("/v1/verify", json={"solutions": [
                solution(i, steps=4, prefix=p) for i in range(11)]})) for p in "ab"]
            staying = asyncio.create_task(ac.post("/v1/verify", json={"solutions": [solution(i, prefix="c")
                                                                                     for i in range(2)]}))
            for _ in range(200):  # until all three are queued
                health = (await ac.get("/health")).json()
                if health["queued"] + health["running"] >= 20:
                    break
                await asyncio.sleep(0.02)
            refused = await ac.post("/v1/verify", json={"solutions": [solution(i, prefix="d") for i in range(12)]})
            for task in leaving:
                task.cancel()
            return refused, await staying

    refused, stayed = asyncio.run(scenario())
    one_line_error(refused, 503, "queue_full", "--max-queue 24")
    assert int(refused.headers["retry-after"]) >= 1
    assert stayed.status_code == 200
    assert [r["id"] for r in stayed.json()["results"]] == ["c0", "c1"]
    deadline = time.monotonic() + 120
    while (health := client.get("/health").json())["queued"] + health["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health["queued"] == health["running"] == 0
    cancelled = metric(client, "genprm_cancelled_solutions_total")
    verified = metric(client, "genprm_solutions_total") - verified_before
    assert cancelled >= 11 and verified <= 24 - 11, (cancelled, verified)
    assert client.post("/v1/verify", json=GOOD).status_code == 200  # and it goes on serving


def test_remote_verifier_has_the_verifier_api(served):
    with RemoteVerifier(served.url, api_key=KEY, chunk_size=2) as remote:
        one = remote.verify(PROBLEM, GOOD["steps"])
        assert one.solution.steps == tuple(GOOD["steps"]) and len(one.step_scores) == 2
        solutions = [Solution.from_dict(solution(i)) for i in range(5)]
        assert [r.id for r in remote.verify_many(solutions)] == [f"s{i}" for i in range(5)]
        indices = sorted(i for i, _ in remote.iter_verify(solutions, with_index=True))
        assert indices == list(range(5))
        with pytest.raises(RemoteError, match="--max-steps") as e:
            remote.verify("p", ["a"] * 5)
        assert e.value.status == 422


def test_clients_fail_over_to_the_next_server(served):
    """A server that is down is skipped: each client ends with every result, once."""
    down = "http://127.0.0.1:9"
    with RemoteVerifier([down, served.url], api_key=KEY, chunk_size=2) as remote:
        solutions = [Solution.from_dict(solution(i)) for i in range(5)]
        assert [r.id for r in remote.verify_many(solutions)] == [f"s{i}" for i in range(5)]
        assert remote.urls[remote._current] == served.url  # and it stays with the one that answers
    reward = GenPRMReward(url=[down, served.url], api_key=KEY)
    assert 0 < reward(prompts=[PROBLEM], completions=["3 * 4 = 12\n2 + 12 = 14"])[0] <= 1
    one = compute_score("gsm8k", "3 * 4 = 12\n2 + 12 = 14", "14", {"question": PROBLEM}, url=f"{down},{served.url}",
                        api_key=KEY)
    assert 0 < one["score"] <= 1
    with RemoteVerifier([down, "http://127.0.0.1:10"], retries=2) as nowhere:
        with pytest.raises(RemoteError, match="cannot reach any of"):
            nowhere.verify(PROBLEM, GOOD["steps"])


def test_trl_reward_over_http(served):
    reward = GenPRMReward(url=served.url, api_key=KEY)
    assert reward.__name__ == "genprm"
    plain = reward(prompts=[PROBLEM, PROBLEM], completions=["3 * 4 = 12\n2 + 12 = 14", ""])
    assert 0 < plain[0] <= 1 and plain[1] == 0.0
    chat = reward(prompts=[[{"role": "user", "content": PROBLEM}]],
                  completions=[[{"role": "assistant", "content": "3 * 4 = 12\n2 + 12 = 14"}]], trainer_state=None)
    assert chat[0] == pytest.approx(plain[0], abs=1e-3)


def test_verl_compute_score(served):
    extra = {"question": PROBLEM}
    one = compute_score("gsm8k", "3 * 4 = 12\n2 + 12 = 14", "14", extra, url=served.url, api_key=KEY)
    assert 0 < one["score"] <= 1 and one["genprm_num_steps"] == 2
    batch = compute_score_batch(["gsm8k"] * 2, ["3 * 4 = 12\n2 + 12 = 14", ""], ["14", "14"], [extra, extra],
                                url=served.url, api_key=KEY)
    assert batch[0]["score"] == pytest.approx(one["score"], abs=1e-3) and batch[1]["score"] == 0.0
    with pytest.raises(ValueError, match="extra_info"):
        compute_score("gsm8k", "1 + 1 = 2", "2", {}, url=served.url, api_key=KEY)


def test_a_failing_backend_fails_its_requests_and_the_server_goes_on():
    """A backend that cannot reach its model server: each request gets a one-line 502, /health stays up."""
    with genprm_serve("--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                      "--mode", "direct") as s:
        for _ in range(2):
            one_line_error(httpx.post(f"{s.url}/v1/verify", json=GOOD, timeout=120), 502, "backend",
                           "cannot reach")
            assert httpx.get(f"{s.url}/health").json()["status"] == "ok"


def test_sigterm_drains_requests_in_flight(served):
    """Last (it stops the module's server): SIGTERM while three requests are queued or running. Each gets all its
    results, no new connection is taken, and the process exits."""

    async def scenario():
        async with httpx.AsyncClient(base_url=served.url, headers=AUTH, timeout=300) as ac:
            tasks = [asyncio.create_task(ac.post("/v1/verify", json={"solutions": [
                solution(i, steps=2, prefix=p) for i in range(3)]})) for p in "xyz"]
            for _ in range(200):
                health = (await ac.get("/health")).json()
                if health["running"] > 0 and health["queued"] + health["running"] >= 6:
                    break
                await asyncio.sleep(0.02)
            served.process.send_signal(signal.SIGTERM)
            return await asyncio.gather(*tasks)

    responses = asyncio.run(scenario())
    for prefix, r in zip("xyz", responses, strict=True):
        assert r.status_code == 200, r.text
        assert [x["id"] for x in r.json()["results"]] == [f"{prefix}{i}" for i in range(3)]
    assert served.process.wait(timeout=120) in (0, -signal.SIGTERM)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{served.url}/health")
