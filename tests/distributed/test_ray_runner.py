"""`--ray` on a real local cluster: the same results as a local run, every id exactly once after a replica is killed
mid-run (`ray.kill`) and after the driver is killed and rerun, synthesis on replicas, and the error without Ray."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from helpers.cli import genprm, one_line_error
from helpers.ray_inputs import N_SOLUTIONS, write_solutions

from genprm.backends.base import BackendConfig
from genprm.config import VerifierConfig


def assert_matches(records: list[dict], expected: dict) -> None:
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(expected), "every id exactly once"
    for r in records:
        scores, first_error = expected[r["id"]]
        assert r["step_scores"] == pytest.approx(scores, abs=1e-6), r["id"]
        assert r["first_error"] == first_error, r["id"]


@pytest.mark.slow
def test_killed_replica_is_restarted_and_output_equals_local_run(cluster, reference):
    import ray

    from genprm.distributed import RayConfig, RayVerifier

    _, solutions, threshold, expected = reference
    config = VerifierConfig(mode="direct", batch_size=4, threshold=threshold)
    ray_config = RayConfig(replicas=2, rows_per_task=2)
    results, killed = [], False
    with RayVerifier(BackendConfig(dtype="float32"), config, ray_config) as verifier:
        for result in verifier.iter_verify(solutions):
            results.append(result)
            if not killed:  # mid-run: both replicas hold tasks, most rows are still to come
                ray.kill(verifier.pool.replicas[0], no_restart=False)
                killed = True
        stats = verifier.pool.stats
    assert stats.restarts == 1 and stats.redone >= 1, stats
    assert_matches([r.to_dict() for r in results], expected)


@pytest.mark.slow
def test_killed_driver_then_rerun_ends_with_every_id_once(cluster, reference, tmp_path):
    path, _, threshold, expected = reference
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_solutions(inp, bad_row=True)
    cmd = [sys.executable, "-m", "genprm.cli", "verify", str(inp), "--out", str(out), "--mode", "direct", "--dtype",
           "float32", "--batch-size", "4", "--threshold", str(threshold), "--ray", "--ray-address", cluster,
           "--replicas", "1", "--rows-per-task", "2"]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while driver.poll() is None and time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 2:
            driver.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    driver.wait(timeout=60)
    written = out.read_bytes().count(b"\n")
    assert 2 <= written < N_SOLUTIONS, f"the driver should die mid-run, with {written} rows written"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 2, rerun.stderr  # exit 2 for the bad row, as a local run
    assert "skipped: " in rerun.stderr and "row 5: row has no steps" in rerun.stderr
    assert f"resuming: {written} already in" in rerun.stderr
    assert "Traceback" not in rerun.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert_matches(records, expected)
    evaluated = genprm("eval", out, "--no-plots", "--out-dir", tmp_path / "eval")  # read unchanged by `genprm eval`
    assert evaluated.returncode == 0, evaluated.stderr


@pytest.mark.slow
def test_synth_on_replicas_equals_local_synth(cluster, tmp_path):
    from genprm.distill.stages import synth_file
    from genprm.distributed import RayConfig, SynthJob, synth_on_ray

    labelled = tmp_path / "labelled.jsonl"
    write_solutions(labelled, n=6)
    synth_file(labelled, tmp_path / "local.jsonl", log=lambda _: None)
    summary = synth_on_ray(labelled, tmp_path / "ray.jsonl", SynthJob(), RayConfig(replicas=2, rows_per_task=2),
                           log=lambda _: None)
    assert summary["written"] == 6

    def readable(name: str) -> dict:
        records = {}
        for line in (tmp_path / name).read_text().splitlines():
            record = json.loads(line)
            for critique in record["critiques"]:
                for run in critique["code_runs"]:
                    run.pop("wall_s")
            records[record["id"]] = record
        return records

    assert readable("ray.jsonl") == readable("local.jsonl")
    again = synth_on_ray(labelled, tmp_path / "ray.jsonl", SynthJob(), RayConfig(), log=lambda _: None)
    assert again == {"skipped_done": 6, "written": 0}


def test_without_ray_one_line_error(tmp_path):
    inp = tmp_path / "in.jsonl"
    write_solutions(inp, n=2)
    hide_ray = "import sys; sys.modules['ray'] = None; from genprm.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", hide_ray, "verify", str(inp), "--mode", "direct", "--ray"],
                          capture_output=True, text=True, timeout=120)
    one_line_error(proc, "--ray needs Ray", "pip install 'genprm[ray]'")


def test_bad_ray_options_one_line_error(tmp_path):
    inp = tmp_path / "in.jsonl"
    write_solutions(inp, n=2)
    one_line_error(genprm("verify", inp, "--ray", "--replicas", "0"), "replicas must be >= 1")


@pytest.mark.slow
def test_bad_model_is_the_users_error_not_a_restart_loop(cluster):
    from genprm.distributed import RayConfig, RayVerifier
    from genprm.errors import GenPRMError

    with pytest.raises(GenPRMError, match="model must be a model directory"):
        RayVerifier(BackendConfig("/no/such/model"), VerifierConfig(mode="direct"), RayConfig(replicas=1))


def test_an_address_with_no_cluster_fails_within_seconds(tmp_path):
    """Ray itself would retry these for minutes; genprm asks the address once and says what it tried."""
    import socket

    inp = tmp_path / "in.jsonl"
    write_solutions(inp, n=2)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    web_server = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]  # not a Ray cluster
    with subprocess.Popen(web_server, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as web:
        assert web.stdout is not None
        port = web.stdout.readline().split("port ")[1].split(" ")[0]
        try:
            for command, address in (("verify", closed), ("verify", f"127.0.0.1:{port}"), ("serve", closed)):
                args = [inp] if command == "verify" else []
                started = time.monotonic()
                proc = genprm(command, *args, "--mode", "direct", "--ray", "--ray-address", address)
                one_line_error(proc, f"cannot join the Ray cluster at {address}", "no Ray cluster answers there")
                assert time.monotonic() - started < 60
        finally:
            web.terminate()
