"""`genprm eval | rerank | report` from the command line: outputs on success, one line and exit 2 on bad input."""

import json

import pytest
from helpers.cli import genprm, one_line_error
from helpers.scored_results import load_json, make_result, write_scored


@pytest.fixture
def scored(tmp_path):
    return write_scored(tmp_path / "small.scored.jsonl", [
        make_result("a", [0.9, 0.2], label=1, outcome=False), make_result("b", [0.9, 0.8], label=-1, outcome=True),
        make_result("c", [0.3, 0.8], label=-1, outcome=True)])


def test_eval_writes_json_plots_and_prints_markdown(scored, tmp_path):
    out = tmp_path / "ev"
    proc = genprm("eval", scored, "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    assert "| small | 1 | 2 | 100.0 | 50.0 | 66.7 |" in proc.stdout
    assert "### Outcome" in proc.stdout
    metrics = load_json(out / "metrics.json")
    assert metrics["processbench"]["mean_f1"] == pytest.approx(200 / 3)
    assert metrics["outcome"]["overall"]["auroc"] == 1.0
    for name in ("score_distributions.png", "f1_vs_threshold.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_tunes_on_a_separate_split(scored, tmp_path):
    dev = write_scored(tmp_path / "dev.jsonl", [make_result("d1", [0.9, 0.6], label=1),
                                                make_result("d2", [0.9, 0.8], label=-1)])
    proc = genprm("eval", scored, "--tune-threshold", dev, "--out-dir", tmp_path / "ev", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert "(tuned on dev.jsonl)" in proc.stdout
    one_line_error(genprm("eval", scored, "--tune-threshold", scored, "--out-dir", tmp_path / "ev"),
                   "shares 3 ids", "separate split")


def test_rerank_and_report(tmp_path):
    results = [make_result(f"{p}:{i}", [r], problem=p, steps=[f"The answer is {a}."], answer=gold)
               for p, gold, cands in [("P1", "4", [("4", 0.9), ("5", 0.2)]), ("P2", "6", [("6", 0.3), ("7", 0.4)])]
               for i, (a, r) in enumerate(cands)]
    f = write_scored(tmp_path / "bo2.jsonl", results)
    proc = genprm("rerank", f, "--out-dir", tmp_path / "rr")
    assert proc.returncode == 0, proc.stderr
    assert "| N | verifier | weighted vote | majority vote | random | oracle |" in proc.stdout
    assert load_json(tmp_path / "rr" / "rerank.json")["methods"]["verifier"] == [50.0, 50.0]
    assert (tmp_path / "rr" / "accuracy_vs_n.png").exists()
    proc = genprm("report", f, "-o", tmp_path / "r.html")  # unlabelled steps: scores only, plus Best-of-N
    assert proc.returncode == 0, proc.stderr
    assert "Best-of-N" in (tmp_path / "r.html").read_text()


def test_bad_input_is_one_line_and_exit_2(scored, tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps({"problem": "p", "steps": ["a"]}) + "\n")
    one_line_error(genprm("eval", raw), "raw.jsonl", "has no scores", "genprm verify")
    weird = tmp_path / "weird.jsonl"
    weird.write_text(json.dumps({"what": 1}) + "\n")
    for command in ("eval", "rerank", "report"):
        one_line_error(genprm(command, weird), "weird.jsonl", "unknown format")
    one_line_error(genprm("eval", tmp_path / "missing.jsonl"), "missing.jsonl", "no such file")

    unlabelled = write_scored(tmp_path / "u.jsonl", [make_result("u", [0.9])])
    one_line_error(genprm("eval", unlabelled, "--out-dir", tmp_path / "ev"), "no gold labels", "--gold")

    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "other", "problem": "p", "steps": ["x", "y"], "label": 1}) + "\n")
    one_line_error(genprm("eval", scored, "--gold", gold), "gold.jsonl", "3 of 3 scored ids are not in the gold")
    one_line_error(genprm("eval", scored, "--by", "policy"), "by must be")
    one_line_error(genprm("eval", scored, "--threshold", "1.5"), "threshold must be in [0, 1]")
    proc = genprm("eval", scored, "--gold", gold, "--gold-format", "nope")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "nope" in proc.stderr
    one_line_error(genprm("rerank", scored), "no gold answer")
