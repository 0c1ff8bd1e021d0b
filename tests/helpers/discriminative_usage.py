"""The discriminative PRMs' published usage, rewritten from their authors' code: token ids sent, positions read,
step scores. Nothing here imports genprm: each function follows its source line by line (cited), so a test can hold
genprm's one-pass reading against it on the same tiny model.

QC  huggingface.co/Qwen/Qwen2.5-Math-PRM-7B, README.md "Quick Start" (card revision 0610740; line numbers of the
    README as stored): make_step_rewards L64-74 (softmax over the head's labels, the [:, 1] column at masked
    tokens), the card's `data["system"]` L90, messages L100-104, apply_chat_template(tokenize=False,
    add_generation_prompt=False) L105-109, tokenizer.encode(conversation_str) L111-114, model(input_ids)[0] L116,
    step_sep_id = tokenizer.encode("<extra_0>")[0] and token_masks L118-120.
MS  peiyi9979/math-shepherd-mistral-7b-prm model card usage (as reproduced across its users' code, e.g. the copies
    found by `step_tag = 'ки'`): good_token "+", bad_token "-", step_tag "ки"; candidate_tokens =
    tokenizer.encode(f"{good_token} {bad_token}")[1:] ("# [648, 387]"); step_tag_id = tokenizer.encode(step_tag)[-1]
    ("# 12902"); input_for_prm = f"{question} {output}"; logits = model(input_id).logits[:, :, candidate_tokens];
    scores = logits.softmax(dim=-1)[:, :, 0]; step_scores = scores[input_id == step_tag_id].
    On Mistral's sentencepiece tokenizer encode("+ -")[1:] is the tokens of "+" and "-" each with its word-start
    marker, i.e. what encoding each alone gives; on the byte-level BPE tokenizer of these tests the pair would not
    split that way, so the fixture takes each candidate's token alone (the ids the authors' line yields on their
    tokenizer).
RF  github.com/RLHFlow/RLHF-Reward-Modeling @5b2a281, math-rm/prm_evaluate.py: select_sample L42-64 (a user turn per
    step, the first `prompt + " " + ans_list[0]`, steps `.strip()`ped L50; an assistant turn "+" after each;
    apply_chat_template(conversation) per prefix L59; logits[:, -3, candidate_tokens], softmax [:, 0] L61-62);
    worker L77-79 (candidate_tokens = [encode('+')[-1], encode('-')[-1]]).
    Chat template: Llama-3-Instruct's (meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json `chat_template`,
    LLAMA3_TEMPLATE below); Llama-3.1's, which RLHFlow's models use, adds a system header before the first turn and
    renders every turn the same way, so the -3 position is the same token.
TR  github.com/huggingface/trl, trl/experimental/prm/prm_trainer.py, PRMTrainer.tokenize_row: prompt and each
    completion tokenized apart with add_special_tokens=False; separator_ids = encode(step_separator,
    add_special_tokens=False) appended to each completion; the label on the last token of each completion+separator;
    bos_token_id (when not None) before the prompt; PRMConfig.step_separator defaults to "\\n". The trained model is
    an AutoModelForTokenClassification (the PRMTrainer docstring); label 1 is a correct step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."  # QC L90
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

Read = tuple[list[int], list[int], list[float]]  # (token ids sent, positions read, step scores)


@torch.no_grad()
def qwen_prm(tokenizer: Any, model: Any, query: str, response: Sequence[str]) -> Read:
    messages = [{"role": "system", "content": QWEN_SYSTEM}, {"role": "user", "content": query},
                {"role": "assistant", "content": "<extra_0>".join(response) + "<extra_0>"}]  # QC L100-104
    conversation = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    ids = tokenizer.encode(conversation)  # QC L111-114
    logits = model(input_ids=torch.tensor([ids]))[0][0]  # QC L116: outputs[0]; (T, 2)
    sep = tokenizer.encode("<extra_0>")[0]  # QC L118
    positions = [i for i, t in enumerate(ids) if t == sep]
    probs = torch.softmax(logits.float(), dim=-1)  # QC L65
    return ids, positions, [float(probs[i, 1]) for i in positions]  # QC L71: column 1


@torch.no_grad()
def math_shepherd(tokenizer: Any, model: Any, question: str, output: str) -> Read:
    candidates = [tokenizer.encode(t, add_special_tokens=False)[-1] for t in ("+", "-")]  # MS (see docstring)
    tag = tokenizer.encode("ки")[-1]
    ids = tokenizer.encode(f"{question} {output}")
    logits = model(torch.tensor([ids])).logits[0][:, candidates]
    scores = logits.float().softmax(dim=-1)[:, 0]
    positions = [i for i, t in enumerate(ids) if t == tag]
    return ids, positions, [float(scores[i]) for i in positions]


@torch.no_grad()
def rlhflow(tokenizer: Any, model: Any, prompt: str, steps: Sequence[str]) -> Read:
    candidates = [tokenizer.encode("+")[-1], tokenizer.encode("-")[-1]]  # RF L77-79
    conversation: list[dict[str, str]] = []
    positions, scores, ids = [], [], []
    for k, step in enumerate(s.strip() for s in steps):  # RF L50
        text = prompt + " " + step if k == 0 else step  # RF L52-55
        conversation += [{"content": text, "role": "user"}, {"content": "+", "role": "assistant"}]
        ids = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=False)  # RF L59
        if hasattr(ids, "input_ids") or isinstance(ids, dict):
            ids = ids["input_ids"]
        logits = model(torch.tensor([ids])).logits[0, -3, candidates]  # RF L61
        scores.append(float(logits.float().softmax(dim=-1)[0]))  # RF L62
        positions.append(len(ids) - 3)
    return list(ids), positions, scores  # the last prefix is the whole conversation


@torch.no_grad()
def trl_token_classification(tokenizer: Any, model: Any, prompt: str, completions: Sequence[str],
                             separator: str = "\n") -> Read:
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    separator_ids = tokenizer.encode(separator, add_special_tokens=False)
    completions_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + separator_ids for c in completions]
    if tokenizer.bos_token_id is not None:
        prompt_ids = [tokenizer.bos_token_id] + prompt_ids
    ids = prompt_ids + [t for c in completions_ids for t in c]
    positions, end = [], len(prompt_ids)
    for c in completions_ids:  # the label sits on the last token of completion + separator
        end += len(c)
        positions.append(end - 1)
    logits = model(input_ids=torch.tensor([ids])).logits[0]
    probs = torch.softmax(logits.float(), dim=-1)
    return ids, positions, [float(probs[i, 1]) for i in positions]
