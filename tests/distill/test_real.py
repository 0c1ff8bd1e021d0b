"""Readers of the real labelled sources on slices of them (tests/distill/real_slices: a few rows copied from
../shared/data/real, sources and licenses in its SOURCES.md), their rendering into critiques in the verifier's own
protocol (real sandbox, real tokenizer), and a tiny direct-verdict training run whose loss falls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import genprm, one_line_error

from genprm.distill.dialogue import render_with_spans, tokenize_with_labels
from genprm.distill.filter import filter_records
from genprm.distill.real import (
    RealConfig,
    RealCritiques,
    critique_templates,
    explanation_sentence,
    mix,
    read_mathcritique,
    read_mrben,
    read_prm800k,
    records,
    select_prm800k,
    split_by_question,
)
from genprm.distill.teachers import Critique
from genprm.errors import ConfigError
from genprm.jsonl import read_rows, write_rows

SLICES = Path(__file__).parent / "real_slices"
PRM800K, MRBEN, MATHCRITIQUE = (SLICES / "prm800k_slice.jsonl.gz", SLICES / "mrben_slice.jsonl",
                                SLICES / "mathcritique_slice.jsonl")


def test_prm800k_reader_labels_the_candidate_and_skips_unrated_and_long_prefixes() -> None:
    solutions = read_prm800k(PRM800K, max_prefix_steps=6)
    assert len(solutions) == 4  # the unrated row and the 21-step prefix are skipped
    wrong = [s for s in solutions if s.label >= 0]
    assert len(wrong) == 3 and all(s.label == len(s.steps) - 1 == 2 for s in wrong)
    assert all(s.step_labels == (True, True, s.label < 0) for s in solutions)
    assert {s.meta["error_reason"] for s in wrong} == {"incorrect_basic_arithmetic", "incorrect_algebra",
                                                       "incorrect_arithmetic_operations"}
    assert len({s.meta["node"] for s in solutions}) == 1  # alternatives after the same prefix
    # Hard negatives first: a wrong and a right candidate after the same prefix.
    pair = select_prm800k(solutions, 2, seed=0)
    assert sorted(s.label for s in pair) == [-1, 2] and pair[0].meta["node"] == pair[1].meta["node"]


def test_mrben_reader_and_split_by_question() -> None:
    wrong, right = read_mrben(MRBEN)
    assert wrong.label == 1 and wrong.step_labels[:3] == (True, False, None) and right.label == -1
    assert "incorrectly calculates the bounds" in wrong.meta["explanations"]["1"][0]
    assert right.meta["explanations"] == {} and right.outcome is True
    parts = split_by_question([wrong, right] * 3, dev=0.0, test=0.5, seed=0)
    assert len(parts["test"]) == 3 and len(parts["train"]) == 3  # one question each, its three copies together
    assert {s.problem for s in parts["test"]}.isdisjoint({s.problem for s in parts["train"]})


def test_mathcritique_reader_takes_the_first_false_verdict() -> None:
    partly, wrong_at_once = read_mathcritique(MATHCRITIQUE)
    assert partly.label == 2 and partly.step_labels == (True, True, False, False)
    assert wrong_at_once.label == 0 and "capital per egg" in wrong_at_once.meta["explanations"]["0"][0]


def test_explanations_become_sentences_about_the_step() -> None:
    text = explanation_sentence("In this step, the model incorrectly calculates the bounds as -2 <= x <= 2, "
                                "while the correct ones are -1 <= x <= 1.\n")
    assert text.startswith("The step incorrectly calculates") and text.endswith(".") and "model" not in text
    long = explanation_sentence("The error in step two is that it adds. " + "It then goes on. " * 40, max_chars=80)
    assert long.startswith("It adds.") and len(long) <= 83


def test_real_explanation_rendered_as_a_critique_in_the_protocol(protocol, sandbox, tokenizer) -> None:
    wrong, right = read_mrben(MRBEN)
    partly, _ = read_mathcritique(MATHCRITIQUE)
    renderer = RealCritiques(protocol, sandbox, seed=0)
    crit_wrong, crit_right, crit_partly = renderer.critique_many([wrong, right, partly])
    assert len(crit_wrong) == 2 and [c.verdict for c in crit_wrong] == [True, False]  # cut at the first error
    assert all(c.text.endswith(protocol.verdict_prefix) for c in crit_wrong + crit_right + crit_partly)
    last = crit_wrong[-1].text
    assert last.startswith(f'The step says: "{wrong.steps[1]}"')
    # One of the two annotators' explanations, as a sentence about the step.
    assert any(explanation_sentence(e) in last for e in wrong.meta["explanations"]["1"]) and "the model" not in last
    assert any(opener in last for opener in critique_templates().wrong_openers)
    assert any(check in crit_wrong[0].text for check in critique_templates().right_checks)
    # A step that calculates keeps its SymPy check, run in the sandbox; the verdict follows the gold label.
    calc = crit_partly[1]  # "Half of that distance is 10/2 = 5 miles": right
    assert calc.code_runs and calc.code_runs[0].stdout.strip() == "5 True" and calc.verdict
    wrong_calc = crit_partly[2]  # "... 10+2 = 12 miles": the arithmetic is right, the set-up is not
    assert wrong_calc.code_runs and not wrong_calc.verdict and "The calculation is right, but" in wrong_calc.text
    # Paraphrases vary across steps (not one fixed sentence).
    many = renderer.critique_many(read_prm800k(PRM800K))
    assert len({c[-1].text.split('"')[-1] for c in many}) > 1
    # Rendered with the chat template, the loss falls on the critique's words and the verdict.
    text, spans = render_with_spans(tokenizer, protocol, wrong.problem, wrong.steps, crit_wrong)
    trained = "".join(text[a:b] for a, b in spans)
    assert "The step is wrong" in trained and trained.endswith(protocol.negative)
    assert text[spans[-2][0]:spans[-2][1]] == crit_wrong[-1].text  # the whole critique carries loss


def test_direct_records_train_only_the_candidate_verdict(protocol, tokenizer) -> None:
    solutions = read_prm800k(PRM800K)
    renderer = RealCritiques(protocol, None, seed=0)
    recs = records(solutions, "direct", renderer)
    assert [r["predicted"] for r in recs] == [s.label for s in solutions]
    kept, removed = filter_records(recs, protocol)
    assert removed["agrees"] == removed["well_formed"] == 0 and len(kept) == 2  # balanced 1 + 1
    critiques = [Critique.from_dict(c) for c in recs[0]["critiques"]]
    assert [c.train_verdict for c in critiques] == [False, False, True]
    text, spans = render_with_spans(tokenizer, protocol, solutions[0].problem, solutions[0].steps, critiques)
    ids = tokenize_with_labels(tokenizer, text, spans)
    trained = [t for t in ids["labels"] if t != -100]
    word = protocol.negative if solutions[0].label >= 0 else protocol.positive
    assert tokenizer.decode(trained) == word  # one verdict token: the context steps' verdicts carry no loss


def test_mixing_weights_and_config_errors(tmp_path) -> None:
    cfg = RealConfig(prm800k=str(PRM800K), mrben=str(MRBEN), mathcritique=str(MATHCRITIQUE), prm800k_weight=2.0,
                     mrben_weight=0.0, mathcritique_weight=1.0, total=3, mrben_test_fraction=0.0)
    mixed = mix(cfg)
    assert set(mixed) == {"prm800k", "mathcritique"} and len(mixed["prm800k"]) == 2
    assert len(mixed["mathcritique"]) == 1
    with pytest.raises(ConfigError, match="prm800k_objective"):
        RealConfig(prm800k_objective="both_ways")
    with pytest.raises(ConfigError, match="total"):
        RealConfig(total=0)


def test_real_stage_from_the_cli(tmp_path) -> None:
    from genprm.cli import main

    out = tmp_path / "real.jsonl"
    assert main(["distill", "real", "--out", str(out), "--prm800k", str(PRM800K), "--mrben", str(MRBEN),
              "--mathcritique", str(MATHCRITIQUE), "--total", "6", "--mrben-test-fraction", "0",
              "--mrben-dev-fraction", "0", "--mrben-objective", "direct", "--mathcritique-objective", "direct"]) == 0
    rows = list(read_rows(out))
    assert len(rows) == 6 and {r["teacher"] for r in rows} == {"real"}
    # Bad input: one line, exit 2.
    proc = genprm("distill", "real", "--out", tmp_path / "x.jsonl", "--prm800k", "", "--mathcritique", "",
                  "--mrben", tmp_path / "missing.jsonl")
    one_line_error(proc, "missing.jsonl")


# A per-step protocol with a one-line preamble (shared with tests/review): one training step in seconds.
TINY_PROTOCOL = (Path(__file__).parents[1] / "tiny_protocol.jinja").read_text()


@pytest.mark.slow
def test_direct_verdict_loss_falls_on_a_tiny_run(tmp_path) -> None:
    from genprm.distill.train import train
    from genprm.distill.train_config import TrainConfig
    from genprm.protocols import load

    (tmp_path / "tiny.jinja").write_text(TINY_PROTOCOL)
    tiny = load(str(tmp_path / "tiny.jinja"))
    wrong = next(s for s in read_prm800k(PRM800K) if s.label >= 0)
    data = tmp_path / "direct.jsonl"
    write_rows(data, records([wrong], "direct", RealCritiques(tiny, None)))
    cfg = TrainConfig(data=str(data), output_dir=str(tmp_path / "model"), protocol=str(tmp_path / "tiny.jinja"),
                      max_steps=3, batch_size=1, grad_accum=1, learning_rate=5e-3, warmup_steps=1, eval_fraction=0.0,
                      save_every=10, num_proc=1, threads=1, autocast="off")
    train(cfg, log=lambda _: None, progress=False)
    steps = [json.loads(line) for line in (tmp_path / "model" / "train_log.jsonl").read_text().splitlines()]
    assert steps[-1]["loss"] < 0.5 * steps[0]["loss"], steps  # one verdict token, learnt


def test_threshold_is_calibrated_on_the_dev_split_for_f1() -> None:
    from genprm.distill.heldout import calibrate_threshold, metrics
    from genprm.types import Solution, StepVerdict, VerificationResult

    def result(label: int, scores: list[float]) -> VerificationResult:
        steps = tuple(StepVerdict(i, f"s{i}", s, s >= 0.5, "") for i, s in enumerate(scores))
        solution = Solution("p", tuple(f"s{i}" for i in range(len(scores))), id=f"{label}{scores}", label=label)
        return VerificationResult(solution, steps, -1, min(scores), "min", 0.5)

    # Every step scores above 0.5 (a verifier that always says "correct"), but wrong steps score lower.
    dev = [result(1, [0.9, 0.7, 0.9]), result(0, [0.72, 0.9]), result(-1, [0.9, 0.85]), result(-1, [0.8, 0.95])]
    assert metrics(dev, 0.5)["f1"] == 0.0
    tuned = calibrate_threshold(dev)
    assert 0.72 < tuned < 0.8 and metrics(dev, tuned)["f1"] == 100.0


def test_a_config_chains_real_into_filter_and_train() -> None:
    from genprm.distill.pipeline import plan

    steps = dict(plan({"work_dir": "w", "real": {"total": 10, "mrben_weight": 0.5}, "filter": {}, "train": {}}))
    assert steps["real"]["out"] == "w/real.jsonl" and steps["filter"]["path"] == "w/real.jsonl"
    assert steps["train"]["data"] == "w/kept.jsonl"
    with pytest.raises(ConfigError, match=r"\[real\] keys"):
        plan({"real": {"mrben_weigth": 0.5}})
    from genprm.distill.pipeline import load_config

    shipped_recipe = load_config(Path(__file__).resolve().parents[2] / "configs" / "distill-real.toml")
    assert [name for name, _ in plan(shipped_recipe)] == ["corrupt", "real", "filter", "train"]


def test_learned_verdicts_combined_with_the_code_evidence(sandbox) -> None:
    from genprm.distill.heldout import metrics, with_code_evidence
    from genprm.types import Solution, StepVerdict, VerificationResult

    solution = Solution("Ana buys 4 pens at $3 and pays with $20. Her change?",
                        ("She pays 4 * 3 = 12 dollars.", "Her change is 20 - 12 = 6 dollars.", "The answer is 6."),
                        id="pens", label=1)
    steps = tuple(StepVerdict(i, t, 0.9, True, "") for i, t in enumerate(solution.steps))
    learned = VerificationResult(solution, steps, -1, 0.9, "min", 0.5)  # a model that calls every step right
    combined, = with_code_evidence([learned], sandbox)
    assert combined.step_scores == [0.9, 0.0, 0.9] and combined.reward == 0.0  # 20 - 12 is 8: refuted by SymPy
    assert metrics([learned])["acc_err"] == 0.0 and metrics([combined])["acc_err"] == 100.0
