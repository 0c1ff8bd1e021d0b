"""The stages from the command line on a tiny GSM8K slice (real sandbox), and a config file chaining them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genprm.cli import main
from genprm.distill.pipeline import plan, run_pipeline
from genprm.errors import ConfigError
from genprm.jsonl import read_rows

GSM8K = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k" / "train.jsonl"


@pytest.mark.skipif(not GSM8K.exists(), reason="needs ../shared/data/gsm8k/train.jsonl")
def test_corrupt_synth_filter_from_the_cli(tmp_path: Path, capsys) -> None:
    labelled, synth, kept = tmp_path / "labelled.jsonl", tmp_path / "synth.jsonl", tmp_path / "kept.jsonl"
    assert main(["distill", "corrupt", str(GSM8K), "--rows", "0:40", "--out", str(labelled)]) == 0
    rows = list(read_rows(labelled))
    assert len(rows) == 40 and 10 <= sum(r["label"] >= 0 for r in rows) <= 30
    assert all("<<" not in step for r in rows for step in r["steps"])  # annotations stripped, as at inference
    assert main(["distill", "synth", str(labelled), "--out", str(synth), "--limit", "30"]) == 0
    assert main(["distill", "synth", str(labelled), "--out", str(synth)]) == 0  # resumes: only 10 more
    records = list(read_rows(synth))
    assert len(records) == 40 and len({r["id"] for r in records}) == 40
    assert "skipped_done': 30" in capsys.readouterr().err
    assert main(["distill", "filter", str(synth), "--out", str(kept)]) == 0
    err = capsys.readouterr().err
    assert "agrees       removed" in err and "balance      removed" in err
    out = list(read_rows(kept))
    assert out and sum(r["label"] >= 0 for r in out) == sum(r["label"] < 0 for r in out)
    assert all(r["predicted"] == r["label"] for r in out)


def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["distill", "synth", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[train]\nlearning_rat = 1e-3\n')
    assert main(["distill", "run", str(cfg)]) == 2
    assert "learning_rat" in capsys.readouterr().err


def test_plan_chains_each_stage_to_the_previous_output(tmp_path: Path) -> None:
    config = {"work_dir": str(tmp_path), "corrupt": {"path": "train.jsonl", "rows": "0:10"}, "synth": {},
              "filter": {"seed": 1}, "train": {"max_steps": 2}, "eval": {"n": 4}}
    steps = dict(plan(config))
    assert steps["synth"]["path"] == str(tmp_path / "labelled.jsonl")
    assert steps["filter"]["path"] == str(tmp_path / "synth.jsonl")
    assert steps["train"]["data"] == str(tmp_path / "kept.jsonl")
    assert steps["eval"]["model"] == str(tmp_path / "model")
    with pytest.raises(ConfigError):
        plan({"synth": {"teacher": "symbolic", "bogus": 1}})


def test_plan_reads_an_options_older_name_as_its_current_one(capsys) -> None:
    steps = dict(plan({"eval": {"n": 4, "code_evidence": True}}))
    assert steps["eval"]["claim_check"] is True and "code_evidence" not in steps["eval"]
    assert "[eval]: 'code_evidence' is deprecated: use 'claim_check'" in capsys.readouterr().err


def test_example_config_is_valid() -> None:
    from genprm.distill.pipeline import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "distill-gsm8k.toml")
    names = [name for name, _ in plan(config)]
    assert names == ["corrupt", "synth", "filter", "train", "eval"]
    assert json.dumps(config)  # plain data


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "configs").glob("distill-*.toml")),
                         ids=lambda p: p.name)
def test_every_shipped_config_plans(path: Path) -> None:
    from genprm.distill.pipeline import load_config

    assert plan(load_config(path))  # every key is an option of its stage (a renamed option fails here)


def test_progress_in_the_train_table_goes_to_train_not_to_its_config(tmp_path: Path, monkeypatch) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr("genprm.distill.train.train", lambda cfg, log, progress: calls.append((cfg, progress)) or {})
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'work_dir = "{tmp_path}"\n[train]\ndata = "kept.jsonl"\nmax_steps = 2\nprogress = false\n')
    run_pipeline(cfg, log=lambda _: None)
    [(config, progress)] = calls
    assert progress is False and config.max_steps == 2 and config.data == "kept.jsonl"
    cfg.write_text(f'work_dir = "{tmp_path}"\n[train]\ndata = "kept.jsonl"\nprogress = "no"\n')
    with pytest.raises(ConfigError, match=r"\[train\] progress must be true or false, got 'no'"):
        run_pipeline(cfg, log=lambda _: None)


@pytest.mark.skipif(not GSM8K.exists(), reason="needs ../shared/data/gsm8k/train.jsonl")
def test_run_chains_stages_from_a_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'work_dir = "{tmp_path}"\n[corrupt]\npath = "{GSM8K}"\nrows = "100:120"\n[synth]\n[filter]\n')
    assert main(["distill", "run", str(cfg)]) == 0
    summary = json.loads((tmp_path / "run_summary.json").read_text())
    assert summary["corrupt"]["solutions"] == 20 and summary["synth"]["written"] == 20
    assert summary["filter"]["kept"] == len(list(read_rows(tmp_path / "kept.jsonl")))
    assert main(["distill", "run", str(cfg)]) == 0  # a re-run redoes nothing expensive
    assert json.loads((tmp_path / "run_summary.json").read_text())["synth"]["written"] == 0
