"""Tiny random discriminative PRMs of each published architecture, saved as model directories.

Tokenizers are the base model's (from genprm's cache) with the tokens each format needs added; the models are real
transformers classes with a few thousand parameters and random weights, so scores are arbitrary but exact.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForTokenClassification,
)

from genprm.backends.weights import default_model_dir
from helpers.discriminative_usage import LLAMA3_TEMPLATE

# Heads of 32: the smallest vLLM's CPU attention runs (tests/backends/test_vllm_read.py loads these too).
_SIZE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
         "num_key_value_heads": 1, "max_position_embeddings": 512}

QUESTION = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins with "
            "four. How many eggs are left?")
# Step 2 keeps its line break, as split solutions often do: tokenized apart from TRL's "\n" separator it is its own
# token, in one string the two merge into one "\n\n" token, so the test tells the two tokenizations apart.
STEPS = ["Janet's ducks lay 16 eggs per day.", "She eats three, so 16 - 3 = 13 eggs are left.\n",
         "She bakes with four: 13 - 4 = 9. The answer is: 9"]


# Qwen2.5-Math-PRM's head ships as code beside its weights (its config's auto_map names the class); this stand-in
# has the same shape: a Qwen2 body and `score` = Linear(h, h) -> ReLU -> Linear(h, 2), logits first in its output.
REMOTE_HEAD = '''
import torch
from torch import nn
from transformers import Qwen2Config, Qwen2Model, Qwen2PreTrainedModel


class Qwen2ForProcessRewardModel(Qwen2PreTrainedModel):
    config_class = Qwen2Config

    def __init__(self, config):
        super().__init__(config)
        self.model = Qwen2Model(config)
        self.score = nn.Sequential(nn.Linear(config.hidden_size, config.hidden_size), nn.ReLU(),
                                   nn.Linear(config.hidden_size, 2))
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return (self.score(hidden),)
'''


def base_tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(str(default_model_dir()))


def _save(model: Any, tokenizer: Any, out: Path) -> Path:
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def qwen_prm(out: Path) -> Path:
    tokenizer = base_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    out.mkdir(parents=True)
    (out / "modeling_qwen2_rm.py").write_text(REMOTE_HEAD)
    spec = importlib.util.spec_from_file_location("modeling_qwen2_rm_test", out / "modeling_qwen2_rm.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    torch.manual_seed(0)
    model = module.Qwen2ForProcessRewardModel(Qwen2Config(vocab_size=len(tokenizer), **_SIZE))
    _save(model, tokenizer, out)
    config = json.loads((out / "config.json").read_text())
    config["architectures"] = ["Qwen2ForProcessRewardModel"]
    config["auto_map"] = {"AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}
    (out / "config.json").write_text(json.dumps(config))
    return out


def math_shepherd(out: Path) -> Path:
    tokenizer = base_tokenizer()
    tokenizer.add_tokens(["ки"])  # one vocabulary token in Mistral's tokenizer (their step_tag_id, 12902)
    torch.manual_seed(1)
    return _save(MistralForCausalLM(MistralConfig(vocab_size=len(tokenizer), **_SIZE)), tokenizer, out)


def rlhflow(out: Path) -> Path:
    tokenizer = base_tokenizer()
    tokenizer.add_special_tokens({"bos_token": "<|begin_of_text|>", "additional_special_tokens": [
        "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    tokenizer.chat_template = LLAMA3_TEMPLATE
    torch.manual_seed(2)
    return _save(LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), **_SIZE)), tokenizer, out)


def token_classification(out: Path) -> Path:
    tokenizer = base_tokenizer()
    torch.manual_seed(3)
    model = Qwen2ForTokenClassification(Qwen2Config(vocab_size=len(tokenizer), num_labels=2, **_SIZE))
    return _save(model, tokenizer, out)


BUILDERS = {"qwen-prm": qwen_prm, "math-shepherd": math_shepherd, "rlhflow": rlhflow,
            "token-classification": token_classification}
