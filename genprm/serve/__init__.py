"""`genprm serve`: a process-reward server for RL and search loops (FastAPI + uvicorn, continuous batching)."""

from genprm.serve.config import ServeConfig
from genprm.serve.steps import split_query, split_steps

__all__ = ["ServeConfig", "split_query", "split_steps"]
