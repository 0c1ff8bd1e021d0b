"""`genprm distill run cfg.toml`: the stages chained from one config file.

The file has one table per stage, run in this order when present: [corrupt], [mc], [synth], [real], [filter],
[train], [eval]. Each stage's input defaults to the previous stage's output, so a config names only what differs
from the defaults (see configs/distill-gsm8k.toml). Keys are the stage's options (the CLI flags, underscores for
dashes; an option's older name, e.g. code_evidence, is read as its current one); a key that is not an option is an
error, not a silent no-op. Stages skip work already done, so a re-run after an interruption continues.
"""

from __future__ import annotations

import inspect
import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genprm.config import canonical_keys
from genprm.distill import stages
from genprm.errors import ConfigError, InputError

ORDER = ("corrupt", "mc", "synth", "real", "filter", "train", "eval")


def _stage_functions() -> dict[str, Callable[..., Any]]:
    return {"corrupt": stages.corrupt_file, "mc": stages.mc_file, "synth": stages.synth_file,
            "real": stages.real_file, "filter": stages.filter_file, "train": _train_stage, "eval": _eval_stage}


def _train_stage(data: str, log: Callable[[str], None] = print, **options: Any) -> dict[str, Any]:
    from genprm.distill.train import train
    from genprm.distill.train_config import TrainConfig

    # `progress` (the bar, else one JSON line per step) is train()'s argument, not a TrainConfig field.
    progress = options.pop("progress", True)
    return train(TrainConfig(data=data, **options), log=log, progress=progress)


def _eval_stage(log: Callable[[str], None] = print, **options: Any) -> dict[str, Any]:
    from genprm.distill.heldout import eval_stage
    from genprm.distill.stage_configs import DistillEvalConfig

    return eval_stage(DistillEvalConfig(**options), log=log)


def load_config(path: str | Path) -> dict[str, dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML: {e}", str(path)) from None
    unknown = [k for k in config if k not in ("work_dir", *ORDER)]
    if unknown:
        raise ConfigError("config tables", f"among {', '.join(ORDER)} (and work_dir)", unknown)
    return config


def plan(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The stages to run with their full arguments, each input defaulting to the previous output."""
    from genprm.distill.real import RealConfig
    from genprm.distill.stage_configs import DistillEvalConfig
    from genprm.distill.train_config import TrainConfig

    configs: dict[str, type] = {"train": TrainConfig, "real": RealConfig, "eval": DistillEvalConfig}
    work = Path(config.get("work_dir", "runs/distill"))
    defaults = {"corrupt": {"out": work / "labelled.jsonl"}, "mc": {"out": work / "mc.jsonl"},
                "synth": {"out": work / "synth.jsonl"}, "real": {"out": work / "real.jsonl"},
                "filter": {"out": work / "kept.jsonl"},
                "train": {"output_dir": work / "model"}, "eval": {"out_dir": work / "eval"}}
    functions = _stage_functions()
    steps, previous = [], None
    for name in ORDER:
        if name not in config:
            continue
        args = {**defaults[name], **config[name]}
        if name in configs:  # a config dataclass: its fields' older names are read as the fields
            args = canonical_keys(configs[name], args, f"[{name}]")
        if name == "train":
            allowed = set(TrainConfig.field_names()) | {"progress"}
            if not isinstance(args.get("progress", True), bool):  # checked before any stage runs
                raise ConfigError("[train] progress", "true or false", args["progress"])
            if previous is not None:
                args.setdefault("data", previous)
            previous = args["output_dir"]
        elif name == "real":  # reads its own sources; its records go to filter like synth's
            allowed = set(RealConfig.field_names())
            previous = args["out"]
        elif name == "eval":  # the last stage: evaluates what train wrote
            allowed = set(DistillEvalConfig.field_names())
            args.setdefault("model", previous)
        else:
            allowed = set(inspect.signature(functions[name]).parameters) - {"log"}
            if previous is not None and name != "corrupt":
                args.setdefault("path", previous)
            previous = args.get("out")
        unknown = sorted(set(args) - allowed)
        if unknown:
            raise ConfigError(f"[{name}] keys", f"among {', '.join(sorted(allowed))}", unknown)
        steps.append((name, {k: str(v) if isinstance(v, Path) else v for k, v in args.items()}))
    return steps


def run_pipeline(path: str | Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    config = load_config(path)
    functions = _stage_functions()
    summary: dict[str, Any] = {}
    for name, args in plan(config):
        log(f"== {name}: {json.dumps(args)}")
        started = time.perf_counter()
        summary[name] = functions[name](log=log, **args)
        summary[name + "_seconds"] = round(time.perf_counter() - started, 1)
    work = Path(config.get("work_dir", "runs/distill"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
