"""Cutting a trainer's text into a problem and steps: the rules `--step-split` names, and OpenRLHF's queries."""

from __future__ import annotations

import pytest

from genprm.errors import ConfigError
from genprm.serve.steps import check_rule, fit_steps, problem_of, split_query, split_steps

CHATML_PROMPT = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n" \
                "<|im_start|>assistant\n"


@pytest.mark.parametrize(("rule", "text", "steps"), [
    ("blank", "a = 1\nso b = 2\n\n  \nc = 3\n", ["a = 1\nso b = 2", "c = 3"]),
    ("lines", "a = 1\n\nb = 2\n", ["a = 1", "b = 2"]),
    ("step", "Let us go.\nStep 1: a = 1\nStep 2. b = 2\n**Step 3:** c", ["Let us go.", "Step 1: a = 1",
                                                                         "Step 2. b = 2", "**Step 3:** c"]),
    ("regex:\\s*;\\s*", "a = 1; b = 2 ;c = 3", ["a = 1", "b = 2", "c = 3"]),
    ("auto", "Step 1: a\nmore of a\nStep 2: b", ["Step 1: a\nmore of a", "Step 2: b"]),
    ("auto", "a\nmore of a\n\nb", ["a\nmore of a", "b"]),
    ("auto", "a\nb\n", ["a", "b"]),
    ("auto", "  \n", []),
])
def test_split_rules(rule, text, steps):
    assert split_steps(text, rule) == steps


@pytest.mark.parametrize("rule", ["paragraphs", "regex:(", "regex:x*"])
def test_a_bad_rule_is_a_config_error(rule):
    with pytest.raises(ConfigError, match="step_split"):
        check_rule(rule)


def test_fit_steps_joins_the_tail_and_cuts_long_steps():
    assert fit_steps(["a", "b", "c", "d"], 2, 100) == ["a", "b\nc\nd"]
    assert fit_steps(["abcdef"], 4, 3) == ["abc"]


def test_openrlhf_query_with_its_prompt():
    query = CHATML_PROMPT + "2 + 2 = 4.\nThe answer is 4.<|im_end|><|endoftext|>"
    assert split_query(query, CHATML_PROMPT) == ("What is 2 + 2?", "2 + 2 = 4.\nThe answer is 4.")


def test_openrlhf_query_without_prompts_uses_the_chat_turns():
    query = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 1 + 1?<|eot_id|>" \
            "<|start_header_id|>assistant<|end_header_id|>\n\n1 + 1 = 2.<|eot_id|>"
    assert split_query(query) == ("What is 1 + 1?", "1 + 1 = 2.")


def test_plain_text_prompts():
    assert split_query("Q: 1 + 1?\nA: 2", "Q: 1 + 1?\n") == ("Q: 1 + 1?", "A: 2")
    assert problem_of("<s>What is 3 - 1?</s>") == "What is 3 - 1?"
