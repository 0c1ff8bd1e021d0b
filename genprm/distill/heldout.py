"""Base vs distilled, in one run, on data no stage trained on.

Evaluation sets (each built deterministically, so the base model's results from an earlier run are reused):
    gsm8k-heldout   error-injected GSM8K *train* rows from a range disjoint from the synthesis rows (balanced)
    gsm8k-model     real model-written GSM8K test solutions, outcome labels only (is the final answer right?)
    gsm8k-real      real model-written GSM8K test solutions with the earliest wrong step labelled
                    (bench/data/gsm8k_real_labelled.jsonl: 120 solutions, 69 with an error)
    prmbench        PRMBench records (MATH level), gold first error; records whose error index is past the last
                    step are skipped and counted
    mrben-heldout   Mr-Ben's held-out test split by question (`genprm.distill.real.mrben_split`, fixed seed; the
                    `real` stage trains on the train split only)
Models: the base model, the shipped default verifier and the new model, in one run, plus any models `compare` names
(TAG=PATH: e.g. a discriminative PRM beside the generative verifier, each scored by its own genprm.json protocol).
With `calibrate`, each model's threshold is also tuned for F1 on Mr-Ben's dev split (never on an evaluation set) and
every set is scored at it too.
Metrics: ProcessBench protocol (earliest-error exact match: acc_err, acc_ok, F1) where first-error labels exist,
AUROC of step scores against gold step labels, and AUROC of the min-aggregated reward against the outcome.
Scored results are appended to `out_dir/<model tag>/<set>.jsonl`; a re-run verifies only what is missing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genprm.config import VerifierConfig
from genprm.data import load_solutions, read_solutions
from genprm.distill.code_evidence import with_code_evidence
from genprm.distill.corrupt import corrupt_gsm8k
from genprm.distill.stage_configs import DistillEvalConfig
from genprm.errors import ConfigError, InputError
from genprm.eval.benchmarks import tune_threshold
from genprm.eval.metrics import auroc, processbench
from genprm.eval.scored import Scored, load_results
from genprm.eval.table import markdown_table, number
from genprm.jsonl import JsonlWriter, done_ids, read_rows
from genprm.registry import with_fallbacks
from genprm.scoring import first_error
from genprm.types import Solution, VerificationResult


def gsm8k_heldout(path: str | Path, rows: tuple[int, int], n: int, seed: int = 0) -> list[Solution]:
    """`n` error-injected solutions from GSM8K rows [start, end), half erroneous, half correct."""
    records = list(read_rows(path, empty_ok=True))[rows[0]:rows[1]]
    solutions = list(corrupt_gsm8k(enumerate(records, rows[0]), seed=seed))
    wrong = [s for s in solutions if s.label >= 0][: n // 2]
    right = [s for s in solutions if s.label < 0][: n - len(wrong)]
    return [s for pair in zip(wrong, right, strict=False) for s in pair] + wrong[len(right):] + right[len(wrong):]


def gsm8k_model(path: str | Path, n: int) -> list[Solution]:
    """The first `n` model-written solutions (four per problem)."""
    return load_solutions(path, "gsm8k-model")[:n]


def prmbench(paths: Sequence[str | Path], n: int) -> tuple[list[Solution], int]:
    """`n` PRMBench solutions taken in turn from each file (one per error class), and how many were skipped (rows
    with an empty step, errors indexed past the last step)."""
    per_file = [list(read_solutions(p, "prmbench")) for p in paths]
    # Skipped: rows the reader rejects (an empty step) and errors indexed past the last step.
    usable = [[s for s in sols if not isinstance(s, InputError) and (s.label is None or s.label < len(s.steps))]
              for sols in per_file]
    skipped = sum(len(a) - len(b) for a, b in zip(per_file, usable, strict=True))
    out: list[Solution] = []
    for i in range(max((len(u) for u in usable), default=0)):
        for sols in usable:
            if i < len(sols) and len(out) < n:
                out.append(sols[i])
    return out, skipped


def calibrate_threshold(results: Sequence[VerificationResult]) -> float:
    """The threshold with the best ProcessBench F1 on `results` (a dev set): `genprm eval --tune-threshold`'s tuner."""
    return tune_threshold([Scored(r, "dev") for r in results])


def metrics(results: Sequence[VerificationResult], threshold: float = 0.5) -> dict[str, Any]:
    """ProcessBench F1 (where first-error labels exist), step AUROC and outcome AUROC."""
    m: dict[str, Any] = {"n": len(results)}
    labelled = [r for r in results if r.solution.label is not None]
    if labelled:
        pb = processbench([r.solution.label for r in labelled],  # type: ignore[misc]
                          [first_error(r.step_scores, threshold) for r in labelled])
        m.update(f1=pb.f1, acc_err=pb.acc_err, acc_ok=pb.acc_ok, n_err=pb.n_err, n_ok=pb.n_ok)
    scores, gold = [], []
    for r in results:
        for s, ok in zip(r.step_scores, r.solution.step_labels or (), strict=False):
            if ok is not None:
                scores.append(s)
                gold.append(bool(ok))
    if scores:
        m["step_auroc"] = auroc(scores, gold)
    with_outcome = [r for r in results if r.solution.outcome is not None]
    if with_outcome and len({r.solution.outcome for r in with_outcome}) == 2:
        m["outcome_auroc"] = auroc([r.reward for r in with_outcome], [bool(r.solution.outcome) for r in with_outcome])
    m["seconds_per_solution"] = round(sum(r.wall_s for r in results) / max(len(results), 1), 1)
    return m


