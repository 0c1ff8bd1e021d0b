"""The session's eval run (paths of this machine): python runs/real/eval.py [NEW_MODEL_DIR] [--no-base]."""
import sys

from genprm.distill.evaluate import eval_stage

P = "../shared/data/prmbench/"
files = [P + f"prm800k_test_p1_4o_{c}.jsonl" for c in ("circular", "confidence", "counterfactual", "deception",
         "domain_inconsistency", "missing_condition", "redundency", "step_contradiction")]
files.append(P + "prm_test_p12_multi_solutions.jsonl")
args = [a for a in sys.argv[1:] if not a.startswith("--")]
eval_stage(model=args[0] if args else None, out_dir="runs/real/eval", base="--no-base" not in sys.argv, shipped=True,
           gsm8k_train="../shared/data/gsm8k/train.jsonl", heldout_rows="7000:7473", model_solutions="",
           prmbench_files=files, real_labelled="bench/data/gsm8k_real_labelled.jsonl", n=48, prmbench_n=48,
           mrben="../shared/data/real/mrben_math.jsonl", mrben_n=30, calibrate=True, mode="direct",
           max_tokens=8, batch_size=16, threads=1, prompt="verdict", code_evidence=True,
           log=lambda m: print(m, file=sys.stderr, flush=True))
