"""`genprm serve`: a process-reward server for RL and search loops (FastAPI + uvicorn, continuous batching; with
`--ray`, the same routes on Ray Serve in front of model replicas)."""

from genprm.serve.server_config import ServeConfig
from genprm.serve.steps import split_query, split_steps

__all__ = ["ServeConfig", "split_query", "split_steps"]
