"""The verification loop, driven exactly by a scripted backend; code runs in the real sandbox."""

import pytest
from helpers.scripted_backend import ScriptedBackend

from genprm import Solution, Verifier, VerifierConfig
from genprm.backends.base import GenerateRequest, ScoreRequest
from genprm.scoring import verdict_score

SOLUTION = Solution(problem="What is 6 * 7 + 1?", steps=("6 * 7 = 42", "42 + 1 = 44"), id="s1")


@pytest.fixture(scope="module")
def sandbox():
    from sandbox import Sandbox

    with Sandbox(workers=2, timeout=2.0) as sb:
        yield sb


def verifier(backend, sandbox, **config):
    return Verifier(backend, VerifierConfig(**config), sandbox=sandbox)


def test_code_blocks_run_in_the_sandbox_and_their_output_reaches_the_verdict(sandbox):
    backend = ScriptedBackend(
        generations=[
            "The step claims 6 * 7 = 42.\n```python",  # stops at the code fence
            "\nx = 6 * 7\nprint(x)\n```",  # the block, stopped at its closing fence
            "The output is 42. Is the step correct (Yes/No)?",
            "The step claims 42 + 1 = 44.\n```python",
            "\nprint(42 + 1)\n```",
            "43, not 44.\nIs the step correct (Yes/No)?",
        ],
        logprobs=[(-0.1, -2.5), (-3.0, -0.05)],
    )
    r = verifier(backend, sandbox).verify(SOLUTION)
    assert [s.code_runs[0].stdout.strip() for s in r.steps] == ["42", "43"]
    assert all(s.code_runs[0].status == "ok" for s in r.steps)
    assert r.step_scores == pytest.approx([verdict_score(-0.1, -2.5), verdict_score(-3.0, -0.05)])
    assert r.first_error == 1 and r.reward == pytest.approx(min(r.step_scores))
    scores = [c for c in backend.calls if isinstance(c, ScoreRequest)]
    # The sandbox's real output is in the transcript the verdict is read from.
    assert "```output\n42\n```" in scores[0].prompt
    assert scores[0].candidates == (" Yes", " No")
    # Step 2's dialogue continues from step 1's critique and its likelier verdict word.
    assert "The output is 42. Is the step correct (Yes/No)? Yes" in scores[1].prompt
    assert "```output\n43\n```" in scores[1].prompt
    assert not any(s.forced for s in r.steps)


def test_failing_and_runaway_code_is_reported_not_fatal(sandbox):
    backend = ScriptedBackend(
        generations=["```python", "\nwhile True:\n    pass\n```", "Is the step correct (Yes/No)?",
                     "```python", "\n1 / 0\n```", "Is the step correct (Yes/No)?"],
    )
    r = verifier(backend, sandbox, code_timeout=1.0).verify(SOLUTION)
    assert [s.code_runs[0].status for s in r.steps] == ["timeout", "error"]
    assert "ZeroDivisionError" in r.steps[1].code_runs[0].stderr
    assert "ZeroDivisionError" in r.steps[1].critique  # the model is shown the error


def test_verdict_is_forced_when_the_critique_never_reaches_it(sandbox):
    backend = ScriptedBackend(generations=["I am not sure.", "Still thinking"], logprobs=[(-1.0, -2.0)] * 2)
    r = verifier(backend, sandbox, mode="critique").verify(SOLUTION)
    assert [s.forced for s in r.steps] == [1, 1]
    assert r.steps[0].critique == "I am not sure.\nIs the step correct (Yes/No)?"
    # critique mode never stops at a code fence
    assert all(c.stop == ("Is the step correct (Yes/No)?",) for c in backend.calls if isinstance(c, GenerateRequest))


def test_direct_mode_is_one_score_per_step_and_no_generation(sandbox):
    backend = ScriptedBackend(logprobs=[(-0.2, -1.0), (-1.0, -0.2)])
    r = verifier(backend, sandbox, mode="direct").verify(SOLUTION)
    assert not [c for c in backend.calls if isinstance(c, GenerateRequest)]
    scores = [c for c in backend.calls if isinstance(c, ScoreRequest)]
    assert len(scores) == 2 and all(c.prompt.endswith("<assistant>Is the step correct (Yes/No)?") for c in scores)
    assert r.first_error == 1


