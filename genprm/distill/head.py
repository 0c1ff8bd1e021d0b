"""The discriminative objective: a two-class head (wrong / correct) on the base model, trained at the positions a
discriminative protocol reads (`token-classification`: the last token of each step's separator, TRL PRMTrainer's
format).

What TRL's `PRMTrainer` did (trl <= 1.13, trl/experimental/prm/prm_trainer.py: `tokenize_row`, then transformers'
`Trainer` on an `AutoModelForTokenClassification` with two labels), done here on genprm's own loop
(`genprm.distill.train`): the installed TRL (1.16) no longer ships it (removed by huggingface/trl#7133: "nothing in
the stable API covers process supervision"), and the loop already holds the CPU recipe (fp32 weights, bf16 autocast
only where native), the checkpoints a killed run resumes from, the time limit and the logs. The model, the head and
LoRA are transformers' and PEFT's own (`AutoModelForTokenClassification`, `task_type="TOKEN_CLS"`).

The example is built by the protocol itself (`genprm.protocols.discriminative.request`) and tokenized by the function
the hf backend reads with (`genprm.backends.heads.tokens_and_positions`), so a step is trained on exactly the token
`genprm verify` scores it at (tests/protocols/test_discriminative.py holds those tokens and positions against TRL's
tokenize_row).

Labels come from the critiques records every training source writes (`genprm distill real` / `filter`): a step's
verdict is its label (1 correct, 0 wrong); a verdict the data only assumes (`train_verdict` false: PRM800K's prefix
steps) is context and carries no loss, as it carries none in the generative objective.

The saved directory is a plain `...ForTokenClassification` model (a LoRA is merged into it: `genprm verify --model`
merges adapters into causal LMs only) with a `genprm.json` naming its protocol, so `genprm verify --model DIR` needs
no flag.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genprm.backends.heads import tokens_and_positions
from genprm.distill.teachers import Critique
from genprm.errors import ConfigError
from genprm.protocols import VerificationProtocol
from genprm.protocols.discriminative import request
from genprm.registry import MODEL_CONFIG

LABELS = {0: "wrong", 1: "correct"}


def is_head(protocol: VerificationProtocol) -> bool:
    """Whether `protocol` is read from a classification head (so training it trains a head, not a dialogue)."""
    return protocol.flow == "discriminative" and not protocol.candidates


def check_protocol(protocol: VerificationProtocol) -> None:
    """Discriminative formats read from next-token logits (math-shepherd, rlhflow) are not trained here."""
    if protocol.flow == "discriminative" and not is_head(protocol):
        raise ConfigError("protocol", "a generative protocol or a head format (token-classification) to train",
                          protocol.name)
    if is_head(protocol) and int(protocol.positive_label) != 1:
        raise ConfigError("protocol", "a head format whose positive label is 1 (the head trained here)",
                          protocol.name)


def encode(tokenizer: Any, protocol: VerificationProtocol, problem: str, steps: Sequence[str],
           critiques: Sequence[Critique]) -> dict[str, list[int]]:
    """input_ids and labels for one solution up to its last critiqued step: the verdict (1/0) at each step's read
    position, -100 everywhere else and on steps whose verdict is only context."""
    def render(messages: Any, add_generation_prompt: bool = False) -> str:
        return str(tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                 add_generation_prompt=add_generation_prompt))

    ids, positions = tokens_and_positions(tokenizer, request(protocol, problem, list(steps[:len(critiques)]),
                                                             render))
    labels = [-100] * len(ids)
    for position, c in zip(positions, critiques, strict=True):
        if c.train_verdict:
            labels[position] = int(c.verdict)
    return {"input_ids": ids, "labels": labels}


def load_model(path: str, lora: bool, r: int, alpha: int, dropout: float, seed: int) -> Any:
    """The base body with a new two-class head, fp32; with `lora`, LoRA on every linear layer of the body and the
    head trained in full (it starts from random)."""
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    torch.manual_seed(seed)  # LoRA's initial weights
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its load report lists the new head as "MISSING" weights: that is the point
    try:
        model = AutoModelForTokenClassification.from_pretrained(path, num_labels=len(LABELS), id2label=LABELS,
                                                                label2id={v: k for k, v in LABELS.items()},
                                                                dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
    head = _head_name(model)
    # A zero head starts at chance (loss ln 2 = 0.693, P(correct) 0.5 everywhere): transformers' random init (std
    # 0.02) on SmolLM2's large final hidden states started at loss ~3, the first steps spent undoing it.
    for p in getattr(model, head).parameters():
        torch.nn.init.zeros_(p)
    if not lora:
        return model
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear",
                                            exclude_modules=[head], modules_to_save=[head], task_type="TOKEN_CLS"))


def _head_name(model: Any) -> str:
    """The classification layer's attribute (`score` on Llama-family models, `classifier` on BERT-like ones)."""
    for name in ("score", "classifier"):
        if isinstance(getattr(model, name, None), torch.nn.Module):
            return name
    raise ConfigError("model", "a token-classification model with a `score` or `classifier` head",
                      type(model).__name__)


def loss_sum(model: Any, batch: dict[str, torch.Tensor], bf16: bool) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the labelled positions, and their count (so accumulation weights every step
    equally, as the generative objective weights every token)."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"]
    loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1),
                                             ignore_index=-100, reduction="sum")
    return loss, int((labels != -100).sum())


def save(out: Path, model: Any, tokenizer: Any, protocol: VerificationProtocol) -> None:
    """A full token-classification model (LoRA merged), bf16 on disk, its tokenizer, and a genprm.json: the
    protocol it was trained in, read in direct mode, at 0.5, the learned head alone (`--claim-check on` adds
    the claim check)."""
    model.eval()
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model = model.to(torch.bfloat16)  # halves the files on disk; a verifier loads it in the dtype it runs fast
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    settings = {"protocol": protocol.name, "mode": "direct", "threshold": 0.5, "claim_check": False}
    (out / MODEL_CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
