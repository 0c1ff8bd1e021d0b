"""Training text = inference text, and the loss mask token by token."""

from __future__ import annotations

from helpers.distill_samples import WRONG
from helpers.scripted_backend import ScriptedBackend

from genprm.config import VerifierConfig
from genprm.distill.dialogue import render_with_spans, tokenize_with_labels
from genprm.distill.teachers import SymbolicTeacher
from genprm.verifier import Verifier


class _ChatTemplateBackend(ScriptedBackend):
    """The scripted backend, but rendering with the real model's chat template (as HFBackend does)."""

    def __init__(self, tokenizer, generations, logprobs) -> None:
        super().__init__(generations, logprobs)
        self.tokenizer = tokenizer

    def chat(self, messages, add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)


def _script(critiques, protocol) -> tuple[list[str], list[tuple[float, float]]]:
    """What a model would generate to reproduce the teacher's critiques through the real verification loop."""
    generations, logprobs = [], []
    for c in critiques:
        text = c.text
        if c.code_runs:
            head, rest = text.split(protocol.code_open, 1)
            code_part = rest[: rest.index(protocol.code_close) + len(protocol.code_close)]
            after = text.split(protocol.code_output(c.code_runs[0].stdout.rstrip("\n"), "ok"), 1)[1]
            generations += [head + protocol.code_open, code_part, after]
        else:
            generations.append(text)
        logprobs.append((-0.1, -3.0) if c.verdict else (-3.0, -0.1))
    return generations, logprobs


def test_training_text_is_what_the_verifier_sends_and_generates(tokenizer, protocol, sandbox) -> None:
    critiques = SymbolicTeacher(protocol, sandbox).critique_many([WRONG])[0][:2]  # up to the first error
    generations, logprobs = _script(critiques, protocol)
    backend = _ChatTemplateBackend(tokenizer, generations, logprobs)
    verifier = Verifier(backend, VerifierConfig(mode="code", batch_size=1), sandbox=sandbox)
    solution = WRONG.__class__(problem=WRONG.problem, steps=WRONG.steps[:2], id="w")
    result = verifier.verify(solution)
    assert [v.verdict for v in result.steps] == [True, False]
    text, spans = render_with_spans(tokenizer, protocol, WRONG.problem, WRONG.steps, critiques)
    # The verifier's last scoring request is the whole dialogue up to step 2's verdict prefix; the training text
    # continues it with the verdict word (and the chat template's end of turn).
    last_score = [c for c in backend.calls if hasattr(c, "candidates")][-1]
    assert text.startswith(last_score.prompt + protocol.negative)
    first_prompt = backend.calls[0].prompt
    assert text.startswith(first_prompt) and first_prompt.endswith("<|im_start|>assistant\n")


def test_loss_mask_token_by_token(tokenizer, protocol, sandbox) -> None:
    critiques = SymbolicTeacher(protocol, sandbox).critique_many([WRONG])[0][:2]
    text, spans = render_with_spans(tokenizer, protocol, WRONG.problem, WRONG.steps, critiques)
    enc = tokenize_with_labels(tokenizer, text, spans)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert len(enc["input_ids"]) == len(enc["labels"]) == len(offsets)
    # Where every character belongs: prompt (0), trained critique (1), sandbox output block (2).
    owner = [0] * len(text)
    for a, b in spans:
        owner[a:b] = [1] * (b - a)
    cursor = 0
    for c in critiques:
        for run in c.code_runs:
            block = protocol.code_output(run.stdout.rstrip("\n"), run.status)
            at = text.index(block, cursor)
            assert set(owner[at:at + len(block)]) == {0}  # never trained
            owner[at:at + len(block)] = [2] * len(block)
            cursor = at + len(block)
    seen = {0: 0, 1: 0, 2: 0}
    for token, label, (start, end) in zip(enc["input_ids"], enc["labels"], offsets, strict=True):
        kinds = set(owner[start:end])
        if kinds == {1}:
            assert label == token, repr(text[start:end])
        elif kinds <= {0, 2}:
            assert label == -100, repr(text[start:end])
        seen[owner[start]] += 1
    assert all(seen.values())  # the dialogue has all three kinds of token
    trained = tokenizer.decode([t for t in enc["labels"] if t != -100])
    assert "The output says False: 48+24 is 72, not 82." in trained and "```output" not in trained
    assert "Problem:" not in trained and "4 * 3" not in trained  # no prompt, no few-shot answer
    # Both verdicts carry loss: " Yes" after step 1 and " No" after step 2, right after the verdict prefix.
    yes, no = tokenizer(" Yes", add_special_tokens=False)["input_ids"][0], tokenizer(" No", add_special_tokens=False)[
        "input_ids"][0]
    labelled = [t for t in enc["labels"] if t != -100]
    assert labelled.count(yes) >= 1 and labelled.count(no) >= 1
