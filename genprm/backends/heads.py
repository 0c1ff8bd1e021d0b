"""Which transformers class a checkpoint is, and `ReadRequest`s answered in one forward pass per text.

A generative verifier is a causal LM. Discriminative PRMs may also be a token-classification model (TRL's
PRMTrainer) or a model with its own head class shipped as code beside the weights (Qwen2.5-Math-PRM's
`Qwen2ForProcessRewardModel`, loaded by its card with `AutoModel` and `trust_remote_code=True`). The class is read
from the checkpoint's config.json, so `--model` is all a user gives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from genprm.backends.base import ReadRequest
from genprm.errors import ConfigError

Kind = Literal["causal", "token-classification", "remote-head"]


def checkpoint_kind(path: str) -> Kind:
    """What config.json's `architectures` (and `auto_map`) say the checkpoint is."""
    settings = _config(path)
    architecture = (settings.get("architectures") or [""])[0]
    if architecture.endswith("ForTokenClassification"):
        return "token-classification"
    if "AutoModel" in settings.get("auto_map", {}) and not architecture.endswith("ForCausalLM"):
        return "remote-head"
    return "causal"


def _config(path: str) -> dict[str, Any]:
    """The checkpoint's config.json: in its directory, or, for a hub id `resolve_model` passed through, the one it
    fetched into the Hugging Face cache. None there: {} (a causal LM)."""
    config = Path(path) / "config.json"
    if not config.is_file():
        try:
            from huggingface_hub import hf_hub_download

            config = Path(hf_hub_download(path, "config.json", local_files_only=True))
        except Exception:  # noqa: BLE001  (not a hub id, or not cached: loading the model will say why)
            return {}
    return dict(json.loads(config.read_text(encoding="utf-8")))


def load_model(path: str, torch_dtype: torch.dtype, trust_remote_code: bool) -> tuple[Any, Kind]:
    """The model at `path` with the class its config names, in eval mode."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForTokenClassification

    kind = checkpoint_kind(path)
    if kind == "remote-head" and not trust_remote_code:
        raise ConfigError("trust_remote_code", "set (--trust-remote-code) to load a model whose head is its own code "
                                               "(auto_map in its config.json)", path)
    auto = {"causal": AutoModelForCausalLM, "token-classification": AutoModelForTokenClassification,
            "remote-head": AutoModel}[kind]
    model = auto.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    return model.eval(), kind


def check_reads(kind: Kind, candidates: Sequence[str]) -> None:
    """A protocol that reads next-token candidates needs a causal LM; one that reads a head needs a head."""
    if candidates and kind != "causal":
        raise ConfigError("model", "a causal LM, to read next-token candidates from", kind)
    if not candidates and kind == "causal":
        raise ConfigError("model", "a model with a classification head (token classification, or its own head "
                                   "with --trust-remote-code) for this protocol", "a causal LM")


def tokens_and_positions(tokenizer: Any, request: ReadRequest) -> tuple[list[int], list[int]]:
    """The token ids the request's pieces encode to, and the index of the token each mark reads."""
    ids: list[int] = []
    spans: list[tuple[int, int]] = []  # character span of each token in the joined text; (-1, -1) for added ones
    if request.prepend_bos and tokenizer.bos_token_id is not None:
        ids.append(tokenizer.bos_token_id)
        spans.append((-1, -1))
    start = 0
    for piece in request.pieces:
        encoded = tokenizer(piece, add_special_tokens=request.add_special_tokens, return_offsets_mapping=True)
        for token, (a, b) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
            ids.append(token)
            spans.append((start + a, start + b) if b > a else (-1, -1))
        start += len(piece)
    positions = []
    for mark in request.marks:
        # The token holding character mark-1; when a tokenizer folds that character into a later token, the last
        # token ending before the mark.
        holding = [i for i, (a, b) in enumerate(spans) if a <= mark - 1 < b]
        before = [i for i, (a, b) in enumerate(spans) if 0 <= b <= mark and b > a]
        if not holding and not before:
            raise ValueError(f"no token before character {mark} of the text to read")
        positions.append(holding[0] if holding else before[-1])
    return ids, positions


def candidate_ids(tokenizer: Any, candidates: Sequence[str]) -> list[int]:
    """Each candidate's single token id (a candidate that is not one token cannot be read from one position)."""
    out = []
    for c in candidates:
        ids = tokenizer(c, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ConfigError("candidate", "a string the model's tokenizer encodes to exactly one token", c)
        out.append(ids[0])
    return out


@torch.inference_mode()
def read(model: Any, kind: Kind, tokenizer: Any, requests: Sequence[ReadRequest], device: torch.device,
         max_batch: int) -> list[list[list[float]]]:
    """Answer each request from one forward pass; up to `max_batch` texts per pass, right-padded (the pad never
    reaches a real token: causal attention and the attention mask keep it out)."""
    for request in requests:  # a protocol read from the wrong kind of model fails before any forward pass
        check_reads(kind, request.candidates)
    prepared = [tokens_and_positions(tokenizer, r) for r in requests]
    out: list[list[list[float]]] = []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(requests), max_batch):
        batch = prepared[start:start + max_batch]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (ids, _) in enumerate(batch):
            input_ids[b, : len(ids)] = torch.tensor(ids)
            mask[b, : len(ids)] = 1
        result = model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
        logits = (result.logits if hasattr(result, "logits") else result[0]).float()  # (B, T, labels or vocab)
        for b, (request, (_, positions)) in enumerate(zip(requests[start:start + max_batch], batch, strict=True)):
            at = logits[b, positions]  # (marks, labels or vocab)
            if request.candidates:
                at = at[:, candidate_ids(tokenizer, request.candidates)]
            out.append(torch.log_softmax(at, dim=-1).cpu().tolist())
    return out
