"""`genprm distill ...`: thin typer commands over `genprm.distill.stages` (registered in genprm/cli.py)."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from genprm.distill.train_config import TrainConfig
from genprm.distributed import flags as ray_flags

distill_app = typer.Typer(no_args_is_help=True, help="Build a verifier: labelled solutions -> teacher critiques -> "
                                                       "filter -> fine-tune -> evaluate.")


def _log(message: str) -> None:
    print(f"genprm distill: {message}", file=sys.stderr, flush=True)


@distill_app.command()
def corrupt(
    path: Annotated[Path, typer.Argument(help="GSM8K rows {question, answer}, or any labelled file with --format.")],
    out: Annotated[Path, typer.Option(help="Labelled solutions (JSONL).")] = Path("runs/distill/labelled.jsonl"),
    format: Annotated[str, typer.Option("--format", help="gsm8k: inject errors; steps, prmbench, trl: keep "
                                                         "their gold labels.")] = "gsm8k",
    rows: Annotated[str | None, typer.Option(help="start:end row range (keep evaluation rows out).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of which rows get an error and which error.")] = 0,
    error_fraction: Annotated[float, typer.Option(help="Share of solutions that get an error.")] = 0.5,
) -> None:
    """Labelled solutions: inject realistic errors into correct GSM8K solutions, or read gold step labels."""
    from genprm.distill.stages import corrupt_file

    corrupt_file(path, out, format, rows, seed, error_fraction, log=_log)


@distill_app.command()
def mc(
    path: Annotated[Path, typer.Argument(help="Labelled solutions with gold answers (from corrupt).")],
    out: Annotated[Path, typer.Option(help="The same solutions with meta.mc_label.")] = Path("runs/distill/mc.jsonl"),
    policy: Annotated[str | None, typer.Option(help="Policy model (default: the default model).")] = None,
    k_samples: Annotated[int, typer.Option(help="Completions per prefix.")] = 4,
    rule: Annotated[str, typer.Option(help="hard (any completion right) or rpe (relative progress).")] = "hard",
    rpe_threshold: Annotated[float, typer.Option(help="rpe: least v_k / v_(k-1) of a correct step.")] = 0.5,
    max_new_tokens: Annotated[int, typer.Option(help="Token budget of one completion.")] = 256,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    backend: Annotated[str, typer.Option(help="Policy's backend: hf, vllm, or openai (a served model: --policy "
                                              "is its name).")] = "hf",
    base_url: Annotated[str | None, typer.Option(help="openai backend: the server, e.g. "
                                                      "http://127.0.0.1:8000/v1.")] = None,
    batch_size: Annotated[int, typer.Option(help="Completions generated together.")] = 8,
) -> None:
    """Monte-Carlo step labels: K completions per prefix by a policy model (Math-Shepherd / GenPRM RPE)."""
    from genprm.distill.stages import mc_file

    mc_file(path, out, policy, k_samples, rule, rpe_threshold, max_new_tokens, seed, backend=backend,
            base_url=base_url, batch_size=batch_size, log=_log)


@distill_app.command()
def synth(
    path: Annotated[Path, typer.Argument(help="Labelled solutions (from corrupt or mc).")],
    out: Annotated[Path, typer.Option(help="Critiques (JSONL, appended; re-runs skip done ids).")] = Path(
        "runs/distill/synth.jsonl"),
    teacher: Annotated[str, typer.Option(help="symbolic (SymPy, no LLM), default (the default model), or a model: "
                                              "a directory / hub id, or a served model's name (--backend "
                                              "openai).")] = "symbolic",
    prompt: Annotated[str, typer.Option(help="Protocol the critiques are written in.")] = "stepcheck",
    code_timeout: Annotated[float, typer.Option(help="Seconds one code block may run.")] = 5.0,
    max_tokens: Annotated[int, typer.Option(help="Model teacher: token budget of one critique.")] = 256,
    batch_size: Annotated[int, typer.Option(help="Model teacher: critiques generated together.")] = 8,
    limit: Annotated[int | None, typer.Option(help="Critique at most this many solutions.")] = None,
    backend: Annotated[str, typer.Option(help="Model teacher's backend: hf, vllm, or openai (a served model: "
                                              "--teacher is its name).")] = "hf",
    base_url: Annotated[str | None, typer.Option(help="openai backend: the server, e.g. "
                                                      "http://127.0.0.1:8000/v1.")] = None,
    use_ray: ray_flags.UseRay = False,
    ray_address: ray_flags.Address = None,
    replicas: ray_flags.Replicas = ray_flags.DEFAULTS.replicas,
    gpus_per_replica: ray_flags.GpusPerReplica = ray_flags.DEFAULTS.gpus_per_replica,
    cpus_per_replica: ray_flags.CpusPerReplica = ray_flags.DEFAULTS.cpus_per_replica,
    rows_per_task: ray_flags.RowsPerTask = ray_flags.DEFAULTS.rows_per_task,
) -> None:
    """A teacher critiques each step in the verifier's own protocol; its code runs in the sandbox."""
    from genprm.distill.stages import synth_file

    ray = ray_flags.ray_config(use_ray, ray_address, replicas, gpus_per_replica, cpus_per_replica, rows_per_task)
    if ray:
        from genprm.distributed import SynthJob, synth_on_ray

        job = SynthJob(teacher, prompt, code_timeout, max_tokens, batch_size, backend, base_url)
        synth_on_ray(path, out, job, ray, limit=limit, log=_log)
        return
    synth_file(path, out, teacher, prompt, code_timeout, max_tokens, batch_size, limit=limit, backend=backend,
               base_url=base_url, log=_log)


