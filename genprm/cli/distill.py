"""`genprm distill ...`: build a verifier, one stage per command (each flag a field of the stage's config)."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import typer

from genprm.cli.common import app
from genprm.cli.flags import command
from genprm.distill.real import RealConfig
from genprm.distill.stage_configs import CorruptConfig, DistillEvalConfig, FilterStageConfig, McConfig, SynthConfig
from genprm.distill.train_config import TrainConfig
from genprm.distributed.ray_config import RayConfig

distill_app = typer.Typer(no_args_is_help=True, help="Build a verifier: labelled solutions -> teacher critiques -> "
                                                       "filter -> fine-tune -> evaluate.")
app.add_typer(distill_app, name="distill")


def log(message: str) -> None:
    print(f"genprm distill: {message}", file=sys.stderr, flush=True)


@command(distill_app, stage=CorruptConfig)
def corrupt(stage: CorruptConfig) -> None:
    """Labelled solutions: inject realistic errors into correct GSM8K solutions, or read gold step labels."""
    from genprm.distill.stages import corrupt_file

    corrupt_file(stage.path, stage.out, stage.format, stage.rows, stage.seed, stage.error_fraction, log=log)


@command(distill_app, stage=McConfig)
def mc(stage: McConfig) -> None:
    """Monte-Carlo step labels: K completions per prefix by a policy model (Math-Shepherd / GenPRM RPE)."""
    from genprm.distill.stages import mc_file

    options = asdict(stage)
    mc_file(options.pop("path"), options.pop("out"), log=log, **options)


@command(distill_app, panels={"ray": "Ray"}, stage=SynthConfig, ray=RayConfig)
def synth(stage: SynthConfig, ray: RayConfig) -> None:
    """A teacher critiques each step in the verifier's own protocol; its code runs in the sandbox."""
    from genprm.distill.stages import synth_file

    if ray.enabled:
        from genprm.distributed import SynthJob, synth_on_ray

        job = SynthJob(stage.teacher, stage.protocol, stage.code_timeout, stage.max_tokens, stage.batch_size,
                       stage.backend, stage.base_url)
        synth_on_ray(stage.path, stage.out, job, ray, limit=stage.limit, log=log)
        return
    synth_file(stage.path, stage.out, stage.teacher, stage.protocol, stage.code_timeout, stage.max_tokens,
               stage.batch_size, limit=stage.limit, backend=stage.backend, base_url=stage.base_url, log=log)


@command(distill_app, name="filter", stage=FilterStageConfig)
def filter_command(stage: FilterStageConfig) -> None:
    """Keep well-formed critiques that agree with the gold labels (and with MC labels); print what each rule removed."""
    from genprm.distill.stages import filter_file

    filter_file(stage.path, stage.out, stage.protocol, stage.max_critique_chars, stage.max_dialogue_chars,
                stage.balance, stage.seed, log=log)


@command(distill_app, stage=TrainConfig)
def train(stage: TrainConfig) -> None:
    """Fine-tune on kept critiques (LoRA or full), loss only on what the verifier writes."""
    from genprm.distill.train import train as run_training

    summary = run_training(stage, log=log)
    log(f"trained {summary['steps']} steps; loss {summary['first_loss']} -> {summary['final_loss']}, held-out "
        f"{summary['eval_loss']}; load it with `genprm verify --model {stage.output_dir}`")


@command(distill_app, stage=RealConfig)
def real(stage: RealConfig) -> None:
    """Training records from real labelled solutions (PRM800K, Mr-Ben, MathCritique): human verdicts and
    explanations as critiques and/or direct verdicts, mixed by per-source weights."""
    from genprm.distill.stages import real_file

    real_file(log=log, **asdict(stage))


@command(distill_app, name="eval", stage=DistillEvalConfig)
def eval_command(stage: DistillEvalConfig) -> None:
    """Base vs shipped vs new on held-out data: ProcessBench F1, step AUROC, outcome AUROC."""
    from genprm.distill.heldout import eval_stage

    eval_stage(stage, log=log)


@dataclass(frozen=True)
class RunArgs:
    config: Path = field(metadata={"help": "TOML file with a table per stage (see configs/).", "argument": True})


@command(distill_app, args=RunArgs)
def run(args: RunArgs) -> None:
    """Run the stages of a config file in order, each skipping work already done."""
    from genprm.distill.pipeline import run_pipeline

    run_pipeline(args.config, log=log)
