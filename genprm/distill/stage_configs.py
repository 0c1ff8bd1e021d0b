"""What each `genprm distill` stage should do: one dataclass per stage, one field per flag (and per key of the
stage's table in a `genprm distill run` TOML file). `TrainConfig` (train_config.py) and `RealConfig` (real.py) are
the train and real stages'."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from genprm.config import MODES
from genprm.errors import ConfigError
from genprm.registry import DEFAULT_PROTOCOL

_OUT = "runs/distill"


@dataclass(frozen=True)
class CorruptConfig:
    path: str = field(metadata={"help": "GSM8K rows {question, answer}, or any labelled file with --format.",
                                "argument": True})
    out: str = field(default=f"{_OUT}/labelled.jsonl", metadata={"help": "Labelled solutions (JSONL)."})
    format: str = field(default="gsm8k", metadata={"help": "gsm8k: inject errors; steps, prmbench, trl: keep their "
                                                           "gold labels."})
    rows: str | None = field(default=None, metadata={"help": "start:end row range (keep evaluation rows out)."})
    seed: int = field(default=0, metadata={"help": "Seed of which rows get an error and which error."})
    error_fraction: float = field(default=0.5, metadata={"help": "Share of solutions that get an error."})

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_fraction <= 1.0:
            raise ConfigError("error_fraction", "in [0, 1]", self.error_fraction)


@dataclass(frozen=True)
class McConfig:
    path: str = field(metadata={"help": "Labelled solutions with gold answers (from corrupt).", "argument": True})
    out: str = field(default=f"{_OUT}/mc.jsonl", metadata={"help": "The same solutions with meta.mc_label."})
    policy: str | None = field(default=None, metadata={"help": "Policy model (default: the default model)."})
    k_samples: int = field(default=4, metadata={"help": "Completions per prefix."})
    rule: str = field(default="hard", metadata={"help": "hard (any completion right) or rpe (relative progress).",
                                                "choices": ("hard", "rpe")})
    rpe_threshold: float = field(default=0.5, metadata={"help": "rpe: least v_k / v_(k-1) of a correct step."})
    max_new_tokens: int = field(default=256, metadata={"help": "Token budget of one completion."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    backend: str = field(default="hf", metadata={"help": "Policy's backend: hf, vllm, or openai (a served model: "
                                                         "--policy is its name)."})
    base_url: str | None = field(default=None, metadata={"help": "openai backend: the server, e.g. "
                                                                 "http://127.0.0.1:8000/v1."})
    batch_size: int = field(default=8, metadata={"help": "Completions generated together."})

    def __post_init__(self) -> None:
        for name in ("k_samples", "max_new_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(name, ">= 1", getattr(self, name))


@dataclass(frozen=True)
class SynthConfig:
    path: str = field(metadata={"help": "Labelled solutions (from corrupt or mc).", "argument": True})
    out: str = field(default=f"{_OUT}/synth.jsonl", metadata={"help": "Critiques (JSONL, appended; re-runs skip "
                                                                      "done ids)."})
    teacher: str = field(default="symbolic", metadata={"help": "symbolic (SymPy, no LLM), default (the default "
                                                               "model), or a model: a directory / hub id, or a "
                                                               "served model's name (--backend openai)."})
    protocol: str = field(default=DEFAULT_PROTOCOL, metadata={"help": "Protocol the critiques are written in.",
                                                              "aliases": ("--prompt",)})
    code_timeout: float = field(default=5.0, metadata={"help": "Seconds one code block may run."})
    max_tokens: int = field(default=256, metadata={"help": "Model teacher: token budget of one critique."})
    batch_size: int = field(default=8, metadata={"help": "Model teacher: critiques generated together."})
    limit: int | None = field(default=None, metadata={"help": "Critique at most this many solutions."})
    backend: str = field(default="hf", metadata={"help": "Model teacher's backend: hf, vllm, or openai (a served "
                                                         "model: --teacher is its name)."})
    base_url: str | None = field(default=None, metadata={"help": "openai backend: the server, e.g. "
                                                                 "http://127.0.0.1:8000/v1."})


@dataclass(frozen=True)
class FilterStageConfig:
    path: str = field(metadata={"help": "Critiques (from synth).", "argument": True})
    out: str = field(default=f"{_OUT}/kept.jsonl", metadata={"help": "Kept critiques (JSONL)."})
    protocol: str = field(default=DEFAULT_PROTOCOL, metadata={"help": "Protocol the critiques were written in.",
                                                              "aliases": ("--prompt",)})
    max_critique_chars: int = field(default=1200, metadata={"help": "Longest critique kept."})
    max_dialogue_chars: int = field(default=6000, metadata={"help": "Longest kept dialogue (steps + critiques)."})
    balance: bool = field(default=True, metadata={"help": "As many correct as erroneous solutions."})
    seed: int = field(default=0, metadata={"help": "Seed of the balancing subsample."})


@dataclass(frozen=True)
class DistillEvalConfig:
    model: str | None = field(default=None, metadata={"help": "The distilled model or adapter directory."})
    out_dir: str = field(default=f"{_OUT}/eval", metadata={"help": "Scored results, metrics.json and metrics.md."})
    base: bool = field(default=True, metadata={"help": "Also evaluate the base (default) model."})
    gsm8k_train: str = field(default="../shared/data/gsm8k/train.jsonl", metadata={
        "help": "GSM8K train rows for the held-out injected set ('' to skip)."})
    heldout_rows: str = field(default="7000:7473", metadata={"help": "Row range of the held-out set: disjoint from "
                                                                     "the training rows."})
    model_solutions: str = field(default="../shared/data/gsm8k/model_solutions.jsonl", metadata={
        "help": "GSM8K model solutions ('' to skip)."})
    prmbench: tuple[str, ...] = field(default=(), metadata={"help": "PRMBench files (repeat the flag)."})
    real_labelled: str = field(default="bench/data/gsm8k_real_labelled.jsonl", metadata={
        "help": "Real solutions with the earliest wrong step labelled ('' to skip)."})
    n: int = field(default=60, metadata={"help": "Solutions per generated set (PRMBench: half; the labelled set is "
                                                 "used whole)."})
    mode: str = field(default="code", metadata={"help": "Verifier mode.", "choices": MODES})
    max_tokens: int = field(default=160, metadata={"help": "Critique token budget per step."})
    batch_size: int = field(default=8, metadata={"help": "Critiques generated together."})
    threads: int = field(default=0, metadata={"help": "torch threads (0 = $OMP_NUM_THREADS if set, else every core "
                                                      "this process may use)."})
    dtype: str = field(default="auto", metadata={"help": "Weight dtype: auto (bfloat16 where the device runs it "
                                                         "natively, else float32), bfloat16, float16, float32."})
    mrben: str = field(default="", metadata={"help": "Mr-Ben math: its held-out split by question is a set ('' to "
                                                     "skip)."})
    mrben_dev_fraction: float = field(default=0.1, metadata={"help": "Mr-Ben questions in the dev (calibration) "
                                                                     "split."})
    mrben_test_fraction: float = field(default=0.2, metadata={"help": "Mr-Ben questions held out for evaluation."})
    split_seed: int = field(default=0, metadata={"help": "Seed of the Mr-Ben split (the real stage's split_seed)."})
    mrben_n: int = field(default=0, metadata={"help": "Cap on the Mr-Ben held-out and dev sets (0 = all)."})
    prmbench_n: int = field(default=0, metadata={"help": "PRMBench records (0: n // 2)."})
    shipped: bool = field(default=False, metadata={"help": "Also evaluate the shipped default verifier."})
    calibrate: bool = field(default=False, metadata={"help": "Also score at a threshold tuned on Mr-Ben's dev "
                                                             "split."})
    protocol: str = field(default="", metadata={"help": "Protocol (default: each verifier's own).",
                                                "aliases": ("--prompt",)})
    claim_check: bool = field(default=False, metadata={"help": "Also score each model combined with the claim check "
                                                               "(`genprm verify --claim-check on`: a step with a "
                                                               "claim SymPy refutes scores 0).",
                                                       "aliases": ("--code-evidence",)})
    compare: tuple[str, ...] = field(default=(), metadata={"help": "Also evaluate this model, as TAG=PATH (repeat the "
                                                                    "flag): e.g. a discriminative PRM beside the "
                                                                    "generative one; each runs its own protocol."})

    def __post_init__(self) -> None:
        # A `genprm distill run` TOML file gives the PRMBench files and the compared models as lists; the config
        # stays hashable and frozen.
        object.__setattr__(self, "prmbench", tuple(self.prmbench))
        object.__setattr__(self, "compare", tuple(self.compare))

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
