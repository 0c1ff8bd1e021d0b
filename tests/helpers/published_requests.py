"""Expected requests of the published verifiers, written out by hand from their authors' code.

For a solution and scripted model outputs, each fixture lists the generation requests (prompt text and stop
strings) the authors' code sends, in order, and the 1-token score requests genprm adds to read a verdict's logprobs.
Where each string comes from is cited beside it. The model's chat template here is plain ChatML (the server's
tokenizer), i.e. what `tokenizer.apply_chat_template` gives for a ChatML model whose eos token is `<|im_end|>`:

GenPRM   github.com/RyanLiu112/GenPRM @590bc94
         src/prm_evaluation/infer_module/genprm_inference.py (GI: sampling constants L11-14, CodeExecutor L35-64,
         GenPRM.get_reward_score, GenPRM._single_inference), src/prm_evaluation/infer_module/prm_evaluate.py (PE: the
         `message['conversation']` built in __main__), src/prm_evaluation/utils/util.py (UT: build_prompt)
ThinkPRM github.com/mukhal/ThinkPRM @214cce9: utils/helper.py (HE: format_verification_cot_for_thinkprm L3-35,
         inference branch L30-33),
         prm/thinkprm_api.py (TA: APIThinkPRMVerifier.__init__ defaults and cot_eval, process_example,
         predict_correctness_batch)
ProcessBench github.com/QwenLM/ProcessBench: code/templates/critique_template.txt (CT), code/run_eval.py (RE)
         (read from the fork ljxzs-jjlzs/ProcessBench @606615c, code/run_eval.py, identical prepare_input_boxed; the
         template text as run_eval.py reads it, `.strip()`ped)

Nothing here imports genprm: the expected strings are independent of genprm's templates.
"""

from __future__ import annotations

# -- chat rendering of a ChatML template ---------------------------------------------------------------------


