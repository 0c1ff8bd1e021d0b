"""Where weights come from: a LoRA adapter directory is merged once into a plain model directory in the cache."""

import pytest

from genprm.backends.weights import default_model_dir, resolve_model
from genprm.errors import ConfigError


def test_an_adapter_is_merged_once_and_gives_the_adapted_logits(tmp_path, monkeypatch):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base_dir = default_model_dir()
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    # init_lora_weights=False: a random adapter that really changes the outputs (the default init is a no-op)
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "my-adapter"
    peft_model.save_pretrained(adapter)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        expected = peft_model(ids).logits

    monkeypatch.setenv("GENPRM_CACHE", str(tmp_path / "cache"))
    merged = resolve_model(str(adapter))
    assert "my-adapter-merged-" in merged and resolve_model(str(adapter)) == merged  # cached: merged once
    with torch.no_grad():
        got = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)(ids).logits
    assert torch.allclose(got, expected, atol=1e-4)


def test_bad_model_specs(tmp_path):
    with pytest.raises(ConfigError, match="existing .gguf file"):
        resolve_model(str(tmp_path / "missing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="hub id"):  # no hub reachable, not in the cache: one line, at once
        resolve_model("org/some-model")
