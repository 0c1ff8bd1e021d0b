import pytest

from genprm.errors import ConfigError
from genprm.protocols import builtin_protocols, load, parse_messages


def test_builtin_protocols_load_and_declare_their_vocabulary():
    assert {"stepcheck", "stepcheck-onepass", "genprm", "thinkprm", "processbench-critic"} <= set(builtin_protocols())
    g = load("stepcheck")
    assert (g.kind, g.positive, g.negative, g.verdict_prefix) == ("per_step", " Yes", " No",
                                                                   "Is the step correct (Yes/No)?")
    t = load("stepcheck-onepass")
    assert (t.kind, t.positive, t.negative, t.verdict_prefix, t.verdict_suffix) == (
        "one_pass", "correct", "incorrect", "\\boxed{", "}")


def test_stepcheck_rendering():
    p = load("stepcheck")
    pre = p.training_preamble()
    assert pre[0]["role"] == "system" and [m["role"] for m in pre[1:]] == ["user", "assistant"] * 2
    assert "```python" in pre[2]["content"] and "Is the step correct (Yes/No)? Yes" in pre[2]["content"]
    first = p.messages("step_turn", "What is 2+2?", ["2+2=4", "So 4."], 0)
    assert first == [{"role": "user", "content": "Problem: What is 2+2?\n\nStep 1: 2+2=4"}]
    second = p.messages("step_turn", "What is 2+2?", ["2+2=4", "So 4."], 1)
    assert second == [{"role": "user", "content": "Step 2: So 4."}]
    assert p.text("code_output", "4\n", "ok") == "\n```output\n4\n\n```\n"
    assert p.text("code_output", "", "timeout") == "\n```output\n(timeout, no output)\n```\n"
    assert p.text("forced_verdict", 3) == "\nIs the step correct (Yes/No)?"


def test_stepcheck_onepass_rendering():
    p = load("stepcheck-onepass")
    [turn] = p.messages("solution_turn", "Q?", ["a", "b"])
    assert turn == {"role": "user", "content": "Problem: Q?\n\nSolution:\nStep 1: a\nStep 2: b"}
    assert p.text("forced_verdict", 1) == "\nStep 2: The step is \\boxed{"


USER_TEMPLATE = """
{%- set kind = "per_step" -%}
{%- set verdict_prefix = "Verdict:" -%}
{%- set positive = " Right" -%}
{%- set negative = " Wrong" -%}
{%- set verdict_suffix = "" -%}
{%- set code_open = "<code>" -%}
{%- set code_close = "</code>" -%}
{%- macro preamble() -%}<<<system>>>
Judge steps.
{%- endmacro -%}
{%- macro step_turn(problem, steps, index) -%}{{ problem }} / {{ steps[index] }}{%- endmacro -%}
{%- macro code_output(stdout, status) -%}<out>{{ stdout }}</out>{%- endmacro -%}
{%- macro forced_verdict(index) -%}{{ "\\n" }}Verdict:{%- endmacro -%}
"""


def test_a_users_template_by_path(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text(USER_TEMPLATE)
    p = load(str(path))
    assert (p.name, p.positive, p.negative, p.code_open) == ("mine", " Right", " Wrong", "<code>")
    assert p.training_preamble() == [{"role": "system", "content": "Judge steps."}]
    assert p.messages("step_turn", "P", ["s"], 0) == [{"role": "user", "content": "P / s"}]


def test_template_missing_a_declaration_is_a_config_error(tmp_path):
    path = tmp_path / "broken.jinja"
    path.write_text(USER_TEMPLATE.replace('{%- set positive = " Right" -%}', ""))
    with pytest.raises(ConfigError, match="positive"):
        load(str(path))


def test_unknown_protocol_name():
    with pytest.raises(ConfigError, match="protocol must be one of"):
        load("nonexistent")
    with pytest.raises(ConfigError, match="existing .jinja file"):
        load("/no/such/file.jinja")


def test_parse_messages():
    assert parse_messages("<<<system>>>\nA\n<<<user>>>\nB\nC\n") == [
        {"role": "system", "content": "A"}, {"role": "user", "content": "B\nC"}]
    assert parse_messages("plain", default_role="user") == [{"role": "user", "content": "plain"}]


def test_a_bad_kind_is_a_config_error(tmp_path):
    path = tmp_path / "odd.jinja"
    path.write_text(USER_TEMPLATE.replace('"per_step"', '"sideways"'))
    with pytest.raises(ConfigError, match="kind"):
        load(str(path))


def test_protocols_without_training_text_say_so_in_one_line():
    with pytest.raises(ConfigError, match="render training dialogues"):
        load("thinkprm").training_dialogue("P", ["a"], [[("ok", True)]])
