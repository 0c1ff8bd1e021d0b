"""The real default model, end to end: the README's first command and the Python API."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genprm import Verifier, VerifierConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_readme_command_scores_the_example_with_the_default_verifier(tmp_path):
    out = tmp_path / "scored.jsonl"
    proc = subprocess.run([sys.executable, "-m", "genprm.cli", "verify", str(ROOT / "examples" / "solution.json"),
                           "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # The table: the problem header, one row per step with its score.
    assert "A bakery sells muffins" in proc.stdout and "reward" in proc.stdout
    for step in range(1, 5):
        assert f"│ {step} │ 0." in proc.stdout or f"│ {step} │ 1." in proc.stdout
    [line] = out.read_text().splitlines()
    result = json.loads(line)
    # The shipped verifier's own settings (its genprm.json): direct verdicts beside the claim check.
    assert (result["protocol"], result["mode"]) == ("verdict", "direct")
    assert len(result["step_scores"]) == 4 and all(0.0 <= s <= 1.0 for s in result["step_scores"])
    runs = [run for step in result["steps"] for run in step["code_runs"]]
    assert len(runs) == 4 and all(run["status"] == "ok" for run in runs)  # each step's calculation, in the sandbox
    # Step 3's "12 + 10 = 24" is refuted by SymPy: it scores 0 and says why, whatever the model said.
    assert result["step_scores"][2] == 0.0 and 0 <= result["first_error"] <= 2
    assert "12 + 10 is 22, not 24" in result["steps"][2]["critique"]


def test_python_api_direct_mode(hf_backend):
    v = Verifier(hf_backend, VerifierConfig(mode="direct"))
    r = v.verify("What is 2 + 3 * 4?", ["3 * 4 = 12", "2 + 12 = 14"])
    assert len(r.step_scores) == 2 and all(0.0 < s < 1.0 for s in r.step_scores)
    assert r.first_error in (-1, 0, 1) and r.reward == min(r.step_scores)
    again = v.verify("What is 2 + 3 * 4?", ["3 * 4 = 12", "2 + 12 = 14"])
    assert again.step_scores == pytest.approx(r.step_scores, abs=0.02)  # the prefix cache changes nothing


@pytest.mark.slow
def test_onepass_protocol_on_the_real_model(hf_backend):
    v = Verifier(hf_backend, VerifierConfig(protocol="stepcheck-onepass", mode="critique", max_tokens=48))
    r = v.verify("What is 2 + 3 * 4?", ["3 * 4 = 12", "2 + 12 = 14"])
    assert len(r.steps) == 2 and all(0.0 < s < 1.0 for s in r.step_scores)
    assert all("\\boxed{" in step.critique for step in r.steps)


def test_the_wheel_carries_the_prompts_and_the_model_and_builds_quietly(tmp_path):
    import zipfile

    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), str(ROOT)], check=True, capture_output=True, text=True)
    assert "Warning" not in proc.stderr, proc.stderr  # setuptools' warnings are what a newcomer sees first
    [wheel] = tmp_path.glob("genprm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for protocol in ("stepcheck", "stepcheck-onepass", "genprm", "thinkprm", "processbench-critic"):
        assert f"genprm/prompts/{protocol}.jinja" in names
    assert "genprm/models/genprm-smollm2-135m-lora/adapter_model.safetensors" in names
    assert "genprm/models/genprm-smollm2-135m-lora/genprm.json" in names  # the shipped adapter names its protocol
    assert "genprm/eval/templates/report.html.jinja" in names and "genprm/backends/device.py" in names
    # every package of the checkout is in the wheel (a package missing from pyproject's list would not be)
    for init in [*ROOT.glob("genprm/**/__init__.py"), *ROOT.glob("sandbox/**/__init__.py")]:
        assert str(init.relative_to(ROOT)) in names, init
    assert "genprm/eval/templates/report.html.jinja" in names
