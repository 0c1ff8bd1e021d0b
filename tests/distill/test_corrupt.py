"""Error injection: the wrong value is carried through later calculations, labels are the injected step."""

from __future__ import annotations

import random
import re

import pytest

from genprm.data import split_gsm8k
from genprm.distill.corrupt import KINDS, corrupt_gsm8k, inject, safe_eval

QUESTION = ("Julie is reading a 120-page book. Yesterday, she was able to read 12 pages and today, she read twice as "
            "many pages as yesterday. If she wants to read half of the remaining pages tomorrow, how many pages "
            "should she read?")
ANSWER = ("Maila read 12 x 2 = <<12*2=24>>24 pages today.\n"
          "So she was able to read a total of 12 + 24 = <<12+24=36>>36 pages since yesterday.\n"
          "There are 120 - 36 = <<120-36=84>>84 pages left to be read.\n"
          "Since she wants to read half of the remaining pages tomorrow, then she should read 84/2 = <<84/2=42>>42 "
          "pages.\n#### 42")
BETTY_Q = ("Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. Her "
           "parents decided to give her $15 for that purpose, and her grandparents twice as much as her parents. How "
           "much more money does Betty need to buy the wallet?")
BETTY_A = ("In the beginning, Betty has only 100 / 2 = $<<100/2=50>>50.\n"
           "Betty's grandparents gave her 15 * 2 = $<<15*2=30>>30.\n"
           "This means, Betty needs 100 - 50 - 30 - 15 = $<<100-50-30-15=5>>5 more.\n#### 5")


def _calculations(raw: str) -> list[tuple[str, str]]:
    return re.findall(r"<<([^<>=]*)=([^<>]*)>>", raw)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_one_step_and_stays_consistent_after_it(kind: str) -> None:
    question, answer = (BETTY_Q, BETTY_A) if kind == "dropped" else (QUESTION, ANSWER)
    injection = next(i for seed in range(20) if (i := inject(question, answer, kind, random.Random(seed))))
    steps, final = split_gsm8k(injection.raw, "####")
    gold_steps, _ = split_gsm8k(answer, "####")
    assert steps[: injection.step] == gold_steps[: injection.step]  # nothing before the error changes
    assert steps[injection.step] != gold_steps[injection.step]
    lines = injection.raw.splitlines()
    for line in lines[injection.step + 1:-1]:  # every later calculation is right, given the wrong value
        for expr, value in _calculations(line):
            assert safe_eval(expr) == pytest.approx(safe_eval(value), abs=0.01)
    for line in lines[injection.step + 1:-1]:  # and its visible result matches its annotation
        for m in re.finditer(r"<<[^<>=]*=([^<>]*)>>", line):
            assert line[m.end():].startswith(m.group(1))
    if kind != "final":
        last = _calculations(injection.raw)[-1][1]
        assert final == last  # the final answer is the carried-on value


def test_arithmetic_slip_keeps_the_expression_and_changes_the_result() -> None:
    injection = inject(QUESTION, ANSWER, "arithmetic", random.Random(0))
    assert injection is not None
    expr, value = _calculations(injection.raw.splitlines()[injection.step])[0]
    assert safe_eval(expr) != safe_eval(value)


def test_corrupt_is_deterministic_and_labels_the_injected_step() -> None:
    rows = [(i, {"question": QUESTION, "answer": ANSWER}) for i in range(40)]
    first = list(corrupt_gsm8k(rows, seed=3))
    assert first == list(corrupt_gsm8k(rows, seed=3))
    wrong = [s for s in first if s.label >= 0]
    assert 10 <= len(wrong) <= 30  # about half
    for s in wrong:
        assert s.step_labels[s.label] is False and all(s.step_labels[: s.label])
        assert s.meta["error_kind"] in KINDS
    assert all(s.label == -1 and all(s.step_labels) for s in first if s not in wrong)
