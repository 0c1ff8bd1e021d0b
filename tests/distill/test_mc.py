"""Monte-Carlo labels: the label rules exactly, and one real (tiny) run through the hf backend."""

from __future__ import annotations

import pytest
from helpers.distill_samples import RIGHT

from genprm.distill.mc import final_answer, label_from_values, mc_label


@pytest.mark.parametrize(("values", "rule", "expected"), [
    ([0.5, 0.5, 0.0, 0.0], "hard", [True, False, False]),
    ([0.5, 0.25, 0.25, 1.0], "hard", [True, True, True]),
    ([0.8, 0.6, 0.1, 0.1], "rpe", [True, False, True]),  # 0.1/0.6 < 0.5: step 2 makes success much less likely
    ([0.0, 0.0, 0.5], "rpe", [False, True]),
])
def test_label_rules(values, rule, expected) -> None:
    assert label_from_values(values, rule, rpe_threshold=0.5) == expected


def test_final_answer() -> None:
    assert final_answer("so 3 + 4 = 7. The answer is 1,200.") == "1200"
    assert final_answer("She has 12 apples and 3 pears") == "3"
    assert final_answer("no numbers") is None


def test_mc_label_with_the_real_model(hf_backend) -> None:
    solution = RIGHT.__class__(**{**RIGHT.__dict__, "answer": "72", "label": None})
    [labelled] = mc_label(hf_backend, [solution], k_samples=1, max_new_tokens=8)
    values = labelled.meta["mc_values"]
    assert len(values) == len(solution.steps) + 1 and all(0.0 <= v <= 1.0 for v in values)
    assert values[-1] == 1.0  # after the last step the solution's own answer (72) is judged: right
    assert labelled.label == labelled.meta["mc_label"]  # no gold label: the MC label is used
