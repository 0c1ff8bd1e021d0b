"""The symbolic teacher: claims parsed from step text, checked by SymPy code run in the real sandbox."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers.distill_samples import RIGHT, WRONG

from genprm.claims import find_claims
from genprm.distill.teachers import SymbolicTeacher, split_segments
from genprm.types import CodeRun


@pytest.mark.parametrize(("step", "expected"), [
    ("Natalia sold 48/2 = 24 clips in May.", [("48/2", "24")]),
    ("Working 50 minutes, she earned 0.2 x 50 = $10.", [("0.2*50", "10")]),
    ("Betty needs 100 - 50 - 30 - 15 = $5 more.", [("100-50-30-15", "5")]),
    ("He pays 1,200 + 300 = $1,500 in total.", [("1200+300", "1500")]),
    ("20% of them: 50 * 20% = 10 left.", [("50*(20/100)", "10")]),
    ("She has 12 x 2 = 24 and 24 + 6 = 30 apples.", [("12*2", "24"), ("24+6", "30")]),
    ("The answer is 72.", []),
    ("She has three boxes.", []),
])
def test_find_claims(step: str, expected: list[tuple[str, str]]) -> None:
    assert [(c.expr, c.value) for c in find_claims(step)] == expected


def test_symbolic_teacher_finds_the_wrong_step_with_sandboxed_code(sandbox, protocol) -> None:
    right, wrong = SymbolicTeacher(protocol, sandbox).critique_many([RIGHT, WRONG])
    assert [c.verdict for c in right] == [True, True, True]
    assert [c.verdict for c in wrong] == [True, False, True]
    bad = wrong[1]
    assert bad.code_runs[0].status == "ok" and bad.code_runs[0].stdout.strip() == "72 False"
    assert bad.text.startswith('The step says: "Natalia sold 48+24 = 82 clips altogether in April and May." '
                               "It calculates 48+24 = 82. Let me check it.")
    assert "The output says False: 48+24 is 72, not 82. The step is wrong." in bad.text
    assert bad.text.endswith(protocol.verdict_prefix)
    # The output block is the only untrained piece, and it is exactly what the verifier would insert.
    untrained = [t for t, k in bad.segments if not k]
    assert untrained == [protocol.code_output("72 False", "ok")]
    code = 'from sympy import nsimplify\nprint(nsimplify("48+24"), abs(nsimplify("48+24") - 82) < 0.01)'
    assert f"```python\n{code}\n```" in bad.text
    # The answer step is checked in code too: 82 is what the previous steps found, so it is consistent.
    assert wrong[2].code_runs[0].stdout.strip() == "True"


def test_every_critique_restates_its_step_before_it_branches(sandbox, protocol) -> None:
    """A step with no calculation and one with a calculation open with the same words: the step, copied."""
    solution = replace(RIGHT, steps=("She has three boxes.", *RIGHT.steps))
    critiques = SymbolicTeacher(protocol, sandbox).critique_many([solution])[0]
    assert critiques[0].text == f'The step says: "She has three boxes." It has no calculation to check.\n' \
                                f"{protocol.verdict_prefix}"
    assert critiques[0].verdict and not critiques[0].code_runs
    assert critiques[1].text.startswith('The step says: "Natalia sold 48/2 = 24 clips in May." It calculates')


def test_symbolic_teacher_never_reads_the_gold_label(sandbox, protocol) -> None:
    teacher = SymbolicTeacher(protocol, sandbox)
    with_label = teacher.critique_many([WRONG])[0]
    without = teacher.critique_many([replace(WRONG, label=None, step_labels=None)])[0]
    assert [c.text for c in with_label] == [c.text for c in without]


def test_split_segments_cuts_out_the_output_blocks(protocol) -> None:
    run = CodeRun(code="print(1)", status="ok", stdout="1\n")
    critique = ("Check.\n```python\nprint(1)\n```" + protocol.code_output("1", "ok") + "Fine.\n"
                + protocol.verdict_prefix)
    segments = split_segments(protocol, critique, [run])
    assert [k for _, k in segments] == [True, False, True]
    assert "".join(t for t, _ in segments) == critique


def test_backend_teacher_writes_through_the_real_verification_loop(hf_backend, protocol, sandbox) -> None:
    from genprm.config import VerifierConfig
    from genprm.distill.teachers import BackendTeacher
    from genprm.verifier import Verifier

    config = VerifierConfig(protocol="stepcheck", mode="code", max_tokens=24, batch_size=2, claim_check=False)
    verifier = Verifier(hf_backend, config, sandbox=sandbox)
    [critiques] = BackendTeacher(verifier).critique_many([RIGHT])
    assert len(critiques) == len(RIGHT.steps)
    for c in critiques:
        assert c.text.endswith(protocol.verdict_prefix)  # reached or forced, the turn ends at the question
        assert 0.0 <= c.score <= 1.0 and c.verdict == (c.score >= 0.5)
        outputs = [t for t, trained in c.segments if not trained]
        assert len(outputs) == len(c.code_runs)  # every sandbox output block, and only those, is untrained
