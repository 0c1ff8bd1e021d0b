"""Verify and synthesise over a Ray cluster: replicas of the model each take rows; the driver writes results.

    genprm verify data.jsonl --out scored.jsonl --ray --replicas 2
    genprm distill synth labelled.jsonl --out synth.jsonl --teacher default --ray --replicas 4 --gpus-per-replica 1

Ray is imported only inside this package, and only when a run asks for it (`pip install 'genprm[ray]'`).
"""

from genprm.distributed.jobs import SynthJob, VerifyJob
from genprm.distributed.ray_config import RayConfig
from genprm.distributed.ray_synth import synth_on_ray
from genprm.distributed.ray_verifier import RayVerifier
from genprm.distributed.replica_pool import ReplicaPool

__all__ = ["RayConfig", "RayVerifier", "ReplicaPool", "SynthJob", "VerifyJob", "synth_on_ray"]