def verify_set(verifier: Callable[[], Any], solutions: Sequence[Solution], out: Path,
               log: Callable[[str], None] = print) -> list[VerificationResult]:
    """Verify what is not yet in `out` (appended as results arrive, as `genprm verify --out` does) and return every
    result for `solutions`. `verifier` gives the `Verifier`; it is called only when something is left to do."""
    todo = [s for s in solutions if s.id not in done_ids(out)]
    if todo:
        started = time.perf_counter()
        writer = JsonlWriter(out)
        try:
            for i, result in enumerate(verifier().iter_verify(todo), 1):
                writer.write(result)
                if i % 10 == 0 or i == len(todo):
                    log(f"  {out.parent.name}/{out.stem}: {i}/{len(todo)} ({time.perf_counter() - started:.0f}s)")
        finally:
            writer.close()
    results = {r.id: r for r in load_results(out)} if out.exists() else {}
    return [results[s.id] for s in solutions if s.id in results]


def evaluate_models(models: dict[str, str | None], sets: dict[str, list[Solution]], out_dir: str | Path,
                    config: VerifierConfig, log: Callable[[str], None] = print,
                    dev: list[Solution] | None = None, claim_check: bool = False, dtype: str = "auto",
                    threads: int = 0) -> dict[str, Any]:
    """{model tag: {set: metrics}}; also written to out_dir/metrics.json and out_dir/metrics.md. With a `dev` set,
    each model's threshold is tuned on it and every set is also scored at that threshold (keys `*_cal`). With
    `claim_check`, each model is also scored combined with the claim check (tag `<model>+code`). `dtype` and
    `threads` are the transformers backend's (auto: bf16 only where native; every usable core)."""
    out_dir = Path(out_dir)
    # Unset fields get genprm's defaults, not each model's genprm.json: every model's learned verdict is scored
    # alone, at threshold 0.5 (and at its dev-tuned one), with no claim check; `claim_check` adds the check as
    # a variant. The protocol stays each model's own unless `config.protocol` names one.
    config = with_fallbacks(config)
    table: dict[str, Any] = {}
    with contextlib.ExitStack() as outer:
        sandbox = None
        if claim_check:
            from sandbox import Sandbox

            sandbox = outer.enter_context(Sandbox(workers=2, timeout=5.0))
        for tag, model in models.items():
            _evaluate_model(tag, model, sets, out_dir, config, log, dev, sandbox, table, dtype, threads)
    (out_dir / "metrics.json").write_text(json.dumps(table, indent=2))
    (out_dir / "metrics.md").write_text(markdown(table))
    return table


def _evaluate_model(tag: str, model: str | None, sets: dict[str, list[Solution]], out_dir: Path,
                    config: VerifierConfig, log: Callable[[str], None], dev: list[Solution] | None, sandbox: Any,
                    table: dict[str, Any], dtype: str, threads: int) -> None:
    variants = [tag] + ([f"{tag}+code"] if sandbox is not None else [])
    for variant in variants:
        table[variant] = {}
    with contextlib.ExitStack() as stack:

        @functools.cache
        def verifier(model: str | None = model) -> Any:
            """One model load per model, whatever the number of sets, and none when all are scored already."""
            from genprm.backends.hf import HFBackend
            from genprm.verifier import Verifier

            backend = HFBackend(model, dtype=dtype, max_batch=config.batch_size, threads=threads)
            log(f"{tag}: {backend.name} in {backend.dtype_choice}")
            return stack.enter_context(Verifier(backend, config))

        def combined(results: list[VerificationResult], variant: str) -> list[VerificationResult]:
            return results if variant == tag else with_code_evidence(results, sandbox)

        tuned: dict[str, float] = {}
        if dev:
            log(f"{tag} on the calibration split ({len(dev)} solutions)")
            dev_results = verify_set(verifier, dev, out_dir / tag / "dev.jsonl", log)
            for variant in variants:
                tuned[variant] = calibrate_threshold(combined(dev_results, variant))
                log(f"{variant}: threshold tuned on dev = {tuned[variant]:.4f}")
        for name, solutions in sets.items():
            log(f"{tag} on {name} ({len(solutions)} solutions)")
            scored = verify_set(verifier, solutions, out_dir / tag / f"{name}.jsonl", log)
            for variant in variants:
                results = combined(scored, variant)
                table[variant][name] = metrics(results, config.threshold)
                if variant in tuned:
                    at_tuned = metrics(results, tuned[variant])
                    table[variant][name].update(
                        {f"{k}_cal": at_tuned.get(k) for k in ("f1", "acc_err", "acc_ok")},
                        threshold_cal=round(tuned[variant], 4))


