"""The ASGI app of `genprm serve`: the routes (genprm.serve.routes) in front of an engine, with a lifecycle.

    create_app(verifier, config)          one process: the verifier fed by the continuous-batching queue
    build_app(engine, config, metrics)    any engine (genprm.serve.ray_app builds one per Ray Serve ingress)
"""

from __future__ import annotations

from fastapi import FastAPI

from genprm.serve.engine import Engine, LocalEngine
from genprm.serve.lifecycle import Lifecycle, serve_app
from genprm.serve.prometheus import Measure, Metrics
from genprm.serve.routes import add_routes
from genprm.serve.server_config import ServeConfig
from genprm.verifier import Verifier


def build_app(engine: Engine, config: ServeConfig, metrics: Metrics) -> FastAPI:
    """The app: routes, error handlers and request metrics around `engine`; `app.state.lifecycle` drives it."""
    lifecycle = Lifecycle(config.shutdown_timeout)
    app = FastAPI(title="genprm", lifespan=lifecycle.lifespan(engine), docs_url=None, redoc_url=None)
    add_routes(app, engine, config, metrics, lifecycle)
    app.add_middleware(Measure, metrics=metrics)  # type: ignore[arg-type]
    app.state.lifecycle, app.state.engine, app.state.metrics = lifecycle, engine, metrics
    return app


def create_app(verifier: Verifier, config: ServeConfig) -> FastAPI:
    """One process: `verifier` (left as it is) behind the continuous-batching queue."""
    metrics = Metrics()
    return build_app(LocalEngine(verifier, config, metrics), config, metrics)


def serve(verifier: Verifier, config: ServeConfig) -> None:
    """Serve until SIGTERM/SIGINT, then drain. Prints `genprm: serving on http://HOST:PORT` once it accepts."""
    app = create_app(verifier, config)
    serve_app(app, app.state.lifecycle, config)