@distill_app.command(name="filter")
def filter_command(
    path: Annotated[Path, typer.Argument(help="Critiques (from synth).")],
    out: Annotated[Path, typer.Option(help="Kept critiques (JSONL).")] = Path("runs/distill/kept.jsonl"),
    prompt: Annotated[str, typer.Option(help="Protocol the critiques were written in.")] = "stepcheck",
    max_critique_chars: Annotated[int, typer.Option(help="Longest critique kept.")] = 1200,
    max_dialogue_chars: Annotated[int, typer.Option(help="Longest kept dialogue (steps + critiques).")] = 6000,
    balance: Annotated[bool, typer.Option(help="As many correct as erroneous solutions.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the balancing subsample.")] = 0,
) -> None:
    """Keep well-formed critiques that agree with the gold labels (and with MC labels); print what each rule removed."""
    from genprm.distill.stages import filter_file

    filter_file(path, out, prompt, max_critique_chars, max_dialogue_chars, balance, seed, log=_log)


def _train(**options: Any) -> None:
    from genprm.distill.train import train

    summary = train(TrainConfig(**options), log=_log)
    _log(f"trained {summary['steps']} steps; loss {summary['first_loss']} -> {summary['final_loss']}, held-out "
         f"{summary['eval_loss']}; load it with `genprm verify --model {options['output_dir']}`")


def _train_signature() -> inspect.Signature:
    """One option per TrainConfig field, same name and help: the CLI and the config cannot drift apart."""
    params = []
    for f in dataclasses.fields(TrainConfig):
        kind = {"bool": bool, "int": int, "float": float, "str": str, "str | None": str | None}[str(f.type)]
        if f.name == "data":
            annotation = Annotated[str, typer.Argument(help=f.metadata["help"])]
            params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation))
            continue
        flag = f"--{f.name.replace('_', '-')}"
        decls = [f"{flag}/--no-{f.name.replace('_', '-')}"] if kind is bool else [flag]
        annotation = Annotated[kind, typer.Option(*decls, help=f.metadata["help"])]  # type: ignore[valid-type]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                        default=f.default))
    return inspect.Signature(params)


_train.__signature__ = _train_signature()  # type: ignore[attr-defined]
_train.__doc__ = "Fine-tune on kept critiques (LoRA or full), loss only on what the verifier writes."
distill_app.command(name="train")(_train)


def _real(**options: Any) -> None:
    from genprm.distill.stages import real_file

    real_file(log=_log, **options)


def _real_signature() -> inspect.Signature:
    """One option per RealConfig field (its name, its help)."""
    from genprm.distill.real import RealConfig

    kinds = {"int": int, "float": float, "str": str}
    params = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                annotation=Annotated[kinds[str(f.type)],  # type: ignore[valid-type]
                                                     typer.Option(f"--{f.name.replace('_', '-')}",
                                                                  help=f.metadata["help"])])
              for f in dataclasses.fields(RealConfig)]
    return inspect.Signature(params)


_real.__signature__ = _real_signature()  # type: ignore[attr-defined]
_real.__doc__ = ("Training records from real labelled solutions (PRM800K, Mr-Ben, MathCritique): human verdicts and "
                 "explanations as critiques and/or direct verdicts, mixed by per-source weights.")