def compared_models(specs: Sequence[str]) -> dict[str, str]:
    """{tag: model} from TAG=PATH items (a bare PATH is tagged by its directory's name)."""
    out: dict[str, str] = {}
    for spec in specs:
        tag, _, path = spec.partition("=") if "=" in spec else (Path(spec).name, "", spec)
        if not tag or not path or "+" in tag:  # "+code" marks the with-check variant of a tag
            raise ConfigError("compare", "TAG=PATH (a tag without '+')", spec)
        out[tag] = path
    return out


def markdown(table: dict[str, Any]) -> str:
    # The model card's tables show an undefined number as "-".
    pct, num = functools.partial(number, digits=1, missing="-"), functools.partial(number, digits=3, missing="-")
    calibrated = any("f1_cal" in m for per_model in table.values() for m in per_model.values())
    rows = [[name, tag, m["n"], pct(m.get("f1")), pct(m.get("acc_err")), pct(m.get("acc_ok")),
             num(m.get("step_auroc")), num(m.get("outcome_auroc")),
             *([f"{pct(m.get('f1_cal'))} ({pct(m.get('acc_err_cal'))}/{pct(m.get('acc_ok_cal'))})",
                num(m.get("threshold_cal"))] if calibrated else []), m["seconds_per_solution"]]
            for name in sorted({s for per_model in table.values() for s in per_model})
            for tag, per_model in table.items() if (m := per_model.get(name)) is not None]
    header = ["set", "model", "n", "F1", "acc_err", "acc_ok", "step AUROC", "outcome AUROC",
              *(["F1 at dev threshold (acc_err/acc_ok)", "dev threshold"] if calibrated else []), "s/solution"]
    return markdown_table(header, rows) + "\n"


def eval_stage(config: DistillEvalConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Evaluate the new `model` (the base model when `base`, the shipped default verifier when `shipped`) on the
    sets; returns the table. `mrben_n` caps the Mr-Ben held-out and dev sets (a sample seeded by split_seed; 0 = all).

    `n` sizes the gsm8k-heldout and gsm8k-model sets (prmbench gets `prmbench_n`, else n // 2); gsm8k-real and
    Mr-Ben's held-out split are used whole. `calibrate` tunes each model's threshold on Mr-Ben's dev split."""
    from genprm.distill.stages import parse_rows

    start, end = parse_rows(config.heldout_rows)
    sets: dict[str, list[Solution]] = {}
    if config.gsm8k_train:
        sets["gsm8k-heldout"] = gsm8k_heldout(config.gsm8k_train, (start, end or 10**9), config.n)
    if config.model_solutions:
        sets["gsm8k-model"] = gsm8k_model(config.model_solutions, config.n)
    if config.real_labelled:
        sets["gsm8k-real"] = load_solutions(config.real_labelled, "steps")
    if config.prmbench:
        sets["prmbench"], skipped = prmbench(config.prmbench, config.prmbench_n or config.n // 2)
        log(f"prmbench: skipped {skipped} records (empty step or error index past the last step)")
    dev = None
    if config.mrben:
        from genprm.distill.real import mrben_split

        seed, cap = config.split_seed, config.mrben_n
        split = mrben_split(config.mrben, config.mrben_dev_fraction, config.mrben_test_fraction, seed)
        # A capped set is a seeded sample, not the first rows (the first 30 held-out solutions all have an error).
        def capped(items: list[Solution]) -> list[Solution]:
            return random.Random(seed).sample(items, cap) if 0 < cap < len(items) else items

        sets["mrben-heldout"] = capped(split["test"])
        dev = capped(split["dev"]) if config.calibrate else None
        log(f"mrben: split by question with seed {seed}: {len(split['train'])} train, {len(split['dev'])} "
            f"dev, {len(split['test'])} held out")
    if config.calibrate and not dev:
        raise ConfigError("calibrate", "used with --mrben (its dev split tunes the threshold)", config.calibrate)
    from genprm.backends.weights import BASE_MODEL, DEFAULT_MODEL

    # The base model by name: no name means the default verifier, which is the shipped (distilled) adapter.
    models: dict[str, str | None] = {"base": BASE_MODEL} if config.base else {}
    if config.shipped:
        models["shipped"] = DEFAULT_MODEL
    if config.model:
        models["distilled"] = config.model
    models.update(compared_models(config.compare))
    verifier = VerifierConfig(mode=config.mode, max_tokens=config.max_tokens, batch_size=config.batch_size,
                              **({"protocol": config.protocol} if config.protocol else {}))
    log(f"sets: {', '.join(f'{k} ({len(v)})' for k, v in sets.items())}; heldout rows {config.heldout_rows}, seed 0; "
        f"models: {', '.join(f'{k}={v}' for k, v in models.items())}; mode {config.mode}, protocol "
        f"{verifier.protocol}")
    table = evaluate_models(models, sets, config.out_dir, verifier, log, dev=dev, claim_check=config.claim_check,
                            dtype=config.dtype, threads=config.threads)
    log(markdown(table))
    return table
