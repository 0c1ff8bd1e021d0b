"""The result table: 80 columns, one line per step, the evidence at a glance; -v shows everything. And the dtype a
result records survives its JSON round trip (older files without it still load)."""

from rich.console import Console

from genprm.render import conclusion, print_result
from genprm.types import CodeRun, Solution, StepVerdict, VerificationResult

CRITIQUE = ('The step says: "In total she spends 12 + 10 = 24 dollars." It calculates 12 + 10 = 24. Let me check '
            'it.\n```python\nprint(12 + 10, 12 + 10 == 24)\n```\n```output\n22 False\n```\nThe output says False: '
            '12 + 10 is 22, not 24. The step is wrong.\nIs the step correct (Yes/No)?')


def result(dtype: str = "float32") -> VerificationResult:
    steps = ("The muffins cost 4 * 3 = 12 dollars.", "The cookies cost 5 * 2 = 10 dollars.",
             "In total she spends 12 + 10 = 24 dollars, which is what she pays at the counter before her change.")
    solution = Solution(problem="A bakery sells muffins for $3 each and cookies for $2 each. " * 3, steps=steps,
                        id="bakery")
    verdicts = (
        StepVerdict(0, steps[0], 0.93, True, 'The step says: "..."\nThe product is right.\nIs the step correct '
                                             '(Yes/No)?'),
        StepVerdict(1, steps[1], 0.41, False, "It ran out of tokens before", forced=1),
        StepVerdict(2, steps[2], 0.08, False, CRITIQUE,
                    code_runs=(CodeRun("print(12 + 10, 12 + 10 == 24)", "ok", "22 False\n"),)),
    )
    return VerificationResult(solution=solution, steps=verdicts, first_error=1, reward=0.08, aggregation="min",
                              threshold=0.5, model="genprm-smollm2-135m-lora", protocol="genprm", mode="code",
                              wall_s=3.2, dtype=dtype)


def render(verbose: bool) -> list[str]:
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    print_result(console, result(), verbose)
    return console.export_text().splitlines()


def test_compact_table_fits_80_columns_one_line_per_step_with_the_evidence():
    lines = render(verbose=False)
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if line.startswith("│ ") and line[2:3].isdigit()]
    assert [row[2] for row in rows] == ["1", "2", "3"]  # one line each, though step 3 and its critique are long
    assert "The product is right." in rows[0]  # the conclusion, not the restated step
    assert "wrong ◀*" in rows[1] and any("forced" in line for line in lines)  # the first error; forced
    assert "out: 22 False; The step" in rows[2] and "In total she spends 12 +…" in rows[2]  # cut, not wrapped


def test_verbose_keeps_the_whole_critique_and_says_the_dtype():
    text = " ".join(" ".join(line.strip("│ ").split()) for line in render(verbose=True))
    assert "float32" in text and "12 + 10 is 22, not" in text and "22 False" in text


def test_conclusion_is_the_last_sentence_outside_code_before_the_verdict_question():
    assert conclusion(CRITIQUE) == "The step is wrong."
    assert conclusion("```python\nprint(1)\n```") == "" and conclusion("") == ""


def test_dtype_round_trips_and_old_results_still_load():
    r = result("bfloat16")
    assert VerificationResult.from_dict(r.to_dict()) == r and r.to_dict()["dtype"] == "bfloat16"
    old = r.to_dict()
    del old["dtype"]
    assert VerificationResult.from_dict(old).dtype == ""
