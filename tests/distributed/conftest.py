"""One real local Ray cluster (2 CPUs) per test module, and the solutions and local reference every test compares to."""

from __future__ import annotations

import json
import os
import statistics

import pytest
from helpers.ray_inputs import write_solutions

from genprm.config import VerifierConfig


@pytest.fixture(scope="module")
def cluster():
    """A real local cluster for the module; replicas get one CPU (so one torch thread) each."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024**2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The local run (the default model, direct mode, float32 so scores do not depend on the prefix cache) and a
    threshold between its step scores, so first_error differs between solutions and is worth comparing."""
    import torch

    from genprm.scoring import first_error
    from genprm.types import Solution
    from genprm.verifier import Verifier

    path = tmp_path_factory.mktemp("ray") / "in.jsonl"
    write_solutions(path)
    solutions = [Solution.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    threads, omp = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    # As Ray does for a one-CPU replica: a fixed count (an automatic one follows the machine's load, and
    # another thread count sums in another order: scores differ in the 6th decimal).
    os.environ["OMP_NUM_THREADS"] = "1"  # like a replica with one CPU
    try:
        with Verifier.from_pretrained(None, dtype="float32", config=VerifierConfig(mode="direct", batch_size=4)) as v:
            results = v.verify_many(solutions)
    finally:
        torch.set_num_threads(threads)
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp
    threshold = statistics.median(r.step_scores[0] for r in results)
    expected = {r.id: (r.step_scores, first_error(r.step_scores, threshold)) for r in results}
    assert len({fe for _, fe in expected.values()}) == 2, "the threshold should split the solutions"
    return path, solutions, threshold, expected
