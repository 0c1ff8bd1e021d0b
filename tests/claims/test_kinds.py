"""Each kind of claim on real steps from the data, right and wrong, checked in the real sandbox.

Sources: GSM8K train gold (../shared/data/gsm8k/train.jsonl, annotations stripped), the 120 labelled real GSM8K
solutions (bench/data/gsm8k_real_labelled.jsonl), PRM800K phase-1 steps with their human rating, Mr-Ben and
MathCritique MATH (../shared/data/real/).
"""

from __future__ import annotations

import pytest

from genprm.claims import find_claims


@pytest.mark.parametrize(("step", "kinds"), [
    ("Natalia sold 48/2 = 24 clips in May.", ["arithmetic"]),  # GSM8K gold
    ("Levi collected half of 22 = 11", ["percent"]),  # GSM8K gold
    ("The winner rotated 404 objects because 404 > 400", ["compare"]),  # GSM8K gold
    ("Then divide the number of white trucks by the number of vehicles and multiply by 100% to find the percentage of "
     "vehicles that are white trucks: 15 trucks / 90 vehicles * 100% = 16.66...%, which rounds up to 17%.",
     ["rounding"]),  # GSM8K gold: the truncated "16.66..." is not a claim of its own, its rounding is
    ("Since there are 18 sides to this polygon, the sum of all the angles is $180(18-2) = 180(16) = 2880$.",
     ["latex", "latex"]),  # PRM800K, rated +1
    ("That simplifies to $-8x - 8 = 0$, so $x = -1$.", ["substitute"]),  # PRM800K, rated +1
    ("$\\frac{20x^2}{5}$ simplifies to $4x^2$.", ["equivalent"]),  # PRM800K, rated +1
    ("The answer is 72.", []),
])
def test_each_finder_reads_its_kind(step: str, kinds: list[str]) -> None:
    assert [c.kind for c in find_claims(step)] == kinds


@pytest.mark.parametrize("step", [
    "Natalia sold 48/2 = 24 clips in May.",  # GSM8K gold
    "Bea's sales amount to $0.25/glass x 10 glasses = 250 cents.",  # GSM8K gold: dollars to cents
    "So, Bea earned $2.50 - $2.24 = 26 cents more than Dawn.",  # GSM8K gold
    "The second friend pressed on the doorbell 20 times + 1/4 times = 20.25 times.",  # real GSM8K: wrong set-up,
    # right arithmetic: the check confirms the arithmetic and leaves the set-up to the model
    "Mickey runs around the block twice because half of 4 is 2.",  # GSM8K gold
    "Thomas finds out that 1/3 of the guests want to bring a guest of their own, 1/3 of 36 = 12",  # GSM8K gold
    "The winner rotated 404 objects because 404 > 400",  # GSM8K gold
    "Then divide the number of white trucks by the number of vehicles and multiply by 100% to find the percentage of "
    "vehicles that are white trucks: 15 trucks / 90 vehicles * 100% = 16.66...%, which rounds up to 17%.",
    "Since there are 18 sides to this polygon, the sum of all the angles is $180(18-2) = 180(16) = 2880$.",  # PRM800K
    "$j = 4(5)^2 - 2(3)^2 + 5 = 4(25) - 2(9) + 5 = 100 - 18 + 5 = 87$.",  # Mr-Ben, before its first error
    "And $\\sqrt{75}$ simplifies to $5\\sqrt{3}$.",  # PRM800K, rated +1
    "So the expression $\\frac{x+1}{3}+\\frac{2-3x}{2}$ simplifies to $\\frac{-7x+8}{6}$.",  # PRM800K, rated +1
    "That simplifies to $-8x - 8 = 0$, so $x = -1$.",  # PRM800K, rated +1
    "This gives us the equation $1 - k = -8$, so $k = 9$.",  # PRM800K, rated -1 (its error is elsewhere)
])
def test_right_claims_stand(check, step: str) -> None:
    judged = check(step)
    assert judged is not None and judged.ok and judged.checked >= 1, judged