def test_samples_are_averaged_and_sampled_with_temperature(sandbox):
    backend = ScriptedBackend(generations=["Is the step correct (Yes/No)?"] * 4,
                              logprobs=[(0.0, -1.0), (-1.0, 0.0), (0.0, -2.0), (-2.0, 0.0)])
    r = verifier(backend, sandbox, mode="critique", samples=2, temperature=0.9).verify(SOLUTION)
    gens = [c for c in backend.calls if isinstance(c, GenerateRequest)]
    assert all(c.temperature == 0.9 for c in gens)
    for step in r.steps:
        assert len(step.sample_scores) == 2
        assert step.score == pytest.approx(sum(step.sample_scores) / 2)
    assert sorted(s for step in r.steps for s in step.sample_scores) == pytest.approx(sorted(
        [verdict_score(0.0, -1.0), verdict_score(-1.0, 0.0), verdict_score(0.0, -2.0), verdict_score(-2.0, 0.0)]))


def test_onepass_protocol_reads_one_verdict_per_step_from_one_critique(sandbox):
    backend = ScriptedBackend(
        generations=["Step 1 multiplies.\n```python", "\nprint(6*7)\n```",
                     " Right. Step 1: The step is \\boxed{", " Wrong. Step 2: The step is \\boxed{"],
        logprobs=[(-0.1, -3.0), (-3.0, -0.1)],
    )
    r = verifier(backend, sandbox, protocol="stepcheck-onepass").verify(SOLUTION)
    assert r.first_error == 1 and r.steps[0].code_runs[0].stdout.strip() == "42"
    scores = [c for c in backend.calls if isinstance(c, ScoreRequest)]
    assert scores[0].candidates == ("correct", "incorrect")
    # Step 1's verdict (the likelier word and the suffix) is in the transcript step 2 is judged from.
    assert scores[1].prompt.endswith("Step 1: The step is \\boxed{correct} Wrong. Step 2: The step is \\boxed{")


def test_verify_many_keeps_input_order_and_batches_across_solutions(sandbox):
    solutions = [Solution(problem=f"p{i}", steps=("a", "b"), id=str(i)) for i in range(5)]
    backend = ScriptedBackend(logprobs=[(-0.5, -1.0)] * 10)
    results = verifier(backend, sandbox, mode="direct", batch_size=3).verify_many(solutions)
    assert [r.id for r in results] == [str(i) for i in range(5)]


def test_claim_check_zeroes_a_refuted_step_whatever_the_model_said(sandbox):
    # The model says Yes to both steps; the second step's 42 + 1 = 44 is refuted by SymPy in the sandbox.
    backend = ScriptedBackend(logprobs=[(-0.01, -5.0), (-0.01, -5.0)])
    r = verifier(backend, sandbox, mode="direct", claim_check=True).verify(SOLUTION)
    assert r.step_scores[0] == pytest.approx(verdict_score(-0.01, -5.0))
    assert r.step_scores[1] == 0.0 and r.first_error == 1
    assert "Claim check: 42 + 1 is 43, not 44." in r.steps[1].critique
    assert [run.status for run in r.steps[1].code_runs] == ["ok"] and "43 False" in r.steps[1].code_runs[0].stdout
    # The model's transcript is untouched: step 2 is asked after the model's own verdict word for step 1.
    scores = [c for c in backend.calls if isinstance(c, ScoreRequest)]
    assert "Claim check" not in scores[1].prompt and "</user><assistant>Is the step correct (Yes/No)? Yes" in \
        scores[1].prompt


def test_claim_check_leaves_steps_without_a_claim_to_the_model(sandbox):
    words = Solution(problem="Tom has 3 apples and eats one.", steps=("Tom eats one apple, so two are left.",
                                                                      "The answer is 2."), id="w")
    backend = ScriptedBackend(logprobs=[(-3.0, -0.05), (-0.05, -3.0)])
    r = verifier(backend, sandbox, mode="direct", claim_check=True).verify(words)
    assert r.step_scores == pytest.approx([verdict_score(-3.0, -0.05), verdict_score(-0.05, -3.0)])
    assert r.steps[0].code_runs == () and r.first_error == 0