distill_app.command(name="real")(_real)


@distill_app.command(name="eval")
def eval_command(
    model: Annotated[str | None, typer.Option(help="The distilled model or adapter directory.")] = None,
    out_dir: Annotated[Path, typer.Option(help="Scored results, metrics.json and metrics.md.")] = Path(
        "runs/distill/eval"),
    base: Annotated[bool, typer.Option(help="Also evaluate the base (default) model.")] = True,
    gsm8k_train: Annotated[str, typer.Option(help="GSM8K train rows for the held-out injected set "
                                                  "('' to skip).")] = "../shared/data/gsm8k/train.jsonl",
    heldout_rows: Annotated[str, typer.Option(help="Row range of the held-out set: disjoint from the training "
                                                   "rows.")] = "7000:7473",
    model_solutions: Annotated[str, typer.Option(help="GSM8K model solutions ('' to skip).")] = (
        "../shared/data/gsm8k/model_solutions.jsonl"),
    prmbench: Annotated[list[str] | None, typer.Option(help="PRMBench files (repeat the flag).")] = None,
    real_labelled: Annotated[str, typer.Option(help="Real solutions with the earliest wrong step labelled "
                                                    "('' to skip).")] = "bench/data/gsm8k_real_labelled.jsonl",
    n: Annotated[int, typer.Option(help="Solutions per generated set (PRMBench: half; the labelled set is used "
                                        "whole).")] = 60,
    mode: Annotated[str, typer.Option(help="Verifier mode.")] = "code",
    max_tokens: Annotated[int, typer.Option(help="Critique token budget per step.")] = 160,
    batch_size: Annotated[int, typer.Option(help="Critiques generated together.")] = 8,
    threads: Annotated[int, typer.Option(help="torch threads (0 = $OMP_NUM_THREADS if set, else every core this "
                                              "process may use).")] = 0,
    dtype: Annotated[str, typer.Option(help="Weight dtype: auto (bfloat16 where the device runs it natively, else "
                                            "float32), bfloat16, float16, float32.")] = "auto",
    mrben: Annotated[str, typer.Option(help="Mr-Ben math: its held-out split by question is a set ('' to "
                                            "skip).")] = "",
    mrben_dev_fraction: Annotated[float, typer.Option(help="Mr-Ben questions in the dev (calibration) split.")] = 0.1,
    mrben_test_fraction: Annotated[float, typer.Option(help="Mr-Ben questions held out for evaluation.")] = 0.2,
    split_seed: Annotated[int, typer.Option(help="Seed of the Mr-Ben split (the real stage's split_seed).")] = 0,
    mrben_n: Annotated[int, typer.Option(help="Cap on the Mr-Ben held-out and dev sets (0 = all).")] = 0,
    prmbench_n: Annotated[int, typer.Option(help="PRMBench records (0: n // 2).")] = 0,
    shipped: Annotated[bool, typer.Option(help="Also evaluate the shipped default verifier.")] = False,
    calibrate: Annotated[bool, typer.Option(help="Also score at a threshold tuned on Mr-Ben's dev split.")] = False,
    prompt: Annotated[str, typer.Option(help="Protocol (default: the verifier's default).")] = "",
    code_evidence: Annotated[bool, typer.Option(help="Also score each model combined with the symbolic SymPy "
                                                     "check (a refuted calculation scores 0).")] = False,
) -> None:
    """Base vs shipped vs new on held-out data: ProcessBench F1, step AUROC, outcome AUROC."""
    from genprm.distill.evaluate import eval_stage

    eval_stage(model, str(out_dir), base, gsm8k_train, heldout_rows, model_solutions, prmbench, real_labelled, n,
               mode, max_tokens, batch_size, threads=threads, dtype=dtype, mrben=mrben,
               mrben_dev_fraction=mrben_dev_fraction, mrben_test_fraction=mrben_test_fraction, split_seed=split_seed,
               mrben_n=mrben_n, prmbench_n=prmbench_n, shipped=shipped, calibrate=calibrate, prompt=prompt,
               code_evidence=code_evidence, log=_log)


@distill_app.command()
def run(config: Annotated[Path, typer.Argument(help="TOML file with a table per stage (see configs/).")]) -> None:
    """Run the stages of a config file in order, each skipping work already done."""
    from genprm.distill.run import run_pipeline

    run_pipeline(config, log=_log)
