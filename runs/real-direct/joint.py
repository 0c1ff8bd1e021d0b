"""Join the scored files of both eval processes into one table (only sets both models finished)."""
import shutil
import sys
from pathlib import Path

from genprm.config import VerifierConfig
from genprm.data import load_solutions
from genprm.distill.evaluate import evaluate_models, gsm8k_heldout, prmbench
from genprm.distill.real import mrben_split

out = Path("runs/real/eval")
new = Path("runs/real/eval-new/distilled")
(out / "distilled").mkdir(parents=True, exist_ok=True)
for f in new.glob("*.jsonl"):
    shutil.copy(f, out / "distilled" / f.name)
split = mrben_split("../shared/data/real/mrben_math.jsonl", 0.1, 0.2, 0)
P = "../shared/data/prmbench/"
files = [P + f"prm800k_test_p1_4o_{c}.jsonl" for c in ("circular", "confidence", "counterfactual", "deception",
         "domain_inconsistency", "missing_condition", "redundency", "step_contradiction")]
files.append(P + "prm_test_p12_multi_solutions.jsonl")
every = {"gsm8k-heldout": gsm8k_heldout("../shared/data/gsm8k/train.jsonl", (7000, 7473), 48),
         "gsm8k-real": load_solutions("bench/data/gsm8k_real_labelled.jsonl", "steps"),
         "prmbench": prmbench(files, 48)[0], "mrben-heldout": split["test"][:30]}
models = {"shipped": "genprm-smollm2-135m-lora", "distilled": sys.argv[1]}


def done(tag: str, name: str, n: int) -> bool:
    p = out / tag / f"{name}.jsonl"
    return p.exists() and sum(1 for line in p.open() if line.strip()) >= n


sets = {k: v for k, v in every.items() if all(done(t, k, len(v)) for t in models)}
print("sets scored by both:", list(sets), file=sys.stderr)
config = VerifierConfig(mode="direct", max_tokens=8, batch_size=16, prompt="verdict")
table = evaluate_models(models, sets, out, config, log=lambda m: print(m, file=sys.stderr), dev=split["dev"][:30],
                        code_evidence=True)
print((out / "metrics.md").read_text())
