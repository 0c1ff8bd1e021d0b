"""Stacking: adapter 2 trained on (base + adapter 1) equals one adapter of the base, weight for weight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from genprm.distill.stack import stack_adapters


def _tiny_base() -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    return LlamaForCausalLM(config)


def _random_adapter(model: torch.nn.Module, out: Path, r: int, alpha: int, seed: int) -> torch.nn.Module:
    """A LoRA with random A and B (as after training), saved to `out`; returns the merged model."""
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, target_modules="all-linear"))
    torch.manual_seed(seed)
    for name, p in peft_model.named_parameters():
        if "lora_" in name:
            p.data = torch.randn_like(p) * 0.05
    peft_model.save_pretrained(str(out))
    return peft_model.merge_and_unload()


def test_stacked_adapter_equals_the_two_applied_in_turn(tmp_path: Path) -> None:
    from peft import PeftModel

    first = _random_adapter(_tiny_base(), tmp_path / "a1", r=4, alpha=8, seed=1)
    both = _random_adapter(first, tmp_path / "a2", r=2, alpha=8, seed=2)  # a different rank and scale
    out = stack_adapters(tmp_path / "a1", tmp_path / "a2", tmp_path / "stacked", base="the-base")
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["base_model_name_or_path"]) == (6, 16, "the-base")
    stacked = PeftModel.from_pretrained(_tiny_base(), str(out)).merge_and_unload()
    expected, got = both.state_dict(), stacked.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6)


def test_adapters_of_different_modules_do_not_stack(tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    _random_adapter(_tiny_base(), tmp_path / "a1", r=2, alpha=4, seed=1)
    get_peft_model(_tiny_base(), LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(str(tmp_path / "a2"))
    with pytest.raises(ValueError, match="target_modules"):
        stack_adapters(tmp_path / "a1", tmp_path / "a2", tmp_path / "stacked")
