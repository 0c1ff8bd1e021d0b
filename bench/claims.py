"""How precise and how useful is the claim check (genprm/claims/)? Every figure of issue 23's closing note.

    correct-step sets   steps known to be right: claims found and checked per step, steps refuted (each one a false
                        refutation unless the data itself is wrong: they are printed, to be read), time per step
    error sets          ProcessBench F1 / acc_err / acc_ok of the check alone (first refuted step) and beside the
                        default model in direct mode (`genprm verify`'s default: a refuted step scores 0), at 0.5

The checks run in the real sandbox, batched (`Sandbox.run_many`). The model's scores are cached under --out (one
JSONL per set, resumable), so a second run only re-checks.

    python bench/claims.py                          # everything (GSM8K gold is 7,473 solutions: ~10 min)
    python bench/claims.py --correct-n 500 --no-model
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genprm.claims import judge, plan_check  # noqa: E402
from genprm.data import load_solutions, split_gsm8k  # noqa: E402
from genprm.eval.metrics import processbench  # noqa: E402
from genprm.scoring import first_error  # noqa: E402
from genprm.types import Solution  # noqa: E402

# -- defaults ------------------------------------------------------------------------------------------------------
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL = Path(__file__).resolve().parent / "data" / "gsm8k_real_labelled.jsonl"
PRMBENCH_N = 200  # rows, one per file in turn (as `genprm distill eval` and the model card take them)
INJECTED_N = 60  # error-injected GSM8K train rows 7000+ (seed 0, balanced), as the model card's gsm8k-heldout
MRBEN_N = 60  # of Mr-Ben's held-out split (seed 0), as the model card's mrben-heldout


def correct_sets(data: Path, n: int | None) -> dict[str, list[tuple[Solution, list[int]]]]:
    """Each correct-step set as (solution, indices of its steps known right)."""
    from genprm.distill.real import read_mathcritique, read_mrben

    gold = []
    for i, line in enumerate(open(data / "gsm8k" / "train.jsonl")):
        r = json.loads(line)
        steps, _ = split_gsm8k(r["answer"], "####")  # the <<a*b=c>> annotations stripped, as genprm reads GSM8K
        gold.append((Solution(problem=r["question"], steps=tuple(steps), id=f"gsm8k-train-{i}"),
                     list(range(len(steps)))))
    prm = []
    with gzip.open(data / "real" / "prm800k_phase1_train_steps.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            if r["rating"] == 1:
                steps = (*r["prefix"], r["step"])
                prm.append((Solution(problem=r["problem"], steps=steps, id=r["id"]), [len(steps) - 1]))

    def right_steps(solutions: list[Solution]) -> list[tuple[Solution, list[int]]]:
        return [(s, [k for k, ok in enumerate(s.step_labels or ()) if ok is True]) for s in solutions]

    sets = {"gsm8k-train-gold": gold, "prm800k-rated+1": prm,
            "mrben-correct": right_steps(read_mrben(data / "real" / "mrben_math.jsonl")),
            "mathcritique-gsm8k-correct": right_steps(read_mathcritique(data / "real" / "mathcritique_gsm8k.jsonl")),
            "mathcritique-math-correct": right_steps(read_mathcritique(data / "real" / "mathcritique_math.jsonl"))}
    return {k: v[:n] if n else v for k, v in sets.items()}


def error_sets(data: Path) -> dict[str, list[Solution]]:
    from genprm.distill.heldout import gsm8k_heldout, prmbench
    from genprm.distill.real import mrben_split, read_mathcritique

    rng = random.Random(0)
    mrben = mrben_split(data / "real" / "mrben_math.jsonl")["test"]
    return {"gsm8k-real": load_solutions(REAL),
            "gsm8k-injected": gsm8k_heldout(data / "gsm8k" / "train.jsonl", (7000, 7473), INJECTED_N),
            "mrben-heldout": rng.sample(mrben, min(MRBEN_N, len(mrben))),
            "prmbench": prmbench(sorted((data / "prmbench").glob("*.jsonl")), PRMBENCH_N)[0],
            "mathcritique-math": read_mathcritique(data / "real" / "mathcritique_math.jsonl")}


def check(sandbox, items: list[tuple[Solution, list[int]]]) -> Iterator[tuple[Solution, int, object]]:
    """(solution, step, judgement) for every listed step, the checks run in the sandbox in batches."""
    batch = 2000
    for at in range(0, len(items), batch):
        plans = [(s, k, plan_check(s.problem, s.steps, k)) for s, ks in items[at:at + batch] for k in ks]
        codes = [p.code for _, _, p in plans if p.code]
        runs = iter(sandbox.run_many(codes) if codes else [])
        for s, k, p in plans:
            if p.code:
                r = next(runs)
                yield s, k, judge(p, r.stdout, r.status)
            else:
                yield s, k, None


def correct_report(sandbox, sets: dict[str, list[tuple[Solution, list[int]]]], show: int) -> list[dict]:
    rows = []
    for name, items in sets.items():
        started = time.perf_counter()
        steps = with_claims = checked = refuted = 0
        shown = []
        for s, k, j in check(sandbox, items):
            steps += 1
            if j is None:
                continue
            with_claims += 1
            checked += j.checked
            if not j.ok:
                refuted += 1
                shown.append(f"  [{name}] {s.id} step {k + 1}: {s.steps[k][:200]!r}\n      -> {j.reason}")
        wall = time.perf_counter() - started
        rows.append({"set": name, "steps": steps, "steps_with_claims": with_claims, "claims_checked": checked,
                     "refuted": refuted, "refuted_pct": round(100 * refuted / max(steps, 1), 3),
                     "ms_per_step": round(1000 * wall / max(steps, 1), 2)})
        print(json.dumps(rows[-1]), flush=True)
        print("\n".join(shown[:show]), flush=True)
    return rows


def check_scores(sandbox, solutions: list[Solution]) -> dict[str, list[float]]:
    """Per solution, 1 for each step whose claims stand and 0 for each refuted one."""
    scores = {s.id: [1.0] * len(s.steps) for s in solutions}
    for s, k, j in check(sandbox, [(s, list(range(len(s.steps)))) for s in solutions]):
        if j is not None and not j.ok:
            scores[s.id][k] = 0.0
    return scores


def model_scores(solutions: list[Solution], out: Path, threads: int) -> dict[str, list[float]]:
    """The default model's step scores (direct mode, no check), cached in `out`."""
    from genprm.config import VerifierConfig
    from genprm.distill.heldout import verify_set
    from genprm.registry import resolve
    from genprm.verifier import Verifier

    def verifier():
        from genprm.backends.hf import HFBackend

        config = resolve(None, VerifierConfig(claim_check=False, batch_size=16))
        return Verifier(HFBackend(None, max_batch=16, threads=threads), config)

    out.parent.mkdir(parents=True, exist_ok=True)
    made = None

    def once():
        nonlocal made
        made = made or verifier()
        return made

    results = verify_set(once, solutions, out, log=lambda m: print(m, file=sys.stderr, flush=True))
    return {r.solution.id: list(r.step_scores) for r in results}


