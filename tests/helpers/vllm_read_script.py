"""Verifies with each discriminative format on vLLM's pooling engine and prints what the tests check, as one JSON
line per format.

    python tests/helpers/vllm_read_script.py MODELS_DIR    # the tiny PRMs of tests/helpers/tiny_prms.py, built there

A script for the reason tests/helpers/vllm_script.py gives (vLLM's engine process re-imports the main module).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from genprm import Verifier, VerifierConfig
from genprm.backends.base import GenerateRequest
from genprm.errors import ConfigError, GenPRMError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `helpers.*` imports as under pytest

from helpers.tiny_prms import BUILDERS, QUESTION, STEPS  # noqa: E402

SOLUTIONS = [{"problem": QUESTION, "steps": STEPS[:n]} for n in (3, 1, 2)]


def verify_counting(v: Verifier) -> tuple[list[list[float]], list[str]]:
    """Step scores of SOLUTIONS, and the kind of each request the verifier sent the backend."""
    sent: list[str] = []
    submit = v.backend.submit

    def counted(request: Any) -> Any:
        sent.append(type(request).__name__)
        return submit(request)

    v.backend.submit = counted
    try:
        return [[s.score for s in r.steps] for r in v.verify_many(SOLUTIONS)], sent
    finally:
        v.backend.submit = submit


def main() -> None:
    root = Path(sys.argv[1])
    for name in BUILDERS:
        config = VerifierConfig(protocol=name, mode="direct", threshold=0.5, claim_check=False)
        v = Verifier.from_pretrained(str(root / name), backend="vllm", config=config, dtype="float32")
        scores, sent = verify_counting(v)
        out = {"name": name, "scores": scores, "sent": sent, "refused": "", "too_long": ""}
        try:
            v.backend.generate([GenerateRequest("Hi", 4)])
        except ConfigError as e:
            out["refused"] = str(e)
        try:  # over the tiny models' 512-token context
            v.verify(QUESTION, ["1 + 1 = 2. " * 200])
        except GenPRMError as e:
            out["too_long"] = str(e)
        v.backend.close()
        print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
