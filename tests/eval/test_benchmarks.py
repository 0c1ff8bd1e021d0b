"""`evaluate()` on scored files: subsets, gold files, skipped records, threshold tuning."""

import json

import pytest
from helpers.scored_results import make_result, write_scored

from genprm.errors import ConfigError, InputError
from genprm.eval.benchmarks import evaluate, tune_threshold
from genprm.eval.scored import load_results, load_scored


def test_processbench_per_file_subsets_and_mean(tmp_path):
    a = write_scored(tmp_path / "gsm8k.scored.jsonl", [
        make_result("a1", [0.9, 0.2, 0.8], label=1),  # hit
        make_result("a2", [0.9, 0.9, 0.9], label=2),  # miss
        make_result("a3", [0.9, 0.9], label=-1),  # hit
    ])
    b = write_scored(tmp_path / "math.jsonl", [
        make_result("b1", [0.1, 0.9], label=0),  # hit
        make_result("b2", [0.9, 0.3], label=-1),  # miss
    ])
    m = evaluate(load_scored([a, b]))
    pb = m["processbench"]["subsets"]
    assert pb["gsm8k"] == {"n_err": 2, "n_ok": 1, "acc_err": 50.0, "acc_ok": 100.0, "f1": pytest.approx(200 / 3)}
    assert pb["math"] == {"n_err": 1, "n_ok": 1, "acc_err": 100.0, "acc_ok": 0.0, "f1": 0.0}
    assert m["processbench"]["mean_f1"] == pytest.approx(100 / 3)
    assert m["prmbench"] is None and m["outcome"] is None


def test_threshold_changes_predictions(tmp_path):
    f = write_scored(tmp_path / "x.jsonl", [make_result("a", [0.9, 0.6], label=1),
                                            make_result("b", [0.9, 0.9], label=-1)])
    assert evaluate(load_scored([f]), threshold=0.5)["processbench"]["mean_f1"] == 0.0
    assert evaluate(load_scored([f]), threshold=0.7)["processbench"]["mean_f1"] == 100.0


def test_subsets_by_meta_key_and_prmbench_skips_out_of_range(tmp_path):
    f = write_scored(tmp_path / "prm.jsonl", [
        make_result("c1", [0.9, 0.2], label=1, step_labels=[True, False],
                    meta={"classification": "circular", "error_steps": [2]}),
        make_result("c2", [0.9, 0.9], label=-1, step_labels=[True, True],
                    meta={"classification": "ok", "error_steps": []}),
        make_result("c3", [0.9, 0.9], label=1, step_labels=[True, False],
                    meta={"classification": "circular", "error_steps": [2, 5]}),  # 5 is past the end
    ])
    m = evaluate(load_scored([f], by="classification"))
    assert set(m["prmbench"]["subsets"]) == {"circular", "ok"}
    assert m["prmbench"]["subsets"]["circular"] == {"tp": 1, "fp": 0, "tn": 1, "fn": 0, "f1_correct": 100.0,
                                                    "f1_wrong": 100.0, "score": 100.0}
    assert m["prmbench"]["overall"]["tp"] == 3
    assert m["skipped"] == [{"id": "c3", "metric": "prmbench", "reason": "error_steps [5] outside steps 1..2"}]
    # ProcessBench still uses c3: its earliest error is inside the steps.
    assert m["processbench"]["subsets"]["circular"]["n_err"] == 2
    with pytest.raises(ConfigError, match="by must be"):
        load_scored([f], by="policy")


def test_outcome_auroc(tmp_path):
    f = write_scored(tmp_path / "bo4.jsonl", [
        make_result("r1", [0.9], outcome=True), make_result("r2", [0.8], outcome=True),
        make_result("r3", [0.85], outcome=False), make_result("r4", [0.1], outcome=False),
    ])
    m = evaluate(load_scored([f]))
    assert m["outcome"]["overall"] == {"n": 4, "n_correct": 2, "auroc": 0.75}
    assert m["processbench"] is None


def test_gold_file_replaces_labels_and_must_cover_every_id(tmp_path):
    scored = write_scored(tmp_path / "s.jsonl", [make_result("a", [0.9, 0.2]), make_result("b", [0.9, 0.9])])
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps({"id": i, "problem": "p", "steps": ["x", "y"], "label": lab})
                              for i, lab in [("a", 1), ("b", -1), ("c", 0)]) + "\n")
    m = evaluate(load_scored([scored], gold=gold))
    assert m["processbench"]["mean_f1"] == 100.0
    with pytest.raises(InputError, match="no gold labels"):
        evaluate(load_scored([scored]))
    gold.write_text(json.dumps({"id": "zzz", "problem": "p", "steps": ["x", "y"], "label": 1}) + "\n")
    with pytest.raises(InputError, match="2 of 2 scored ids are not in the gold file"):
        load_scored([scored], gold=gold)


def test_unscored_and_unknown_files_are_refused_with_the_fix(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps({"problem": "p", "steps": ["a"]}) + "\n")
    with pytest.raises(InputError, match="genprm verify .*raw.jsonl --out"):
        load_results(raw)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(InputError, match="unknown format"):
        load_results(other)


def test_tune_threshold_on_a_separate_split(tmp_path):
    tune = load_scored([write_scored(tmp_path / "dev.jsonl", [
        make_result("d1", [0.9, 0.6], label=1), make_result("d2", [0.9, 0.8], label=-1)])])
    test = load_scored([write_scored(tmp_path / "test.jsonl", [make_result("t1", [0.9, 0.65], label=1)])])
    t = tune_threshold(tune, test)
    assert 0.6 < t <= 0.8  # only thresholds in (0.6, 0.8] separate d1 from d2
    with pytest.raises(InputError, match="shares 2 ids"):
        tune_threshold(tune, tune)