def chatml(messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def genprm_build_prompt(messages: list[dict[str, str]]) -> str:
    """UT `build_prompt`: the template without a generation prompt, a trailing `eos + "\\n"` (or eos) cut off."""
    prompt = chatml(messages, add_generation_prompt=False)
    eos = "<|im_end|>"
    if prompt.endswith(eos + "\n"):
        return prompt[: -len(eos + "\n")]
    return prompt[: -len(eos)] if prompt.endswith(eos) else prompt


# -- GenPRM ------------------------------------------------------------------------------------------------------

# PE, the `message['conversation']` system prompts (analyze or verify / neither).
GENPRM_SYSTEM = "You are a math teacher. Your task is to review and critique the paragraphs in solution step by step."
GENPRM_DIRECT_SYSTEM = ("You are a math teacher. Your task is to review and critique the paragraphs in solution "
                        "directly. Output your judgement in the format of `\\boxed{Yes}` if the paragraph is correct, "
                        "or `\\boxed{No}` if the paragraph is incorrect.")
# GI `_single_inference` defaults (also PE's argparse defaults): analyze_template, verify_template, output_template.
ANALYZE = "<analyze>\nLet's analyze the Paragraph {cur_step} step by step: "
VERIFY = "<verify>\nLet's use python code to find any potential error:\n```python\n"
OUTPUT = "<output>\n**Judgement**: $\\boxed"
# GI stage 1 stop; stage 2 stops with verify and execute; stage 2 stop otherwise and in the fall-back.
ANALYZE_STOPS = ["</analyze>\n"]
CODE_STOPS = ["\n```\n", "</output>\n"]
OUTPUT_STOPS = ["</output>\n"]


def code_output(output: str) -> str:
    """GI: `code_content = f"[Code Output]\\n\\n```\\n{code_output}\\n```\\n"`."""
    return f"[Code Output]\n\n```\n{output}\n```\n"


TRAIN = {"problem": "A train travels 60 km in 1.5 hours. What is its average speed in km/h?",
         "steps": ["Average speed is distance divided by time: 60 / 1.5.",
                   "60 / 1.5 = 30, so the speed is 30 km/h."]}


def genprm_code_fixture() -> dict:
    """GenPRM analyze + verify + execute on TRAIN. Step 2's code uses step 1's variables: CodeExecutor keeps one
    namespace per solution (GI `CodeExecutor.__init__`, PE creates one executor per sample)."""
    p, (s1, s2) = TRAIN["problem"], TRAIN["steps"]
    a1, a2 = ANALYZE.format(cur_step=1), ANALYZE.format(cur_step=2)
    # scripted model outputs (what the server generates; it cuts at the stop string, which the client keeps)
    out1 = "The paragraph uses speed = distance / time, which is right.\n</analyze>\n"
    code1 = "distance = 60\ntime = 1.5\nprint(distance / time)\n```\n"
    fin1 = ("The code gives 40.0, consistent with the method.\n</verify>\n<output>\n**Judgement**: $\\boxed{Yes}$\n"
            "</output>\n")
    out2 = "60 / 1.5 is 40, not 30.\n</analyze>\n"
    code2 = "print(distance / time == 30)\n```\n"
    fin2 = "The paragraph is wrong.\n</verify>\n<output>\n**Judgement**: $\\boxed{No}$\n</output>\n"
    # PE: the first user turn is problem + "\n" + paragraph 1; GI/PE: each request is build_prompt(dialogue) + text.
    conv = [{"role": "system", "content": GENPRM_SYSTEM}, {"role": "user", "content": p + "\n" + s1}]
    p1 = genprm_build_prompt(conv)
    cur = a1 + out1 + VERIFY
    req = [{"prompt": p1 + a1, "stop": ANALYZE_STOPS, "max_tokens": 2048},  # GI stage 1
           {"prompt": p1 + cur, "stop": CODE_STOPS}]  # GI stage 2, request 2
    cur += code1 + code_output("40.0")  # GI: execute the last ```python block, append its output
    req.append({"prompt": p1 + cur, "stop": CODE_STOPS})
    score1 = {"prompt": p1 + cur + fin1[: fin1.index("Yes}")], "score": True}  # genprm's 1-token request at `Yes`
    # PE: the assistant turn is the whole output path (outputs[0]); paragraph 2 is the next user turn.
    conv += [{"role": "assistant", "content": cur + fin1}, {"role": "user", "content": s2}]
    p2 = genprm_build_prompt(conv)
    cur2 = a2 + out2 + VERIFY
    req2 = [{"prompt": p2 + a2, "stop": ANALYZE_STOPS, "max_tokens": 2048}, {"prompt": p2 + cur2, "stop": CODE_STOPS}]
    cur2 += code2 + code_output("False")
    req2.append({"prompt": p2 + cur2, "stop": CODE_STOPS})
    score2 = {"prompt": p2 + cur2 + fin2[: fin2.index("No}")], "score": True}
    logprobs = [{"Yes": -0.2, "No": -1.9, "Maybe": -4.0}, {"Yes": -2.5, "No": -0.1}]
    return {"solution": TRAIN, "completions": [out1, code1, fin1, out2, code2, fin2], "logprobs": logprobs,
            "requests": [*req, score1, *req2, score2],
            # GI `get_reward_score`: P(Yes)/(P(Yes)+P(No)) of logprobs that vLLM V0 reports at temperature 0.6
            "scores": [("Yes", "No", 0.6, logprobs[0]), ("Yes", "No", 0.6, logprobs[1])]}


def genprm_fallback_fixture() -> dict:
    """GenPRM when the verify stage runs out of rounds (GI `time_limit=3` generations): the analysis is kept,
    `</analyze>\\n` and the output opening are appended, and 20 tokens are generated (GI, the `else` branch)."""
    problem = "What is 7 * 8?"
    step = "7 * 8 = 54."
    a1 = ANALYZE.format(cur_step=1)
    out1 = "7 * 8 is 56, so 54 is wrong.\n</analyze>\n"
    # each later round opens its own block (GI runs the *last* ```python block of the text)
    codes = ["print(7 * 8)\n```\n", "Again:\n```python\nprint(7 * 8 == 54)\n```\n",
             "Once more:\n```python\nprint(56 - 54)\n```\n"]
    outputs = ["56", "False", "2"]
    fin = "{No}$\n</output>\n"
    p1 = genprm_build_prompt([{"role": "system", "content": GENPRM_SYSTEM},
                              {"role": "user", "content": problem + "\n" + step}])
    cur = a1 + out1 + VERIFY
    req = [{"prompt": p1 + a1, "stop": ANALYZE_STOPS, "max_tokens": 2048}]
    for code, output in zip(codes, outputs, strict=True):
        req.append({"prompt": p1 + cur, "stop": CODE_STOPS})
        cur += code + code_output(output)
    # GI: `analyze_start + output1.text.split('</analyze>')[0] + '</analyze>\n' + output_start`, left_tokens = 20
    forced = a1 + out1.split("</analyze>")[0] + "</analyze>\n" + OUTPUT
    req.append({"prompt": p1 + forced, "stop": OUTPUT_STOPS, "max_tokens": 20})
    logprobs = [{"Yes": -3.0, "No": -0.05}]
    return {"solution": {"problem": problem, "steps": [step]}, "completions": [out1, *codes, fin],
            "logprobs": logprobs, "requests": [*req, {"prompt": p1 + forced + "{", "score": True}],
            "scores": [("Yes", "No", 0.6, logprobs[0])]}


def genprm_direct_fixture() -> dict:
    """GenPRM's direct variant (PE without --analyze/--verify): its own system prompt; each paragraph's request is
    the dialogue + output_template, stopped at `</output>\\n` (GI stage 2, `not execute` branch)."""
    p, (s1, s2) = TRAIN["problem"], TRAIN["steps"]
    fin1, fin2 = "{Yes}$\n</output>\n", "{No}$\n</output>\n"
    conv = [{"role": "system", "content": GENPRM_DIRECT_SYSTEM}, {"role": "user", "content": p + "\n" + s1}]
    p1 = genprm_build_prompt(conv)
    conv += [{"role": "assistant", "content": OUTPUT + fin1}, {"role": "user", "content": s2}]
    p2 = genprm_build_prompt(conv)
    logprobs = [{"Yes": -0.3, "No": -1.4}, {"Yes": -1.2, "No": -0.4}]
    return {"solution": TRAIN, "completions": [fin1, fin2], "logprobs": logprobs,
            "requests": [{"prompt": p1 + OUTPUT, "stop": OUTPUT_STOPS}, {"prompt": p1 + OUTPUT + "{", "score": True},
                         {"prompt": p2 + OUTPUT, "stop": OUTPUT_STOPS}, {"prompt": p2 + OUTPUT + "{", "score": True}],
            "scores": [("Yes", "No", 0.6, logprobs[0]), ("Yes", "No", 0.6, logprobs[1])]}


# -- ThinkPRM ----------------------------------------------------------------------------------------------------

# HE `format_verification_cot_for_thinkprm`: instruction_template (`.strip()`ped) with the default _instruction.
THINKPRM_INSTRUCTION = ("Review and critique each step in the proposed solution to determine whether each step is "
                        "correct. If the solution is incomplete, only verify the provided steps.")
PENCILS = {"problem": "Tom has 3 boxes with 12 pencils each. He gives away 10 pencils. How many pencils are left?",
           # a step already labelled and padded: TA `process_example` strips "Step N:" and whitespace
           "steps": ["Step 1: 3 * 12 = 36 pencils in total.", "  36 - 10 = 24 pencils are left. ",
                     "So Tom has 24 pencils."]}


def thinkprm_prompt() -> str:
    # TA `process_example` (process_verifier=True): `re.sub(r'Step \d+:', '', step).strip()` (written out here),
    # then "Step {i}: " + step, joined by "\n"
    solution = "\n".join(f"Step {i}: {s}" for i, s in enumerate(["3 * 12 = 36 pencils in total.",
                                                                  "36 - 10 = 24 pencils are left.",
                                                                  "So Tom has 24 pencils."], start=1))
    content = ("You are given a math problem and a proposed step-by-step solution:\n\n[Math Problem]\n\n"
               f"{PENCILS['problem']}\n\n[Solution]\n\n{solution}\n\n{THINKPRM_INSTRUCTION}")
    # HE inference branch: generation prompt + "\nLet's verify step by step:"
    return chatml([{"role": "user", "content": content}], add_generation_prompt=True) + "\nLet's verify step by step:"


# TA `cot_eval`: stop_patterns = ["Is the solution correct?", tokenizer.eos_token, "</think>"] + [f"Step {max+1}:"];
# genprm leaves out the eos token (the server stops at it anyway). The prompt's labels go up to 3.
THINKPRM_STOPS = ["Is the solution correct?", "</think>", "Step 4:"]
PREDECISION = "\nIs the solution correct? "  # TA predecision_string


def thinkprm_fixture(rounds: int) -> dict:
    """ThinkPRM process verification of PENCILS; with rounds=2, TA's sequential scaling: the first round's chain,
    then `trigger_phrases[0]` ("Let me double check"), then a second round with the same stops. SGLang cuts stop
    strings from the generated text; the decision prompt is chain + predecision_string."""
    prompt = thinkprm_prompt()
    round1 = ("\nStep 1: 3 boxes of 12 pencils make 36. The step is \\boxed{correct}\n"
              "Step 2: 36 - 10 = 26, not 24. The step is \\boxed{incorrect}\nIs the solution correct? No")
    chain = round1[: round1.index("Is the solution correct?")]
    completions, requests = [round1], [{"prompt": prompt, "stop": THINKPRM_STOPS, "max_tokens": 8172}]
    if rounds == 2:
        chain += "Let me double check"
        round2 = "\nStep 2: 36 - 10 is 26. The step is \\boxed{incorrect}\nIs the solution correct? no"
        requests.append({"prompt": prompt + chain, "stop": THINKPRM_STOPS, "max_tokens": 8172})
        completions.append(round2)
        chain += round2[: round2.index("Is the solution correct?")]
    decision = {"yes": -1.6, "no": -0.3}
    step1, step2 = {"correct": -0.05, "incorrect": -3.2}, {"correct": -2.0, "incorrect": -0.2}
    at1 = chain.index("\\boxed{correct}") + len("\\boxed{")
    at2 = chain.rindex("\\boxed{incorrect}") + len("\\boxed{")  # a later round's verdict replaces an earlier one
    requests += [{"prompt": prompt + chain + PREDECISION, "score": True},  # TA gen("decision", choices=[yes, no])
                 {"prompt": prompt + chain[:at1], "score": True}, {"prompt": prompt + chain[:at2], "score": True}]
    return {"solution": PENCILS, "completions": completions, "logprobs": [decision, step1, step2],
            "requests": requests,
            # steps 1 and 2 from their verdicts; step 3 has none: the decision, softmax(logprobs / 1.0)[yes] (TA)
            "scores": [("correct", "incorrect", 1.0, step1), ("correct", "incorrect", 1.0, step2),
                       ("yes", "no", 1.0, decision)]}


# -- ProcessBench critic -----------------------------------------------------------------------------------------

def critic_prompt(problem: str, steps: list[str]) -> str:
    # RE `prepare_input_boxed`: <paragraph_i> tags from 0, "\n\n"-joined and stripped; CT filled with format()
    tagged = "".join(f"<paragraph_{i}>\n{s}\n</paragraph_{i}>\n\n" for i, s in enumerate(steps)).strip()
    content = ("The following is a math problem and a solution (split into paragraphs, enclosed with tags and "
               f"indexed from 0):\n\n[Math Problem]\n\n{problem}\n\n[Solution]\n\n{tagged}\n\nYour task is to "
               "review and critique the solution paragraph by paragraph. Once you identify an error in a paragraph, "
               "return the index of the paragraph where the earliest error occurs. Otherwise, return the index of -1 "
               "(which typically denotes \"not found\").\n\nPlease put your final answer (i.e., the index) in "
               "\\boxed{}.")
    # RE `apply_chat_template`: add_generation_prompt=True
    return chatml([{"role": "user", "content": content}], add_generation_prompt=True)


def critic_fixture(samples: int) -> dict:
    """The critic on TRAIN: one answer (greedy, RE without --use_voting), or `samples` answers that vote (RE
    `Counter(preds).most_common(1)`, preds = last \\boxed{...} of each)."""
    prompt = critic_prompt(TRAIN["problem"], TRAIN["steps"])
    answers = ["Paragraph 0 is right. Paragraph 1: 60 / 1.5 is 40, not 30.\n\n\\boxed{1}",
               "Both look fine at first, \\boxed{0} no wait.\n\n\\boxed{-1}",
               "The error is in paragraph 1. \\boxed{1}"][:samples]
    return {"solution": TRAIN, "completions": answers, "logprobs": [],
            "requests": [{"prompt": prompt, "stop": None, "max_tokens": 8192}] * samples,
            "prediction": 1}
