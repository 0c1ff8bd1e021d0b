"""The `--ray` flags, shared by `genprm verify` and `genprm distill synth`: one per `RayConfig` field."""

from __future__ import annotations

from typing import Annotated

import typer

from genprm.distributed.config import RayConfig

_help = {name: f.metadata["help"] for name, f in RayConfig.__dataclass_fields__.items()}
DEFAULTS = RayConfig()

UseRay = Annotated[bool, typer.Option("--ray", help="Run on a Ray cluster: replicas of the model each take rows "
                                                    "(needs the ray extra).", rich_help_panel="Ray")]
Address = Annotated[str | None, typer.Option("--ray-address", help=_help["address"], rich_help_panel="Ray")]
Replicas = Annotated[int, typer.Option(help=_help["replicas"], rich_help_panel="Ray")]
GpusPerReplica = Annotated[float, typer.Option(help=_help["gpus_per_replica"], rich_help_panel="Ray")]
CpusPerReplica = Annotated[float, typer.Option(help=_help["cpus_per_replica"], rich_help_panel="Ray")]
MinReplicas = Annotated[int | None, typer.Option(help=_help["min_replicas"], rich_help_panel="Ray")]
MaxReplicas = Annotated[int | None, typer.Option(help=_help["max_replicas"], rich_help_panel="Ray")]
RowsPerTask = Annotated[int, typer.Option(help=_help["rows_per_task"], rich_help_panel="Ray")]


def ray_config(use_ray: bool, address: str | None, replicas: int, gpus_per_replica: float, cpus_per_replica: float,
               rows_per_task: int) -> RayConfig | None:
    """The flags as a `RayConfig`, or None for a local run (without --ray)."""
    if not use_ray:
        return None
    return RayConfig(address=address, replicas=replicas, gpus_per_replica=gpus_per_replica,
                     cpus_per_replica=cpus_per_replica, rows_per_task=rows_per_task)
