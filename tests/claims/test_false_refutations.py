"""Every false refutation found in development, on steps known to be right: none may be refuted again.

Each is quoted from the data (GSM8K train gold, annotations stripped; PRM800K rated +1; Mr-Ben before its first
error; MathCritique verdict right) with the reading that once refuted it. A step here is either confirmed or left
to the model; it is never refuted.
"""

from __future__ import annotations

import pytest

STEPS = [
    # An implicit product: "1/2 (68)" once read as "(68)" (issue 23's example; a held-out GSM8K reference step).
    "Yuri scored 1/2 (68) + 10 = 44 points",
    # GSM8K gold
    "Since 80% of the people were adults, this means 100% - 80% = 20 % were children.",  # "- 80%" read as -0.8
    "That means he can park 16,0000/10=16000 cars",  # a typo'd thousands comma: "0000/10" read alone
    "Each drink uses 1.5 cups because 1/4 cup + 1 and 1/4 cup = 1.5 cups",  # a mixed number's fraction alone
    "There are 15 cups of lemonade in the pitcher because 12 x 1 and 1/4 = 15",
    "To finish an audiobook 30 hours long, listening to 2 hours of each audiobook a day, Fernanda took 30 hours / 2 "
    "hours/day =15 days to finish one audiobook.",  # a rate divides: no hours -> days conversion
    "Then multiply that number by the number of weeks to find how many minutes Jenna tans in the first half of the "
    "month: 60 minutes/week * 2 weeks = 120 minutes",
    "Therefore, his average speed for the entire race was 6 km/ 1/30 hour = 180 kilometers per hour.",  # a/b/c
    "Then divide the number of white trucks by the number of vehicles and multiply by 100% to find the percentage of "
    "vehicles that are white trucks: 15 trucks / 90 vehicles * 100% = 16.66...%, which rounds up to 17%.",
    "Then divide the number of bobby pins by the total number of decorations and multiply by 100% to express the "
    "answer as a percentage: 3 bobby pins / 21 decorations * 100% = 14.28 which rounds down to 14%",
    "Then divide the amount of ginger by the total amount of spice paste and multiply by 100% to find the percentage "
    "of the spice paste that's ginger: 9 teaspoons / 21 teaspoons * 100% = 42.857, which rounds down to 43%",
    "Bea's sales amount to $0.25/glass x 10 glasses = 250 cents.",  # dollars in, cents out
    "So, Bea earned $2.50 - $2.24 = 26 cents more than Dawn.",
    "The pink crayons left in the box are 24 crayons total - 8 red - 6 blue - 4 green = 6 pink crayons.",
    "We know the ratio of Chloe’s wins to Max’s wins is 8/3, so 8/3 = 24/Y.",  # the value is "24/Y", not 24
    "240 students – (40 students + 84 students + 100 students) = 240 students – 224 students = 16 students. So 16 "
    "students don't read novels.",  # the value starts an expression
    "10 pages per day on day 1 * 2 = 20 pages per day for days 2 through 7",  # "day 1" is a label
    "So, every 1% is equal to $7500/75% = $100.",  # a percentage as divisor, read loosely
    "At a 10 percent discount, Jordyn will pay 10/100%*$5=$.50 less for a bag of cherries.",
    "Therefore X = 9 because - 18/-2 = 9",  # "9 because" is not a quantity with a unit
    "She got 4 points/round x 5 rounds = 20 points in the difficult round.",  # "round" is not rounding
    "Since their average was a 74%, this means that (29 * 74 + x) / 30 >= 75.",  # "30 >= 75" is a tail
    "In one day the shop is losing 5 thousand dollars, so during three days, the losses are 5 * 3 = $15,000.",
    "She has 12 x 2 = 24 and 24 + 6 = 30 apples.",
    # Mr-Ben, before the first error
    "Next, let's express the mathematical relationship between x, y, and the given information. We know that x*y = "
    "56, and that 7/x + 14/y = 4.",  # "/x" is a variable, not a unit
    "y < -(-2) + 8 becomes 15 < 10, which is false",  # a comparison called false is not claimed
    "To find the probability of getting 70 or more successes, we calculate the z-score for 70: z = (70-60)/6.45 = "
    "1.55. Consulting a standard normal distribution table, the probability corresponding to z = 1.55 is around "
    "0.939.",  # "around" is not "round"
    "$j = 4(5)^2 - 2(3)^2 + 5 = 4(25) - 2(9) + 5 = 100 - 18 + 5 = 87$.",  # "4(25)" is a product, not a call
    "Therefore, the probability that $x^2 + y^2 + z^2 \\le 1$ is $\\frac{4/3\\pi}{8} = \\frac{1}{6}\\pi$.",  # 4/3\pi
    # PRM800K, rated +1
    "Since there are 18 sides to this polygon, the sum of all the angles is $180(18-2) = 180(16) = 2880$.",
]


@pytest.mark.parametrize("step", STEPS)
def test_a_correct_step_is_never_refuted(check, step: str) -> None:
    judged = check(step)
    assert judged is None or judged.ok, judged.reason


def test_the_answer_may_be_a_rounding_or_in_cents(check) -> None:
    # GSM8K gold: "... = $0.25 more expensive per can", answer 25 (cents).
    steps = ("The grocery store offer is $0.50 a can and the warehouse is $0.25 a can so the grocery store is .50-.25 "
             "= $0.25 more expensive per can",)
    judged = check("The answer is 25.", steps)
    assert judged is not None and judged.ok


def test_a_stated_value_that_is_no_number_is_left_to_the_model():
    from genprm.claims import plan_check

    plan = plan_check("Ann has 20 apples and eats 4.", ["She has 20 - 4 = --16 apples left."], 0, True)
    assert not plan.code and not plan.claims
