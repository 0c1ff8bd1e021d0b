"""`genprm verify --out` survives `kill -9`: killed at random moments and rerun, it ends with every input id exactly
once and the same scores as an uninterrupted run, and the file never holds a torn or duplicated line.

Runs the real default model in direct mode (one forward pass per step) in float32, so scores do not depend on which
prefixes happened to be cached in a given run.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

N_SOLUTIONS = 16
KILLS = 4
SEED = 20260124
# One torch thread per run: on a small shared machine, torch's spinning worker threads in competing processes
# multiply the wall time several-fold; one thread keeps every run near its real cost.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def write_input(path: Path) -> list[str]:
    rows = []
    for i in range(N_SOLUTIONS):
        a, b = 3 + i, 7 + 2 * i
        wrong = i % 3 == 0  # every third solution has a wrong sum
        total = a + b + (1 if wrong else 0)
        rows.append({"id": f"s{i:02d}", "problem": f"Tom has {a} apples and buys {b} more. How many apples now?",
                     "steps": [f"He starts with {a} apples and buys {b}.", f"{a} + {b} = {total}.",
                               f"The answer is {total}."],
                     "label": 1 if wrong else -1})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [r["id"] for r in rows]


def verify_cmd(inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "genprm.cli", "verify", str(inp), "--out", str(out), "--mode", "direct",
            "--dtype", "float32", "--batch-size", "4"]


def read_whole_lines(out: Path) -> list[dict]:
    """The output's records, asserting it is whole lines of JSON with no id twice."""
    if not out.exists():
        return []
    data = out.read_bytes()
    assert not data or data.endswith(b"\n"), "torn last line"
    records = [json.loads(line) for line in data.splitlines()]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), f"duplicated ids: {sorted(ids)}"
    return records


def line_count(out: Path) -> int:
    return out.read_bytes().count(b"\n") if out.exists() else 0


@pytest.mark.slow
def test_sigkill_and_resume_equals_uninterrupted_run(tmp_path):
    inp = tmp_path / "in.jsonl"
    ids = write_input(inp)
    reference, resumed = tmp_path / "reference.jsonl", tmp_path / "resumed.jsonl"
    subprocess.run(verify_cmd(inp, reference), check=True, capture_output=True, timeout=300, env=ENV)

    rng = random.Random(SEED)
    kills = 0
    for attempt in range(KILLS):
        before = line_count(resumed)
        proc = subprocess.Popen(verify_cmd(inp, resumed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        if attempt == 0:
            deadline = time.monotonic() + rng.uniform(0.3, 2.0)  # the first kill lands while the model loads
            target = None
        else:
            deadline, target = None, before + rng.randint(1, 3)  # later ones while results are being written
        while proc.poll() is None:
            if (deadline and time.monotonic() >= deadline) or (target and line_count(resumed) >= target):
                time.sleep(rng.uniform(0.0, 0.2))
                proc.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.01)
        proc.wait(timeout=60)
        read_whole_lines(resumed)
        if line_count(resumed) == N_SOLUTIONS:
            break
    assert kills >= 2, "the runs finished before they could be killed: the test proves nothing"

    final = subprocess.run(verify_cmd(inp, resumed), capture_output=True, text=True, timeout=300, env=ENV)
    assert final.returncode == 0, final.stderr

    got = {r["id"]: r for r in read_whole_lines(resumed)}
    want = {r["id"]: r for r in read_whole_lines(reference)}
    assert sorted(got) == sorted(want) == ids
    for i in ids:
        assert got[i]["step_scores"] == pytest.approx(want[i]["step_scores"], abs=1e-5), i
        assert got[i]["first_error"] == want[i]["first_error"]
