"""SIGTERM of the single-process server with requests that cannot finish before --shutdown-timeout: each of them
gets a one-line JSON 503 with Retry-After at the deadline (not a plain-text 500), the log says so in one line (no
traceback), and the process exits."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def slow_request(prefix: str) -> dict:
    return {"solutions": [{"id": f"{prefix}{i}", "problem": f"What is {i} + 1?", "steps": [f"{i} + 1 = {i + 1}"] * 8}
                          for i in range(6)]}


def test_sigterm_past_the_deadline_answers_json_503():
    command = [sys.executable, "-m", "genprm.cli", "serve", "--port", "0", "--mode", "direct", "--dtype", "float32",
               "--batch-size", "2", "--shutdown-timeout", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not (match := re.search(r"serving on (\S+)", line := process.stdout.readline())):
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
        url = match.group(1)
        reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
        reader.start()

        async def scenario() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=300) as client:
                tasks = [asyncio.create_task(client.post("/v1/verify", json=slow_request(p))) for p in "abc"]
                for _ in range(600):  # until the batch runs
                    if (await client.get("/health")).json()["running"] > 0:
                        break
                    await asyncio.sleep(0.05)
                process.send_signal(signal.SIGTERM)
                started = time.monotonic()
                responses = await asyncio.gather(*tasks)
                assert time.monotonic() - started < 30, "answered at the deadline, not when the work was done"
                return responses

        responses = asyncio.run(scenario())
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    cut = [r for r in responses if r.status_code != 200]
    assert cut, "18 solutions of 8 steps cannot all finish within 1 s on this machine"
    for r in cut:
        assert r.status_code == 503 and "\n" not in r.text.strip(), r.text
        assert r.json()["error"]["type"] == "draining" and "--shutdown-timeout" in r.json()["error"]["message"]
        assert int(r.headers["retry-after"]) >= 1
    log = "".join(lines)
    assert "Traceback" not in log and "CancelledError" not in log, log
    said = [line for line in lines if "shutdown-timeout deadline" in line]
    assert len(said) == 1 and f"{len(cut)} unfinished requests" in said[0], log


def test_sigterm_to_the_process_group_of_serve_ray_exits_in_one_line():
    """`timeout`, systemd and `kill -- -PGID` signal the whole process group, so the local Ray cluster `serve --ray`
    started goes down with it: the server says so in one line and exits 0, instead of waiting a minute for the dead
    cluster and printing Ray's errors (it did before)."""
    pytest.importorskip("ray.serve")
    command = [sys.executable, "-m", "genprm.cli", "serve", "--port", "0", "--mode", "direct", "--dtype", "float32",
               "--ray", "--replicas", "1", "--cpus-per-replica", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # its own group, as under `timeout` or a service manager
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not re.search(r"serving on (\S+)", line := process.stdout.readline()):
            assert line or process.poll() is None, "".join(lines)
            lines.append(line)
        os.killpg(process.pid, signal.SIGTERM)
        lines.extend(process.stdout)
        assert process.wait(timeout=120) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log = "".join(lines)
    said = [line for line in lines if "went down with the signal" in line]
    assert len(said) == 1 and "Failed to connect to GCS" not in log and "Traceback" not in log, log