def f1(solutions: list[Solution], scores: dict[str, list[float]]) -> dict[str, float]:
    labelled = [s for s in solutions if s.label is not None]
    pb = processbench([s.label for s in labelled], [first_error(scores[s.id], 0.5) for s in labelled])
    def r(v: float | None) -> float | None:  # None: no solution of that kind (MathCritique MATH has no right one)
        return None if v is None else round(v, 1)

    return {"f1": r(pb.f1), "acc_err": r(pb.acc_err), "acc_ok": r(pb.acc_ok), "n_err": pb.n_err, "n_ok": pb.n_ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--correct-n", type=int, default=None, help="solutions per correct-step set (default all)")
    parser.add_argument("--no-correct", action="store_true")
    parser.add_argument("--no-model", action="store_true", help="the check alone on the error sets")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-claims"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model-sets", default="", help="comma-separated error sets to run the model on (default all)")
    parser.add_argument("--model-n", type=int, default=None, help="solutions per set the model scores (default all)")
    parser.add_argument("--show", type=int, default=40, help="refuted correct steps printed per set")
    args = parser.parse_args(argv)

    from sandbox import Sandbox

    report: dict = {}
    with Sandbox(workers=2, timeout=5.0) as sandbox:
        if not args.no_correct:
            report["correct"] = correct_report(sandbox, correct_sets(args.data, args.correct_n), args.show)
        report["errors"] = []
        for name, solutions in error_sets(args.data).items():
            started = time.perf_counter()
            checks = check_scores(sandbox, solutions)
            per_step = 1000 * (time.perf_counter() - started) / max(sum(len(s.steps) for s in solutions), 1)
            found = sum(1 for s in solutions if 0.0 in checks[s.id])
            row = {"set": name, "n": len(solutions), "solutions_refuted": found, "ms_per_step": round(per_step, 2),
                   "check": f1(solutions, checks)}
            if not args.no_model and (not args.model_sets or name in args.model_sets.split(",")):
                scored = solutions[: args.model_n] if args.model_n else solutions
                model = model_scores(scored, args.out / f"{name}.jsonl", args.threads)
                row["model_n"] = len(scored)
                row["check (model's solutions)"] = f1(scored, checks)
                row["model"] = f1(scored, model)
                both = {i: [0.0 if c == 0.0 else m for m, c in zip(model[i], checks[i], strict=True)] for i in model}
                row["model+check"] = f1(scored, both)
            report["errors"].append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
