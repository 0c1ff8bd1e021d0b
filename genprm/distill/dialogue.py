"""Training text: a critiqued solution rendered exactly as the verifier renders it at inference, plus the character
ranges the student is trained on.

The verifier (the stepcheck protocol's per-step chain) builds the per-step dialogue as: the protocol's preamble,
then per step the protocol's `step_turn` (user) and an assistant turn holding the critique followed by the verdict word,
and renders it with the model's chat template. Built here with the same protocol calls and the same chat template, the
training text of step k's assistant turn is, character for character, the prompt the verifier sends for step k
followed by what it generates (tests/distill/test_dialogue.py checks this against the verifier itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genprm.distill.teachers import Critique
from genprm.protocols import Message, VerificationProtocol


def dialogue(protocol: VerificationProtocol, problem: str, steps: Sequence[str],
             critiques: Sequence[Critique]) -> tuple[list[Message], list[list[tuple[str, bool]]]]:
    """Messages of the dialogue up to the last critiqued step, and each assistant turn's (text, trained) pieces."""
    turns = [[*c.segments, (protocol.verdict_word(c.verdict), c.train_verdict)] for c in critiques]
    return protocol.training_dialogue(problem, steps, turns), turns


def render_with_spans(tokenizer: Any, protocol: VerificationProtocol, problem: str, steps: Sequence[str],
                      critiques: Sequence[Critique]) -> tuple[str, list[tuple[int, int]]]:
    """The chat-template text of the dialogue and the [start, end) character ranges that carry loss: the critiques'
    own words, code and verdicts. The prompt (preamble, few-shot answers, step turns), the chat markup and the
    sandbox's output blocks carry none: the verifier never generates them."""
    messages, turns = dialogue(protocol, problem, steps, critiques)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    spans: list[tuple[int, int]] = []
    # The preamble's few-shot turns come first; the critiqued turns are found after them, in order.
    cursor = len(tokenizer.apply_chat_template(protocol.training_preamble(), tokenize=False,
                                               add_generation_prompt=False))
    for pieces in turns:
        content = "".join(t for t, _ in pieces)
        at = text.find(content, cursor)
        if at < 0:
            raise ValueError("the chat template changed an assistant turn's text; cannot align the loss mask")
        for piece, trained in pieces:
            if trained:
                spans.append((at, at + len(piece)))
            at += len(piece)
        cursor = at
    return text, spans


def tokenize_with_labels(tokenizer: Any, text: str, spans: Sequence[tuple[int, int]]) -> dict[str, list[int]]:
    """input_ids and labels (-100 where no loss): a token is trained when it starts inside a trained range."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    labels = []
    for token, (start, _end) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        trained = any(a <= start < b for a, b in spans)
        labels.append(token if trained else -100)
    return {"input_ids": list(enc["input_ids"]), "labels": labels}
