"""A few real training steps on the default model: the loss falls, an interrupted run resumes, and the output
directory loads as a verifier model (the LoRA adapter applied to its base)."""

from __future__ import annotations

import json

import pytest
from helpers.distill_samples import WRONG

from genprm.distill.synth import synth_record
from genprm.distill.teachers import SymbolicTeacher
from genprm.distill.train import train
from genprm.distill.train_config import TrainConfig
from genprm.errors import ConfigError
from genprm.jsonl import write_rows


class _Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def kept_file(tmp_path_factory, protocol, sandbox):
    # One critiqued step: ~620 tokens (the protocol's few-shot preamble is most of them), 110 of them trained; two
    # steps made ~800 and every training step of every test here ~30% slower, with nothing more to show.
    critiques = SymbolicTeacher(protocol, sandbox).critique_many([WRONG])[0][:1]
    path = tmp_path_factory.mktemp("distill") / "kept.jsonl"
    write_rows(path, [synth_record(WRONG, "symbolic", critiques)])
    return path


def test_lora_loss_falls_resumes_and_loads_as_a_verifier(kept_file, tmp_path, hf_backend) -> None:
    out = tmp_path / "model"
    cfg = TrainConfig(data=str(kept_file), output_dir=str(out), max_steps=4, batch_size=1, grad_accum=1,
                      learning_rate=2e-3, warmup_steps=1, eval_fraction=0.0, save_every=1, num_proc=1, threads=1)
    seen = []

    def interrupt_at_step_3(message: str) -> None:
        if message.startswith("{") and json.loads(message)["step"] == 3 and not seen:
            seen.append(3)
            raise _Interrupt  # as if killed: checkpoint-2 is on disk, step 3 is not
    with pytest.raises(_Interrupt):
        train(cfg, log=interrupt_at_step_3, progress=False)
    assert (out / "checkpoint-2").is_dir()
    with (out / "train_log.jsonl").open("a") as f:  # as if killed after logging a step the checkpoint lacks
        f.write(json.dumps({"step": 3, "loss": 9.9}) + "\n")
    messages: list[str] = []
    summary = train(cfg, log=messages.append, progress=False)
    assert "resumed from step 2" in messages
    steps = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2, 3, 4] and steps[2]["loss"] != 9.9
    assert steps[-1]["loss"] < 0.7 * steps[0]["loss"]  # the same example each step: it must be learnt
    # The precision that ran (bf16 autocast only where the CPU has it natively) is said, logged and summarised.
    from genprm.backends.device import autocast_bf16

    assert summary["dtype"] == autocast_bf16("auto").dtype and {s["dtype"] for s in steps} == {summary["dtype"]}
    assert any(m.startswith("compute: fp32 weights") for m in messages)
    assert summary["steps"] == 4 and not list(out.glob("checkpoint-*"))
    # With no model named, training starts from the base model, not from the default (distilled) verifier.
    from genprm.backends.weights import default_model_dir

    assert summary["base_model"] == str(default_model_dir())
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == summary["base_model"]
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").stat().st_size < 20e6

    from genprm.backends.base import ScoreRequest
    from genprm.backends.hf import HFBackend

    tuned = HFBackend(str(out))
    prompt = hf_backend.chat([{"role": "user", "content": "Step 1: 2 + 2 = 5"}]) + "Is the step correct (Yes/No)?"
    base_scores = hf_backend.score([ScoreRequest(prompt, (" Yes", " No"))])[0]
    tuned_scores = tuned.score([ScoreRequest(prompt, (" Yes", " No"))])[0]
    assert base_scores != tuned_scores  # the adapter was applied
    # A finished run is not trained again.
    assert train(cfg, log=messages.append, progress=False)["steps"] == 4
    assert "already holds a trained model" in messages[-1]


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="lora_r must be >= 1"):
        TrainConfig(data="x.jsonl", lora_r=0)
    with pytest.raises(ConfigError, match="data"):
        TrainConfig()


def test_full_fine_tune_saves_a_model_directory(kept_file, tmp_path) -> None:
    out = tmp_path / "full"
    cfg = TrainConfig(data=str(kept_file), output_dir=str(out), lora=False, max_steps=2, batch_size=1, grad_accum=1,
                      learning_rate=5e-5, warmup_steps=1, eval_fraction=0.0, num_proc=1, threads=1)
    summary = train(cfg, log=lambda m: None, progress=False)
    assert summary["steps"] == 2 and summary["final_loss"] < summary["first_loss"]
    assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()


def test_stop_after_steps_keeps_the_planned_schedule(kept_file, tmp_path) -> None:
    out = tmp_path / "stopped"
    cfg = TrainConfig(data=str(kept_file), output_dir=str(out), max_steps=4, stop_after_steps=2, batch_size=1,
                      grad_accum=1, learning_rate=1e-3, warmup_steps=1, eval_fraction=0.0, num_proc=1, threads=1)
    messages: list[str] = []
    summary = train(cfg, log=messages.append, progress=False)
    assert summary["steps"] == 2 and (out / "adapter_config.json").exists()
    assert any("stopping after step 2 of 4" in m for m in messages)
    lrs = [json.loads(line)["lr"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    # Linear decay planned over 4 steps (1 warm-up): after step 2 the rate is 2/3 of the peak, not 0.
    assert lrs == pytest.approx([1e-3, 1e-3 * 2 / 3])