@pytest.mark.parametrize(("step", "says"), [
    # real GSM8K (labelled first error)
    ("If Jerry rolls a 3, then the probability of rolling three is 1 - 1 - 1 - 1 - 1 - 1 - 1 - 1 = 0.01.",
     "1 - 1 - 1 - 1 - 1 - 1 - 1 - 1 is -6, not 0.01"),
    ("The total length of the baguettes is 60 x 2 feet = 120 inches.", "60 x 2 feet is 1440 inches, not 120"),
    # GSM8K gold solutions that are wrong themselves (the data's own slips)
    ("Jerry took 2*8 = 24 hours fixing the broken kitchen counter", "2*8 is 16, not 24"),
    ("She orders 6 croissants at $3.00 each so they cost 6*2.5 = $18.00", "6*2.5 is 15, not 18.00"),
    # MathCritique GSM8K / MATH, verdict wrong
    ("She then slept 8.5 x 31 = 264.5 hours in January.", "8.5 x 31 is 527/2 (about 263.5), not 264.5"),
    ("$956 = 7 \\cdot 136 + 5$", "7 \\cdot 136 + 5 is 957, not 956"),
    ("$5! = 5 \\cdot 4 \\cdot 3 \\cdot 2 \\cdot 1 = 5 \\cdot 2^2 \\cdot 3 \\cdot 1$", "is 120, not 5 \\cdot 2^2"),
    # Mr-Ben, a step before its labelled first error (a slip the annotators passed)
    ("To find the $y$-intercept, we set $x=0$ in $f(x)$. So, $f(0) = \\frac{(0-2)^2-9}{3} = \\frac{5}{3}$.",
     "\\frac{(0-2)^2-9}{3} is -5/3"),
    # PRM800K, rated -1
    ("So now we have $4x^4+12x^3-9x^2+x+3-(-x^2+x+3)$ which simplifies to $4x^4+12x^3-8x^2+2x+6$.",
     "they differ by"),
    ("The probability is $\\frac{5(R-R/3)^3}{R^3}$ which simplifies to $\\frac{5(2R/3)}{R^3}$", "they differ by"),
])
def test_wrong_claims_are_refuted_with_what_sympy_computed(check, step: str, says: str) -> None:
    judged = check(step)
    assert judged is not None and not judged.ok and judged.refuted >= 1
    assert says in judged.reason


def test_the_final_answer_is_checked_against_what_the_steps_computed(check) -> None:
    # GSM8K gold, problem 2,6xx: the steps end with $108, the answer line says 106 (the data's own slip).
    steps = ("Thus, Teddy spends $18 + $20 = $38.", "Therefore, they spend $70 + $38 = $108 in all.")
    judged = check("The answer is 106.", steps)
    assert not judged.ok and judged.reason == "the answer 106 is not the previous steps' result 108"
    assert check("The answer is 108.", steps).ok
    # Real GSM8K: "The answer is 70." after "= 70.25 times" is a rounding, not a refutable claim.
    real = ("So, the total number of doorbell rings was 20 times + 20.25 times + 30 times = 70.25 times.",)
    assert check("The answer is 70.", real).ok


def test_a_claim_sympy_cannot_evaluate_is_left_to_the_model(check, sandbox) -> None:
    from genprm.claims import judge, plan_check

    plan = plan_check("", ["Half of 36 is 18, so we can add $4*18=72$ to our total."], 0)
    assert [c.kind for c in plan.claims] == ["percent", "latex"]
    # A check whose output is cut short judges nothing (the sandbox failed, not the step).
    assert judge(plan, "18 True", "ok").failed
    r = sandbox.run(plan.code)
    assert judge(plan, r.stdout, r.status).ok


def test_a_long_chain_with_no_claim_is_read_at_once() -> None:
    # PRM800K step rated +1: "30! is 2 * 3 * ... * 30" states no "=", and once took hours of regex backtracking.
    import time

    step = "30! is " + " * ".join(str(i) for i in range(2, 31))
    started = time.perf_counter()
    assert find_claims(step) == []
    assert time.perf_counter() - started < 1.0
    assert [c.expr for c in find_claims("So 2 * 3 * 4 = 24, and $ 3 + $ 4 = $7.")] == ["2*3*4", "3+4"]
