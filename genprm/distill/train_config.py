"""`TrainConfig`: every knob of `genprm distill train`, one CLI flag per field (same name, dashes for underscores),
and the [train] table of a `genprm distill run` TOML file."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from genprm.errors import ConfigError
from genprm.registry import DEFAULT_PROTOCOL

AUTOCAST = ("auto", "on", "off")


@dataclass(frozen=True)
class TrainConfig:
    """Supervised fine-tuning of a verifier on filtered critiques. Defaults fit SmolLM2-135M on a 2-core CPU."""

    data: str = field(default="", metadata={"help": "Filtered critiques (JSONL from `genprm distill filter`).",
                                            "argument": True})
    output_dir: str = field(default="runs/distill/model", metadata={"help": "Where the model or adapter, the "
                                                                            "checkpoints and the logs go."})
    model: str | None = field(default=None, metadata={"help": "Model to fine-tune (default: SmolLM2-135M-Instruct)."})
    protocol: str = field(default=DEFAULT_PROTOCOL, metadata={
        "help": "Protocol the training text is rendered with (use the one you will verify with). A head format "
                "(token-classification) trains the discriminative objective: a two-class head at each step.",
        "aliases": ("--prompt",)})
    lora: bool = field(default=True, metadata={"help": "Train a LoRA adapter (else a full fine-tune)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Peak learning rate (LoRA wants ~10x a full FT's)."})
    warmup_steps: int = field(default=10, metadata={"help": "Linear warm-up steps, then linear decay to 0."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    epochs: float = field(default=1.0, metadata={"help": "Passes over the training examples."})
    max_steps: int = field(default=0, metadata={"help": "Stop after this many optimizer steps (0 = epochs decide)."})
    stop_after_steps: int = field(default=0, metadata={"help": "Stop and save after this many steps, the learning "
                                                                 "rate schedule still planned for max_steps (0 = "
                                                                 "no early stop; a time limit's stop, made exact)."})
    batch_size: int = field(default=1, metadata={"help": "Examples per forward pass (1 wastes nothing on padding)."})
    grad_accum: int = field(default=8, metadata={"help": "Forward passes per optimizer step."})
    max_length: int = field(default=1024, metadata={"help": "Longer examples are dropped (and counted)."})
    max_examples: int = field(default=0, metadata={"help": "Use at most this many examples (0 = all)."})
    eval_fraction: float = field(default=0.05, metadata={"help": "Held-out share of the examples, for eval loss."})
    eval_every: int = field(default=25, metadata={"help": "Optimizer steps between held-out evaluations."})
    save_every: int = field(default=25, metadata={"help": "Optimizer steps between checkpoints (resume point)."})
    time_limit_minutes: float = field(default=0.0, metadata={"help": "Stop and save after this many minutes "
                                                                      "(0 = no limit)."})
    autocast: str = field(default="auto", metadata={"help": "bf16 autocast over the fp32 weights: auto (where the "
                                                            "device runs bf16 natively: ~3.5x faster there, ~70x "
                                                            "slower on an AVX2-only CPU), on or off."})
    threads: int = field(default=0, metadata={"help": "torch threads (0 = $OMP_NUM_THREADS if set, else every core "
                                                      "this process may use)."})
    num_proc: int = field(default=2, metadata={"help": "Workers for tokenizing (datasets.map)."})
    seed: int = field(default=0, metadata={"help": "Seed of the split, the shuffling and LoRA's init."})

    def __post_init__(self) -> None:
        if not self.data:
            raise ConfigError("data", "a filtered critiques JSONL file", self.data)
        for name in ("lora_r", "batch_size", "grad_accum", "max_length", "eval_every", "save_every", "num_proc"):
            if getattr(self, name) < 1:
                raise ConfigError(name, ">= 1", getattr(self, name))
        if self.learning_rate <= 0:
            raise ConfigError("learning_rate", "> 0", self.learning_rate)
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ConfigError("eval_fraction", "in [0, 1)", self.eval_fraction)
        if self.autocast not in AUTOCAST:
            raise ConfigError("autocast", f"one of {', '.join(AUTOCAST)}", self.autocast)
        if self.threads < 0:
            raise ConfigError("threads", ">= 0", self.threads)
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError("epochs", "> 0 (or max_steps > 0)", self.epochs)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
