"""Where the work runs: one dataclass, one field per `--ray-*` / `--replicas` flag (same names, dashes for
underscores). What the work is (the verifier's config, the teacher) is chosen separately, as in a local run."""

from __future__ import annotations

from dataclasses import dataclass, field

from genprm.errors import ConfigError


@dataclass(frozen=True)
class RayConfig:
    enabled: bool = field(default=False, metadata={"help": "Run on a Ray cluster: replicas of the model each take "
                                                           "rows (needs the ray extra).", "flag": "ray",
                                                   "flag_only": True})
    address: str | None = field(default=None, metadata={"flag": "ray-address",
        "help": "Ray cluster to join: 'auto' (the one `ray start` runs on this node) or head-ip:6379 "
                "(default: $RAY_ADDRESS, else a local cluster of this machine's cores)."})
    replicas: int = field(default=1, metadata={"help": "Replicas: actors that each load the model (and a sandbox "
                                                       "pool) once and verify batches of rows."})
    gpus_per_replica: float = field(default=0.0, metadata={"help": "GPUs per replica (vllm backend: set "
                                                                   "--tensor-parallel-size to match; 0 on CPU)."})
    cpus_per_replica: float = field(default=1.0, metadata={"help": "CPU cores per replica; Ray gives a replica as "
                                                                   "many torch threads."})
    min_replicas: int | None = field(default=None, metadata={
        "help": "genprm serve --ray: autoscale between --min-replicas and --max-replicas (instead of a fixed "
                "--replicas), adding a replica while each has more than a batch (--batch-size) in flight."})
    max_replicas: int | None = field(default=None, metadata={"help": "genprm serve --ray: see --min-replicas."})
    rows_per_task: int = field(default=16, metadata={"help": "Rows sent to a replica at once; a replica that dies "
                                                             "redoes only the unfinished rows of its task."})

    def __post_init__(self) -> None:
        for name in ("replicas", "rows_per_task"):
            if getattr(self, name) < 1:
                raise ConfigError(name, ">= 1", getattr(self, name))
        if (self.min_replicas is None) != (self.max_replicas is None):
            raise ConfigError("min_replicas", "given together with max_replicas", self.min_replicas)
        if self.min_replicas is not None and not 1 <= self.min_replicas <= self.max_replicas:  # type: ignore[operator]
            raise ConfigError("min_replicas", f"in [1, max_replicas ({self.max_replicas})]", self.min_replicas)
        if self.gpus_per_replica < 0:
            raise ConfigError("gpus_per_replica", ">= 0", self.gpus_per_replica)
        if self.cpus_per_replica <= 0:
            raise ConfigError("cpus_per_replica", "> 0", self.cpus_per_replica)
