"""The new model alone (runs in parallel with the shipped model's eval; a final run of eval.py joins the tables)."""
import sys

from genprm.distill.evaluate import eval_stage

P = "../shared/data/prmbench/"
files = [P + f"prm800k_test_p1_4o_{c}.jsonl" for c in ("circular", "confidence", "counterfactual", "deception",
         "domain_inconsistency", "missing_condition", "redundency", "step_contradiction")]
files.append(P + "prm_test_p12_multi_solutions.jsonl")
eval_stage(model=sys.argv[1], out_dir="runs/real/eval-new", base=False, shipped=False,
           gsm8k_train="../shared/data/gsm8k/train.jsonl", heldout_rows="7000:7473", model_solutions="",
           prmbench_files=files, real_labelled="bench/data/gsm8k_real_labelled.jsonl", n=48, prmbench_n=48,
           mrben="../shared/data/real/mrben_math.jsonl", mrben_n=30, calibrate=True, mode="direct",
           max_tokens=8, batch_size=16, threads=1, prompt="verdict", code_evidence=True,
           log=lambda m: print(m, file=sys.stderr, flush=True))
