"""`genprm serve --ray` on a real local Ray cluster (2 CPUs): two model replicas behind the same routes. A burst
gets the same results as a local run, spread over both replicas; a replica killed mid-burst (`ray.kill`) costs no
request a wrong or missing answer, and a client with retries ends with every result once; /metrics says which
replica did what."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest
from helpers.genprm_serve import KEY, genprm_serve

from genprm import Solution, VerifierConfig
from genprm.integrations import RemoteVerifier

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {KEY}"}
N = 12


def solutions(n: int = N) -> list[Solution]:
    """Small sums, every third one wrong."""
    rows = []
    for i in range(n):
        a, b = 3 + i, 7 + 2 * i
        total = a + b + (1 if i % 3 == 0 else 0)
        rows.append(Solution(problem=f"Tom has {a} apples and buys {b} more. How many apples now?",
                             steps=(f"{a} + {b} = {total}.", f"The answer is {total}."), id=f"s{i:02d}"))
    return rows


@pytest.fixture(scope="module")
def cluster():
    """A real local cluster, for the server and for this process (which kills a replica)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.serve")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024**2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def expected():
    """The local run: the same model, mode, dtype and batch size, one torch thread (as a replica with one CPU)."""
    import torch

    from genprm.verifier import Verifier

    threads, omp = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    # As Ray does for a one-CPU replica: a fixed count (an automatic one follows the machine's load, and
    # another thread count sums in another order: scores differ in the 6th decimal).
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        with Verifier.from_pretrained(None, dtype="float32", config=VerifierConfig(mode="direct", batch_size=4)) as v:
            return {r.id: r.step_scores for r in v.verify_many(solutions())}
    finally:
        torch.set_num_threads(threads)
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp


@pytest.fixture(scope="module")
def served(cluster):
    with genprm_serve("--ray", "--ray-address", cluster, "--replicas", "2", "--cpus-per-replica", "1", "--mode",
                      "direct", "--dtype", "float32", "--batch-size", "4", "--api-key", KEY) as s:
        yield s


def replica_actors() -> list:
    import ray

    return [ray.get_actor(a["name"], namespace=a["namespace"]) for a in ray.util.list_named_actors(True)
            if "VerifierReplica" in a["name"]]


async def burst(url: str, rows: list[Solution], during=None) -> list[httpx.Response]:
    """One request per solution, all at once; `during()` runs once the first answer is back."""
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=600) as client:
        tasks = [asyncio.create_task(client.post("/v1/verify", json={"id": s.id, "problem": s.problem,
                                                                    "steps": list(s.steps)})) for s in rows]
        if during is not None:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            during()
        return await asyncio.gather(*tasks)


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", headers=AUTH).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def metric_by_replica(url: str, name: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", headers=AUTH).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{") and 'replica="' in line:
            replica = line.split('replica="')[1].split('"')[0]
            out[replica] = out.get(replica, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def test_two_replicas_answer_a_burst_as_a_local_run_does(served, expected):
    responses = asyncio.run(burst(served.url, solutions()))
    assert [r.status_code for r in responses] == [200] * N, [r.text for r in responses if r.status_code != 200]
    for r in responses:
        result = r.json()
        assert result["step_scores"] == pytest.approx(expected[result["id"]], abs=1e-5), result["id"]
    # Both replicas verified some of them, and /metrics says which did what.
    by_replica = metric_by_replica(served.url, "genprm_solutions_total")
    assert len(by_replica) == 2 and all(v > 0 for v in by_replica.values()), by_replica
    assert sum(by_replica.values()) >= N
    health = httpx.get(f"{served.url}/health").json()
    assert health["status"] == "ok" and health["mode"] == "direct" and health["batch_size"] == 4


def test_the_same_routes_answer_errors_as_one_line_of_json(served):
    r = httpx.post(f"{served.url}/v1/verify", json={"problem": "p", "steps": []}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"]["type"] == "bad_request" and "\n" not in r.text.strip()
    assert httpx.post(f"{served.url}/v1/verify", json={"problem": "p", "steps": ["a"]}).status_code == 401


def test_a_replica_killed_mid_burst_loses_and_duplicates_nothing(served, expected):
    import ray

    actors = replica_actors()
    assert len(actors) == 2
    rows = solutions() + [Solution(problem=s.problem, steps=s.steps * 2, id=s.id + "x") for s in solutions()]
    responses = asyncio.run(burst(served.url, rows, during=lambda: ray.kill(actors[0], no_restart=True)))
    answered = {}
    for r in responses:
        if r.status_code == 200:
            answered[r.json()["id"]] = r.json()["step_scores"]
        else:  # a clean, retryable refusal: one line of JSON with Retry-After
            assert r.status_code in (502, 503) and "\n" not in r.text.strip(), r.text
            assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]["type"]
    for id_, scores in answered.items():  # every answer given is the right one
        if id_ in expected:
            assert scores == pytest.approx(expected[id_], abs=1e-5), id_
    # The kill hit requests in flight: the ingress sent them to the other replica.
    assert metric(served.url, "genprm_resent_requests_total") >= 1
    # A client with retries ends with every result, each once, equal to the local run.
    with RemoteVerifier(served.url, api_key=KEY, chunk_size=3, retries=8) as client:
        results = client.verify_many(solutions())
    assert [r.id for r in results] == [s.id for s in solutions()]
    for r in results:
        assert r.step_scores == pytest.approx(expected[r.id], abs=1e-5), r.id
    # Ray Serve replaced the killed replica.
    deadline = time.monotonic() + 180
    while len(replica_actors()) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert len(replica_actors()) == 2
