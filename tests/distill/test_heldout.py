"""The evaluation stage: its labelled real-solution set, its config from the CLI and from a config file, and base vs
distilled scored with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.distill_samples import RIGHT, WRONG

from genprm.cli import main
from genprm.config import VerifierConfig
from genprm.data import load_solutions
from genprm.distill.heldout import eval_stage, evaluate_models, metrics
from genprm.distill.pipeline import run_pipeline
from genprm.distill.stage_configs import DistillEvalConfig
from genprm.errors import ConfigError

REAL = Path(__file__).parents[2] / "bench" / "data" / "gsm8k_real_labelled.jsonl"


def test_real_labelled_set_is_consistent() -> None:
    solutions = load_solutions(REAL, "steps")
    assert len(solutions) == 120 and len({s.id for s in solutions}) == 120
    for s in solutions:
        assert -1 <= s.label < len(s.steps)
        # A wrong final answer has a wrong step somewhere; the per-step labels say the same as the first error.
        if s.outcome is False:
            assert s.label >= 0, s.id
        expected = [True] * len(s.steps) if s.label < 0 else \
            [True] * s.label + [False] + [None] * (len(s.steps) - s.label - 1)
        assert list(s.step_labels) == expected
    assert sum(s.label >= 0 for s in solutions) == 69


def test_evaluate_models_scores_each_set_once_and_reports_metrics(tmp_path: Path) -> None:
    config = VerifierConfig(mode="direct", batch_size=4)
    sets = {"tiny": [RIGHT, WRONG], "real": load_solutions(REAL, "steps")[:2]}
    table = evaluate_models({"base": "SmolLM2-135M-Instruct"}, sets, tmp_path, config, log=lambda _: None)
    for name in sets:
        m = table["base"][name]
        assert m["n"] == 2 and 0.0 <= m["acc_err"] <= 100.0 and 0.0 <= m["acc_ok"] <= 100.0
    assert 0.0 <= table["base"]["real"]["step_auroc"] <= 1.0  # the real set has per-step labels; tiny has none
    assert json.loads((tmp_path / "metrics.json").read_text()) == table
    assert "| tiny | base | 2 |" in (tmp_path / "metrics.md").read_text()
    # A second run verifies nothing again: the scored files are reused as they are.
    scored = (tmp_path / "base" / "tiny.jsonl").read_text()
    assert evaluate_models({"base": "SmolLM2-135M-Instruct"}, sets, tmp_path, config, log=lambda _: None) == table
    assert (tmp_path / "base" / "tiny.jsonl").read_text() == scored


def test_metrics_follow_the_processbench_protocol() -> None:
    from genprm.types import StepVerdict, VerificationResult

    def result(solution, scores):
        steps = tuple(StepVerdict(index=i, text=t, score=s, verdict=s >= 0.5, critique="")
                      for i, (t, s) in enumerate(zip(solution.steps, scores, strict=True)))
        first = next((i for i, s in enumerate(scores) if s < 0.5), -1)
        return VerificationResult(solution=solution, steps=steps, first_error=first, reward=min(scores),
                                  aggregation="min", threshold=0.5)

    # The wrong solution's error (step 1) is found exactly; the right one is passed: both accuracies 100.
    m = metrics([result(RIGHT, [0.9, 0.8, 0.9]), result(WRONG, [0.9, 0.1, 0.2])])
    assert (m["acc_err"], m["acc_ok"], m["f1"]) == (100.0, 100.0, 100.0)
    # Flagging step 0 of the wrong solution is not an exact match: acc_err 0, so F1 0.
    m = metrics([result(RIGHT, [0.9, 0.8, 0.9]), result(WRONG, [0.1, 0.1, 0.2])])
    assert (m["acc_err"], m["acc_ok"], m["f1"]) == (0.0, 100.0, 0.0)


def test_eval_stage_takes_one_config_from_the_cli_and_from_a_config_file(tmp_path: Path, monkeypatch) -> None:
    """The CLI flags and a config file's [eval] table both become one DistillEvalConfig; eval_stage builds the sets
    from it and hands the models one VerifierConfig (recorded here instead of loading a model)."""
    bench = tmp_path / "prmbench.jsonl"
    bench.write_text("".join(json.dumps({"idx": f"p{i}", "modified_question": "What is 2 + 2?",
                                         "modified_process": ["2 + 2 = 5.", "The answer is 5."], "error_steps": [1]})
                             + "\n" for i in range(3)))
    calls: list[dict] = []

    def record(models, sets, out_dir, config, log, **options):
        calls.append({"models": models, "sets": {k: len(v) for k, v in sets.items()}, "out_dir": out_dir,
                      "config": config, **options})
        return {}

    monkeypatch.setattr("genprm.distill.heldout.evaluate_models", record)
    config = DistillEvalConfig(out_dir=str(tmp_path / "api"), gsm8k_train="", model_solutions="",
                               prmbench=[str(bench)], n=4, mode="direct", batch_size=3, threads=1, protocol="verdict",
                               model="my-model")  # a list of files, as TOML gives it
    assert config.prmbench == (str(bench),)
    assert eval_stage(config, log=lambda _: None) == {}
    call = calls.pop()
    assert call["models"] == {"base": "SmolLM2-135M-Instruct", "distilled": "my-model"}
    assert call["sets"] == {"gsm8k-real": 120, "prmbench": 2} and call["out_dir"] == str(tmp_path / "api")
    assert call["config"] == VerifierConfig(protocol="verdict", mode="direct", max_tokens=160, batch_size=3)
    assert (call["threads"], call["dtype"], call["claim_check"], call["dev"]) == (1, "auto", False, None)

    assert main(["distill", "eval", "--no-base", "--shipped", "--gsm8k-train", "", "--model-solutions", "",
                 "--prmbench", str(bench), "--n", "2", "--out-dir", str(tmp_path / "cli"),
                 "--compare", "discriminative=runs/x/model", "--compare", "runs/y/model"]) == 0
    call = calls.pop()
    assert list(call["models"]) == ["shipped", "discriminative", "model"]  # --compare: more models, by tag
    assert call["models"]["discriminative"] == "runs/x/model" and call["sets"] == {"gsm8k-real": 120, "prmbench": 1}
    assert call["config"].mode == "code" and call["config"].protocol is None  # each model's own protocol

    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'work_dir = "{tmp_path / "run"}"\n[eval]\ngsm8k_train = ""\nmodel_solutions = ""\n'
                   f'prmbench = ["{bench}"]\nn = 6\ncompare = ["discriminative=runs/x/model"]\n')
    run_pipeline(cfg, log=lambda _: None)
    call = calls.pop()
    assert call["sets"] == {"gsm8k-real": 120, "prmbench": 3}
    assert call["models"] == {"base": "SmolLM2-135M-Instruct", "discriminative": "runs/x/model"}
    cfg.write_text(f'[eval]\nprmbench_files = ["{bench}"]\n')  # the flag's name is the key's: no second name
    with pytest.raises(ConfigError, match="prmbench_files"):
        run_pipeline(cfg, log=lambda _: None)