def test_a_models_genprm_json_sets_its_mode_threshold_and_check_and_flags_win(tmp_path, sandbox):
    import json

    from genprm.registry import resolve

    (tmp_path / "genprm.json").write_text(json.dumps({"protocol": "verdict", "mode": "direct", "threshold": 0.8,
                                                      "claim_check": True}))
    config = resolve(str(tmp_path), VerifierConfig())
    assert (config.protocol, config.mode, config.threshold, config.claim_check) == ("verdict", "direct", 0.8, True)
    flags = resolve(str(tmp_path), VerifierConfig(mode="code", threshold=0.5, claim_check=False))
    assert (flags.mode, flags.threshold, flags.claim_check) == ("code", 0.5, False)
    bare = Verifier(ScriptedBackend(), VerifierConfig(), sandbox=sandbox).config  # no genprm.json: genprm's defaults
    assert (bare.mode, bare.threshold, bare.claim_check) == ("code", 0.5, False)


def test_the_claim_checks_older_genprm_json_key_is_still_read(tmp_path, capsys):
    import json

    from genprm.registry import resolve

    # A genprm.json written before issue 23 (or copied beside merged weights then) names the check arithmetic_check.
    (tmp_path / "genprm.json").write_text(json.dumps({"protocol": "verdict", "mode": "direct", "threshold": 0.5,
                                                      "arithmetic_check": True}))
    assert resolve(str(tmp_path), VerifierConfig()).claim_check is True
    assert "'arithmetic_check' is deprecated: use 'claim_check'" in capsys.readouterr().err
    # Both keys: the current one wins.
    (tmp_path / "genprm.json").write_text(json.dumps({"arithmetic_check": True, "claim_check": False}))
    assert resolve(str(tmp_path), VerifierConfig()).claim_check is False


def test_the_default_model_runs_the_claim_check_unless_told_not_to():
    from genprm.registry import resolve

    assert resolve(None, VerifierConfig()).claim_check is True
    assert resolve(None, VerifierConfig(claim_check=False)).claim_check is False
    assert resolve("SmolLM2-135M-Instruct", VerifierConfig()).claim_check is False  # the base model: genprm's default


@pytest.mark.parametrize(("bad", "needle"), [
    ({"problem": "p", "steps": []}, "no steps"),
    ({"problem": "p", "steps": "1 + 1 = 2"}, "'steps' must be a list of strings"),
    ({"steps": ["a"]}, "no problem"),
    ({"problem": "p", "steps": ["a"], "stpes": 1}, "unknown solution field(s) 'stpes'"),
    ("What is 2 + 2?", "a solution is a Solution or a dict"),
])
def test_the_api_rejects_what_a_user_might_pass_with_one_line(bad, needle, sandbox):
    from genprm.errors import InputError

    v = Verifier(ScriptedBackend(), VerifierConfig(mode="direct"), sandbox=sandbox)
    with pytest.raises(InputError) as e:
        v.verify_many([{"problem": "q", "steps": ["fine"]}, bad])
    assert needle in str(e.value) and "row 2" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError):
        v.verify("p", [])
    with pytest.raises(InputError):
        v.verify("p", "1 + 1 = 2")  # a string is not a list of steps (it would be nine one-character steps)


def test_the_api_takes_dicts_and_solutions_alike(sandbox):
    import math

    script = [(math.log(0.9), math.log(0.1)), (math.log(0.2), math.log(0.8))] * 2
    v = Verifier(ScriptedBackend(logprobs=script), VerifierConfig(mode="direct", batch_size=1), sandbox=sandbox)
    from_dict, from_solution = v.verify_many([{"problem": "p", "steps": ["a", "b"]},
                                              Solution(problem="p", steps=("a", "b"))])
    assert from_dict.step_scores == from_solution.step_scores
    assert from_dict.first_error == 1  # 0-based: the second step
