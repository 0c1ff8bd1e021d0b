"""The discriminative objective (`--protocol token-classification`) on the real base model: the labels sit exactly
where the protocol reads, a few LoRA steps learn one solution's step labels, an interrupted run resumes with its
head, and the saved directory verifies as a token-classification PRM with no flag."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from helpers.distill_samples import RIGHT, WRONG

from genprm.backends.heads import tokens_and_positions
from genprm.distill.head import encode
from genprm.distill.heldout import compared_models
from genprm.distill.real import RealCritiques, records
from genprm.distill.teachers import Critique
from genprm.distill.train import train
from genprm.distill.train_config import TrainConfig
from genprm.errors import ConfigError
from genprm.jsonl import write_rows
from genprm.protocols import load
from genprm.protocols.discriminative import request


class _Interrupt(Exception):
    pass


def _direct(solutions):
    """Critiques records as `genprm distill real` writes them (direct verdicts up to the first error)."""
    return records(solutions, "direct", RealCritiques(load("verdict")))


def test_labels_sit_where_the_protocol_reads(tokenizer) -> None:
    protocol = load("token-classification")
    # A PRM800K-style record: step 1 is context (its verdict carries no loss), step 2 is rated wrong.
    context = replace(WRONG, id="ctx", meta={"context_steps": 1})
    [record] = _direct([context])
    critiques = [Critique.from_dict(c) for c in record["critiques"]]
    out = encode(tokenizer, protocol, record["problem"], record["steps"], critiques)
    ids, positions = tokens_and_positions(tokenizer, request(protocol, WRONG.problem, WRONG.steps[:2], None))
    assert out["input_ids"] == ids and len(positions) == 2
    assert {i for i, label in enumerate(out["labels"]) if label != -100} == {positions[1]}
    assert out["labels"][positions[1]] == 0 and out["labels"][positions[0]] == -100
    assert tokenizer.decode([ids[p] for p in positions]) == "\n\n"  # each step's separator, as TRL labels it


def test_formats_read_from_next_token_logits_are_refused_before_loading(tmp_path) -> None:
    data = tmp_path / "kept.jsonl"
    write_rows(data, _direct([WRONG]))
    with pytest.raises(ConfigError, match="head format"):
        train(TrainConfig(data=str(data), output_dir=str(tmp_path / "m"), protocol="math-shepherd", num_proc=1),
              log=lambda _: None, progress=False)


def test_compared_models_are_tagged() -> None:
    assert compared_models(["discriminative=runs/x/model", "runs/y/model"]) == {
        "discriminative": "runs/x/model", "model": "runs/y/model"}
    with pytest.raises(ConfigError, match="TAG=PATH"):
        compared_models(["a+code=runs/x"])


def test_head_learns_resumes_and_verifies_as_token_classification(tmp_path) -> None:
    data = tmp_path / "kept.jsonl"
    write_rows(data, _direct([WRONG]))  # one solution: step 1 right, step 2 wrong; learnt in a few steps
    out = tmp_path / "model"
    cfg = TrainConfig(data=str(data), output_dir=str(out), protocol="token-classification", max_steps=4,
                      batch_size=1, grad_accum=1, learning_rate=5e-3, warmup_steps=1, eval_fraction=0.0,
                      save_every=1, num_proc=1, threads=1)

    def interrupt_at_step_3(message: str) -> None:
        if message.startswith("{") and json.loads(message)["step"] == 3:
            raise _Interrupt  # as if killed: checkpoint-2 is on disk, step 3 is not
    with pytest.raises(_Interrupt):
        train(cfg, log=interrupt_at_step_3, progress=False)
    assert (out / "checkpoint-2").is_dir()
    messages: list[str] = []
    summary = train(cfg, log=messages.append, progress=False)
    assert "resumed from step 2" in messages and summary["objective"] == "discriminative"
    steps = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    # The zero head starts at chance; a head not restored on resume would be back at exactly ln 2 on step 3 (LoRA
    # alone cannot move a zero head's logits).
    assert steps[0]["loss"] == pytest.approx(0.6931, abs=1e-4)
    assert steps[2]["loss"] < 0.69 and steps[-1]["loss"] < 0.5 * steps[0]["loss"]
    assert not list(out.glob("checkpoint-*")) and not (out / "adapter_config.json").exists()
    assert json.loads((out / "genprm.json").read_text())["protocol"] == "token-classification"

    from genprm import Verifier, VerifierConfig
    from genprm.backends.base import load_backend

    # No --protocol: the directory's genprm.json names it; the LoRA is merged into a plain token-classification model.
    with Verifier(load_backend("hf", str(out), dtype="float32"), VerifierConfig()) as verifier:
        wrong, right = verifier.verify_many([WRONG, RIGHT])
    assert wrong.protocol == "token-classification" and verifier.backend.kind == "token-classification"
    assert wrong.step_scores[0] > 0.5 > wrong.step_scores[1]  # the labels it was trained on, read back
    assert len(right.step_scores) == 3 and all(0.0 < s < 1.0 for s in right.step_scores)
